// The SQLite store on a real file: schema version, cells, claims, read-only queries.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "tedloc/error.hpp"
#include "tedloc/store.hpp"
#include "test_support.hpp"

namespace tedloc {
namespace {

TEST(Store, CreatesTheLatestSchemaAndReopens) {
  testing::TempDir dir;
  {
    Store store(dir / "a.db");
    EXPECT_EQ(store.schema_version(), Store::latest_schema_version());
    EXPECT_GE(Store::latest_schema_version(), 1);
  }
  Store again(dir / "a.db");
  EXPECT_EQ(again.schema_version(), Store::latest_schema_version());
  EXPECT_EQ(again.query("PRAGMA journal_mode").rows.at(0).at(0), "wal");
}

TEST(Store, RefusesANewerSchema) {
  testing::TempDir dir;
  { Store store(dir / "a.db"); }
  { Store(dir / "a.db").query("SELECT 1"); }
  // Bump user_version behind the store's back.
  {
    Store store(dir / "a.db");
    (void)store;
  }
  std::string cmd = "sqlite3 '" + (dir / "a.db") + "' 'PRAGMA user_version = 99' 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "sqlite3 shell not installed";
  try {
    Store store(dir / "a.db");
    FAIL() << "opened a newer schema";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99 is newer"), std::string::npos) << e.what();
  }
}

// Read-only access never creates, migrates or writes: a missing file stays missing, a 0-byte file stays 0 bytes,
// an older schema is refused, and a store's bytes are unchanged by every reading command.
TEST(Store, ReadOnlyNeverWrites) {
  testing::TempDir dir;
  const std::string missing = dir / "missing.db", empty = dir / "empty.db", store_path = dir / "a.db";
  EXPECT_THROW(Store(missing, Store::Mode::ReadOnly), InputError);
  EXPECT_FALSE(std::filesystem::exists(missing));
  testing::write_file(empty, "");
  EXPECT_THROW(Store(empty, Store::Mode::ReadOnly), InputError);
  EXPECT_EQ(std::filesystem::file_size(empty), 0u);

  {
    Store store(store_path);
    const auto id = store.upsert_experiment("e", "", "{}", "");
    store.add_cells(id, {{"h1", "{}", "probe", 0, "a"}});
  }
  {  // checkpoint the WAL into the file, so that its bytes are the whole store
    Store store(store_path);
    (void)store;
  }
  const std::string before = testing::read_file(store_path);
  for (const std::string& args : {"runs --db '" + store_path + "'", "runs --json --db '" + store_path + "'",
                                  "query 'SELECT COUNT(*) FROM runs' --db '" + store_path + "'"}) {
    EXPECT_EQ(std::system((testing::tedloc_exe() + " " + args + " > /dev/null").c_str()), 0) << args;
  }
  EXPECT_EQ(testing::read_file(store_path), before);
  for (const std::string& args : {"runs --db '" + empty + "'", "query 'SELECT 1' --db '" + empty + "'",
                                  "report table2 --db '" + empty + "'"}) {
    const int status = std::system((testing::tedloc_exe() + " " + args + " > /dev/null 2>&1").c_str());
    EXPECT_EQ(WEXITSTATUS(status), kExitBadInput) << args;
  }
  EXPECT_EQ(std::filesystem::file_size(empty), 0u);

  std::string cmd = "sqlite3 '" + store_path + "' 'PRAGMA user_version = 0' 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "sqlite3 shell not installed";
  const std::string older = testing::read_file(store_path);
  try {
    Store store(store_path, Store::Mode::ReadOnly);
    FAIL() << "read a store without its schema";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("not a tedloc store"), std::string::npos) << e.what();
  }
  EXPECT_EQ(testing::read_file(store_path), older);
}

TEST(Store, ClaimsEachCellOnceAndLinksSharedRuns) {
  testing::TempDir dir;
  Store store(dir / "a.db");
  const auto a = store.upsert_experiment("a", "", "{}", "a.json");
  const auto b = store.upsert_experiment("b", "", "{}", "b.json");
  store.add_cells(a, {{"h1", "{}", "probe", 0, "x=1"}, {"h2", "{}", "probe", 0, "x=2"}});
  store.add_cells(b, {{"h2", "{}", "probe", 0, "y"}});  // the same config in another experiment: one run
  EXPECT_EQ(store.query("SELECT COUNT(*) FROM runs").rows[0][0], "2");
  const WorkerId me = WorkerId::current();
  auto first = store.claim_next(a, me, "rev", dir / "runs");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->config_hash, "h1");
  EXPECT_EQ(first->work_dir, (dir / "runs") + "/h1");
  store.finish_run(first->id, "done", "", me);
  auto second = store.claim_next(a, me, "rev", dir / "runs");
  ASSERT_TRUE(second);
  store.finish_run(second->id, "done", "", me);
  EXPECT_FALSE(store.claim_next(a, me, "rev", dir / "runs"));
  EXPECT_FALSE(store.claim_next(b, me, "rev", dir / "runs"));  // already done through experiment a
  EXPECT_EQ(store.counts(b).done, 1);
}

