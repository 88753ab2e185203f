// The grid engine end to end, through the real `tedloc` executable, real plugins and a real SQLite file:
// 3 x 2 axes x 2 seeds = 12 cells; SIGKILL halfway and rerun; two workers at once; failures.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <fcntl.h>

#include <chrono>
#include <thread>

#include "tedloc/store.hpp"
#include "test_support.hpp"

namespace tedloc {
namespace {

const std::string kPluginDir = TEDLOC_TEST_PLUGIN_DIR "/good";

std::string spec_text(int sleep_ms, const std::string& extra = "") {
  return R"({"experiment": "twelve", "base": {"task": "probe", "epochs": 2, "sleep_ms": )" +
         std::to_string(sleep_ms) + extra + R"(},
             "grid": {"value": [1, 2, 3], "mode": ["a", "b"]}, "seeds": [0, 1]})";
}

pid_t start_grid(const std::string& spec, const std::string& db, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"grid", spec, "--db", db, "--plugin-dir", kPluginDir, "--no-progress"};
  args.insert(args.end(), extra.begin(), extra.end());
  const pid_t pid = testing::start_tedloc(args);
  EXPECT_GT(pid, 0);
  return pid;
}

using testing::wait_exit;

std::string scalar(const Store& store, const std::string& sql) { return store.query(sql).rows.at(0).at(0); }

class Grid : public ::testing::Test {
 protected:
  testing::TempDir dir;
  std::string spec = dir / "spec.json";
  std::string db = dir / "grid.db";
};

TEST_F(Grid, TwelveCellsDoneAndARerunSkipsThem) {
  testing::write_file(spec, spec_text(0));
  ASSERT_EQ(wait_exit(start_grid(spec, db)), 0);
  Store store(db);
  EXPECT_EQ(scalar(store, "SELECT COUNT(*) FROM runs WHERE status = 'done'"), "12");
  EXPECT_EQ(scalar(store, "SELECT COUNT(*) FROM metrics"), "36");  // 2 epochs + final, per run
  EXPECT_EQ(scalar(store, "SELECT value FROM metrics m JOIN runs r ON r.id = m.run_id WHERE m.split = 'test' AND "
                          "json_extract(r.config_json, '$.value') = 3.0 AND r.seed = 1"),
            "4.0");
  ASSERT_EQ(wait_exit(start_grid(spec, db)), 0);
  EXPECT_EQ(scalar(store, "SELECT SUM(attempts) FROM runs"), "12");  // nothing ran twice
}

TEST_F(Grid, SigkillHalfwayThenRerunCompletesWithoutDuplicates) {
  testing::write_file(spec, spec_text(150));  // 12 cells x 2 epochs x 150 ms
  const pid_t pid = start_grid(spec, db);
  {
    Store store(db);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (std::stoi(scalar(store, "SELECT COUNT(*) FROM runs WHERE status = 'done'")) >= 6) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  kill(pid, SIGKILL);
  EXPECT_EQ(wait_exit(pid), 128 + SIGKILL);
  Store store(db);
  const int done = std::stoi(scalar(store, "SELECT COUNT(*) FROM runs WHERE status = 'done'"));
  EXPECT_GE(done, 6);
  EXPECT_LT(done, 12);
  const std::string killed_running = scalar(store, "SELECT COUNT(*) FROM runs WHERE status = 'running'");

  ASSERT_EQ(wait_exit(start_grid(spec, db)), 0);
  EXPECT_EQ(scalar(store, "SELECT COUNT(*) FROM runs"), "12");
  EXPECT_EQ(scalar(store, "SELECT COUNT(*) FROM runs WHERE status = 'done'"), "12");
  EXPECT_EQ(scalar(store, "SELECT COUNT(*) FROM metrics"), "36");
  EXPECT_EQ(scalar(store, "SELECT COUNT(*) FROM (SELECT run_id, split, name, epoch FROM metrics "
                          "GROUP BY 1, 2, 3, 4 HAVING COUNT(*) > 1)"),
            "0");
  // The run that was cut short is on record as interrupted, and ran a second time.
  EXPECT_EQ(scalar(store, "SELECT COUNT(*) FROM run_events WHERE event = 'interrupted'"), killed_running);
  EXPECT_EQ(scalar(store, "SELECT SUM(attempts) FROM runs"), std::to_string(12 + std::stoi(killed_running)));
}

TEST_F(Grid, TwoConcurrentWorkersShareTheGrid) {
  testing::write_file(spec, spec_text(40));
  // Create the experiment first so that both processes see the same cells from the start.
  const pid_t a = start_grid(spec, db);
  const pid_t b = start_grid(spec, db);
  EXPECT_EQ(wait_exit(a), 0);
  EXPECT_EQ(wait_exit(b), 0);
  Store store(db);
  EXPECT_EQ(scalar(store, "SELECT COUNT(*) FROM runs WHERE status = 'done'"), "12");
  EXPECT_EQ(scalar(store, "SELECT MAX(attempts) FROM runs"), "1");  // no cell ran twice
  EXPECT_EQ(scalar(store, "SELECT COUNT(*) FROM run_events WHERE event = 'claimed'"), "12");
  EXPECT_EQ(scalar(store, "SELECT COUNT(*) FROM metrics"), "36");
  EXPECT_EQ(scalar(store, "SELECT COUNT(DISTINCT pid) FROM runs"), "2");  // both did work
}

TEST_F(Grid, JobsStartsChildWorkers) {
  testing::write_file(spec, spec_text(40));
  ASSERT_EQ(wait_exit(start_grid(spec, db, {"--jobs", "2"})), 0);
  Store store(db);
  EXPECT_EQ(scalar(store, "SELECT COUNT(*) FROM runs WHERE status = 'done'"), "12");
  EXPECT_EQ(scalar(store, "SELECT MAX(attempts) FROM runs"), "1");
}

TEST_F(Grid, FailuresAndDivergenceAreRecordedAndRerunOnRequest) {
  testing::write_file(spec, R"({"experiment": "fates", "base": {"task": "probe"},
      "grid": {"fail": [false, true], "diverge_at": [-1, 1]}})");
  EXPECT_EQ(wait_exit(start_grid(spec, db)), 1);  // a failed run makes the grid exit 1
  Store store(db);
  EXPECT_EQ(scalar(store, "SELECT COUNT(*) FROM runs WHERE status = 'done'"), "1");
  EXPECT_EQ(scalar(store, "SELECT COUNT(*) FROM runs WHERE status = 'diverged'"), "2");
  EXPECT_EQ(scalar(store, "SELECT error FROM runs WHERE status = 'failed'"), "probe asked to fail");
  EXPECT_EQ(scalar(store, "SELECT DISTINCT error FROM runs WHERE status = 'diverged'"), "loss is NaN at epoch 1");
  EXPECT_EQ(wait_exit(start_grid(spec, db)), 1);  // failed runs are not retried by default
  EXPECT_EQ(scalar(store, "SELECT attempts FROM runs WHERE status = 'failed'"), "1");
  EXPECT_EQ(wait_exit(start_grid(spec, db, {"--rerun", "failed"})), 1);
  EXPECT_EQ(scalar(store, "SELECT attempts FROM runs WHERE status = 'failed'"), "2");
}

