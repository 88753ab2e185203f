// The slurm executor against a real Slurm cluster (scripts/slurm-local.sh up starts a one-node one), with the real
// `tedloc` executable, real sbatch/squeue/scancel/scontrol and real SQLite files: a 12-cell array, cancelled tasks
// and a rerun, a node going down under a requeued task, shards imported twice and concurrently.
// Without a cluster every case skips with one line; TEDLOC_REQUIRE_SLURM=1 (CI) turns that into a failure.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include "tedloc/slurm.hpp"
#include "tedloc/store.hpp"
#include "test_support.hpp"

namespace tedloc {
namespace {

using Clock = std::chrono::steady_clock;
const std::string kPluginDir = TEDLOC_TEST_PLUGIN_DIR "/good";
// 3 x 2 axes x 2 seeds.
const std::string kTwelve = R"(, "grid": {"value": [1, 2, 3], "mode": ["a", "b"]}, "seeds": [0, 1])";

// Empty when a cluster answers sinfo, else the one line a skipped (or failed) case prints. Asked once: sinfo
// retries an absent slurmctld for about 10 s.
std::string missing_cluster() {
  static const std::string missing = [] {
    // scripts/slurm-local.sh keeps its slurm.conf out of /etc: find it when the caller did not export SLURM_CONF.
    const char* dir = std::getenv("TEDLOC_SLURM_DIR");
    const std::string local_conf = std::string(dir && *dir ? dir : "/tmp/tedloc-slurm") + "/slurm.conf";
    if (!std::getenv("SLURM_CONF") && !std::filesystem::exists("/etc/slurm/slurm.conf") &&
        std::filesystem::exists(local_conf)) {
      setenv("SLURM_CONF", local_conf.c_str(), 1);
    }
    const CommandOutput out = run_command({"sinfo", "-h", "-o", "%T"});
    if (out.exit_code == 0 && !out.out.empty()) return std::string();
    return std::string("no Slurm cluster reachable (sinfo ") + (out.exit_code == -1 ? "not installed" : "failed") +
           "): start one with scripts/slurm-local.sh up (TEDLOC_REQUIRE_SLURM=1 turns this skip into a failure)";
  }();
  return missing;
}

bool slurm_required() {
  const char* env = std::getenv("TEDLOC_REQUIRE_SLURM");
  return env && *env && std::string(env) != "0";
}

// `tedloc ARGS...`, killed after 240 s (exit 124) so that a hung case fails instead of hanging the suite.
CommandOutput tedloc(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"timeout", "240", testing::tedloc_exe()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

std::string scalar(const std::string& db, const std::string& sql) {
  return Store(db, Store::Mode::ReadOnly).query(sql).rows.at(0).at(0);
}

// Every row of the tables an import writes, as text: equal dumps mean the import changed nothing.
std::string dump(const std::string& db) {
  std::string text;
  const Store store(db, Store::Mode::ReadOnly);
  for (const char* sql : {"SELECT * FROM runs ORDER BY id", "SELECT * FROM metrics ORDER BY 1, 2, 3, 4",
                          "SELECT * FROM artifacts ORDER BY id", "SELECT * FROM run_events ORDER BY id",
                          "SELECT * FROM slurm_tasks ORDER BY 1, 2", "SELECT * FROM experiment_runs ORDER BY 1, 2"}) {
    for (const auto& row : store.query(sql).rows) {
      for (const auto& cell : row) text += cell + "|";
      text += "\n";
    }
  }
  return text;
}

// Polls `done()` every 200 ms until it holds or `seconds` pass.
template <class F>
bool eventually(F&& done, int seconds) {
  const auto deadline = Clock::now() + std::chrono::seconds(seconds);
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return done();
}

std::map<std::string, JobState> states() { return slurm_job_states().value_or(std::map<std::string, JobState>{}); }

// The array tasks of job `job` ("J_T") in `state`.
std::vector<std::string> tasks_in(const std::string& job, const std::string& state) {
  std::vector<std::string> ids;
  for (const auto& [id, s] : states()) {
    if (id.rfind(job + "_", 0) == 0 && s.state == state) ids.push_back(id);
  }
  return ids;
}

bool job_over(const std::string& job) {
  for (const auto& [id, s] : states()) {
    if ((id == job || id.rfind(job + "_", 0) == 0) && slurm_state_active(s.state)) return false;
  }
  return true;
}

class Slurm : public ::testing::Test {
 protected:
  // Without a cluster the whole suite skips, saying so once (the line ctest's SKIP_REGULAR_EXPRESSION sees).
  static void SetUpTestSuite() {
    const std::string missing = missing_cluster();
    if (!missing.empty() && !slurm_required()) GTEST_SKIP() << "test_slurm: " << missing;
  }
  void SetUp() override {
    const std::string missing = missing_cluster();
    if (!missing.empty()) {
      if (slurm_required()) FAIL() << missing;
      GTEST_SKIP();
    }
  }
  void TearDown() override {
    // No job of this case may outlive its folder: cancel them by name (never another user's or test's jobs).
    if (!experiment.empty()) {
      run_command({"scancel", "--me", "--name=tedloc-" + experiment});
      run_command({"scancel", "--me", "--name=tedloc-import-" + experiment});
      eventually([&] {
        const CommandOutput q = run_command({"squeue", "--me", "-h", "-t", "PENDING,RUNNING,COMPLETING,CONFIGURING",
                                             "-n", "tedloc-" + experiment + ",tedloc-import-" + experiment});
        return q.exit_code != 0 || q.out.empty();
      }, 60);
    }
  }

  // A spec of probe cells for this case's own experiment (a name of its own, so that TearDown cancels only its jobs).
  void write_spec(const std::string& name, const std::string& base, const std::string& axes) {
    experiment = name + "_" + std::to_string(getpid());
    testing::write_file(spec, R"({"experiment": ")" + experiment + R"(", "base": {"task": "probe", )" + base + "}" +
                                  axes + "}");
  }
  CommandOutput grid(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"grid", spec, "--db", db, "--executor", "slurm", "--plugin-dir", kPluginDir,
                                     "--no-progress"};
    args.insert(args.end(), extra.begin(), extra.end());
    return tedloc(args);
  }
  std::string array_job() const { return scalar(db, "SELECT MAX(CAST(job_id AS INTEGER)) FROM slurm_tasks"); }

  testing::TempDir dir;
  std::string spec = dir / "spec.json";
  std::string db = dir / "grid.db";
  std::string experiment;
};

TEST_F(Slurm, TwelveCellsRunAsOneArrayEachOnceAndRunsShowsTheirSlurmState) {
  write_spec("twelve", R"("epochs": 2, "sleep_ms": 300)", kTwelve);
  const auto start = Clock::now();
  const CommandOutput submitted = grid();
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string script = testing::read_file(db + ".runs/slurm/" + experiment + "/array.sbatch");
  EXPECT_NE(script.find("#SBATCH --array=0-11\n"), std::string::npos) << script;
  EXPECT_NE(script.find("#SBATCH --open-mode=append\n"), std::string::npos);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM runs WHERE status = 'running' AND worker LIKE 'slurm:%'"), "12");

  // While the array runs, `tedloc runs` shows each run's live Slurm state.
  bool saw_state = false;
  eventually([&] {
    const CommandOutput runs = tedloc({"runs", "--db", db});
    saw_state = runs.out.find("PENDING") != std::string::npos || runs.out.find("RUNNING") != std::string::npos;
    return saw_state || runs.out.find("running") == std::string::npos;
  }, 60);
  EXPECT_TRUE(saw_state) << "tedloc runs never showed PENDING or RUNNING";

  // The import job (afterany) brings in whatever `tedloc runs` did not: no other command runs from here on.
  ASSERT_TRUE(eventually([&] { return scalar(db, "SELECT COUNT(*) FROM runs WHERE status = 'done'") == "12"; }, 180))
      << tedloc({"runs", "--db", db}).out;
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM runs"), "12");
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM experiments"), "1");
  EXPECT_EQ(scalar(db, "SELECT MAX(attempts) FROM runs"), "1");  // each exactly once
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM metrics"), "36");
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM slurm_tasks"), "12");
  EXPECT_EQ(scalar(db, "SELECT COUNT(DISTINCT job_id) FROM slurm_tasks"), "1");  // one array
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM slurm_tasks WHERE imported_at IS NULL"), "0");
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM run_events WHERE event = 'done'"), "12");
  // The overhead per cell, from the records: submitted -> started (in its task) -> ended -> imported.
  const auto overhead = Store(db, Store::Mode::ReadOnly).query(
      "SELECT printf('%.2f / %.2f / %.2f', MIN(q), AVG(q), MAX(q)), printf('%.2f', AVG(r.duration_s)), "
      "printf('%.2f / %.2f / %.2f', MIN(i), AVG(i), MAX(i)) FROM (SELECT r.duration_s, "
      "(julianday(r.started_at) - julianday(t.submitted_at)) * 86400 AS q, "
      "(julianday(t.imported_at) - julianday(r.ended_at)) * 86400 AS i FROM runs r JOIN slurm_tasks t ON t.run_id = r.id) r");
  std::string cpus = run_command({"sinfo", "-h", "-o", "%c CPUs"}).out;
  cpus = cpus.substr(0, cpus.find('\n'));
  std::printf("test_slurm: 12-cell array on %s: %.1f s wall (submit to 12 imported); per cell (min / mean / max): "
              "submitted->run started %s s, run %s s, run ended->imported %s s\n",
              cpus.c_str(), wall, overhead.rows[0][0].c_str(),
              overhead.rows[0][1].c_str(), overhead.rows[0][2].c_str());
}

TEST_F(Slurm, CancelledTasksEndInterruptedWithSlurmsReasonAndARerunSubmitsOnlyThem) {
  write_spec("cancel", R"("epochs": 4, "sleep_ms": 400)", kTwelve);
  ASSERT_EQ(grid().exit_code, 0);
  const std::string job = array_job();
  // Cancel two tasks while they run (one after the other, so that a one-CPU node works too).
  std::set<std::string> cancelled;
  ASSERT_TRUE(eventually([&] {
    for (const auto& id : tasks_in(job, "RUNNING")) {
      if (cancelled.size() < 2 && cancelled.insert(id).second) {
        EXPECT_EQ(run_command({"scancel", id}).exit_code, 0);
      }
    }
    return cancelled.size() == 2;
  }, 90));
  // The other ten finish; `tedloc sync` brings in all twelve fates.
  ASSERT_TRUE(eventually([&] {
    tedloc({"sync", "--db", db});
    return scalar(db, "SELECT COUNT(*) FROM runs WHERE status = 'running'") == "0";
  }, 180));
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM runs WHERE status = 'done'"), "10");
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM runs WHERE status = 'interrupted'"), "2");
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM run_events WHERE event = 'slurm' AND message LIKE '%CANCELLED%'"), "2");

  const CommandOutput rerun = grid({"--wait"});
  EXPECT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM runs"), "12");
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM runs WHERE status = 'done'"), "12");
  EXPECT_EQ(scalar(db, "SELECT SUM(attempts) FROM runs"), "14");  // only the two cancelled ran again
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM slurm_tasks"), "14");
  EXPECT_EQ(scalar(db, "SELECT COUNT(DISTINCT job_id) FROM slurm_tasks"), "2");
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM metrics"), "60");  // 12 x (4 epochs + final), none twice
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM run_events WHERE event = 'done'"), "12");
  // The cancellations stay on record.
  EXPECT_EQ(scalar(db, "SELECT COUNT(DISTINCT run_id) FROM run_events WHERE event = 'slurm' AND message LIKE "
                       "'%CANCELLED%'"),
            "2");
}

TEST_F(Slurm, ANodeDownUnderARequeuedTaskResumesItFromItsCheckpoint) {
  write_spec("requeue", R"("epochs": 6, "sleep_ms": 700, "checkpoint": true)", "");  // one cell
  ASSERT_EQ(grid({"--requeue"}).exit_code, 0);
  const std::string job = array_job();
  const std::string task = job + "_0";
  const std::string work_dir = scalar(db, "SELECT work_dir FROM runs");
  ASSERT_TRUE(eventually([&] {
    return std::atoi(testing::read_file(work_dir + "/probe.ckpt").c_str()) >= 2;
  }, 90)) << "the task never reached epoch 2";

  const std::string nodes = run_command({"sinfo", "-h", "-N", "-o", "%N"}).out;
  const std::string node = nodes.substr(0, nodes.find('\n'));
  struct Resume {
    std::string node;
    ~Resume() { run_command({"scontrol", "update", "nodename=" + node, "state=resume"}); }
  } resume{node};
  ASSERT_EQ(run_command({"scontrol", "update", "nodename=" + node, "state=down", "reason=tedloc-test"}).exit_code, 0);
  // Slurm kills the task and requeues it (held for a while after a requeue). Its old process must be gone before
  // the node takes it again: a second copy of a job id still running there drains the node ("Duplicate jobid").
  ASSERT_TRUE(eventually([&] {
    const auto s = states();
    const auto it = s.find(task);
    return it != s.end() && it->second.state == "PENDING";
  }, 60)) << "the task was not requeued";
  ASSERT_TRUE(eventually([&] {
    const CommandOutput pids = run_command({"scontrol", "listpids"});
    return pids.out.find_first_of("0123456789") == std::string::npos;  // only the header, or "No job steps exist"
  }, 90)) << "the killed task's processes did not end";
  ASSERT_EQ(run_command({"scontrol", "update", "nodename=" + node, "state=resume"}).exit_code, 0);
  ASSERT_EQ(run_command({"scontrol", "update", "jobid=" + task, "starttime=now"}).exit_code, 0);

  const CommandOutput waited = grid({"--wait", "--requeue"});  // nothing left to submit: waits for the task
  EXPECT_EQ(waited.exit_code, 0) << waited.err;
  EXPECT_EQ(scalar(db, "SELECT status FROM runs"), "done");
  EXPECT_EQ(scalar(db, "SELECT attempts FROM runs"), "2");
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM slurm_tasks"), "1");  // requeued by Slurm, not submitted again
  // The second attempt started where the first one's checkpoint was, not at epoch 0.
  EXPECT_GE(std::stod(scalar(db, "SELECT value FROM metrics WHERE name = 'resumed_from'")), 2.0);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM metrics WHERE name = 'score' AND split = 'val'"), "6");  // each epoch once
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM run_events WHERE event = 'interrupted'"), "1");
  const std::string log = testing::read_file(work_dir + "/run.log");
  EXPECT_NE(log.find("resumed from probe.ckpt"), std::string::npos) << log;
}

TEST_F(Slurm, AShardImportedTwiceOrByTwoConcurrentRunsChangesNothingTheSecondTime) {
  write_spec("import", R"("epochs": 1, "sleep_ms": 0)", R"(, "grid": {"value": [1, 2, 3], "mode": ["a", "b"]})");
  ASSERT_EQ(grid().exit_code, 0);
  // A copy of the store as it was at submission: nothing imported. The original's import job never touches it.
  const std::string copy = dir / "copy.db";
  std::filesystem::copy_file(db, copy);
  const std::string job = array_job();
  ASSERT_TRUE(eventually([&] { return job_over(job); }, 120));

  // Two `tedloc runs` at once both see finished shards and import them: one import wins, the other changes nothing.
  CommandOutput a, b;
  std::thread first([&] { a = tedloc({"runs", "--db", copy}); });
  std::thread second([&] { b = tedloc({"runs", "--db", copy}); });
  first.join();
  second.join();
  EXPECT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(scalar(copy, "SELECT COUNT(*) FROM runs WHERE status = 'done'"), "6");
  EXPECT_EQ(scalar(copy, "SELECT COUNT(*) FROM run_events WHERE event = 'done'"), "6");
  EXPECT_EQ(scalar(copy, "SELECT COUNT(*) FROM metrics"), "12");
  const std::string before = dump(copy);
  const CommandOutput again = tedloc({"sync", "--db", copy});
  EXPECT_NE(again.out.find("imported 0 Slurm task(s), 0 row(s) changed"), std::string::npos) << again.out;
  EXPECT_EQ(dump(copy), before);

  // The same shards imported into the original (by its import job, and now again): the same runs, nothing twice.
  tedloc({"sync", "--db", db});
  EXPECT_NE(tedloc({"sync", "--db", db}).out.find("0 row(s) changed"), std::string::npos);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM runs WHERE status = 'done'"), "6");
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM run_events WHERE origin IS NOT NULL"),
            scalar(copy, "SELECT COUNT(*) FROM run_events WHERE origin IS NOT NULL"));
}

}  // namespace
}  // namespace tedloc
