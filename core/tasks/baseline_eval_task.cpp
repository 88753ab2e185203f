// The `baseline_eval` task: a training-free baseline plugin (CLIP variants, CLIP-ES) under the same protocol as
// TeD-Loc.
#include <torch/torch.h>

#include "tedloc/host.hpp"
#include "tedloc/method/class_text.hpp"
#include "tedloc/method/encoder.hpp"
#include "tedloc/method/protocol.hpp"
#include "tedloc/method/wsol_dataset.hpp"
#include "tedloc/plugin/baseline.hpp"
#include "tedloc/tasks.hpp"
#include "tedloc/util.hpp"

namespace tedloc::method {
namespace {

// Scores a training-free baseline plugin (CLIP variants, CLIP-ES) like TeD-Loc: threshold chosen on val,
// applied to test; class scores give CL and Top-k Loc.
struct BaselineTask final : Task {
  explicit BaselineTask(const Params&) {}
  RunOutcome run(RunContext& ctx) override {
    const Params& p = ctx.params;
    const WsolDataset data = load_wsol_dataset(p);
    ctx.plugin.class_names = data.class_names;
    ctx.plugin.class_embeddings = class_text_embeddings(p, data.class_names).to(ctx.plugin.device);
    auto baseline = ctx.make<Baseline>("baseline");
    const double interval = p.get<double>("eval.test_interval");
    auto infer = [&](const data::Batch& batch) {
      const BaselineOutput out = baseline->infer({batch.images.to(ctx.plugin.device), batch.labels.to(ctx.plugin.device)});
      return MapBatch{out.maps, out.class_scores};
    };
    auto score = [&](const eval::SplitMetadata& split, const std::string& name) {
      Progress bar(name, static_cast<std::int64_t>(split.image_ids.size()), ctx.show_progress);
      auto result = score_split(split, data.image_root, transform_options(p, false), p.get<int>("eval.batch_size"),
                                p.get<int>("data.threads"), interval, infer,
                                [&](std::int64_t done, std::int64_t) { bar.update(done); });
      bar.finish();
      return result;
    };
    const SplitScores val = score(data.val, "val");
    const std::size_t operating = eval::operating_index(val.single);
    log_split_metrics(ctx.log_metric, "val", val);
    log_split_metrics(ctx.log_metric, "test", score(data.test, "test"), &operating);
    return {};
  }
};

std::vector<ParamDecl> baseline_params() {
  std::vector<ParamDecl> p = data_params();
  for (auto group : {text_params(), eval_params()}) p.insert(p.end(), group.begin(), group.end());
  p.push_back({"baseline", ParamType::Plugin, nullptr, "the baseline to score", true, {}, "baseline"});
  return p;
}

}  // namespace

void register_baseline_eval_task(PluginRegistrar& registrar) {
  registrar.add<Task, BaselineTask>(
      {"baseline_eval", "1.0.0", "scores a baseline plugin (no training) on val/test under the WSOL protocol",
       baseline_params()});
}

}  // namespace tedloc::method
