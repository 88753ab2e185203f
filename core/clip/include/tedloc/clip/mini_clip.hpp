#pragma once
// The mini-CLIP of the embedded benchmark: a tiny native CLIP image tower trained with class labels only,
// so that its global embedding classifies against the built-in n-gram text encoder's prompt embeddings
// (tedloc/clip/text_encoder.hpp). Saved in OpenAI's state-dict layout, with a tiny random (untrained)
// text tower, so that clip::load_clip and every CLIP plugin load it exactly like real weights.
#include <cstdint>
#include <string>
#include <vector>

#include "tedloc/clip/clip_model.hpp"

namespace tedloc::clip {

struct MiniClipOptions {
  std::string data_dir;        // a FashionWSOL dataset (`tedloc data fashion-wsol --out DIR`)
  std::string out;             // the .safetensors file written
  int epochs = 30;
  int batch = 64;
  double lr = 2e-3;            // AdamW peak learning rate (linear warm-up over the first epoch, cosine decay)
  double weight_decay = 0.05;  // on matrices only (not on gains, biases, embeddings)
  int width = 96;              // image tower width (heads = width / 32)
  int layers = 3;
  int patch = 16;              // 8 x 8 tokens on the 128 px canvas: at the same CPU time, 4x the steps of
                               // patch 8, which left the tower underfit (val 26% vs 38%, 10 classes)
  int embed_dim = 64;          // joint embedding width = the n-gram encoder's dim
  int threads = 0;             // intra-op threads (0: every core)
  std::string device = "auto"; // cpu, cuda or auto; results are deterministic on the CPU only
  std::uint64_t seed = 0;
  bool force = false;          // retrain even if `out` holds a model trained with the same options
  bool progress = true;
};

struct MiniClipResult {
  bool reused = false;                 // `out` already held a model trained with the same options
  std::vector<double> val_accuracy;    // % per epoch, global embedding vs the class embeddings
  std::vector<double> val_accuracy_patch_mean;  // % per epoch, with CLIP-ES's pooling (mean patch token)
  double seconds = 0;
};

// The architecture: image side = the dataset's canvas, text tower width 32, 1 layer, 2 heads.
ClipConfig mini_clip_config(const MiniClipOptions& options, int64_t image_size);

// Trains (or reuses) and writes options.out. Deterministic for a fixed seed and thread count on CPU.
// Errors: UsageError (bad options), InputError (dataset files).
MiniClipResult train_mini_clip(const MiniClipOptions& options);

// tedloc clip train-mini --data DIR --out FILE.safetensors [--epochs N] [--batch 64] [--lr] [--width 96]
//   [--layers 3] [--patch 16] [--embed-dim 64] [--threads N] [--device D] [--seed S] [--force]
// `args` = everything after `clip train-mini`. Returns an ExitCode (error.hpp).
int train_mini_clip_command(const std::vector<std::string>& args);

}  // namespace tedloc::clip
