#include "tedloc/cli/eval_command.hpp"

#include <filesystem>

#include "tedloc/version.hpp"
#include "tedloc/store.hpp"
#include "tedloc/util.hpp"

#include <unistd.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "tedloc/error.hpp"
#include "tedloc/eval/box_eval.hpp"
#include "tedloc/eval/metadata.hpp"
#include "tedloc/eval/npy.hpp"
#include "tedloc/eval/pxap.hpp"

namespace tedloc::eval {
namespace {

std::string scoremap_path(const EvalOptions& o, const std::string& id) { return o.scoremaps + "/" + id + ".npy"; }

// Runs work(i, worker) for i in [0, n) on `threads` threads; shows a bar with ETA on a terminal's stderr.
// The first exception stops the other workers and is rethrown.
template <class Work>
void parallel_for(std::size_t n, int threads, bool progress, Work&& work) {
  std::atomic<std::size_t> next{0}, done{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  const auto body = [&](int worker) {
    for (std::size_t i; (i = next.fetch_add(1)) < n;) {
      try {
        work(i, worker);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next = n;
      }
      ++done;
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(body, t);
  std::thread bar;
  std::atomic<bool> finished{false};
  if (progress && isatty(STDERR_FILENO)) {
    bar = std::thread([&] {
      const auto t0 = std::chrono::steady_clock::now();
      while (!finished) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const std::size_t d = done;
        const double eta = d ? secs * static_cast<double>(n - d) / static_cast<double>(d) : 0.0;
        const int filled = static_cast<int>(30.0 * static_cast<double>(d) / static_cast<double>(n));
        std::fprintf(stderr, "\r[%-30s] %zu/%zu maps  %.0f maps/s  ETA %.0fs ", std::string(filled, '#').c_str(), d, n,
                     secs > 0 ? static_cast<double>(d) / secs : 0.0, eta);
      }
      std::fprintf(stderr, "\r%70s\r", "");
    });
  }
  body(0);
  for (auto& t : pool) t.join();
  finished = true;
  if (bar.joinable()) bar.join();
  if (error) std::rethrow_exception(error);
}

int thread_count(const EvalOptions& o) {
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return o.threads > 0 ? o.threads : hw;
}

nlohmann::json evaluate_boxes(const EvalOptions& o, const SplitMetadata& split) {
  const int threads = thread_count(o);
  std::vector<BoxCurves> parts(threads, make_box_curves(o.interval, o.iou_thresholds));
  std::vector<ContourSweep> sweeps(threads);
  parallel_for(split.image_ids.size(), threads, o.progress, [&](std::size_t i, int worker) {
    const QuantizedMap map = read_scoremap(scoremap_path(o, split.image_ids[i]));
    accumulate(parts[worker],
               sweeps[worker].best_iou(map, resized_boxes(split, i), parts[worker].cam_thresholds, o.multi_contour));
  });
  for (int t = 1; t < threads; ++t) merge(parts[0], parts[t]);
  const BoxSummary sum = summarize(parts[0]);
  nlohmann::json j;
  for (const IouResult& r : sum.per_iou) {
    j["maxboxacc"].push_back(r.max_box_acc);
    j["best_threshold"].push_back(r.best_threshold);
    j["best_threshold_index"].push_back(r.best_index);
  }
  j["maxboxacc_v2"] = sum.mean;
  j["num_images"] = parts[0].num_images;
  j["cam_curve_interval"] = o.interval;
  j["iou_thresholds"] = o.iou_thresholds;
  j["multi_contour"] = o.multi_contour;
  return j;
}

nlohmann::json evaluate_masks(const EvalOptions& o, const SplitMetadata& split) {
  if (o.mask_root.empty()) throw InputError(split.folder + ": a mask split needs --mask-root");
  const int threads = thread_count(o);
  std::vector<PxapHistograms> parts(threads, make_pxap_histograms(o.interval));
  parallel_for(split.image_ids.size(), threads, o.progress, [&](std::size_t i, int worker) {
    const std::string path = scoremap_path(o, split.image_ids[i]);
    const NpyArray map = read_npy(path);
    if (map.shape != std::vector<std::size_t>{224, 224}) throw InputError(path + ": PxAP needs a 224 x 224 map");
    accumulate(parts[worker], map.data, ground_truth_mask(o.mask_root, split.masks[i]));
  });
  for (int t = 1; t < threads; ++t) merge(parts[0], parts[t]);
  return {{"pxap", pxap(parts[0])}, {"num_images", split.image_ids.size()}, {"cam_curve_interval", o.interval}};
}

std::vector<int> parse_iou_list(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    std::size_t used = 0;
    int v = -1;
    try {
      v = std::stoi(item, &used);
    } catch (const std::exception&) {
    }
    if (used != item.size() || v < 0 || v > 100) throw UsageError("--iou: bad IoU threshold '" + item + "' (0..100)");
    out.push_back(v);
  }
  if (out.empty()) throw UsageError("--iou: empty list");
  return out;
}

void print_table(const nlohmann::json& r, const EvalOptions& o) {
  std::cout << fmt::format("split {}  ({} images, cam interval {})\n", o.metadata, r["num_images"].get<long>(), o.interval);
  if (r.contains("pxap")) {
    std::cout << fmt::format("PxAP  {:.4f}\n", r["pxap"].get<double>());
    return;
  }
  std::cout << fmt::format("{}-contour boxes\n  IoU  MaxBoxAcc  best threshold\n", o.multi_contour ? "multi" : "single");
  for (std::size_t d = 0; d < o.iou_thresholds.size(); ++d)
    std::cout << fmt::format("  {:>3}  {:>9.4f}  {:.4f}\n", o.iou_thresholds[d], r["maxboxacc"][d].get<double>(),
                             r["best_threshold"][d].get<double>());
  std::cout << fmt::format("  {}  {:.4f}\n", o.multi_contour ? "MaxBoxAccV2" : "mean (MaxBoxAccV2 needs --multi-contour)",
                           r["maxboxacc_v2"].get<double>());
}

}  // namespace

nlohmann::json evaluate_scoremaps(const EvalOptions& options) {
  const SplitMetadata split = load_split(options.metadata);
  return split.kind == LocalizationKind::kMasks ? evaluate_masks(options, split) : evaluate_boxes(options, split);
}

// Stores one evaluation as a done run: config = the options, metrics = every number of the result.
void record_in_store(const std::string& db, const std::string& experiment, const EvalOptions& o,
                     const nlohmann::json& result) {
  namespace fs = std::filesystem;
  const nlohmann::json config = {{"task", "eval"},
                                 {"metadata", fs::absolute(o.metadata).lexically_normal().string()},
                                 {"scoremaps", fs::absolute(o.scoremaps).lexically_normal().string()},
                                 {"interval", o.interval},
                                 {"multi_contour", o.multi_contour},
                                 {"iou_thresholds", o.iou_thresholds},
                                 {"seed", 0}};
  std::vector<Store::Metric> metrics;
  if (result.contains("pxap")) metrics.push_back({"eval", "pxap", result["pxap"].get<double>()});
  if (result.contains("maxboxacc")) {
    for (std::size_t i = 0; i < o.iou_thresholds.size(); ++i) {
      const std::string iou = std::to_string(o.iou_thresholds[i]);
      metrics.push_back({"eval", "maxboxacc_" + iou, result["maxboxacc"][i].get<double>()});
      metrics.push_back({"eval", "best_threshold_" + iou, result["best_threshold"][i].get<double>()});
    }
    metrics.push_back({"eval", o.multi_contour ? "maxboxacc_v2" : "maxboxacc_mean", result["maxboxacc_v2"].get<double>()});
  }
  const std::string text = config.dump();
  const std::int64_t run = Store(db).record_done_run(
      experiment, {sha256_hex(text), text, "eval", 0, fs::path(o.scoremaps).filename().string()}, metrics,
      WorkerId::current(), git_revision());
  std::cerr << "tedloc eval: recorded as run " << run << " of experiment '" << experiment << "' in " << db << "\n";
}

int eval_command(const std::vector<std::string>& args) {
  namespace po = boost::program_options;
  EvalOptions o;
  std::string iou = "30,50,70";
  po::options_description desc(
      "tedloc eval: MaxBoxAcc/MaxBoxAccV2 (box splits) or PxAP (OpenImages mask splits) of .npy score maps,\n"
      "exactly as clovaai/wsolevaluation computes them. Maps are read from <scoremaps>/<image_id>.npy");
  desc.add_options()("help,h", "show this help")
      ("metadata", po::value(&o.metadata)->required(), "split folder: image_ids.txt, image_sizes.txt, localization.txt")
      ("scoremaps", po::value(&o.scoremaps)->required(), "folder of <image_id>.npy score maps")
      ("interval", po::value(&o.interval)->default_value(0.001), "cam_curve_interval (thresholds arange(0, 1, s))")
      ("multi-contour", po::bool_switch(&o.multi_contour), "a box per contour (MaxBoxAccV2)")
      ("iou", po::value(&iou)->default_value(iou), "IoU thresholds in percent, comma separated")
      ("json", "print one JSON object")
      ("mask-root", po::value(&o.mask_root), "mask splits: folder the localization.txt mask paths are relative to")
      ("threads", po::value(&o.threads)->default_value(0), "worker threads (0: every core)")
      ("db", po::value<std::string>(), "also record the result as a done run in this SQLite store")
      ("experiment", po::value<std::string>()->default_value("eval"), "the experiment the run is recorded under");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: tedloc eval --metadata DIR --scoremaps DIR [options]\n" << desc << "\n";
      return kExitOk;
    }
    po::notify(vm);
    o.iou_thresholds = parse_iou_list(iou);
    if (o.threads < 0) throw UsageError("--threads must be >= 0");
    // Below 1e-5 the curves alone take gigabytes (one threshold per step) and no protocol uses it.
    if (!(o.interval >= 1e-5 && o.interval <= 1)) throw UsageError("--interval must be in [1e-5, 1]");
  } catch (const po::error& e) {
    std::cerr << "tedloc eval: " << e.what() << "\n";
    return kExitUsage;
  } catch (const UsageError& e) {
    std::cerr << "tedloc eval: " << e.what() << "\n";
    return kExitUsage;
  }
  try {
    const nlohmann::json r = evaluate_scoremaps(o);
    if (vm.count("json")) std::cout << r.dump() << "\n";
    else print_table(r, o);
    if (vm.count("db")) record_in_store(vm["db"].as<std::string>(), vm["experiment"].as<std::string>(), o, r);
  } catch (const InputError& e) {
    std::cerr << "tedloc eval: " << e.what() << "\n";
    return kExitBadInput;
  }
  return kExitOk;
}

}  // namespace tedloc::eval
