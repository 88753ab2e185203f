#pragma once
// A deliberately plain reimplementation of what the WSOL reference does per cam threshold: cv2.threshold,
// cv2.findContours(RETR_TREE) by Suzuki & Abe's border following (OpenCV's tracing loop and marks, contours in
// OpenCV's output order: depth first, siblings in reverse discovery order), cv2.contourArea, cv2.boundingRect.
// One full trace per threshold, like the reference: the yardstick the fast sweep is compared with.
#include <cstdint>
#include <vector>

#include "tedloc/eval/box_eval.hpp"

namespace tedloc::eval::slow {

struct Contour {
  std::vector<std::pair<int, int>> points;  // (x, y), every border pixel visited (CHAIN_APPROX_NONE)
  bool hole = false;
};

// The contours of the binary image `on` (h x w, row-major, nonzero = on) in OpenCV's RETR_TREE order.
std::vector<Contour> find_contours(const std::vector<std::uint8_t>& on, int h, int w);

// cv2.contourArea: the absolute shoelace area.
double contour_area(const Contour& c);

// The reference's compute_bboxes_from_scoremaps at one threshold.
std::vector<Box> reference_boxes(const QuantizedMap& map, double threshold, bool multi_contour);

}  // namespace tedloc::eval::slow
