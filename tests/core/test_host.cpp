// The plugin host with real .so files: a good library, and each way a library must be refused.
#include <gtest/gtest.h>

#include <filesystem>

#include <fmt/format.h>

#include "tedloc/host.hpp"
#include "tedloc/plugin/cam_source.hpp"
#include "tedloc/spec.hpp"
#include "tedloc/util.hpp"
#include "tedloc/tasks.hpp"
#include "test_support.hpp"

namespace tedloc {
namespace {

const std::string kPlugins = TEDLOC_TEST_PLUGIN_DIR;
const std::string kExampleDir = std::string(TEDLOC_BUILD_DIR) + "/plugins";

std::string only_error(const PluginHost& host) {
  EXPECT_EQ(host.errors().size(), 1u);
  return host.errors().empty() ? "" : host.errors().front();
}

TEST(PluginHost, LoadsAGoodLibraryAndMakesItsPlugins) {
  PluginHost host{register_builtin_plugins};
  host.scan(kExampleDir);
  EXPECT_TRUE(host.errors().empty());
  const PluginEntry* entry = host.find("cam_source", "center_prior");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->info.version, "1.0.0");
  EXPECT_NE(entry->file.find("libtedloc_example_cam.so"), std::string::npos);

  std::vector<std::string> errors;
  const auto params = host.resolve_plugin_ref("cam_source", nlohmann::json{{"plugin", "center_prior"},
                                                                           {"params", {{"grid", 5}}}},
                                              "/cam", errors);
  ASSERT_TRUE(errors.empty());
  auto cam = host.make<CamSource>("center_prior", params["params"], PluginContext{});
  torch::Tensor maps = cam->cams({torch::zeros({2, 3, 8, 8}), torch::zeros({2}, torch::kLong), {}});
  ASSERT_EQ(maps.sizes(), (std::vector<int64_t>{2, 5, 5}));
  EXPECT_FLOAT_EQ(maps[0][2][2].item<float>(), 1.0f);  // the centre is the maximum
  EXPECT_FLOAT_EQ(maps.min().item<float>(), 0.0f);
}

TEST(PluginHost, RefusesAWrongAbiVersionNamingTheFile) {
  PluginHost host{register_builtin_plugins};
  host.scan(kPlugins + "/bad_abi");
  const std::string e = only_error(host);
  EXPECT_NE(e.find("libtedloc_test_bad_abi.so"), std::string::npos) << e;
  EXPECT_NE(e.find(fmt::format("ABI version {}, this tedloc has version {}", kAbiVersion + 41, kAbiVersion)),
            std::string::npos) << e;
}

TEST(PluginHost, RefusesAMissingSymbol) {
  PluginHost host{register_builtin_plugins};
  host.scan(kPlugins + "/no_register");
  const std::string e = only_error(host);
  EXPECT_NE(e.find("libtedloc_test_no_register.so"), std::string::npos) << e;
  EXPECT_NE(e.find("missing symbol tedloc_register_plugins"), std::string::npos) << e;
}

TEST(PluginHost, RefusesALibraryThatCannotBeLoaded) {
  PluginHost host{register_builtin_plugins};
  host.scan(kPlugins + "/undefined");
  const std::string e = only_error(host);
  EXPECT_NE(e.find("libtedloc_test_undefined.so: cannot be loaded"), std::string::npos) << e;
  EXPECT_NE(e.find("tedloc_test_symbol_nobody_defines"), std::string::npos) << e;
}

TEST(PluginHost, RefusesADuplicateNameAndKeepsTheFirst) {
  PluginHost host{register_builtin_plugins};
  host.scan(kPlugins + "/good");
  host.scan(kPlugins + "/dup");
  const std::string e = only_error(host);
  EXPECT_NE(e.find("libtedloc_test_dup.so: duplicate task plugin 'probe'"), std::string::npos) << e;
  EXPECT_NE(e.find("libtedloc_test_probe.so"), std::string::npos) << e;
  EXPECT_EQ(host.find("task", "probe")->info.version, "0.1.0");
}

TEST(PluginHost, ReadsThePluginPathEnvironmentVariable) {
  setenv("TEDLOC_PLUGIN_PATH", (kPlugins + "/good:/nonexistent").c_str(), 1);
  const auto dirs = PluginHost::default_dirs();
  unsetenv("TEDLOC_PLUGIN_PATH");
  EXPECT_NE(std::find(dirs.begin(), dirs.end(), std::filesystem::path(kPlugins + "/good")), dirs.end());
}

TEST(PluginHost, UnknownPluginSuggestsTheClosestName) {
  PluginHost host{register_builtin_plugins};
  host.scan(kExampleDir);
  try {
    host.require("cam_source", "center_prio");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'center_prior'"), std::string::npos) << e.what();
  }
}

class Validation : public ::testing::Test {
 protected:
  void SetUp() override {
    host.scan(kExampleDir);
    host.scan(kPlugins + "/good");
  }
  std::vector<std::string> errors_of(const nlohmann::json& config) {
    std::vector<std::string> errors;
    host.resolve_config(config, errors);
    return errors;
  }
  PluginHost host{register_builtin_plugins};
};

TEST_F(Validation, FillsDefaultsEverywhere) {
  std::vector<std::string> errors;
  const auto resolved = host.resolve_config({{"task", "probe"}}, errors);
  ASSERT_TRUE(errors.empty());
  EXPECT_EQ(resolved["epochs"], 2);
  EXPECT_EQ(resolved["seed"], 0);
  EXPECT_EQ(resolved["device"], "auto");
  EXPECT_EQ(resolved["cam"]["plugin"], "center_prior");
  EXPECT_EQ(resolved["cam"]["params"]["sigma"], 0.25);
}

// A File parameter's content, not only its path, enters the resolved config (and so the run's hash).
TEST_F(Validation, InputFilesJoinTheConfigByContent) {
  testing::TempDir dir;
  const std::string file = dir / "weights.bin";
  const auto resolve = [&](const nlohmann::json& config) {
    std::vector<std::string> errors;
    auto resolved = host.resolve_config(config, errors);
    EXPECT_TRUE(errors.empty()) << errors.front();
    return resolved;
  };
  testing::write_file(file, "first weights");
  const auto first = resolve({{"task", "probe"}, {"input", file}});
  EXPECT_EQ(first["input"], file);  // the task still receives the path
  EXPECT_EQ(first["input_files"]["/input"], "sha256:" + sha256_hex("first weights"));
  EXPECT_EQ(resolve({{"task", "probe"}, {"input", file}}).dump(), first.dump());

  testing::write_file(file, "retrained weights");
  const auto second = resolve({{"task", "probe"}, {"input", file}});
  EXPECT_EQ(second["input_files"]["/input"], "sha256:" + sha256_hex("retrained weights"));
  EXPECT_NE(sha256_hex(canonical_config(second)), sha256_hex(canonical_config(first)));

  // A missing file is refused at validation, with its JSON path, not N failed runs later.
  EXPECT_EQ(errors_of({{"task", "probe"}, {"input", dir / "absent.bin"}}).at(0),
            "/input: no such file '" + dir / "absent.bin" + "'");
  EXPECT_FALSE(resolve({{"task", "probe"}}).contains("input_files"));  // empty: no file
  EXPECT_EQ(errors_of({{"task", "probe"}, {"input", 3}}).at(0), "/input: expected a file path, got int 3");

  // A default path counts like a given one.
  std::vector<std::string> errors;
  nlohmann::json files = nlohmann::json::object();
  const auto params = host.resolve_params({ParamDecl{"w", ParamType::File, file, "weights"}}, nlohmann::json::object(),
                                          "/x", errors, &files);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(params["w"], file);
  EXPECT_EQ(files["/x/w"], "sha256:" + sha256_hex("retrained weights"));
}

// A dataset enters the run's identity through its folder's manifest: every file's path and content.
TEST_F(Validation, InputFoldersJoinTheConfigByTheirManifest) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path / "train");
  testing::write_file(dir / "train/image_ids.txt", "a.png\n");
  testing::write_file(dir / "a.png", "pixels");
  const auto fingerprint = [&](const std::string& folder) {
    std::vector<std::string> errors;
    nlohmann::json files = nlohmann::json::object();
    host.resolve_params({ParamDecl{"data", ParamType::Folder, nullptr, "the data", true}}, {{"data", folder}}, "/x",
                        errors, &files);
    return errors.empty() ? files["/x/data"].get<std::string>() : "error: " + errors.at(0);
  };
  const std::string first = fingerprint(dir.path.string());
  EXPECT_EQ(first.rfind("manifest:", 0), 0u) << first;
  EXPECT_EQ(fingerprint(dir.path.string()), first);
  testing::write_file(dir / "a.png", "other pixels");  // a changed image
  const std::string changed = fingerprint(dir.path.string());
  EXPECT_NE(changed, first);
  std::filesystem::rename(dir / "a.png", dir / "b.png");  // same bytes, another name
  EXPECT_NE(fingerprint(dir.path.string()), changed);
  testing::write_file(dir / "train/class_labels.txt", "b.png,0\n");  // a new metadata file
  EXPECT_NE(fingerprint(dir.path.string()), changed);
  EXPECT_EQ(fingerprint(dir / "absent"), "error: /x/data: no such folder '" + dir / "absent" + "'");
}

