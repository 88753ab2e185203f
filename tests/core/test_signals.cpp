// SIGINT/SIGTERM through the real `tedloc` executable and a real SQLite file: the first signal stops the
// running run within its current step and records it interrupted (and the next grid resumes it); a second one
// aborts at once and the run is still recorded; cam_eval's sweep and the dataset builder stop too.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tedloc/store.hpp"
#include "test_support.hpp"

namespace tedloc {
namespace {

using Clock = std::chrono::steady_clock;
const std::string kPluginDir = TEDLOC_TEST_PLUGIN_DIR "/good";

class Signals : public ::testing::Test {
 protected:
  testing::TempDir dir;
  std::string spec = dir / "spec.json";
  std::string db = dir / "signals.db";
  std::string err = dir / "stderr.txt";

  pid_t start_grid(const std::string& base) {
    testing::write_file(spec, R"({"experiment": "signals", "base": )" + base + "}");
    const pid_t pid = testing::start_tedloc({"grid", spec, "--db", db, "--plugin-dir", kPluginDir, "--no-progress"},
                                            false, err);
    EXPECT_GT(pid, 0);
    return pid;
  }

  // Waits (up to 60 s) until the store shows a running run.
  void wait_until_running() {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < deadline) {
      if (std::filesystem::exists(db)) {
        try {
          const auto runs = Store(db, Store::Mode::ReadOnly).runs();
          if (!runs.empty() && runs[0].status == "running") return;
        } catch (const std::exception&) {  // not created or migrated yet
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "no run started";
  }

  // Sends `signal` and returns the exit code and the seconds until the process ended.
  static std::pair<int, double> signal_and_wait(pid_t pid, int signal) {
    const auto t0 = Clock::now();
    kill(pid, signal);
    const int code = testing::wait_exit(pid);
    return {code, std::chrono::duration<double>(Clock::now() - t0).count()};
  }

  RunRecord only_run() const {
    const auto runs = Store(db).runs();
    EXPECT_EQ(runs.size(), 1u);
    return runs.at(0);
  }
};

TEST_F(Signals, TheFirstStopsTheRunAtItsNextStepAndRecordsItInterrupted) {
  const pid_t pid = start_grid(R"({"task": "probe", "epochs": 400, "sleep_ms": 50})");  // 20 s, polled every 50 ms
  wait_until_running();
  const auto [code, seconds] = signal_and_wait(pid, SIGINT);
  EXPECT_EQ(code, 130);
  EXPECT_LT(seconds, 5.0);  // not the 20 s the run would take: it stopped at a step (50 ms here)
  EXPECT_EQ(only_run().status, "interrupted");
  EXPECT_EQ(only_run().error, "stopped by a signal");
  EXPECT_NE(testing::read_file(err).find("tedloc: stopping after"), std::string::npos) << testing::read_file(err);
  EXPECT_EQ(Store(db).query("SELECT COUNT(*) FROM run_events WHERE event = 'interrupted'").rows.at(0).at(0), "1");
}

TEST_F(Signals, SigtermIsASignalLikeSigint) {
  const pid_t pid = start_grid(R"({"task": "probe", "epochs": 400, "sleep_ms": 50})");
  wait_until_running();
  const auto [code, seconds] = signal_and_wait(pid, SIGTERM);
  EXPECT_EQ(code, 130);
  EXPECT_LT(seconds, 5.0);
  EXPECT_EQ(only_run().status, "interrupted");
}

TEST_F(Signals, ASecondAbortsAtOnceAndTheRunIsStillRecordedInterrupted) {
  const pid_t pid = start_grid(R"({"task": "probe", "epochs": 1, "sleep_ms": 60000})");  // one 60 s step
  wait_until_running();
  kill(pid, SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto [code, seconds] = signal_and_wait(pid, SIGINT);
  EXPECT_EQ(code, 130);
  EXPECT_LT(seconds, 5.0);
  const RunRecord run = only_run();
  EXPECT_EQ(run.status, "interrupted");
  EXPECT_EQ(run.error, "aborted by a second signal");
  EXPECT_NE(testing::read_file(err).find("tedloc: aborting"), std::string::npos) << testing::read_file(err);
}

// cam_eval's threshold sweep and its image synthesis poll between steps.
TEST_F(Signals, TheCamEvalSweepStops) {
  const pid_t pid = start_grid(
      R"({"task": "cam_eval", "images": 3000, "size": 64, "threshold_step": 0.0001, "cam": "center_prior"})");
  wait_until_running();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const auto [code, seconds] = signal_and_wait(pid, SIGINT);
  EXPECT_EQ(code, 130);
  EXPECT_LT(seconds, 5.0);
  EXPECT_EQ(only_run().status, "interrupted");
}

TEST_F(Signals, TheDatasetBuilderStopsAndLeavesNoCompletionMarker) {
  const std::string out = dir / "ds";
  const pid_t pid = testing::start_tedloc({"data", "fashion-wsol", "--out", out, "--train", "50000", "--val", "10",
                                           "--test", "10"},
                                          false, err);
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline && !std::filesystem::exists(out + "/images")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto [code, seconds] = signal_and_wait(pid, SIGINT);
  EXPECT_EQ(code, 130);
  EXPECT_LT(seconds, 5.0);
  EXPECT_FALSE(std::filesystem::exists(out + "/metadata/FashionWSOL/dataset.json"));
  EXPECT_NE(testing::read_file(err).find("interrupted"), std::string::npos) << testing::read_file(err);
}

}  // namespace
}  // namespace tedloc
