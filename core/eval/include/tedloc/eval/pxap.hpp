#pragma once
// PxAP, the pixel-wise average precision of the WSOL protocol (clovaai/wsolevaluation's MaskEvaluator), for
// OpenImages-style masks: histograms of the scores of foreground and background pixels over the bins
// [t_0, t_1), ..., [t_(n-1), 1), [1, 2), [2, 3], then the area under the precision-recall curve.
#include <cstdint>
#include <string>
#include <vector>

#include "tedloc/eval/metadata.hpp"

namespace tedloc::eval {

// A 8-bit grey image as cv2.imread(path, IMREAD_GRAYSCALE) reads a PNG (libpng with OpenCV's transforms:
// 16 -> 8 bits, palette -> RGB, 1/2/4-bit grey -> 0..255, alpha dropped, RGB -> grey with 0.299/0.587).
struct GrayImage {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;
};
GrayImage read_png_gray(const std::string& path);

// cv2.resize(..., INTER_NEAREST): source index min(floor(x * (1 / (size / W))), W - 1) in double.
GrayImage resize_nearest(const GrayImage& image, int width, int height);

// Labels of one image at 224 x 224: 0 background, 1 foreground (union of the instances), 255 ignore.
std::vector<std::uint8_t> ground_truth_mask(const std::string& mask_root, const MaskPaths& paths, int size = 224);

// What the mask evaluator accumulates.
struct PxapHistograms {
  std::vector<double> edges;             // t_0 .. t_(n-1), 1, 2, 3
  std::vector<std::int64_t> fg, bg;      // per bin
};
PxapHistograms make_pxap_histograms(double interval);

// Adds one 224 x 224 score map (`scores`, row-major, values in [0, 1]) against its labels.
void accumulate(PxapHistograms& h, const std::vector<double>& scores, const std::vector<std::uint8_t>& labels);
void merge(PxapHistograms& total, const PxapHistograms& part);

// PxAP in percent (NumPy's pairwise summation reproduced). Throws InputError if there is no foreground pixel or
// no positive score.
double pxap(const PxapHistograms& h);

}  // namespace tedloc::eval
