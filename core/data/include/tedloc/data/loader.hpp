#pragma once
// A multi-threaded image loader with prefetch: records (id, label) + an image root -> batches of
// normalised tensors. The content and order of every batch depend only on (seed, epoch), never on
// thread timing: the epoch's permutation comes from the seed, each sample's augmentation from
// sample_seed(seed, epoch, index), and batches are handed out in order.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <torch/types.h>

#include "tedloc/data/transforms.hpp"

namespace tedloc::data {

// One image of a split: its id (a path relative to the image root, as in image_ids.txt) and class label.
struct ImageRecord {
  std::string id;
  int label = 0;
};

struct LoaderOptions {
  TransformOptions transform;
  int batch_size = 32;
  bool shuffle = true;            // a new permutation every epoch
  bool drop_last = false;         // drop a last, smaller batch
  std::uint64_t seed = 0;
  int num_threads = 2;            // decoding threads; 0 = decode in the caller's thread
  int prefetch_batches = 4;       // batches decoded ahead of the consumer (bounded queue)
  bool skip_unreadable = false;   // skip and record unreadable images instead of throwing InputError
  bool pin_memory = false;        // page-locked batch memory when CUDA is available (no-op otherwise)
};

struct Batch {
  torch::Tensor images;                // [B, 3, crop, crop] float32, normalised
  torch::Tensor labels;                // [B] int64
  std::vector<std::int64_t> indices;   // record index of each row
  std::vector<AugmentationKey> keys;   // augmentation of each row
};

struct SkippedImage {
  std::int64_t index = 0;
  std::string id;
  std::string reason;  // the InputError's message (names the file)
};

class ImageLoader {
 public:
  ImageLoader(std::vector<ImageRecord> records, std::string image_root, LoaderOptions options);
  ~ImageLoader();
  ImageLoader(const ImageLoader&) = delete;
  ImageLoader& operator=(const ImageLoader&) = delete;

  std::int64_t size() const { return static_cast<std::int64_t>(records_.size()); }
  std::int64_t num_batches() const;

  // The record indices of an epoch in loading order (the identity without shuffle).
  std::vector<std::int64_t> epoch_order(std::int64_t epoch) const;

  // Starts (or restarts) an epoch: stops the workers of the previous one and starts decoding ahead.
  void start_epoch(std::int64_t epoch);

  // The next batch of the current epoch (epoch 0 if none was started); nullopt at its end. An unreadable
  // image throws InputError naming the file, unless skip_unreadable; a batch whose images were all
  // skipped is passed over. With skips, a batch has fewer rows than batch_size. Throws Interrupted after a
  // stop request (tedloc/stop.hpp).
  std::optional<Batch> next();

  // Images skipped so far (all epochs), by record index, each once.
  std::vector<SkippedImage> skipped() const;

  // Loads the given records as one batch in the caller's thread (what the workers do).
  Batch load(const std::vector<std::int64_t>& indices, std::int64_t epoch);

 private:
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };
  void stop_workers();
  void worker_loop();
  std::vector<std::int64_t> batch_indices(std::int64_t b) const;

  std::vector<ImageRecord> records_;
  std::string root_;
  LoaderOptions options_;
  bool pin_ = false;

  std::int64_t epoch_ = -1;
  std::vector<std::int64_t> order_;
  std::int64_t next_claim_ = 0;  // next batch a worker takes
  std::int64_t next_yield_ = 0;  // next batch next() returns
  bool stop_ = false;
  std::map<std::int64_t, Slot> ready_;
  mutable std::mutex mutex_;
  std::condition_variable produced_, consumed_;
  std::vector<std::thread> workers_;

  mutable std::mutex skipped_mutex_;
  std::map<std::int64_t, SkippedImage> skipped_;
};

}  // namespace tedloc::data
