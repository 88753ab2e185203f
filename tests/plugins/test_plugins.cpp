// The workbench's own plugins, loaded from their .so files through the host like a user's run does.
#include <gtest/gtest.h>

#include "tedloc/host.hpp"
#include "tedloc/plugin/anchor_transform.hpp"
#include "tedloc/plugin/loss_set.hpp"
#include "tedloc/tasks.hpp"

namespace tedloc {
namespace {

class Plugins : public ::testing::Test {
 protected:
  void SetUp() override {
    host.scan(std::string(TEDLOC_BUILD_DIR) + "/plugins");
    ASSERT_TRUE(host.errors().empty()) << host.errors().front();
  }
  template <class T>
  std::shared_ptr<T> make(const std::string& name, const nlohmann::json& params = nlohmann::json::object()) {
    std::vector<std::string> errors;
    auto resolved = host.resolve_plugin_ref(T::kKind, {{"plugin", name}, {"params", params}}, "/x", errors);
    EXPECT_TRUE(errors.empty());
    return host.make<T>(name, resolved["params"], PluginContext{});
  }
  PluginHost host{register_builtin_plugins};
};

// Every number a shipped task or plugin takes declares its range, so that a bad value fails at --dry-run and not
// inside a run.
TEST_F(Plugins, EveryNumericParameterDeclaresItsRange) {
  int numbers = 0;
  for (const auto& entry : host.entries()) {
    for (const auto& d : entry.info.params) {
      const bool numeric = d.type == ParamType::Int || d.type == ParamType::Float || d.type == ParamType::IntList ||
                           d.type == ParamType::FloatList;
      if (!numeric) continue;
      ++numbers;
      EXPECT_TRUE(d.has_range()) << entry.kind << " " << entry.info.name << ": " << d.name << " declares no range";
    }
  }
  EXPECT_GT(numbers, 20);
}

TEST_F(Plugins, QrAnchorsAreOrthonormalAndSayWhichCaseRan) {
  auto a = torch::randn({5, 16}, torch::kDouble);
  const Anchors result = make<AnchorTransform>("qr")->transform(a);
  EXPECT_EQ(result.case_name, "qr_orthonormal");
  EXPECT_TRUE(torch::allclose(result.anchors.matmul(result.anchors.t()), torch::eye(5, torch::kDouble), 1e-9, 1e-9));
  const Anchors wide = make<AnchorTransform>("lowdin")->transform(torch::randn({20, 4}, torch::kDouble));
  EXPECT_EQ(wide.case_name, "lowdin_tight_frame");
  EXPECT_EQ(make<AnchorTransform>("identity")->transform(a).anchors.equal(a), true);
}

TEST_F(Plugins, LossSetsComputeTheirTermsOnly) {
  torch::manual_seed(0);
  LossInputs in;
  in.z = torch::randn({2, 4, 3, 3}, torch::requires_grad());
  in.g_logits = torch::randn({2, 3, 3}, torch::requires_grad());
  in.anchors = torch::randn({3, 4});
  in.labels = torch::tensor({0, 2}, torch::kLong);
  in.fg_cells = torch::tensor({{0, 1}, {4, 5}}, torch::kLong);
  in.bg_cells = torch::tensor({{7, 8}, {2, 3}}, torch::kLong);
  const LossTerms kd = make<LossSet>("kd")->compute(in);
  EXPECT_EQ(kd.terms.size(), 1u);
  const LossTerms full = make<LossSet>("kd_pcl_icl", {{"lambda_pcl", 0.5}, {"lambda_icl", 0.25}})->compute(in);
  ASSERT_EQ(full.terms.size(), 3u);
  const double expected = full.terms.at("kd").item<double>() + 0.5 * full.terms.at("pcl").item<double>() +
                          0.25 * full.terms.at("icl").item<double>();
  EXPECT_NEAR(full.total.item<double>(), expected, 1e-5);
  EXPECT_NEAR(kd.total.item<double>(), full.terms.at("kd").item<double>(), 1e-6);
  full.total.backward();
  EXPECT_TRUE(in.g_logits.grad().defined());
}

}  // namespace
}  // namespace tedloc
