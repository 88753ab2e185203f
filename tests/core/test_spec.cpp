// Experiment specs: structure errors with file and JSON path (or line and column), and the cells.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "tedloc/error.hpp"
#include "tedloc/host.hpp"
#include "tedloc/spec.hpp"
#include "tedloc/util.hpp"
#include "tedloc/tasks.hpp"
#include "test_support.hpp"

namespace tedloc {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

class Specs : public ::testing::Test {
 protected:
  void SetUp() override { host.scan(TEDLOC_TEST_PLUGIN_DIR "/good"); host.scan(TEDLOC_BUILD_DIR "/plugins"); }
  PluginHost host{register_builtin_plugins};
  testing::TempDir dir;
};

TEST_F(Specs, MalformedJsonGivesLineAndColumn) {
  const std::string file = dir / "bad.json";
  testing::write_file(file, "{\n  \"experiment\": \"x\",\n  \"base\": {\"task\": \"probe\",}\n}\n");
  const std::string e = error_of([&] { load_spec(file); });
  EXPECT_NE(e.find(file + ":3:"), std::string::npos) << e;
  EXPECT_NE(e.find("malformed JSON"), std::string::npos) << e;
}

TEST_F(Specs, MissingFileIsNamed) {
  const std::string e = error_of([&] { load_spec(dir / "absent.json"); });
  EXPECT_NE(e.find("absent.json: cannot read"), std::string::npos) << e;
}

TEST_F(Specs, EmptyAxisIsRejected) {
  const std::string e = error_of([&] {
    parse_spec(R"({"experiment": "x", "base": {"task": "probe"}, "grid": {"epochs": []}})", "s.json");
  });
  EXPECT_EQ(e, "s.json: /grid/epochs: empty axis: it would give no cell at all");
}

TEST_F(Specs, StructureErrors) {
  EXPECT_NE(error_of([&] { parse_spec(R"({"base": {}})", "s.json"); }).find("s.json: /experiment: missing"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse_spec(R"({"experiment": "x", "seeds": [1, 1]})", "s.json"); })
                .find("/seeds/1: duplicate seed"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse_spec(R"({"experiment": "x", "grids": {}})", "s.json"); }).find("/grids: unknown key"),
            std::string::npos);
}

TEST_F(Specs, SlurmBlockIsCheckedLikeTheRest) {
  const Spec spec = parse_spec(R"({"experiment": "x", "slurm": {"partition": "gpu", "max_parallel": 4,
      "sbatch_args": ["--qos=long"], "requeue": true}})", "s.json");
  EXPECT_EQ(spec.executor_settings.at("slurm").at("partition"), "gpu");
  EXPECT_EQ(error_of([&] { parse_spec(R"({"experiment": "x", "slurm": {"partiton": "gpu"}})", "s.json"); }),
            "s.json: /slurm/partiton: unknown Slurm setting (did you mean 'partition'?)");
  EXPECT_EQ(error_of([&] { parse_spec(R"({"experiment": "x", "slurm": {"max_parallel": -1}})", "s.json"); }),
            "s.json: /slurm/max_parallel: expected an integer >= 0");
  EXPECT_EQ(error_of([&] { parse_spec(R"({"experiment": "x", "slurm": {"sbatch_args": [3]}})", "s.json"); }),
            "s.json: /slurm/sbatch_args/0: expected a non-empty string");
  EXPECT_NE(error_of([&] { parse_spec(R"({"experiment": "x", "slurn": {}})", "s.json"); })
                .find("/slurn: unknown key (did you mean 'slurm'?)"),
            std::string::npos);
}

// Found writing the fuzz targets: parse_spec copies the grid's values recursively, so a million-deep value
// overflowed the stack.
TEST_F(Specs, DeeplyNestedJsonIsRefused) {
  const std::size_t deep = 1'000'000;
  const std::string text =
      R"({"experiment": "x", "grid": {"a": )" + std::string(deep, '[') + std::string(deep, ']') + "}}";
  EXPECT_EQ(error_of([&] { parse_spec(text, "s.json"); }), "s.json: JSON nested deeper than 64 levels");
  const std::string ok = R"({"experiment": "x", "grid": {"a": [)" + std::string(60, '[') + std::string(60, ']') + "]}}";
  EXPECT_EQ(parse_spec(ok, "s.json").axes.size(), 1u);
}

// Found by fuzz_spec (tests/fuzz/corpus/spec/crash-number-overflow.json): nlohmann throws a number beyond double
// as out_of_range, not parse_error, so it escaped as an internal error.
TEST_F(Specs, NumberOverflowIsMalformedJson) {
  EXPECT_EQ(error_of([&] { parse_spec(R"({"experiment": "x", "base": {"lr": 1e999}})", "s.json"); }),
            "s.json: malformed JSON: number overflow parsing '1e999'");
  Spec spec = parse_spec(R"({"experiment": "x"})", "s.json");
  EXPECT_THROW(apply_overrides(spec, {"train.lr=1e999"}), UsageError);
}

TEST_F(Specs, ErrorsPointIntoTheGridOrTheBase) {
  const Spec spec = parse_spec(R"({"experiment": "x", "base": {"task": "probe", "colour": 1},
      "grid": {"value": [1, "two", 3], "cam": ["center_prior", "nonesuch"]}, "seeds": [0, 1]})",
                               "s.json");
  const std::string e = error_of([&] { expand_spec(spec, host); });
  EXPECT_NE(e.find("s.json: /base/colour: unknown parameter 'colour'"), std::string::npos) << e;
  EXPECT_NE(e.find("s.json: /grid/value/1: expected a number, got string \"two\""), std::string::npos) << e;
  EXPECT_NE(e.find("s.json: /grid/cam/1/plugin: unknown cam_source plugin 'nonesuch'"), std::string::npos) << e;
  // Each distinct error once, although it occurs in many cells.
  EXPECT_EQ(e.find("/base/colour"), e.rfind("/base/colour")) << e;
}

