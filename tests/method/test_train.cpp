// TeD-Loc end to end through the grid engine: generated images on disk, the golden tiny CLIP as frozen
// encoder, real plugins (.so) for the CAM, anchors and losses, a real SQLite store.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include <torch/torch.h>

#include "tedloc/data/fashion_wsol.hpp"
#include "tedloc/engine.hpp"
#include "tedloc/error.hpp"
#include "tedloc/host.hpp"
#include "tedloc/device.hpp"
#include "tedloc/tasks.hpp"
#include "test_support.hpp"

namespace tedloc {
namespace {
namespace fs = std::filesystem;

class Train : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    data::FashionWsolOptions o;
    o.out_dir = *dir_ / "ds";
    o.canvas = 64;
    o.train = 48;
    o.val = 16;
    o.test = 16;
    o.progress = false;
    data::generate_fashion_wsol(o);
    // Training must never read a train box: remove them.
    fs::remove(*dir_ / "ds/metadata/FashionWSOL/train/localization.txt");
  }
  static void TearDownTestSuite() { delete dir_; }

  nlohmann::json base(double lr, int epochs) const {
    return {{"task", "tedloc"}, {"device", "cpu"}, {"threads", 1},
            {"data", {{"metadata", *dir_ / "ds/metadata/FashionWSOL"}, {"images", *dir_ / "ds/images"}, {"size", 64},
                      {"resize", 72}, {"threads", 1}}},
            {"encoder", {{"weights", (testing::shared_dir() / "golden/clip/weights.safetensors").string()}}},
            {"text", {{"dim", 32}}},
            {"cam", "brightness"},
            {"decoder", {{"width", 16}, {"stages", 1}}},
            {"pseudo", {{"n_pos", 8}, {"n_neg", 20}, {"s", 4}}},
            {"train", {{"epochs", epochs}, {"batch_size", 16}, {"lr", lr}}},
            {"eval", {{"test_interval", 0.01}, {"latency_steps", 2}}},
            {"output", {{"overlays", 2}}}};
  }

  GridResult run(const std::string& db, const nlohmann::json& config, const std::string& name) {
    PluginHost host{register_builtin_plugins};
    host.scan(std::string(TEDLOC_BUILD_DIR) + "/plugins");
    const Spec spec = parse_spec(nlohmann::json{{"experiment", name}, {"base", config}}.dump(), name + ".json");
    GridOptions options;
    options.db_path = db;
    options.progress = false;
    return run_grid(spec, expand_spec(spec, host), host, options);
  }

  static std::string metric(Store& store, const std::string& split, const std::string& name, int epoch) {
    const auto rows = store.query("SELECT value FROM metrics WHERE split = '" + split + "' AND name = '" + name +
                                  "' AND epoch = " + std::to_string(epoch)).rows;
    return rows.empty() ? "missing" : rows[0][0];
  }

  static testing::TempDir* dir_;
};
testing::TempDir* Train::dir_ = nullptr;

TEST_F(Train, LossFallsMetricsAreStoredAndASeedRepeatsTheRun) {
  TEDLOC_NEED_SHARED("golden/clip");
  const std::string db = *dir_ / "a.db";
  const GridResult result = run(db, base(0.05, 3), "train");
  ASSERT_EQ(result.counts.done, 1) << Store(db).runs().at(0).error;
  Store store(db);
  const double first = std::stod(metric(store, "train", "loss", 0));
  const double last = std::stod(metric(store, "train", "loss", 2));
  EXPECT_LT(last, first);
  for (const char* name : {"maxboxacc_30", "maxboxacc_50", "maxboxacc_70", "maxboxacc_v2", "top1_loc", "top5_loc",
                           "cl_top1", "dot_gt_maxboxacc_50", "dot_pred_maxboxacc_50", "dot_gt_top1_loc", "dot_pred_top5_loc"}) {
    EXPECT_NE(metric(store, "test", name, -1), "missing") << name;
  }
  for (int epoch = 0; epoch < 3; ++epoch) {
    EXPECT_NE(metric(store, "val", "maxboxacc_50", epoch), "missing");
    EXPECT_NE(metric(store, "val", "cl_top1", epoch), "missing");
  }
  EXPECT_EQ(store.query("SELECT COUNT(*) FROM artifacts WHERE kind = 'overlay'").rows[0][0], "2");
  EXPECT_EQ(store.query("SELECT path FROM artifacts WHERE kind = 'anchors_case'").rows[0][0], "qr_orthonormal");

  // The same config and seed on CPU gives the same run twice.
  const std::string db2 = *dir_ / "b.db";
  ASSERT_EQ(run(db2, base(0.05, 3), "train").counts.done, 1);
  Store again(db2);
  for (const char* name : {"loss", "loss_kd", "loss_pcl", "loss_icl"}) {
    EXPECT_EQ(metric(again, "train", name, 2), metric(store, "train", name, 2)) << name;
  }
  EXPECT_EQ(metric(again, "test", "maxboxacc_50", -1), metric(store, "test", "maxboxacc_50", -1));
}

