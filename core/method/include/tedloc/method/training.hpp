#pragma once
// Training TeD-Loc's D and g (paper sec. 3.2; DESIGN.md "The method, precisely" 3 to 5): the model as one
// Module, the task's typed configuration, the frozen encoder's token cache, one epoch of SGD on
// pseudo-labelled cells, and the checkpoint that makes a resumed run the same run.
#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tedloc/config_fields.hpp"
#include "tedloc/method/inference.hpp"
#include "tedloc/method/pseudo_labels.hpp"
#include "tedloc/method/class_text.hpp"
#include "tedloc/method/encoder.hpp"
#include "tedloc/method/protocol.hpp"
#include "tedloc/method/wsol_dataset.hpp"
#include "tedloc/plugin/loss_set.hpp"

namespace tedloc::method {

struct TedLocNetOptions {
  TedLocNetOptions(DecoderOptions decoder, PatchHeadOptions head) : decoder_(std::move(decoder)), head_(std::move(head)) {}
  TORCH_ARG(DecoderOptions, decoder);
  TORCH_ARG(PatchHeadOptions, head);
};

// D and g: the only trained part (the encoder and the anchors are frozen), registered as "decoder" and "head".
class TedLocNetImpl : public torch::nn::Module {
 public:
  explicit TedLocNetImpl(const TedLocNetOptions& options);
  // Tokens [B, grid_h * grid_w, C_enc] -> z, g's logits, h and the class scores (inference.hpp).
  TedLocOutput forward(const torch::Tensor& tokens, int64_t grid_h, int64_t grid_w, const torch::Tensor& anchors);
  // The cell grid of z for an encoder grid of grid_h x grid_w.
  int64_t cells(int64_t grid) const { return grid << options.decoder().upsample_stages(); }

  TedLocNetOptions options;
  Decoder decoder{nullptr};
  PatchHead head{nullptr};
};
TORCH_MODULE(TedLocNet);

// The tedloc task's own parameters, read once (the data.*, encoder.*, text.* and eval.* groups
// are wsol_dataset.hpp's, encoder.hpp's, class_text.hpp's and protocol.hpp's).
struct TedLocConfig {
  int64_t decoder_width = 256, decoder_stages = 2, head_hidden = 0;
  std::string decoder_norm = "group";
  int64_t n_pos = 100, n_neg = 100, cells_per_image = 10;
  int epochs = 10, batch_size = 16, step_size = 10;
  double lr = 0.01, momentum = 0.9, weight_decay = 1e-4, gamma = 0.1;
  std::string schedule = "cosine", cache_tokens = "memory";
  int overlays = 8, latency_steps = 20;
};
// Each field with its declaration (plus the anchors, cam and loss plugins, made through RunContext).
const ConfigFields<TedLocConfig>& tedloc_config_fields();

// D and g for encoder tokens of width `encoder_width` and anchors of width `d`.
TedLocNetOptions net_options(const TedLocConfig& config, int64_t encoder_width, int64_t d);

// The learning rate of `epoch`: cosine from lr to 0 over the epochs, step (x gamma every step_size), or constant.
double learning_rate(const TedLocConfig& config, int epoch);

// The frozen encoder's tokens per (image, augmentation): an epoch that draws a crop again reuses them.
class TokenCache {
 public:
  TokenCache(Encoder& encoder, c10::Device device, bool enabled);
  torch::Tensor tokens(const data::Batch& batch);

 private:
  Encoder& encoder_;
  c10::Device device_;
  bool enabled_;
  std::map<std::string, torch::Tensor> cache_;
};

// Everything the training loop changes, and so everything a checkpoint must hold.
struct TrainingState {
  // SGD (lr, momentum, weight decay of `config`) over the net's parameters; the cell generator seeded from `seed`.
  TrainingState(const TedLocConfig& config, TedLocNet trained, std::int64_t seed);

  TedLocNet net;
  torch::optim::SGD optimizer;
  torch::Generator cell_generator;  // draws the FG/BG cells of each step (DESIGN.md 3)
  int next_epoch = 0;
  int best_epoch = -1;
  double best_score = -1;  // val MaxBoxAcc (IoU 50) of best_epoch
};

// last.pt: the net, the optimizer, the cell generator's state and the epoch counters, written aside and then
// renamed, so that a crash never leaves half a file. The loader needs no state: its shuffling and
// augmentations are functions of (seed, epoch, index).
void save_checkpoint(const std::string& path, TrainingState& state);
// False when `path` does not exist.
bool load_checkpoint(const std::string& path, TrainingState& state, c10::Device device);
// best.pt: the net alone.
void save_net(const std::string& path, TedLocNet& net);
void load_net(const std::string& path, TedLocNet& net, c10::Device device);

// What one epoch reads besides the state.
struct EpochInputs {
  data::ImageLoader& loader;
  TokenCache& tokens;
  const std::vector<torch::Tensor>& cams;  // the CAM of each train image, at the eval size (task: compute_cams)
  CandidateOptions candidates;
  LossSet& loss;
  const torch::Tensor& anchors;
  int64_t grid_h, grid_w;  // the encoder's token grid
  c10::Device device;
  bool show_progress = true;
};

struct EpochResult {
  std::map<std::string, double> mean;  // "loss" and "loss_TERM" per step
  int64_t steps = 0, images = 0;
  double seconds = 0;
  std::optional<std::string> diverged;  // "loss is nan at epoch E step S": the run stops as diverged
  double diverged_loss = 0;
};

// One epoch of SGD at the epoch's learning rate: per batch, the encoder's tokens, D and g, the candidates of
// each image's CAM seen through its augmentation, `cells_per_image` FG and BG cells drawn, the loss set, a step.
EpochResult train_epoch(TrainingState& state, const TedLocConfig& config, EpochInputs& in);

}  // namespace tedloc::method
