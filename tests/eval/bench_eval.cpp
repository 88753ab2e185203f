// Maps/s of the box evaluation at interval 0.001 on 10,000 realistic 224x224 maps (Gaussian blob mixtures and
// bilinearly upsampled low-resolution CAMs, min-max normalised), with 1 and 2 threads, single- and
// multi-contour; beside the reference's speed (tests/eval/reference_speed.py, one cv2.findContours per
// threshold) on the first 200 of the same maps, written as .npy files, when python3-opencv is installed. The
// 10,000 evaluations cycle over a pool of 500 generated maps; each starts from the float map (quantisation,
// sweep, IoU), as the reference's does.
#include <atomic>
#include <filesystem>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <time.h>
#include <unistd.h>

#include "tedloc/eval/box_eval.hpp"
#include "tedloc/eval/npy.hpp"

using namespace tedloc::eval;

namespace {

std::vector<double> realistic_map(std::mt19937& rng) {
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<double> m(224 * 224, 0.0);
  if (rng() % 2) {
    const int blobs = 1 + static_cast<int>(rng() % 3);
    for (int b = 0; b < blobs; ++b) {
      const double cy = unit(rng) * 224, cx = unit(rng) * 224, sy = 10 + unit(rng) * 50, sx = 10 + unit(rng) * 50;
      const double a = unit(rng);
      for (int y = 0; y < 224; ++y)
        for (int x = 0; x < 224; ++x)
          m[y * 224 + x] += a * std::exp(-((y - cy) * (y - cy) / (2 * sy * sy) + (x - cx) * (x - cx) / (2 * sx * sx)));
    }
  } else {  // a k x k random CAM, bilinearly upsampled
    const int k = (int[]){7, 14, 28}[rng() % 3];
    std::vector<double> low(k * k);
    for (double& v : low) v = unit(rng);
    for (int y = 0; y < 224; ++y)
      for (int x = 0; x < 224; ++x) {
        const double fy = std::max(0.0, (y + 0.5) * k / 224.0 - 0.5), fx = std::max(0.0, (x + 0.5) * k / 224.0 - 0.5);
        const int y0 = std::min(static_cast<int>(fy), k - 1), x0 = std::min(static_cast<int>(fx), k - 1);
        const int y1 = std::min(y0 + 1, k - 1), x1 = std::min(x0 + 1, k - 1);
        const double wy = fy - y0, wx = fx - x0;
        m[y * 224 + x] = (1 - wy) * ((1 - wx) * low[y0 * k + x0] + wx * low[y0 * k + x1]) +
                         wy * ((1 - wx) * low[y1 * k + x0] + wx * low[y1 * k + x1]);
      }
  }
  double lo = m[0], hi = m[0];
  for (double v : m) lo = std::min(lo, v), hi = std::max(hi, v);
  for (double& v : m) v = static_cast<float>((v - lo) / std::max(hi - lo, 1e-12));
  return m;
}

struct Speed {
  double wall = 0, cpu = 0;  // maps per wall-clock second; maps per second of CPU time (robust to other load)
};

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

using Map = std::vector<double>;

Speed maps_per_second(const std::vector<Map>& pool, int total, int threads, bool multi) {
  const auto thresholds = cam_thresholds(0.001);
  const std::vector<Box> gt = {Box{40, 40, 180, 170}};
  std::atomic<int> next{0};
  std::atomic<long> checksum{0};
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  std::vector<std::thread> pool_threads;
  for (int t = 0; t < threads; ++t)
    pool_threads.emplace_back([&] {
      ContourSweep sweep;
      long local = 0;
      for (int i; (i = next++) < total;) {
        const QuantizedMap map = quantize_scoremap(pool[i % pool.size()].data(), 224, 224, "bench");
        const MapCurve c = sweep.best_iou(map, gt, thresholds, multi);
        local += c.num_boxes[500];
      }
      checksum += local;
    });
  for (auto& t : pool_threads) t.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {total / secs, total / (cpu_seconds() - c0)};
}

double reference_maps_per_second(const std::string& map_dir, bool multi) {
  const std::string cmd = std::string("/usr/bin/python3 ") + TEDLOC_SOURCE_DIR + "/tests/eval/reference_speed.py " +
                          map_dir + " 0.001" + (multi ? " multi" : "") + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return 0;
  double v = 0;
  if (std::fscanf(p, "maps_per_second %lf", &v) != 1) v = 0;
  pclose(p);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const int total = argc > 1 ? std::stoi(argv[1]) : 10000;
  std::mt19937 rng(20200601);
  std::vector<Map> pool;
  for (int i = 0; i < 500; ++i) pool.push_back(realistic_map(rng));
  // The reference's input: the pool's first 200 maps (float32 values already, so the files hold them exactly).
  const auto map_dir = std::filesystem::temp_directory_path() / ("tedloc_bench_eval_" + std::to_string(::getpid()));
  for (int i = 0; i < 200; ++i) {
    const std::vector<float> f(pool[i].begin(), pool[i].end());
    char name[32];
    std::snprintf(name, sizeof name, "%03d.npy", i);
    write_npy_f32((map_dir / name).string(), f.data(), 224, 224);
  }
  std::printf("bench_eval: %d maps of 224x224, interval 0.001 (1000 cam thresholds), %u hardware threads\n", total,
              std::thread::hardware_concurrency());
  for (bool multi : {false, true}) {
    const Speed one = maps_per_second(pool, total, 1, multi);
    const Speed two = maps_per_second(pool, total, 2, multi);
    const double ref = reference_maps_per_second(map_dir.string(), multi);
    std::printf("%s-contour: 1 thread %.0f maps/s (%.0f per CPU-second), 2 threads %.0f maps/s wall",
                multi ? "multi " : "single", one.wall, one.cpu, two.wall);
    if (ref > 0)
      std::printf(" | reference (python3 + cv2, 1 thread, 200 maps) %.2f maps per CPU-second | ratio per CPU-second %.0fx",
                  ref, one.cpu / ref);
    else std::printf(" | reference not measured (needs /usr/bin/python3 with cv2: apt-get install python3-opencv)");
    std::printf("\n");
  }
  std::filesystem::remove_all(map_dir);
  return 0;
}
