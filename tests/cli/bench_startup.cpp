// bench_startup: how long `tedloc COMMAND` takes from exec to exit, and its peak RSS (wait4's ru_maxrss),
// for the torch-free commands (`--version`, runs, query, report TABLE, eval) and, for contrast, `plugins`,
// which loads LibTorch. Each figure is the median of its runs (best and worst beside it); the store holds 20
// done runs; eval reads the golden split in ../shared when it is there.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "tedloc/store.hpp"
#include "test_support.hpp"

namespace {

struct Sample {
  double ms;
  double rss_mb;
};

Sample run_once(const std::vector<std::string>& args) {
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = tedloc::testing::start_tedloc(args, /*discard_stdout=*/true);
  rusage usage{};
  const int code = pid < 0 ? -1 : tedloc::testing::wait_exit(pid, &usage);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (code != 0) {
    std::fprintf(stderr, "bench_startup: tedloc %s exited with %d\n", args.empty() ? "" : args[0].c_str(), code);
    std::exit(1);
  }
  return {ms, usage.ru_maxrss / 1024.0};
}

void measure(const std::string& name, const std::vector<std::string>& args, int runs) {
  std::vector<Sample> samples;
  run_once(args);  // warm the page cache
  for (int i = 0; i < runs; ++i) samples.push_back(run_once(args));
  std::sort(samples.begin(), samples.end(), [](const Sample& a, const Sample& b) { return a.ms < b.ms; });
  double rss = 0;
  for (const auto& s : samples) rss = std::max(rss, s.rss_mb);
  std::printf("%-28s %8.1f ms median (best %.1f, worst %.1f)   peak RSS %6.1f MB   (%d runs)\n", name.c_str(),
              samples[samples.size() / 2].ms, samples.front().ms, samples.back().ms, rss, runs);
}

}  // namespace

int main() {
  tedloc::testing::TempDir dir;
  const std::string db = dir / "bench.db";
  {
    // A store with the experiment table2 reads and 20 done runs, as `tedloc eval --db` would record them.
    tedloc::Store store(db);
    store.upsert_experiment("table2_loss_ablation", "bench_startup", "{}", "");
    for (int seed = 0; seed < 20; ++seed) {
      const std::string config = R"({"task":"tedloc","seed":)" + std::to_string(seed) + "}";
      store.record_done_run("table2_loss_ablation", {"hash" + std::to_string(seed), config, "tedloc", seed, "run"},
                            {{"test", "maxboxacc", 50.0 + seed}}, tedloc::WorkerId::current(), "bench");
    }
  }
  std::printf("bench_startup: tedloc %s, wall time from exec to exit and peak RSS\n",
              tedloc::testing::tedloc_exe().c_str());
  measure("tedloc --version", {"--version"}, 20);
  measure("tedloc runs", {"runs", "--db", db}, 20);
  measure("tedloc query", {"query", "SELECT COUNT(*) FROM runs", "--db", db}, 20);
  measure("tedloc report table2", {"report", "table2", "--db", db}, 20);
  const auto golden = tedloc::testing::shared_dir() / "golden" / "wsol";
  if (std::filesystem::exists(golden)) {
    measure("tedloc eval (golden CUB test)",
            {"eval", "--metadata", (golden / "metadata/CUB/test").string(), "--scoremaps",
             (golden / "scoremaps").string(), "--json"},
            20);
  } else {
    std::printf("tedloc eval: skipped, %s\n", tedloc::testing::missing_shared("golden/wsol").c_str());
  }
  measure("tedloc plugins (LibTorch)", {"plugins"}, 5);
  return 0;
}
