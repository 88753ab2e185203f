// A task for the engine's tests: sleeps, logs metrics per epoch, and fails or diverges on request. With
// `checkpoint` it keeps its next epoch in RUN_FOLDER/probe.ckpt and resumes from it, as the tedloc task does.
#include <tedloc/plugin/task.hpp>

#include <chrono>
#include <cstdio>
#include <cmath>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace {

struct Probe final : tedloc::Task {
  explicit Probe(const tedloc::Params&) {}
  tedloc::RunOutcome run(tedloc::RunContext& ctx) override {
    const auto epochs = ctx.params.get<int>("epochs");
    const auto sleep_ms = ctx.params.get<int>("sleep_ms");
    const double value = ctx.params.get<double>("value");
    const bool checkpoint = ctx.params.get<bool>("checkpoint");
    const std::string checkpoint_file = ctx.plugin.work_dir + "/probe.ckpt";
    int first = 0;
    if (checkpoint) {
      std::ifstream in(checkpoint_file);
      if (!(in >> first)) first = 0;
      ctx.log_metric("train", "resumed_from", first, -1);
      if (first > 0) ctx.log("resumed from probe.ckpt at epoch " + std::to_string(first));
    }
    for (int epoch = first; epoch < epochs; ++epoch) {
      std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
      if (ctx.stop_requested && *ctx.stop_requested) throw tedloc::Interrupted();
      if (epoch == ctx.params.get<int>("diverge_at")) {
        ctx.log_metric("train", "loss", std::nan(""), epoch);
        return {tedloc::RunStatus::Diverged, "loss is NaN at epoch " + std::to_string(epoch)};
      }
      ctx.log_metric("val", "score", value * (epoch + 1) + static_cast<double>(ctx.seed), epoch);
      if (checkpoint) {
        std::ofstream(checkpoint_file + ".tmp") << epoch + 1 << "\n";
        std::rename((checkpoint_file + ".tmp").c_str(), checkpoint_file.c_str());
      }
    }
    if (ctx.params.get<bool>("fail")) throw std::runtime_error("probe asked to fail");
    ctx.log_metric("test", "score", value + static_cast<double>(ctx.seed), -1);
    return {};
  }
};

}  // namespace

TEDLOC_PLUGINS(registrar) {
  registrar.add<tedloc::Task, Probe>(
      {"probe", "0.1.0", "test task: sleeps and logs metrics",
       {{"epochs", tedloc::ParamType::Int, 2, "epochs"},
        {"sleep_ms", tedloc::ParamType::Int, 0, "sleep per epoch"},
        {"value", tedloc::ParamType::Float, 1.0, "metric base value"},
        {"diverge_at", tedloc::ParamType::Int, -1, "epoch whose loss is NaN (-1: never)"},
        {"fail", tedloc::ParamType::Bool, false, "throw at the end"},
        {"checkpoint", tedloc::ParamType::Bool, false, "resume from RUN_FOLDER/probe.ckpt"},
        {"mode", tedloc::ParamType::String, "a", "a label", false, {"a", "b", "c"}},
        {"input", tedloc::ParamType::File, "", "an input file (unused)"},
        {"cam", tedloc::ParamType::Plugin, "center_prior", "a CAM source (unused)", false, {}, "cam_source"}}});
}
