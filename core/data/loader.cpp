// The threaded, prefetching image loader.
#include "tedloc/data/loader.hpp"

#include <torch/cuda.h>

#include <algorithm>
#include <filesystem>
#include <numeric>

#include "tedloc/data/random.hpp"
#include "tedloc/error.hpp"
#include "tedloc/stop.hpp"

namespace tedloc::data {

ImageLoader::ImageLoader(std::vector<ImageRecord> records, std::string image_root, LoaderOptions options)
    : records_(std::move(records)), root_(std::move(image_root)), options_(std::move(options)) {
  validate(options_.transform);
  if (options_.batch_size <= 0) throw UsageError("loader: batch_size must be positive");
  if (options_.num_threads < 0) throw UsageError("loader: num_threads must be >= 0");
  options_.prefetch_batches = std::max(options_.prefetch_batches, 1);
  pin_ = options_.pin_memory && torch::cuda::is_available();
}

ImageLoader::~ImageLoader() { stop_workers(); }

std::int64_t ImageLoader::num_batches() const {
  const std::int64_t n = size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<std::int64_t> ImageLoader::epoch_order(std::int64_t epoch) const {
  std::vector<std::int64_t> order(records_.size());
  std::iota(order.begin(), order.end(), 0);
  if (!options_.shuffle) return order;
  // Fisher-Yates with the portable uniform_int (std::shuffle differs between standard libraries).
  std::mt19937 rng = make_rng(sample_seed(options_.seed, epoch, -1));
  for (std::int64_t i = static_cast<std::int64_t>(order.size()) - 1; i > 0; --i)
    std::swap(order[i], order[uniform_int(rng, 0, static_cast<int>(i))]);
  return order;
}

std::vector<std::int64_t> ImageLoader::batch_indices(std::int64_t b) const {
  const std::int64_t begin = b * options_.batch_size;
  const std::int64_t end = std::min<std::int64_t>(begin + options_.batch_size, static_cast<std::int64_t>(order_.size()));
  return {order_.begin() + begin, order_.begin() + end};
}

Batch ImageLoader::load(const std::vector<std::int64_t>& indices, std::int64_t epoch) {
  const TransformOptions& t = options_.transform;
  const int side = t.crop_size;
  const std::int64_t n = static_cast<std::int64_t>(indices.size());
  Batch batch;
  batch.images = torch::empty({n, 3, side, side}, torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(pin_));
  batch.labels = torch::empty({n}, torch::TensorOptions().dtype(torch::kInt64).pinned_memory(pin_));
  float* images = batch.images.data_ptr<float>();
  std::int64_t* labels = batch.labels.data_ptr<std::int64_t>();
  const size_t sample_floats = 3 * static_cast<size_t>(side) * side;
  std::int64_t rows = 0;
  for (std::int64_t index : indices) {
    const ImageRecord& record = records_.at(static_cast<size_t>(index));
    const AugmentationKey key = sample_augmentation(t, sample_seed(options_.seed, epoch, index));
    Image image;
    try {
      image = decode_image((std::filesystem::path(root_) / record.id).string());
    } catch (const InputError& e) {
      if (!options_.skip_unreadable) throw;
      std::lock_guard<std::mutex> lock(skipped_mutex_);
      skipped_.emplace(index, SkippedImage{index, record.id, e.what()});
      continue;
    }
    to_normalised_chw(apply_transform(image, key), t.mean, t.std, images + rows * sample_floats);
    labels[rows] = record.label;
    batch.indices.push_back(index);
    batch.keys.push_back(key);
    ++rows;
  }
  if (rows < n) {
    batch.images = batch.images.narrow(0, 0, rows);
    batch.labels = batch.labels.narrow(0, 0, rows);
  }
  return batch;
}

void ImageLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  consumed_.notify_all();
  for (std::thread& w : workers_) w.join();
  workers_.clear();
}

void ImageLoader::start_epoch(std::int64_t epoch) {
  stop_workers();
  epoch_ = epoch;
  order_ = epoch_order(epoch);
  next_claim_ = next_yield_ = 0;
  ready_.clear();
  stop_ = false;
  for (int i = 0; i < options_.num_threads; ++i) workers_.emplace_back(&ImageLoader::worker_loop, this);
}

void ImageLoader::worker_loop() {
  const std::int64_t total = num_batches();
  for (;;) {
    std::int64_t b;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // Bounded queue: claim a batch only while fewer than prefetch_batches are ahead of the consumer.
      consumed_.wait(lock, [&] {
        return stop_ || next_claim_ >= total || next_claim_ < next_yield_ + options_.prefetch_batches;
      });
      if (stop_ || next_claim_ >= total) return;
      b = next_claim_++;
    }
    Slot slot;
    try {
      slot.batch = load(batch_indices(b), epoch_);
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_[b] = std::move(slot);
    }
    produced_.notify_all();
  }
}

std::optional<Batch> ImageLoader::next() {
  check_stop();  // every long phase (CAMs, token cache, training, evaluation) iterates over a loader
  if (epoch_ < 0) start_epoch(0);
  const std::int64_t total = num_batches();
  while (next_yield_ < total) {
    Slot slot;
    if (workers_.empty()) {
      slot.batch = load(batch_indices(next_yield_), epoch_);
    } else {
      std::unique_lock<std::mutex> lock(mutex_);
      produced_.wait(lock, [&] { return ready_.count(next_yield_) > 0; });
      slot = std::move(ready_[next_yield_]);
      ready_.erase(next_yield_);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++next_yield_;
    }
    consumed_.notify_all();
    if (slot.error) std::rethrow_exception(slot.error);
    if (slot.batch->images.size(0) > 0) return std::move(slot.batch);
  }
  return std::nullopt;
}

std::vector<SkippedImage> ImageLoader::skipped() const {
  std::lock_guard<std::mutex> lock(skipped_mutex_);
  std::vector<SkippedImage> out;
  for (const auto& [index, s] : skipped_) out.push_back(s);
  return out;
}

}  // namespace tedloc::data
