// bench_eval: maps/s of `tedloc eval` end to end on one core: the real executable with --threads 1 on a split
// of 3,000 224x224 maps (reading the metadata and the .npy files, quantisation, the sweep at interval 0.001,
// the JSON), beside the reference's speed (tests/eval/reference_speed.py: clovaai/wsolevaluation's per-threshold
// cv2.findContours) on 300 of the same maps, when python3-opencv is installed, taking turns 3 times. Both
// figures are maps per second of CPU time (robust to other load on this shared machine), medians; wall-clock figures, 2 threads, and the sweep alone
// per kind of map (in this process, from the float map) come beside them.
// The maps mix three kinds, a third each: Gaussian blob mixtures, bilinearly upsampled low-resolution CAMs,
// and multi-modal maps (several narrow peaks of different heights over a low, smooth floor), min-max
// normalised. Usage: bench_eval [MAPS [DIR]]: MAPS maps (default 3000); the split is written under DIR and kept
// there when given (to profile `tedloc eval` on it), else in a temporary folder.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <time.h>

#include "tedloc/eval/box_eval.hpp"
#include "tedloc/eval/npy.hpp"
#include "test_support.hpp"

using namespace tedloc::eval;

namespace {

constexpr int kSize = 224;
const char* const kKinds[3] = {"Gaussian blobs", "upsampled CAM", "multi-modal"};
using Map = std::vector<double>;

void add_gaussian(Map& m, double cy, double cx, double sy, double sx, double a) {
  for (int y = 0; y < kSize; ++y)
    for (int x = 0; x < kSize; ++x)
      m[y * kSize + x] += a * std::exp(-((y - cy) * (y - cy) / (2 * sy * sy) + (x - cx) * (x - cx) / (2 * sx * sx)));
}

// A k x k map of uniform values, bilinearly upsampled to 224 x 224 (half-pixel centres, edges clamped).
Map upsampled(std::mt19937& rng, int k) {
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<double> low(k * k);
  for (double& v : low) v = unit(rng);
  Map m(kSize * kSize);
  for (int y = 0; y < kSize; ++y)
    for (int x = 0; x < kSize; ++x) {
      const double fy = std::max(0.0, (y + 0.5) * k / kSize - 0.5), fx = std::max(0.0, (x + 0.5) * k / kSize - 0.5);
      const int y0 = std::min(static_cast<int>(fy), k - 1), x0 = std::min(static_cast<int>(fx), k - 1);
      const int y1 = std::min(y0 + 1, k - 1), x1 = std::min(x0 + 1, k - 1);
      const double wy = fy - y0, wx = fx - x0;
      m[y * kSize + x] = (1 - wy) * ((1 - wx) * low[y0 * k + x0] + wx * low[y0 * k + x1]) +
                         wy * ((1 - wx) * low[y1 * k + x0] + wx * low[y1 * k + x1]);
    }
  return m;
}

Map make_map(std::mt19937& rng, int kind) {
  std::uniform_real_distribution<double> unit(0, 1);
  Map m(kSize * kSize, 0.0);
  if (kind == 0) {
    const int blobs = 1 + static_cast<int>(rng() % 3);
    for (int b = 0; b < blobs; ++b)
      add_gaussian(m, unit(rng) * kSize, unit(rng) * kSize, 10 + unit(rng) * 50, 10 + unit(rng) * 50, unit(rng));
  } else if (kind == 1) {
    m = upsampled(rng, (int[]){7, 14, 28}[rng() % 3]);
  } else {
    m = upsampled(rng, 14);
    for (double& v : m) v *= 0.2;
    const int peaks = 4 + static_cast<int>(rng() % 5);
    for (int b = 0; b < peaks; ++b)
      add_gaussian(m, unit(rng) * kSize, unit(rng) * kSize, 4 + unit(rng) * 12, 4 + unit(rng) * 12, 0.3 + 0.7 * unit(rng));
  }
  double lo = m[0], hi = m[0];
  for (double v : m) lo = std::min(lo, v), hi = std::max(hi, v);
  for (double& v : m) v = static_cast<float>((v - lo) / std::max(hi - lo, 1e-12));  // exactly what the file holds
  return m;
}

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct Speed {
  double per_cpu_second = 0, per_wall_second = 0;
};

// One run of `tedloc eval` on the split.
Speed time_tedloc_eval(const std::string& metadata, const std::string& maps, std::size_t n, int threads, bool multi) {
  std::vector<std::string> args = {"eval", "--metadata", metadata, "--scoremaps", maps, "--threads",
                                   std::to_string(threads), "--json"};
  if (multi) args.push_back("--multi-contour");
  const auto t0 = std::chrono::steady_clock::now();
  rusage usage{};
  const pid_t pid = tedloc::testing::start_tedloc(args, /*discard_stdout=*/true);
  const int code = pid < 0 ? -1 : tedloc::testing::wait_exit(pid, &usage);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (code != 0) {
    std::fprintf(stderr, "bench_eval: tedloc eval exited with %d\n", code);
    std::exit(1);
  }
  const double cpu = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + 1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
  return {n / cpu, n / wall};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Maps per CPU-second of the sweep alone (quantisation, sweep, IoU) over the maps of one kind, in this process.
double sweep_speed(const std::vector<Map>& maps, int kind, bool multi) {
  const auto thresholds = cam_thresholds(0.001);
  const std::vector<Box> gt = {Box{40, 40, 180, 170}};
  ContourSweep sweep;
  long checksum = 0, count = 0;
  const double c0 = cpu_seconds();
  for (std::size_t i = kind; i < maps.size(); i += 3, ++count) {
    const QuantizedMap map = quantize_scoremap(maps[i].data(), kSize, kSize, "bench");
    checksum += sweep.best_iou(map, gt, thresholds, multi).num_boxes[500];
  }
  const double secs = cpu_seconds() - c0;
  return checksum >= 0 ? count / secs : 0;
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

std::string load() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t total = argc > 1 ? std::stoul(argv[1]) : 3000;
  const std::size_t reference_count = std::min<std::size_t>(300, total);
  tedloc::testing::TempDir temp;
  const std::filesystem::path dir = argc > 2 ? std::filesystem::path(argv[2]) : temp.path;
  const std::string metadata = dir / "metadata", maps_dir = dir / "scoremaps", reference_dir = dir / "reference";
  std::filesystem::create_directories(metadata);
  std::filesystem::create_directories(reference_dir);
  // One split in the protocol's layout: every image 224 x 224 with one GT box, as reference_speed.py assumes.
  std::ofstream ids(metadata + "/image_ids.txt"), labels(metadata + "/class_labels.txt"),
      sizes(metadata + "/image_sizes.txt"), boxes(metadata + "/localization.txt");
  std::mt19937 rng(20200601);
  std::vector<Map> maps;
  for (std::size_t i = 0; i < total; ++i) {
    maps.push_back(make_map(rng, static_cast<int>(i % 3)));
    char id[32];
    std::snprintf(id, sizeof id, "m%05zu", i);
    ids << id << "\n";
    labels << id << ",0\n";
    sizes << id << "," << kSize << "," << kSize << "\n";
    boxes << id << ",40,40,180,170\n";
    const std::vector<float> f(maps.back().begin(), maps.back().end());
    const std::string file = maps_dir + "/" + id + ".npy";
    write_npy_f32(file, f.data(), kSize, kSize);
    if (i < reference_count) std::filesystem::create_hard_link(file, reference_dir + "/" + id + ".npy");
  }
  ids.close(), labels.close(), sizes.close(), boxes.close();

  std::printf("bench_eval: `tedloc eval --threads 1` end to end on %zu maps of 224x224 (a third each: %s, %s, %s), "
              "interval 0.001; load %s\n", total, kKinds[0], kKinds[1], kKinds[2], load().c_str());
  // tedloc eval and the reference take turns, 3 times each, so that both see the same load; medians.
  for (bool multi : {false, true}) {
    const char* mode = multi ? "multi-contour " : "single-contour";
    std::vector<double> cpu, wall, ref;
    for (int r = 0; r < 3; ++r) {
      const Speed one = time_tedloc_eval(metadata, maps_dir, total, 1, multi);
      cpu.push_back(one.per_cpu_second);
      wall.push_back(one.per_wall_second);
      ref.push_back(reference_maps_per_second(reference_dir, multi));
    }
    const Speed two = time_tedloc_eval(metadata, maps_dir, total, 2, multi);
    std::printf("%s tedloc eval: %.0f maps per CPU-second (%.0f maps/s wall) on 1 thread; %.0f maps/s wall on 2\n",
                mode, median(cpu), median(wall), two.per_wall_second);
    if (median(ref) > 0)
      std::printf("%s reference (python3 + cv2, 1 thread, first %zu maps): %.2f maps per CPU-second; tedloc eval / "
                  "reference: %.1fx\n", mode, reference_count, median(ref), median(cpu) / median(ref));
    else
      std::printf("%s reference not measured (needs /usr/bin/python3 with cv2: apt-get install python3-opencv)\n", mode);
    std::printf("%s sweep alone (this process, from the float map), maps per CPU-second:", mode);
    for (int kind = 0; kind < 3; ++kind) std::printf(" %s %.0f%s", kKinds[kind], sweep_speed(maps, kind, multi), kind < 2 ? "," : "\n");
  }
  std::printf("load after: %s\n", load().c_str());
  return 0;
}
