#include "tedloc/method/modules.hpp"

#include <torch/torch.h>

#include "shape.hpp"
#include "tedloc/error.hpp"

namespace tedloc::method {
namespace nn = torch::nn;

DecoderImpl::DecoderImpl(const DecoderOptions& o) : options(o) {
  if (o.in_channels() < 1 || o.out_channels() < 1 || o.width() < 1 || o.upsample_stages() < 0)
    throw InputError(fmt::format("decoder: bad options in={} out={} width={} stages={}", o.in_channels(),
                                 o.out_channels(), o.width(), o.upsample_stages()));
  if (o.norm() == DecoderNorm::kGroup && (o.groups() < 1 || o.width() % o.groups() != 0))
    throw InputError(fmt::format("decoder: groups={} must divide width={}", o.groups(), o.width()));
  proj_ = register_module("proj", nn::Conv2d(nn::Conv2dOptions(o.in_channels(), o.width(), 1)));
  stages_ = register_module("stages", nn::Sequential());
  const bool has_norm = o.norm() != DecoderNorm::kNone;
  for (int64_t i = 0; i < o.upsample_stages(); ++i) {
    stages_->push_back(nn::Upsample(
        nn::UpsampleOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kBilinear).align_corners(false)));
    // No conv bias before a norm: the norm's shift makes it redundant.
    stages_->push_back(nn::Conv2d(nn::Conv2dOptions(o.width(), o.width(), 3).padding(1).bias(!has_norm)));
    // The norms compute in float32 whatever the autocast: CUDA's autocast does so by itself, the CPU's in
    // LibTorch 1.13 passes bfloat16 on to kernels that then misread their float32 weights.
    if (has_norm) stages_->push_back(nn::Functional([](const torch::Tensor& t) { return t.to(torch::kFloat); }));
    if (o.norm() == DecoderNorm::kBatch) stages_->push_back(nn::BatchNorm2d(o.width()));
    if (o.norm() == DecoderNorm::kGroup) stages_->push_back(nn::GroupNorm(nn::GroupNormOptions(o.groups(), o.width())));
    stages_->push_back(nn::ReLU());
  }
  out_ = register_module("out", nn::Conv2d(nn::Conv2dOptions(o.width(), o.out_channels(), 1)));
}

torch::Tensor DecoderImpl::forward(const torch::Tensor& tokens, int64_t grid_h, int64_t grid_w) {
  if (tokens.dim() != 3 || tokens.size(1) != grid_h * grid_w || tokens.size(2) != options.in_channels())
    throw InputError(fmt::format("decoder: tensor 'tokens' has shape {}, expected [B, {}x{}, {}]", shape_of(tokens),
                                 grid_h, grid_w, options.in_channels()));
  const auto x = tokens.transpose(1, 2).reshape({tokens.size(0), options.in_channels(), grid_h, grid_w});
  auto y = proj_->forward(x);
  if (!stages_->is_empty()) y = stages_->forward(y);  // an empty Sequential refuses forward()
  return out_->forward(y);
}

PatchHeadImpl::PatchHeadImpl(const PatchHeadOptions& o) : options(o) {
  if (o.in_channels() < 1 || o.hidden() < 0)
    throw InputError(fmt::format("patch head: bad options in={} hidden={}", o.in_channels(), o.hidden()));
  layers_ = register_module("layers", nn::Sequential());
  if (o.hidden() == 0) {
    layers_->push_back(nn::Conv2d(nn::Conv2dOptions(o.in_channels(), 1, 1)));
  } else {
    layers_->push_back(nn::Conv2d(nn::Conv2dOptions(o.in_channels(), o.hidden(), 1)));
    layers_->push_back(nn::ReLU());
    layers_->push_back(nn::Conv2d(nn::Conv2dOptions(o.hidden(), 1, 1)));
  }
}

torch::Tensor PatchHeadImpl::forward(const torch::Tensor& z) {
  if (z.dim() != 4 || z.size(1) != options.in_channels())
    throw InputError(fmt::format("patch head: tensor 'z' has shape {}, expected [B, {}, H, W]", shape_of(z),
                                 options.in_channels()));
  return layers_->forward(z).squeeze(1);
}

}  // namespace tedloc::method