TEST_F(Validation, IntAndFloatSpellingsHashAlike) {
  std::vector<std::string> errors;
  const auto a = host.resolve_config({{"task", "probe"}, {"value", 1}}, errors);
  const auto b = host.resolve_config({{"task", "probe"}, {"value", 1.0}}, errors);
  ASSERT_TRUE(errors.empty());
  EXPECT_EQ(a.dump(), b.dump());
}

TEST_F(Validation, NamesTheJsonPathOfEachError) {
  const auto errors = errors_of({{"task", "probe"},
                                 {"epochs", "three"},
                                 {"mode", "z"},
                                 {"epoch", 3},
                                 {"cam", {{"plugin", "center_prior"}, {"params", {{"sigmaa", 1}}}}}});
  ASSERT_EQ(errors.size(), 4u);
  const std::string all = errors[0] + "\n" + errors[1] + "\n" + errors[2] + "\n" + errors[3];
  EXPECT_NE(all.find("/epochs: expected an int, got string \"three\""), std::string::npos) << all;
  EXPECT_NE(all.find("/mode: expected one of a, b, c"), std::string::npos) << all;
  EXPECT_NE(all.find("/epoch: unknown parameter 'epoch' (did you mean 'epochs'?)"), std::string::npos) << all;
  EXPECT_NE(all.find("/cam/params/sigmaa: unknown parameter"), std::string::npos) << all;
}

TEST_F(Validation, UnknownTaskAndUnknownPlugin) {
  auto errors = errors_of({{"task", "nope"}});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("/task: unknown task plugin 'nope'"), std::string::npos) << errors[0];
  errors = errors_of({{"task", "probe"}, {"cam", "nothing_like_it"}});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("/cam/plugin: unknown cam_source plugin 'nothing_like_it'"), std::string::npos)
      << errors[0];
}

}  // namespace
}  // namespace tedloc