TEST_F(Grid, BadSpecExitsWithThreeAndRunsNothing) {
  testing::write_file(spec, R"({"experiment": "bad", "base": {"task": "probe", "epochs": "x"}})");
  EXPECT_EQ(wait_exit(start_grid(spec, db)), 3);
  EXPECT_FALSE(std::filesystem::exists(db));
}

// Experiments by revision: a grid may add cells, never silently drop one; --replace keeps the earlier revision.
TEST_F(Grid, ASpecThatDropsCellsNeedsReplaceAndTheEarlierRevisionIsKept) {
  const auto spec_with = [&](const std::string& values) {
    testing::write_file(spec, R"({"experiment": "twelve", "base": {"task": "probe", "epochs": 1},
                                   "grid": {"value": )" + values + R"(, "mode": ["a", "b"]}, "seeds": [0, 1]})");
  };
  spec_with("[1, 2, 3]");
  ASSERT_EQ(wait_exit(start_grid(spec, db)), 0);

  spec_with("[1, 2]");  // drops the 4 cells of value 3
  const std::string err = dir / "stderr.txt";
  const pid_t refused = testing::start_tedloc(
      {"grid", spec, "--db", db, "--plugin-dir", kPluginDir, "--no-progress"}, false, err);
  EXPECT_EQ(wait_exit(refused), 3);
  EXPECT_NE(testing::read_file(err).find("4 cell(s) that this spec no longer yields"), std::string::npos)
      << testing::read_file(err);
  EXPECT_NE(testing::read_file(err).find("--replace"), std::string::npos);
  EXPECT_EQ(Store(db).runs("twelve").size(), 12u);

  spec_with("[1, 2, 3, 4]");  // only adds cells: the same revision grows
  ASSERT_EQ(wait_exit(start_grid(spec, db)), 0);
  EXPECT_EQ(Store(db).runs("twelve").size(), 16u);

  spec_with("[1, 2]");
  ASSERT_EQ(wait_exit(start_grid(spec, db, {"--replace"})), 0);
  Store store(db);
  EXPECT_EQ(store.revision(*store.find_experiment("twelve")), 2);
  EXPECT_EQ(store.runs("twelve").size(), 8u);          // revision 2
  EXPECT_EQ(store.runs("twelve", "", 1).size(), 16u);  // revision 1, kept
  EXPECT_EQ(store.runs("twelve", "", 2).size(), 8u);   // the current one by number
  EXPECT_EQ(store.runs().size(), 16u);                 // no run deleted
  EXPECT_EQ(scalar(store, "SELECT SUM(attempts) FROM runs"), "16");  // and none ran twice
}

}  // namespace
}  // namespace tedloc