// A number outside its declared range is refused when the spec is expanded (so at --dry-run), with its JSON path:
// the task's own parameters, a plugin's, and list elements alike.
TEST_F(Specs, ValuesOutsideTheirRangeAreRefusedBeforeAnyRun) {
  const Spec spec = parse_spec(R"({"experiment": "x", "base": {"task": "cam_eval", "cam": "center_prior"},
      "grid": {"threshold_step": [0.01, 0], "images": [-5], "size": [0], "threads": [-1],
               "cam": [{"plugin": "center_prior", "params": {"sigma": 0, "grid": 14}}]}})",
                               "r.json");
  const std::string e = error_of([&] { expand_spec(spec, host); });
  EXPECT_NE(e.find("r.json: /grid/threshold_step/1: 0.0 must be in [0.0001, 1.0]"), std::string::npos) << e;
  EXPECT_NE(e.find("r.json: /grid/images/0: -5 must be in [1.0, 100000.0]"), std::string::npos) << e;
  EXPECT_NE(e.find("r.json: /grid/size/0: 0 must be in [4.0, 4096.0]"), std::string::npos) << e;
  EXPECT_NE(e.find("r.json: /grid/threads/0: -1 must be in [0.0, 1024.0]"), std::string::npos) << e;
  EXPECT_NE(e.find("r.json: /grid/cam/0/params/sigma: 0.0 must be > 0.0"), std::string::npos) << e;
  EXPECT_EQ(e.find("/grid/threshold_step/0"), std::string::npos) << e;  // 0.01 is fine
}

TEST_F(Specs, CartesianProductTimesSeedsWithDistinctHashes) {
  const Spec spec = parse_spec(R"({"experiment": "x", "base": {"task": "probe"},
      "grid": {"value": [1, 2, 3], "mode": ["a", "b"]}, "seeds": [0, 7]})",
                               "s.json");
  const auto cells = expand_spec(spec, host);
  ASSERT_EQ(cells.size(), 12u);
  std::set<std::string> hashes;
  for (const auto& c : cells) hashes.insert(c.hash);
  EXPECT_EQ(hashes.size(), 12u);
  EXPECT_EQ(cells[0].label, "value=1 mode=a seed=0");  // file order, last axis fastest
  EXPECT_EQ(cells[1].label, "value=1 mode=b seed=0");
  EXPECT_EQ(cells[11].label, "value=3 mode=b seed=7");
  EXPECT_EQ(cells[11].resolved["seed"], 7);
  EXPECT_EQ(cells[0].hash.size(), 64u);
}

TEST_F(Specs, VariantAxisMergesWholeConfigsAndLocatesErrors) {
  const Spec spec = parse_spec(R"({"experiment": "x", "base": {"task": "probe", "epochs": 1},
      "grid": {"": [{"name": "plain"}, {"name": "other", "mode": "b", "value": 2}, {"name": "bad", "epochz": 3}]}})",
                               "s.json");
  const std::string e = error_of([&] { expand_spec(spec, host); });
  EXPECT_NE(e.find("s.json: /grid//2/epochz: unknown parameter 'epochz' (did you mean 'epochs'?)"), std::string::npos)
      << e;
  Spec good = spec;
  good.axes[0].values.pop_back();
  const auto cells = expand_spec(good, host);
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells[1].label, "variant=other seed=0");
  EXPECT_EQ(cells[1].resolved["mode"], "b");
  EXPECT_EQ(cells[1].resolved["epochs"], 1);
  EXPECT_NE(error_of([&] { parse_spec(R"({"experiment": "x", "grid": {"": [{"mode": "b"}]}})", "s.json"); })
                .find("/grid//0: a variant"),
            std::string::npos);
}

TEST_F(Specs, OverridesSetDottedPathsInTheBase) {
  Spec spec = parse_spec(R"({"experiment": "x", "base": {"task": "probe"}})", "s.json");
  apply_overrides(spec, {"value=2.5", "cam.plugin=brightness", "mode=\"c\""});
  const auto cells = expand_spec(spec, host);
  EXPECT_EQ(cells.at(0).resolved["value"], 2.5);
  EXPECT_EQ(cells.at(0).resolved["cam"]["plugin"], "brightness");
  EXPECT_EQ(cells.at(0).resolved["mode"], "c");
  EXPECT_THROW(apply_overrides(spec, {"novalue"}), UsageError);
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(std::string(1000, 'a')).substr(0, 16), "41edece42d63e8d9");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),  // 56 bytes: padding spills over
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, PiecesAndFilesGiveTheWholeDigest) {
  std::mt19937 rng(7);
  std::string data(3 * 1024 * 1024 + 17, '\0');  // more than the file reader's 1 MiB pieces
  for (char& c : data) c = static_cast<char>(rng());
  Sha256 pieces;
  for (std::size_t at = 0; at < data.size();) {
    const std::size_t n = std::min<std::size_t>(data.size() - at, rng() % 200);
    pieces.update(data.data() + at, n);
    at += n;
  }
  EXPECT_EQ(pieces.hex(), sha256_hex(data));
  testing::TempDir dir;
  testing::write_file(dir / "blob", data);
  EXPECT_EQ(file_sha256_hex(dir / "blob"), sha256_hex(data));
  EXPECT_THROW(file_sha256_hex(dir / "absent"), InputError);
}

}  // namespace
}  // namespace tedloc
