#include "tedloc/store.hpp"

#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fmt/format.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tedloc/error.hpp"

namespace tedloc {
namespace {

// Migrations, in order: migration i brings the schema from version i to i + 1 (db/migrations/*.sql).
const char* const kMigrations[] = {
#include "tedloc_migrations.inc"
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

// Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat); "" if unknown.
std::string process_start_ticks(std::int64_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');  // the command name may contain spaces and parentheses
  if (close == std::string::npos) return "";
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
  }
  return field;
}

std::string hostname() {
  char buffer[256] = {};
  gethostname(buffer, sizeof(buffer) - 1);
  return buffer;
}

}  // namespace

WorkerId WorkerId::current() {
  WorkerId id;
  id.host = hostname();
  id.pid = getpid();
  id.text = fmt::format("{}/{}/{}", id.host, id.pid, process_start_ticks(id.pid));
  return id;
}

// A connection plus the statement helpers the store needs.
struct Store::Db {
  sqlite3* handle = nullptr;
  std::string path;

  ~Db() { sqlite3_close_v2(handle); }

  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(fmt::format("{}: {}: {}", path, what, sqlite3_errmsg(handle)));
  }

  void exec(const std::string& sql) const {
    char* message = nullptr;
    if (sqlite3_exec(handle, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      std::string text = message ? message : "unknown error";
      sqlite3_free(message);
      throw InputError(fmt::format("{}: {}", path, text));
    }
  }

  struct Stmt {
    sqlite3_stmt* s = nullptr;
    const Db* db = nullptr;
    ~Stmt() { sqlite3_finalize(s); }
    Stmt& bind(int i, std::int64_t v) { sqlite3_bind_int64(s, i, v); return *this; }
    Stmt& bind(int i, int v) { sqlite3_bind_int64(s, i, v); return *this; }
    Stmt& bind(int i, double v) {
      if (v != v) sqlite3_bind_null(s, i); else sqlite3_bind_double(s, i, v);
      return *this;
    }
    Stmt& bind(int i, const std::string& v) {
      sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
      return *this;
    }
    bool step() {
      const int rc = sqlite3_step(s);
      if (rc == SQLITE_ROW) return true;
      if (rc == SQLITE_DONE) return false;
      db->fail("statement failed");
    }
    std::int64_t i64(int c) const { return sqlite3_column_int64(s, c); }
    double f64(int c) const { return sqlite3_column_double(s, c); }
    bool null(int c) const { return sqlite3_column_type(s, c) == SQLITE_NULL; }
    std::string text(int c) const {
      const unsigned char* t = sqlite3_column_text(s, c);
      return t ? reinterpret_cast<const char*>(t) : "";
    }
  };

  Stmt prepare(const std::string& sql) const {
    Stmt st;
    st.db = this;
    if (sqlite3_prepare_v2(handle, sql.c_str(), -1, &st.s, nullptr) != SQLITE_OK) fail("bad SQL");
    return st;
  }

  // BEGIN IMMEDIATE ... COMMIT, rolled back on exception. IMMEDIATE takes the write lock up front, so
  // two workers never both read "pending" for the same run.
  template <class F>
  auto transaction(F&& body) const {
    exec("BEGIN IMMEDIATE");
    try {
      if constexpr (std::is_void_v<decltype(body())>) {
        body();
        exec("COMMIT");
      } else {
        auto result = body();
        exec("COMMIT");
        return result;
      }
    } catch (...) {
      sqlite3_exec(handle, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
};

namespace {

// file:PATH?mode=ro[&immutable=1] with PATH percent-encoded where a URI needs it.
std::string read_only_uri(const std::string& path, bool immutable) {
  std::string uri = "file:";
  for (const char c : std::filesystem::absolute(path).string()) {
    if (c == '%' || c == '?' || c == '#') uri += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    else uri += c;
  }
  return uri + (immutable ? "?mode=ro&immutable=1" : "?mode=ro");
}

// Whether a read-only connection must open `path` immutable: in a folder it cannot write, SQLite cannot make
// the -shm file a WAL reader needs.
bool in_read_only_folder(const std::string& path) {
  return access(std::filesystem::absolute(path).parent_path().c_str(), W_OK) != 0;
}

}  // namespace

Store::Store(const std::string& path, Mode mode) : path_(path), db_(std::make_unique<Db>()) {
  db_->path = path;
  if (mode == Mode::ReadOnly) {
    open_read_only();
    return;
  }
  if (sqlite3_open_v2(path.c_str(), &db_->handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    db_->fail("cannot open the database");
  }
  sqlite3_busy_timeout(db_->handle, 60000);
  db_->exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
  const int current = schema_version();
  if (current > kSchemaVersion) {
    throw InputError(fmt::format("{}: database schema version {} is newer than this tedloc's ({}): upgrade tedloc",
                                 path, current, kSchemaVersion));
  }
  for (int version = current; version < kSchemaVersion; ++version) {
    db_->transaction([&] {
      if (schema_version() != version) return;  // another process migrated it meanwhile
      db_->exec(kMigrations[version]);
      db_->exec(fmt::format("PRAGMA user_version = {}", version + 1));
    });
  }
}

void Store::open_read_only() {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path_, ec)) throw InputError(path_ + ": no such database (run `tedloc grid` first)");
  if (std::filesystem::file_size(path_, ec) == 0) throw InputError(path_ + ": an empty file, not a tedloc store");
  if (sqlite3_open_v2(read_only_uri(path_, in_read_only_folder(path_)).c_str(), &db_->handle,
                      SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    db_->fail("cannot open the database read-only");
  }
  sqlite3_busy_timeout(db_->handle, 60000);
  const int current = schema_version();
  if (current == 0) throw InputError(path_ + ": not a tedloc store (no schema)");
  if (current != kSchemaVersion) {
    throw InputError(fmt::format("{}: database schema version {}, this tedloc reads version {}: {}", path_, current,
                                 kSchemaVersion,
                                 current > kSchemaVersion ? "upgrade tedloc" : "a writing command (tedloc grid) migrates it"));
  }
}

Store::~Store() = default;

int Store::latest_schema_version() { return kSchemaVersion; }

int Store::schema_version() const {
  auto st = db_->prepare("PRAGMA user_version");
  st.step();
  return static_cast<int>(st.i64(0));
}

std::int64_t Store::upsert_experiment(const std::string& name, const std::string& description,
                                      const std::string& spec_json, const std::string& spec_path) {
  return db_->transaction([&] {
    db_->prepare(
           "INSERT INTO experiments (name, description, spec_json, spec_path) VALUES (?1, ?2, ?3, ?4) "
           "ON CONFLICT (name) DO UPDATE SET description = ?2, spec_json = ?3, spec_path = ?4, "
           "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')")
        .bind(1, name).bind(2, description).bind(3, spec_json).bind(4, spec_path).step();
    auto st = db_->prepare("SELECT id FROM experiments WHERE name = ?1");
    st.bind(1, name).step();
    return st.i64(0);
  });
}

std::vector<std::string> Store::cell_hashes(std::int64_t experiment) const {
  auto st = db_->prepare(
      "SELECT r.config_hash FROM experiment_runs e JOIN runs r ON r.id = e.run_id WHERE e.experiment_id = ?1 "
      "ORDER BY e.position");
  st.bind(1, experiment);
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.text(0));
  return out;
}

int Store::revision(std::int64_t experiment) const {
  auto st = db_->prepare("SELECT revision FROM experiments WHERE id = ?1");
  if (!st.bind(1, experiment).step()) throw InternalError(path_ + ": no experiment with id " + std::to_string(experiment));
  return static_cast<int>(st.i64(0));
}

int Store::start_revision(std::int64_t experiment) {
  return db_->transaction([&] {
    db_->prepare(
           "INSERT INTO experiment_revisions (experiment_id, revision, spec_json, spec_path) "
           "SELECT id, revision, spec_json, spec_path FROM experiments WHERE id = ?1")
        .bind(1, experiment).step();
    db_->prepare(
           "INSERT INTO experiment_revision_runs (experiment_id, revision, run_id, position, label) "
           "SELECT e.experiment_id, x.revision, e.run_id, e.position, e.label FROM experiment_runs e "
           "JOIN experiments x ON x.id = e.experiment_id WHERE e.experiment_id = ?1")
        .bind(1, experiment).step();
    db_->prepare("UPDATE experiments SET revision = revision + 1 WHERE id = ?1").bind(1, experiment).step();
    return revision(experiment);
  });
}

std::optional<std::int64_t> Store::find_experiment(const std::string& name) const {
  auto st = db_->prepare("SELECT id FROM experiments WHERE name = ?1");
  if (!st.bind(1, name).step()) return std::nullopt;
  return st.i64(0);
}

void Store::add_cells(std::int64_t experiment, const std::vector<CellRecord>& cells) {
  db_->transaction([&] {
    db_->prepare("DELETE FROM experiment_runs WHERE experiment_id = ?1").bind(1, experiment).step();
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const CellRecord& c = cells[i];
      db_->prepare("INSERT OR IGNORE INTO runs (config_hash, config_json, task, seed) VALUES (?1, ?2, ?3, ?4)")
          .bind(1, c.config_hash).bind(2, c.config_json).bind(3, c.task).bind(4, c.seed).step();
      db_->prepare(
             "INSERT OR REPLACE INTO experiment_runs (experiment_id, run_id, position, label) "
             "SELECT ?1, id, ?2, ?3 FROM runs WHERE config_hash = ?4")
          .bind(1, experiment).bind(2, static_cast<std::int64_t>(i)).bind(3, c.label).bind(4, c.config_hash).step();
    }
  });
}

int Store::reap_dead_workers(int stale_after_s) {
  const WorkerId me = WorkerId::current();
  return db_->transaction([&] {
    std::vector<std::pair<std::int64_t, std::string>> dead;
    auto st = db_->prepare(
        "SELECT id, worker, host, pid, CAST(strftime('%s', 'now') AS INTEGER) - COALESCE(heartbeat_at, 0) "
        "FROM runs WHERE status = 'running' AND worker NOT LIKE 'slurm:%'");  // Slurm's runs: see slurm_tasks
    while (st.step()) {
      const std::string worker = st.text(1);
      const std::int64_t pid = st.i64(3);
      bool gone;
      if (st.text(2) == me.host) {
        // Same machine: the worker is alive iff its pid runs with the same start time.
        const std::string alive_as = fmt::format("{}/{}/{}", me.host, pid, process_start_ticks(pid));
        gone = (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) || alive_as != worker;
      } else {
        gone = st.i64(4) > stale_after_s;
      }
      if (gone) dead.emplace_back(st.i64(0), worker);
    }
    for (const auto& [id, worker] : dead) {
      mark_interrupted(id, worker, "the worker " + worker + " stopped while running it", "worker gone, seen by " + me.text);
    }
    return static_cast<int>(dead.size());
  });
}

void Store::mark_interrupted(std::int64_t run, const std::string& worker, const std::string& error,
                             const std::string& event_message) {
  db_->prepare(
         "UPDATE runs SET status = 'interrupted', ended_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), error = ?2 "
         "WHERE id = ?1")
      .bind(1, run).bind(2, error).step();
  db_->prepare("INSERT INTO run_events (run_id, event, worker, message) VALUES (?1, 'interrupted', ?2, ?3)")
      .bind(1, run).bind(2, worker).bind(3, event_message).step();
}

int Store::interrupt_running(const std::string& message) {
  return db_->transaction([&] {
    std::vector<std::pair<std::int64_t, std::string>> running;
    auto st = db_->prepare("SELECT id, COALESCE(worker, '') FROM runs WHERE status = 'running'");
    while (st.step()) running.emplace_back(st.i64(0), st.text(1));
    for (const auto& [id, worker] : running) mark_interrupted(id, worker, message, message);
    return static_cast<int>(running.size());
  });
}

void Store::seal() { db_->exec("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;"); }

void Store::record_slurm_submission(const std::vector<SlurmTask>& tasks) {
  db_->transaction([&] {
    for (const auto& t : tasks) {
      db_->prepare("UPDATE runs SET worker = ?2, host = NULL, pid = NULL, heartbeat_at = NULL WHERE id = ?1")
          .bind(1, t.run_id).bind(2, "slurm:" + t.slurm_id()).step();
      db_->prepare("INSERT OR REPLACE INTO slurm_tasks (job_id, array_task, run_id, shard) VALUES (?1, ?2, ?3, ?4)")
          .bind(1, t.job_id).bind(2, t.array_task).bind(3, t.run_id).bind(4, t.shard).step();
      db_->prepare("INSERT INTO run_events (run_id, event, worker, message) VALUES (?1, 'submitted', ?2, ?3)")
          .bind(1, t.run_id).bind(2, "slurm:" + t.slurm_id()).bind(3, "Slurm job " + t.slurm_id()).step();
    }
  });
}

std::vector<SlurmTask> Store::slurm_tasks_to_import() const {
  auto st = db_->prepare(
      "SELECT t.job_id, t.array_task, t.run_id, t.shard, r.config_hash, COALESCE(r.work_dir, ''), t.submitted_at "
      "FROM slurm_tasks t JOIN runs r ON r.id = t.run_id WHERE t.imported_at IS NULL AND r.status = 'running' AND "
      "r.worker = 'slurm:' || t.job_id || '_' || t.array_task ORDER BY t.submitted_at, t.array_task");
  std::vector<SlurmTask> tasks;
  while (st.step()) {
    tasks.push_back({st.text(0), st.i64(1), st.i64(2), st.text(3), st.text(4), st.text(5), st.text(6), ""});
  }
  return tasks;
}

std::optional<ShardRun> Store::shard_run() const {
  auto st = db_->prepare(
      "SELECT id, config_hash, status, COALESCE(worker, ''), COALESCE(host, ''), COALESCE(device, ''), "
      "COALESCE(git_revision, ''), COALESCE(tedloc_version, ''), COALESCE(work_dir, ''), COALESCE(started_at, ''), "
      "COALESCE(ended_at, ''), COALESCE(error, ''), attempts, COALESCE(pid, 0), COALESCE(duration_s, 0) FROM runs "
      "ORDER BY id LIMIT 1");
  if (!st.step()) return std::nullopt;
  const std::int64_t id = st.i64(0);
  ShardRun run;
  // Columns 1..11, in the SELECT's order.
  std::string* const texts[] = {&run.config_hash, &run.status,   &run.worker,     &run.host,
                                &run.device,      &run.git_revision, &run.tedloc_version, &run.work_dir,
                                &run.started_at,  &run.ended_at, &run.error};
  for (int c = 0; c < 11; ++c) *texts[c] = st.text(c + 1);
  run.attempts = st.i64(12);
  run.pid = st.i64(13);
  run.duration_s = st.f64(14);
  auto metrics = db_->prepare("SELECT split, name, epoch, value, recorded_at FROM metrics WHERE run_id = ?1");
  metrics.bind(1, id);
  while (metrics.step()) {
    run.metrics.push_back({metrics.text(0), metrics.text(1), metrics.text(4), static_cast<int>(metrics.i64(2)),
                           metrics.null(3) ? std::nullopt : std::optional<double>(metrics.f64(3))});
  }
  auto artifacts = db_->prepare("SELECT kind, path, created_at FROM artifacts WHERE run_id = ?1 ORDER BY id");
  artifacts.bind(1, id);
  while (artifacts.step()) run.artifacts.push_back({artifacts.text(0), artifacts.text(1), artifacts.text(2)});
  auto events = db_->prepare(
      "SELECT id, at, event, COALESCE(worker, ''), COALESCE(message, '') FROM run_events WHERE run_id = ?1 ORDER BY id");
  events.bind(1, id);
  while (events.step()) {
    run.events.push_back({events.i64(0), events.text(1), events.text(2), events.text(3), events.text(4)});
  }
  return run;
}

int Store::import_slurm_task(const SlurmTask& task, const std::optional<ShardRun>& shard,
                             const std::optional<SlurmFate>& fate, bool final) {
  return db_->transaction([&] {
    const int before = sqlite3_total_changes(db_->handle);
    const std::string hash16 = task.config_hash.substr(0, 16);
    if (shard) {
      const ShardRun& s = *shard;
      // Only a final fate of the shard becomes the run's status; a running one keeps the run Slurm's.
      const std::string status = s.finished() ? s.status : "running";
      db_->prepare(
             "UPDATE runs SET (status, attempts, host, pid, device, git_revision, tedloc_version, started_at, ended_at, "
             "duration_s, error) = (?2, MAX(attempts, ?3), ?4, ?5, ?6, ?7, ?8, ?9, NULLIF(?10, ''), NULLIF(?11, 0.0), "
             "NULLIF(?12, '')) WHERE id = ?1 AND (status, attempts, host, pid, device, git_revision, tedloc_version, "
             "started_at, ended_at, duration_s, error) IS NOT (?2, MAX(attempts, ?3), ?4, ?5, ?6, ?7, ?8, ?9, "
             "NULLIF(?10, ''), NULLIF(?11, 0.0), NULLIF(?12, ''))")
          .bind(1, task.run_id).bind(2, status).bind(3, s.attempts).bind(4, s.host).bind(5, s.pid).bind(6, s.device)
          .bind(7, s.git_revision).bind(8, s.tedloc_version).bind(9, s.started_at).bind(10, s.ended_at)
          .bind(11, s.duration_s).bind(12, s.error).step();
      for (const auto& m : s.metrics) {
        auto st = db_->prepare(
            "INSERT INTO metrics (run_id, split, name, epoch, value, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
            "ON CONFLICT (run_id, split, name, epoch) DO UPDATE SET value = excluded.value, "
            "recorded_at = excluded.recorded_at WHERE value IS NOT excluded.value");
        st.bind(1, task.run_id).bind(2, m.split).bind(3, m.name).bind(4, m.epoch).bind(6, m.recorded_at);
        if (m.value) st.bind(5, *m.value);
        st.step();
      }
      for (const auto& a : s.artifacts) {
        db_->prepare("INSERT OR IGNORE INTO artifacts (run_id, kind, path, created_at) VALUES (?1, ?2, ?3, ?4)")
            .bind(1, task.run_id).bind(2, a.kind).bind(3, a.path).bind(4, a.created_at).step();
      }
      for (const auto& e : s.events) {
        db_->prepare(
               "INSERT OR IGNORE INTO run_events (run_id, at, event, worker, message, origin) "
               "VALUES (?1, ?2, ?3, NULLIF(?4, ''), NULLIF(?5, ''), ?6)")
            .bind(1, task.run_id).bind(2, e.at).bind(3, e.event).bind(4, e.worker).bind(5, e.message)
            .bind(6, fmt::format("shard:{}:{}", hash16, e.id)).step();
      }
    }
    if (fate) {
      if (!shard || !shard->finished()) {
        db_->prepare(
               "UPDATE runs SET status = ?2, error = ?3, ended_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
               "WHERE id = ?1 AND status = 'running'")
            .bind(1, task.run_id).bind(2, fate->status).bind(3, fate->message).step();
      }
      if (fate->state != "COMPLETED" && !(shard && shard->status == "done")) {
        db_->prepare(
               "INSERT OR IGNORE INTO run_events (run_id, event, worker, message, origin) VALUES (?1, 'slurm', ?2, ?3, ?4)")
            .bind(1, task.run_id).bind(2, "slurm:" + task.slurm_id()).bind(3, fate->message)
            .bind(4, fmt::format("slurm:{}:{}", task.slurm_id(), fate->state)).step();
      }
      db_->prepare("UPDATE slurm_tasks SET slurm_state = ?3 WHERE job_id = ?1 AND array_task = ?2 AND "
                   "slurm_state IS NOT ?3")
          .bind(1, task.job_id).bind(2, task.array_task).bind(3, fate->state).step();
    }
    if (final) {
      db_->prepare("UPDATE slurm_tasks SET imported_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE job_id = ?1 AND "
                   "array_task = ?2 AND imported_at IS NULL")
          .bind(1, task.job_id).bind(2, task.array_task).step();
    }
    return sqlite3_total_changes(db_->handle) - before;
  });
}

int Store::reset_runs(std::int64_t experiment, const std::vector<std::string>& statuses) {
  return db_->transaction([&] {
    int changed = 0;
    for (const auto& status : statuses) {
      db_->prepare(
             "INSERT INTO run_events (run_id, event, message) SELECT r.id, 'reset', 'rerun of a ' || r.status || ' run' "
             "FROM runs r JOIN experiment_runs e ON e.run_id = r.id WHERE e.experiment_id = ?1 AND r.status = ?2")
          .bind(1, experiment).bind(2, status).step();
      db_->prepare(
             "UPDATE runs SET status = 'pending' WHERE status = ?2 AND id IN "
             "(SELECT run_id FROM experiment_runs WHERE experiment_id = ?1)")
          .bind(1, experiment).bind(2, status).step();
      changed += sqlite3_changes(db_->handle);
    }
    return changed;
  });
}

std::optional<RunRecord> Store::claim_next(std::int64_t experiment, const WorkerId& me,
                                           const std::string& git_revision, const std::string& work_root) {
  return db_->transaction([&]() -> std::optional<RunRecord> {
    auto st = db_->prepare(
        "SELECT r.id, r.config_hash, r.config_json, r.task, r.seed, e.label, r.attempts FROM runs r "
        "JOIN experiment_runs e ON e.run_id = r.id WHERE e.experiment_id = ?1 "
        "AND r.status IN ('pending', 'interrupted') ORDER BY e.position LIMIT 1");
    if (!st.bind(1, experiment).step()) return std::nullopt;
    RunRecord run;
    run.id = st.i64(0);
    run.config_hash = st.text(1);
    run.config_json = st.text(2);
    run.task = st.text(3);
    run.seed = st.i64(4);
    run.label = st.text(5);
    run.attempts = st.i64(6) + 1;
    run.status = "running";
    run.worker = me.text;
    run.work_dir = work_root + "/" + run.config_hash.substr(0, 16);
    db_->prepare(
           "UPDATE runs SET status = 'running', attempts = attempts + 1, worker = ?2, host = ?3, pid = ?4, "
           "device = NULL, git_revision = ?6, work_dir = ?7, started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), "
           "ended_at = NULL, error = NULL, heartbeat_at = CAST(strftime('%s', 'now') AS INTEGER) WHERE id = ?1")
        .bind(1, run.id).bind(2, me.text).bind(3, me.host).bind(4, me.pid).bind(6, git_revision)
        .bind(7, run.work_dir).step();
    db_->prepare("INSERT INTO run_events (run_id, event, worker) VALUES (?1, 'claimed', ?2)")
        .bind(1, run.id).bind(2, me.text).step();
    return run;
  });
}

void Store::finish_run(std::int64_t run, const std::string& status, const std::string& message, const WorkerId& me) {
  db_->transaction([&] {
    db_->prepare(
           "UPDATE runs SET status = ?2, error = NULLIF(?3, ''), ended_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), "
           "duration_s = (julianday('now') - julianday(started_at)) * 86400.0 WHERE id = ?1 AND worker = ?4")
        .bind(1, run).bind(2, status).bind(3, message).bind(4, me.text).step();
    if (sqlite3_changes(db_->handle) == 0) return;  // another worker took it over meanwhile: its fate wins
    db_->prepare("INSERT INTO run_events (run_id, event, worker, message) VALUES (?1, ?2, ?3, NULLIF(?4, ''))")
        .bind(1, run).bind(2, status).bind(3, me.text).bind(4, message).step();
  });
}

void Store::set_device(std::int64_t run, const std::string& device) {
  db_->prepare("UPDATE runs SET device = ?2 WHERE id = ?1").bind(1, run).bind(2, device).step();
}

void Store::heartbeat(const WorkerId& me) {
  db_->prepare("UPDATE runs SET heartbeat_at = CAST(strftime('%s', 'now') AS INTEGER) WHERE worker = ?1 AND "
               "status = 'running'")
      .bind(1, me.text).step();
}

std::int64_t Store::record_done_run(const std::string& experiment, const CellRecord& cell,
                                    const std::vector<Metric>& metrics, const WorkerId& me,
                                    const std::string& git_revision) {
  return db_->transaction([&] {
    db_->prepare("INSERT OR IGNORE INTO experiments (name, spec_json) VALUES (?1, '{}')").bind(1, experiment).step();
    db_->prepare("INSERT OR IGNORE INTO runs (config_hash, config_json, task, seed) VALUES (?1, ?2, ?3, ?4)")
        .bind(1, cell.config_hash).bind(2, cell.config_json).bind(3, cell.task).bind(4, cell.seed).step();
    auto id_of = db_->prepare("SELECT id FROM runs WHERE config_hash = ?1");
    id_of.bind(1, cell.config_hash).step();
    const std::int64_t run = id_of.i64(0);
    db_->prepare(
           "UPDATE runs SET status = 'done', attempts = attempts + 1, worker = ?2, host = ?3, pid = ?4, device = 'cpu', "
           "git_revision = ?5, started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), "
           "ended_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), error = NULL WHERE id = ?1")
        .bind(1, run).bind(2, me.text).bind(3, me.host).bind(4, me.pid).bind(5, git_revision).step();
    db_->prepare(
           "INSERT OR IGNORE INTO experiment_runs (experiment_id, run_id, position, label) SELECT id, ?2, "
           "(SELECT COUNT(*) FROM experiment_runs e JOIN experiments x ON x.id = e.experiment_id WHERE x.name = ?1), ?3 "
           "FROM experiments WHERE name = ?1")
        .bind(1, experiment).bind(2, run).bind(3, cell.label).step();
    for (const auto& m : metrics) {
      db_->prepare("INSERT OR REPLACE INTO metrics (run_id, split, name, epoch, value) VALUES (?1, ?2, ?3, -1, ?4)")
          .bind(1, run).bind(2, m.split).bind(3, m.name).bind(4, m.value).step();
    }
    db_->prepare("INSERT INTO run_events (run_id, event, worker, message) VALUES (?1, 'done', ?2, 'recorded')")
        .bind(1, run).bind(2, me.text).step();
    return run;
  });
}

void Store::log_metric(std::int64_t run, const std::string& split, const std::string& name, double value, int epoch) {
  db_->prepare("INSERT OR REPLACE INTO metrics (run_id, split, name, epoch, value) VALUES (?1, ?2, ?3, ?4, ?5)")
      .bind(1, run).bind(2, split).bind(3, name).bind(4, epoch).bind(5, value).step();
}

void Store::add_artifact(std::int64_t run, const std::string& kind, const std::string& path) {
  db_->prepare("INSERT OR IGNORE INTO artifacts (run_id, kind, path) VALUES (?1, ?2, ?3)")
      .bind(1, run).bind(2, kind).bind(3, path).step();
}

StatusCounts Store::counts(std::int64_t experiment) const {
  StatusCounts c;
  auto st = db_->prepare(
      "SELECT r.status, COUNT(*) FROM runs r JOIN experiment_runs e ON e.run_id = r.id WHERE e.experiment_id = ?1 "
      "GROUP BY r.status");
  st.bind(1, experiment);
  while (st.step()) {
    const std::string s = st.text(0);
    const int n = static_cast<int>(st.i64(1));
    if (s == "pending") c.pending = n;
    else if (s == "running") c.running = n;
    else if (s == "done") c.done = n;
    else if (s == "failed") c.failed = n;
    else if (s == "diverged") c.diverged = n;
    else if (s == "interrupted") c.interrupted = n;
  }
  return c;
}

std::vector<RunRecord> Store::runs(const std::string& experiment, const std::string& status, int revision) const {
  // The links of the current revisions (revision 0, or the one asked for if it is current) and those kept of an
  // earlier one.
  auto st = db_->prepare(
      "SELECT r.id, r.config_hash, r.config_json, r.task, r.status, COALESCE(e.label, ''), COALESCE(x.name, ''), "
      "COALESCE(r.worker, ''), COALESCE(r.device, ''), COALESCE(r.error, ''), COALESCE(r.started_at, ''), "
      "COALESCE(r.ended_at, ''), r.seed, r.attempts, COALESCE(r.duration_s, 0) "
      "FROM runs r LEFT JOIN ("
      "  SELECT l.experiment_id, l.run_id, l.position, l.label FROM experiment_runs l "
      "  JOIN experiments c ON c.id = l.experiment_id WHERE ?3 = 0 OR c.revision = ?3 "
      "  UNION ALL SELECT experiment_id, run_id, position, label FROM experiment_revision_runs WHERE revision = ?3"
      ") e ON e.run_id = r.id LEFT JOIN experiments x ON x.id = e.experiment_id "
      "WHERE (?1 = '' OR x.name = ?1) AND (?2 = '' OR r.status = ?2) AND (?3 = 0 OR e.run_id IS NOT NULL) "
      "ORDER BY x.name, e.position, r.id");
  st.bind(1, experiment).bind(2, status).bind(3, static_cast<std::int64_t>(revision));
  std::vector<RunRecord> out;
  while (st.step()) {
    RunRecord r;
    r.id = st.i64(0);
    r.config_hash = st.text(1);
    r.config_json = st.text(2);
    r.task = st.text(3);
    r.status = st.text(4);
    r.label = st.text(5);
    r.experiment = st.text(6);
    r.worker = st.text(7);
    r.device = st.text(8);
    r.error = st.text(9);
    r.started_at = st.text(10);
    r.ended_at = st.text(11);
    r.seed = st.i64(12);
    r.attempts = st.i64(13);
    r.duration_s = st.f64(14);
    out.push_back(std::move(r));
  }
  return out;
}

QueryResult Store::query(const std::string& sql) const {
  Db ro;
  ro.path = path_;
  if (sqlite3_open_v2(read_only_uri(path_, in_read_only_folder(path_)).c_str(), &ro.handle,
                      SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr) != SQLITE_OK) {
    ro.fail("cannot open the database read-only");
  }
  sqlite3_busy_timeout(ro.handle, 10000);
  ro.exec("PRAGMA query_only = ON");
  QueryResult result;
  const char* tail = sql.c_str();
  // Every statement runs; the rows of the last one that returns columns are kept.
  while (tail && *tail) {
    Db::Stmt st;
    st.db = &ro;
    if (sqlite3_prepare_v2(ro.handle, tail, -1, &st.s, &tail) != SQLITE_OK) {
      throw InputError(std::string("query: ") + sqlite3_errmsg(ro.handle));
    }
    if (!st.s) break;  // trailing whitespace or comment
    QueryResult current;
    for (int c = 0; c < sqlite3_column_count(st.s); ++c) current.columns.emplace_back(sqlite3_column_name(st.s, c));
    while (true) {
      const int rc = sqlite3_step(st.s);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) throw InputError(std::string("query: ") + sqlite3_errmsg(ro.handle));
      std::vector<std::string> row;
      for (int c = 0; c < sqlite3_column_count(st.s); ++c) {
        row.push_back(sqlite3_column_type(st.s, c) == SQLITE_NULL ? "NULL" : st.text(c));
      }
      current.rows.push_back(std::move(row));
    }
    if (!current.columns.empty()) result = std::move(current);
  }
  return result;
}

std::vector<std::string> Store::experiment_names() const {
  auto st = db_->prepare("SELECT name FROM experiments ORDER BY id");
  std::vector<std::string> names;
  while (st.step()) names.push_back(st.text(0));
  return names;
}

std::vector<Store::ExperimentRun> Store::experiment_runs(std::int64_t experiment,
                                                         const std::vector<std::string>& json_paths) const {
  std::string sql = "SELECT r.id, COALESCE(e.label, ''), r.status, COALESCE(r.work_dir, '')";
  for (std::size_t p = 0; p < json_paths.size(); ++p) {
    sql += fmt::format(", json_type(r.config_json, ?{0}), json_extract(r.config_json, ?{0})", p + 2);
  }
  auto st = db_->prepare(sql + " FROM runs r JOIN experiment_runs e ON e.run_id = r.id WHERE e.experiment_id = ?1 "
                               "ORDER BY e.position");
  st.bind(1, experiment);
  for (std::size_t p = 0; p < json_paths.size(); ++p) st.bind(static_cast<int>(p + 2), json_paths[p]);
  std::vector<ExperimentRun> runs;
  while (st.step()) {
    ExperimentRun run{st.i64(0), st.text(1), st.text(2), st.text(3), {}};
    for (std::size_t p = 0; p < json_paths.size(); ++p) {
      const int c = static_cast<int>(4 + 2 * p);
      run.config_values.emplace_back(st.null(c) ? std::string() : st.text(c), st.text(c + 1));
    }
    runs.push_back(std::move(run));
  }
  return runs;
}

namespace {
template <class Statement>
std::vector<Store::RunMetric> read_metrics(Statement& st) {
  std::vector<Store::RunMetric> metrics;
  while (st.step()) {
    metrics.push_back({st.i64(0), st.text(1), st.text(2), static_cast<int>(st.i64(3)), st.f64(4)});
  }
  return metrics;
}
}  // namespace

std::vector<Store::RunMetric> Store::final_metrics_of_done_runs(std::int64_t experiment) const {
  auto st = db_->prepare(
      "SELECT m.run_id, m.split, m.name, m.epoch, m.value FROM metrics m JOIN experiment_runs e ON e.run_id = m.run_id "
      "JOIN runs r ON r.id = m.run_id WHERE e.experiment_id = ?1 AND r.status = 'done' AND m.epoch = -1 AND "
      "m.value IS NOT NULL");
  st.bind(1, experiment);
  return read_metrics(st);
}

std::vector<Store::RunMetric> Store::run_metrics(std::int64_t run) const {
  auto st = db_->prepare("SELECT run_id, split, name, epoch, value FROM metrics WHERE run_id = ?1 AND value IS NOT NULL "
                         "ORDER BY split, name, epoch");
  st.bind(1, run);
  return read_metrics(st);
}

std::vector<Store::RunArtifact> Store::experiment_artifacts(std::int64_t experiment, const std::string& kind) const {
  auto st = db_->prepare(
      "SELECT r.id, COALESCE(e.label, ''), a.path, COALESCE(r.work_dir, '') FROM artifacts a JOIN runs r ON r.id = "
      "a.run_id JOIN experiment_runs e ON e.run_id = r.id WHERE e.experiment_id = ?1 AND a.kind = ?2 ORDER BY r.id, a.id");
  st.bind(1, experiment).bind(2, kind);
  std::vector<RunArtifact> artifacts;
  while (st.step()) artifacts.push_back({st.i64(0), st.text(1), st.text(2), st.text(3)});
  return artifacts;
}

}  // namespace tedloc