TEST(Store, MetricsAreUpsertedNotDuplicated) {
  testing::TempDir dir;
  Store store(dir / "a.db");
  const auto e = store.upsert_experiment("a", "", "{}", "");
  store.add_cells(e, {{"h", "{}", "probe", 0, ""}});
  const auto run = store.claim_next(e, WorkerId::current(), "", dir.path.string());
  store.log_metric(run->id, "val", "acc", 1.0, 0);
  store.log_metric(run->id, "val", "acc", 2.0, 0);
  store.log_metric(run->id, "val", "acc", 3.0, -1);
  store.log_metric(run->id, "val", "nan", std::nan(""), -1);
  const auto rows = store.query("SELECT epoch, value FROM metrics WHERE name = 'acc' ORDER BY epoch").rows;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][1], "3.0");
  EXPECT_EQ(rows[1][1], "2.0");
  EXPECT_EQ(store.query("SELECT value FROM metrics WHERE name = 'nan'").rows[0][0], "NULL");
}

// A Slurm task's shard (its own store, one run) imported into the main store: all of it once, nothing twice, and
// Slurm's fate for a task that left no final state.
TEST(Store, ShardImportIsAtomicAndIdempotent) {
  testing::TempDir dir;
  const std::string hash = "0123456789abcdef0123";
  Store main(dir / "main.db");
  const auto e = main.upsert_experiment("e", "", "{}", "");
  main.add_cells(e, {{hash, "{}", "probe", 0, "x=1"}, {"fedcba9876543210fedc", "{}", "probe", 1, "x=2"}});
  const WorkerId me = WorkerId::current();
  const auto first = main.claim_next(e, me, "rev", dir / "runs");
  const auto second = main.claim_next(e, me, "rev", dir / "runs");
  const std::vector<SlurmTask> tasks = {{"7", 0, first->id, dir / "s0.db", first->config_hash, first->work_dir, "", ""},
                                        {"7", 1, second->id, dir / "s1.db", second->config_hash, second->work_dir, "", ""}};
  main.record_slurm_submission(tasks);
  EXPECT_EQ(main.slurm_tasks_to_import().size(), 2u);
  EXPECT_EQ(main.reap_dead_workers(-1), 0);  // Slurm's runs are not this host's to reap

  {  // The task's side: its own store, its one run.
    Store shard(dir / "s0.db");
    const auto se = shard.upsert_experiment("e", "", "{}", "");
    shard.add_cells(se, {{hash, "{}", "probe", 0, "x=1"}});
    const auto run = shard.claim_next(se, me, "rev", dir / "runs");
    shard.log_metric(run->id, "val", "score", 1.5, 0);
    shard.log_metric(run->id, "test", "score", std::nan(""), -1);
    shard.add_artifact(run->id, "checkpoint", "last.pt");
    shard.finish_run(run->id, "done", "", me);
    shard.seal();
    EXPECT_EQ(shard.query("PRAGMA journal_mode").rows.at(0).at(0), "delete");
  }
  const auto shard_run = Store(dir / "s0.db", Store::Mode::ReadOnly).shard_run();
  ASSERT_TRUE(shard_run);
  EXPECT_TRUE(shard_run->finished());
  EXPECT_GT(main.import_slurm_task(tasks[0], shard_run, std::nullopt, true), 0);
  EXPECT_EQ(main.import_slurm_task(tasks[0], shard_run, std::nullopt, true), 0);  // again: nothing changes
  EXPECT_EQ(main.query("SELECT status, attempts FROM runs WHERE id = " + std::to_string(first->id)).rows.at(0),
            (std::vector<std::string>{"done", "1"}));
  EXPECT_EQ(main.query("SELECT COUNT(*) FROM metrics").rows[0][0], "2");
  EXPECT_EQ(main.query("SELECT value FROM metrics WHERE split = 'test'").rows[0][0], "NULL");
  EXPECT_EQ(main.query("SELECT COUNT(*) FROM artifacts").rows[0][0], "1");
  EXPECT_EQ(main.query("SELECT COUNT(*) FROM run_events WHERE origin LIKE 'shard:0123456789abcdef:%'").rows[0][0], "2");

  // The second task was cancelled before it wrote anything: Slurm's word is its fate, recorded once.
  const SlurmFate cancelled{"CANCELLED", "interrupted", "Slurm job 7_1: CANCELLED"};
  EXPECT_GT(main.import_slurm_task(tasks[1], std::nullopt, cancelled, true), 0);
  EXPECT_EQ(main.import_slurm_task(tasks[1], std::nullopt, cancelled, true), 0);
  EXPECT_EQ(main.query("SELECT status, error FROM runs WHERE id = " + std::to_string(second->id)).rows.at(0),
            (std::vector<std::string>{"interrupted", "Slurm job 7_1: CANCELLED"}));
  EXPECT_EQ(main.query("SELECT COUNT(*) FROM run_events WHERE event = 'slurm'").rows[0][0], "1");
  EXPECT_TRUE(main.slurm_tasks_to_import().empty());
}

TEST(Store, QueryIsReadOnly) {
  testing::TempDir dir;
  Store store(dir / "a.db");
  EXPECT_THROW(store.query("DELETE FROM runs"), InputError);
  EXPECT_THROW(store.query("CREATE TABLE x (y)"), InputError);
  EXPECT_EQ(store.query("SELECT 1 AS one").columns.at(0), "one");
}

}  // namespace
}  // namespace tedloc
