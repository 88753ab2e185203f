#include "fake_store.hpp"

#include <fmt/format.h>

#include <vector>

namespace tedloc::testing {

double fake_maxboxacc(const std::string& loss, int seed) {
  static const std::map<std::string, std::vector<double>> values = {
      {"kd", {60.0, 62.0, 67.0}}, {"kd_pcl", {70.5, 71.0, 72.5}}, {"kd_pcl_icl", {80.0, 80.0, 83.0}}};
  return values.at(loss).at(seed - 1);
}

FakeTable2 make_fake_table2(Store& store) {
  FakeTable2 fake;
  fake.experiment = store.upsert_experiment("table2_loss_ablation", "fake", "{}", "");
  std::vector<CellRecord> cells;
  const auto cell = [](const std::string& loss, int seed) {
    const std::string config = fmt::format(R"({{"task":"tedloc","seed":{},"loss":{{"plugin":"{}"}}}})", seed, loss);
    return CellRecord{"hash-" + loss + "-" + std::to_string(seed), config, "tedloc", seed,
                      fmt::format("loss.plugin={} seed={}", loss, seed)};
  };
  for (const std::string loss : {"kd", "kd_pcl", "kd_pcl_icl"}) {
    for (int seed = 1; seed <= 3; ++seed) cells.push_back(cell(loss, seed));
  }
  cells.push_back(cell("kd", 4));          // claimed last: fails
  cells.push_back(cell("kd_pcl_icl", 4));  // never claimed: pending
  store.add_cells(fake.experiment, cells);

  const WorkerId me = WorkerId::current();
  for (std::size_t i = 0; i + 1 < cells.size(); ++i) {
    const auto run = store.claim_next(fake.experiment, me, "test", "/tmp");
    const std::string loss = run->label.substr(12, run->label.find(' ') - 12);  // after "loss.plugin="
    if (run->seed == 4) {
      store.log_metric(run->id, "test", "maxboxacc_50", 0.0, -1);  // a failed run's numbers never count
      store.finish_run(run->id, "failed", "boom", me);
      fake.failed_run = run->id;
      continue;
    }
    store.log_metric(run->id, "test", "maxboxacc_50", fake_maxboxacc(loss, static_cast<int>(run->seed)), -1);
    // cl_top1 = 10 x seed, except kd seed 2 (missing: that cell has n = 2).
    if (!(loss == "kd" && run->seed == 2)) store.log_metric(run->id, "test", "cl_top1", 10.0 * run->seed, -1);
    store.log_metric(run->id, "test", "cl_top5", 90.0 + run->seed, -1);
    store.log_metric(run->id, "model", "params_encoder", 1e6 * run->seed, -1);
    store.log_metric(run->id, "model", "params_trainable", 5e5, -1);
    store.finish_run(run->id, "done", "", me);
    fake.run_of[fmt::format("{}/{}", loss, run->seed)] = run->id;
  }
  return fake;
}

}  // namespace tedloc::testing