TEST_F(Train, Bf16AutocastTrainsToTheEndWithOtherNumbers) {
  TEDLOC_NEED_SHARED("golden/clip");
  nlohmann::json config = base(0.05, 1);
  const std::string fp32_db = *dir_ / "fp32.db", bf16_db = *dir_ / "bf16.db";
  ASSERT_EQ(run(fp32_db, config, "fp32").counts.done, 1);
  config["precision"] = "bf16";
  const GridResult result = run(bf16_db, config, "bf16");
  ASSERT_EQ(result.counts.done, 1) << Store(bf16_db).runs().at(0).error;
  Store fp32(fp32_db), bf16(bf16_db);
  EXPECT_NE(metric(bf16, "test", "maxboxacc_50", -1), "missing");
  const double loss = std::stod(metric(bf16, "train", "loss", 0));
  EXPECT_TRUE(std::isfinite(loss));
  // bfloat16 products round differently: the same run in fp32 gives other bits.
  EXPECT_NE(metric(bf16, "train", "loss", 0), metric(fp32, "train", "loss", 0));
}

TEST(Precision, ScopeSwitchesAutocastAndRestoresIt) {
  const auto a = torch::rand({4, 4}), b = torch::rand({4, 4});
  {
    const PrecisionScope scope(c10::Device(c10::kCPU), "bf16");
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);
    EXPECT_EQ((a + b).scalar_type(), torch::kFloat);  // not on autocast's lists
    {
      const PrecisionScope plain(c10::Device(c10::kCPU), "fp32");
      EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);  // fp32 adds nothing, removes nothing
    }
  }
  EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kFloat);
  EXPECT_THROW(PrecisionScope(c10::Device(c10::kCPU), "fp16"), InputError);
}

TEST_F(Train, AnExplodingLossMarksTheRunDiverged) {
  TEDLOC_NEED_SHARED("golden/clip");
  const std::string db = *dir_ / "nan.db";
  const GridResult result = run(db, base(1e30, 2), "nan");
  EXPECT_EQ(result.counts.diverged, 1);
  Store store(db);
  EXPECT_EQ(store.runs().at(0).status, "diverged");
  EXPECT_NE(store.runs().at(0).error.find("loss is"), std::string::npos) << store.runs().at(0).error;
}

pid_t start_grid(const std::string& spec, const std::string& db) {
  const pid_t pid = testing::start_tedloc({"grid", spec, "--db", db, "--no-progress"});
  EXPECT_GT(pid, 0);
  return pid;
}

using testing::wait_exit;

// Every metric of the experiment's one run but the timings, as "split/name/epoch=value" lines.
std::vector<std::string> metrics_of(const std::string& db) {
  std::vector<std::string> lines;
  for (const auto& row : Store(db).query("SELECT split, name, epoch, value FROM metrics WHERE name NOT IN "
                                         "('images_per_s', 'latency_ms') ORDER BY 1, 2, 3").rows) {
    lines.push_back(row[0] + "/" + row[1] + "/" + row[2] + "=" + row[3]);
  }
  return lines;
}

// Kills the grid with SIGKILL at two points (after the first checkpoint, then one epoch after the resumed
// attempt started), lets a third attempt finish, and compares every metric with a run never killed: the
// checkpoint must hold all the state the loop changes (net, optimizer, the cell generator's RNG, epoch).
TEST_F(Train, AKilledRunResumesToTheSameMetrics) {
  TEDLOC_NEED_SHARED("golden/clip");
  const std::string spec = *dir_ / "resume.json";
  nlohmann::json config = base(0.05, 4);
  config["data"]["augment"] = "crop_flip";  // the CAMs seen through random crops, and a token cache that misses
  std::ofstream(spec) << nlohmann::json{{"experiment", "resume"}, {"base", config}}.dump();
  const std::string whole = *dir_ / "whole.db", killed = *dir_ / "killed.db";
  ASSERT_EQ(wait_exit(start_grid(spec, whole)), 0);

  const auto wait_for_checkpoint = [&](fs::file_time_type newer_than) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
      for (const auto& dir : fs::directory_iterator(killed + ".runs", fs::directory_options::skip_permission_denied)) {
        std::error_code ec;
        const auto time = fs::last_write_time(dir.path() / "last.pt", ec);
        if (!ec && time > newer_than) return time;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ADD_FAILURE() << "no checkpoint appeared";
    return newer_than;
  };
  pid_t pid = start_grid(spec, killed);
  fs::create_directories(killed + ".runs");
  const auto first = wait_for_checkpoint(fs::file_time_type::min());  // epoch 1 done
  kill(pid, SIGKILL);
  EXPECT_EQ(wait_exit(pid), 128 + SIGKILL);
  pid = start_grid(spec, killed);
  wait_for_checkpoint(first);  // the resumed attempt finished epoch 2: kill it as it starts epoch 3
  kill(pid, SIGKILL);
  EXPECT_EQ(wait_exit(pid), 128 + SIGKILL);
  ASSERT_EQ(wait_exit(start_grid(spec, killed)), 0);

  EXPECT_EQ(Store(killed).runs().at(0).attempts, 3);
  const auto expected = metrics_of(whole), actual = metrics_of(killed);
  EXPECT_GT(expected.size(), 20u);
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(actual[i], expected[i]);
}

}  // namespace
}  // namespace tedloc
