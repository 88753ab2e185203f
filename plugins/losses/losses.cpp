// The paper's loss sets (Table 2): kd, kd_pcl, kd_pcl_icl, each L = l1 L_KD + l2 P_CL + l3 I_CL with the
// unused terms off. The equations live in core/method/losses.cpp.
#include <tedloc/method/losses.hpp>
#include <tedloc/plugin/loss_set.hpp>

namespace {

namespace m = tedloc::method;

template <bool UsePcl, bool UseIcl>
struct Losses final : tedloc::LossSet {
  m::LossWeights weights;
  m::Reduction reduction;
  explicit Losses(const tedloc::Params& p)
      : weights{p.get<double>("lambda_kd"), UsePcl ? p.get<double>("lambda_pcl") : 0.0,
                UseIcl ? p.get<double>("lambda_icl") : 0.0},
        reduction(p.get<std::string>("reduction") == "sum" ? m::Reduction::kSum : m::Reduction::kMean) {}

  tedloc::LossTerms compute(const tedloc::LossInputs& in) override {
    const m::LossValues t =
        m::total_loss({in.z, in.g_logits, in.anchors, in.labels, {in.fg_cells, in.bg_cells}}, weights, reduction);
    tedloc::LossTerms out{t.total, {{"kd", t.kd}}};
    if (UsePcl) out.terms["pcl"] = t.pcl;
    if (UseIcl) out.terms["icl"] = t.icl;
    return out;
  }
};

std::vector<tedloc::ParamDecl> params(bool pcl, bool icl) {
  std::vector<tedloc::ParamDecl> p = {
      tedloc::ParamDecl{"lambda_kd", tedloc::ParamType::Float, 1.0, "weight l1 of L_KD (eq. 1)"}.at_least(0),
      {"reduction", tedloc::ParamType::String, "mean", "mean over sampled cells, or sum per image", false,
       {"mean", "sum"}}};
  if (pcl) p.push_back(tedloc::ParamDecl{"lambda_pcl", tedloc::ParamType::Float, 1.0, "weight l2 of P_CL (eq. 2)"}.at_least(0));
  if (icl) p.push_back(tedloc::ParamDecl{"lambda_icl", tedloc::ParamType::Float, 1.0, "weight l3 of I_CL (eq. 4)"}.at_least(0));
  return p;
}

}  // namespace

TEDLOC_PLUGINS(registrar) {
  registrar.add<tedloc::LossSet, Losses<false, false>>(
      {"kd", "1.0.0", "text-to-patch distillation only (eq. 1)", params(false, false)});
  registrar.add<tedloc::LossSet, Losses<true, false>>(
      {"kd_pcl", "1.0.0", "distillation + patch classifier (eq. 1, 2)", params(true, false)});
  registrar.add<tedloc::LossSet, Losses<true, true>>(
      {"kd_pcl_icl", "1.0.0", "distillation + patch + image classifier (eq. 1, 2, 4): full TeD-Loc",
       params(true, true)});
}
