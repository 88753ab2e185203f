#pragma once
// The image transforms of Choe et al.'s wsolevaluation protocol (data_loaders.py):
//   train: Resize((resize, resize)) -> RandomCrop(crop) -> RandomHorizontalFlip() -> ToTensor -> Normalize
//   eval:  Resize((crop, crop)) -> ToTensor -> Normalize
// Resize is PIL's antialiased bilinear (what torchvision's Resize does on PIL images), reimplemented
// with PIL's fixed-point arithmetic. Random draws come from a per-sample seed (see random.hpp).
#include <array>
#include <cstdint>
#include <string>

#include "tedloc/data/image.hpp"

namespace tedloc::data {

inline constexpr std::array<float, 3> kImageNetMean{0.485f, 0.456f, 0.406f};
inline constexpr std::array<float, 3> kImageNetStd{0.229f, 0.224f, 0.225f};
inline constexpr std::array<float, 3> kClipMean{0.48145466f, 0.4578275f, 0.40821073f};
inline constexpr std::array<float, 3> kClipStd{0.26862954f, 0.26130258f, 0.27577711f};

struct TransformOptions {
  bool train = true;         // train augmentation, else the eval transform
  int resize_size = 256;     // train: resize to resize_size x resize_size before the crop
  int crop_size = 224;       // train: random crop side; eval: resize target side
  bool random_crop = true;   // train only; false = centre crop
  bool random_flip = true;   // train only; horizontal flip with probability 1/2
  std::array<float, 3> mean = kImageNetMean;
  std::array<float, 3> std = kImageNetStd;
};

// Which augmentation a sample received: enough to recompute it, and a cache key for encoder tokens.
struct AugmentationKey {
  bool train = false;
  int resize = 0;  // side after the resize
  int crop = 0;    // side of the crop (train) or = resize (eval)
  int crop_x = 0, crop_y = 0;
  bool flip = false;
  // "train:r256:c224:x12:y5:f1" or "eval:r224".
  std::string str() const;
  bool operator==(const AugmentationKey& o) const {
    return train == o.train && resize == o.resize && crop == o.crop && crop_x == o.crop_x && crop_y == o.crop_y &&
           flip == o.flip;
  }
};

// The augmentation of one sample, drawn from its seed exactly as torchvision draws it
// (crop offset y then x uniform in [0, resize - crop], then the flip coin).
AugmentationKey sample_augmentation(const TransformOptions& options, std::uint64_t sample_seed);

// PIL's Image.resize(..., BILINEAR): a triangle filter widened by the scale when shrinking (antialias).
Image resize_bilinear(const Image& in, int width, int height);

// The w x h window at (x, y); throws std::out_of_range when it leaves the image.
Image crop(const Image& in, int x, int y, int width, int height);

void flip_horizontal(Image& image);

// Resize (+ crop + flip for train) as the key says; the result is key.crop x key.crop.
Image apply_transform(const Image& in, const AugmentationKey& key);

// ToTensor + Normalize: writes the 3 x H x W float planes ((v / 255 - mean) / std) to `out`.
void to_normalised_chw(const Image& image, const std::array<float, 3>& mean, const std::array<float, 3>& std,
                       float* out);

// Checks the options (sides positive, crop <= resize for train, std > 0); throws UsageError.
void validate(const TransformOptions& options);

}  // namespace tedloc::data
