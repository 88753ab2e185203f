// Images/s of JPEG 500x375 decoding + the protocol's transforms (-> 224) through the loader,
// with 1 and 2 decoding threads. Usage: bench_data [images=512]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include <time.h>
#include <unistd.h>

#include "tedloc/data/loader.hpp"

using namespace tedloc::data;
namespace fs = std::filesystem;

namespace {

// A photo-like 500 x 375 test image: smooth gradients, edges and noise (JPEG cost depends on content).
Image photo(int variant) {
  std::mt19937 rng(variant);
  Image img(500, 375, 3);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      for (int c = 0; c < 3; ++c) {
        int v = (x * (c + 1) + y * (3 - c) + variant * 17) % 256;
        if ((x / 40 + y / 30 + variant) % 3 == 0) v = 255 - v;
        img.at(x, y, c) = static_cast<std::uint8_t>(std::clamp<int>(v + static_cast<int>(rng() % 21) - 10, 0, 255));
      }
  return img;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU seconds of the whole process (all threads): on a shared machine, images per CPU-second is the
// figure that does not depend on the other jobs.
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  const int total = argc > 1 ? std::stoi(argv[1]) : 512;
  const fs::path dir = fs::temp_directory_path() / ("tedloc_bench_data_" + std::to_string(getpid()));
  fs::create_directories(dir);
  constexpr int kDistinct = 32;
  for (int i = 0; i < kDistinct; ++i) write_jpeg((dir / (std::to_string(i) + ".jpg")).string(), photo(i), 90);
  std::vector<ImageRecord> records;
  for (int i = 0; i < total; ++i) records.push_back({std::to_string(i % kDistinct) + ".jpg", i % 10});

  auto t0 = std::chrono::steady_clock::now();
  double cpu0 = process_cpu_seconds();
  for (int i = 0; i < total; ++i) decode_image((dir / records[i].id).string());
  std::printf("decode only (JPEG 500x375), 1 thread: %.1f images/s, %.1f images per CPU-second\n",
              total / seconds_since(t0), total / (process_cpu_seconds() - cpu0));

  for (bool train : {true, false}) {
    for (int threads : {1, 2}) {
      LoaderOptions o;
      o.transform.train = train;
      o.batch_size = 32;
      o.num_threads = threads;
      o.prefetch_batches = 4;
      ImageLoader loader(records, dir.string(), o);
      loader.start_epoch(0);
      t0 = std::chrono::steady_clock::now();
      cpu0 = process_cpu_seconds();
      std::int64_t n = 0;
      while (auto b = loader.next()) n += b->images.size(0);
      const double wall = seconds_since(t0), cpu = process_cpu_seconds() - cpu0;
      std::printf("loader %s (JPEG 500x375 -> %s, batch 32), %d thread%s: %.1f images/s, %.1f images per CPU-second\n",
                  train ? "train" : "eval ", train ? "resize 256, crop 224, flip" : "resize 224", threads,
                  threads > 1 ? "s" : " ", n / wall, n / cpu);
    }
  }
  fs::remove_all(dir);
  return 0;
}
