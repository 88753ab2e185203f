// Tables from a real store: exact Markdown / LaTeX / CSV text of Table 2, the footnote's counts, the spec
// features (unlisted rows, missing values, summed and scaled metrics, per-row metrics) and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "fake_store.hpp"
#include "tedloc/error.hpp"
#include "tedloc/reports/report.hpp"
#include "test_support.hpp"

namespace tedloc::reports {
namespace {

using tedloc::testing::TempDir;

const std::string kTablesFile = std::string(TEDLOC_SOURCE_DIR) + "/reports/tables.json";

struct Table2Fixture : ::testing::Test {
  TempDir dir;
  std::string db = dir / "store.db";
  Store store{db};
  tedloc::testing::FakeTable2 fake = tedloc::testing::make_fake_table2(store);
  std::vector<TableSpec> specs = load_table_specs(kTablesFile);
};

// The values: kd 60, 62, 67 -> mean 63, squares 9 + 1 + 16 = 26, std sqrt(26 / 2) = 3.6056;
// kd_pcl 70.5, 71, 72.5 -> mean 71.333, squares 0.694 + 0.111 + 1.361 = 2.167, std sqrt(1.083) = 1.0408;
// kd_pcl_icl 80, 80, 83 -> mean 81, squares 1 + 1 + 4 = 6, std sqrt(3) = 1.7321.
// Runs: 9 done, 1 failed (kd seed 4, its 0.0 must not count), 1 pending.
TEST_F(Table2Fixture, MarkdownIsExact) {
  const Table table = build_table(store, find_table(specs, "table2"));
  EXPECT_EQ(render(table, Format::Markdown),
            "**Table 2: Ablation of the loss terms (MaxBoxAcc)**\n"
            "\n"
            "| Losses | MaxBoxAcc |\n"
            "| --- | ---: |\n"
            "| KD | 63.0 ± 3.6 |\n"
            "| KD+PCL | 71.3 ± 1.0 |\n"
            "| KD+PCL+ICL | 81.0 ± 1.7 |\n"
            "\n"
            "Mean ± sample std (n - 1) over 3 seeds. Experiment "
            "'table2_loss_ablation': 9 of 11 runs done and counted; not counted: 1 failed, 0 diverged, 1 pending.\n");
}

TEST_F(Table2Fixture, LatexIsExact) {
  const Table table = build_table(store, find_table(specs, "table2"));
  EXPECT_EQ(render(table, Format::Latex),
            "\\begin{table}[t]\n"
            "\\centering\n"
            "\\caption{Table 2: Ablation of the loss terms (MaxBoxAcc)}\n"
            "\\begin{tabular}{lr}\n"
            "\\toprule\n"
            "Losses & MaxBoxAcc \\\\\n"
            "\\midrule\n"
            "KD & 63.0 $\\pm$ 3.6 \\\\\n"
            "KD+PCL & 71.3 $\\pm$ 1.0 \\\\\n"
            "KD+PCL+ICL & 81.0 $\\pm$ 1.7 \\\\\n"
            "\\bottomrule\n"
            "\\end{tabular}\n"
            "\\par\\smallskip{\\footnotesize Mean $\\pm$ sample std (n - 1) over 3 seeds. Experiment "
            "'table2\\_loss\\_ablation': 9 of 11 runs done and counted; not counted: 1 failed, "
            "0 diverged, 1 pending.}\n"
            "\\end{table}\n");
}

TEST_F(Table2Fixture, CsvIsExact) {
  const Table table = build_table(store, find_table(specs, "table2"));
  EXPECT_EQ(render(table, Format::Csv),
            "Losses,MaxBoxAcc mean,MaxBoxAcc std,MaxBoxAcc n\n"
            "KD,63,3.60555,3\n"
            "KD+PCL,71.3333,1.04083,3\n"
            "KD+PCL+ICL,81,1.73205,3\n");
}

TEST_F(Table2Fixture, CountsEveryFate) {
  const Table table = build_table(store, find_table(specs, "table2"));
  EXPECT_EQ(table.counts.done, 9);
  EXPECT_EQ(table.counts.failed, 1);
  EXPECT_EQ(table.counts.pending, 1);
  EXPECT_EQ(table.counts.diverged, 0);
  EXPECT_EQ(table.max_n, 3);
}

TEST(Summarize, SampleStandardDeviation) {
  const Summary s = summarize({2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0});  // mean 5, squares 32, 32 / 7
  EXPECT_EQ(s.n, 8);
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  EXPECT_NEAR(s.std, std::sqrt(32.0 / 7.0), 1e-12);
  EXPECT_EQ(summarize({3.0}).std, 0.0);
  EXPECT_EQ(summarize({}).n, 0);
}

// A user's own table: unlisted rows follow the listed ones (sorted by key), a missing value lowers n,
// summed and scaled metrics, a row that reads another metric, and a column nobody logged (n/a).
TEST_F(Table2Fixture, SpecFeatures) {
  const std::string file = dir / "tables.json";
  tedloc::testing::write_file(file, R"json({"tables": [{
    "name": "mine", "title": "Mine", "experiment": "table2_loss_ablation",
    "rows": {"header": "Loss", "paths": ["$.loss.plugin", "$.absent"],
             "values": [{"key": "kd_pcl_icl", "name": "Full", "metrics": {"CL": "cl_top5"}}]},
    "columns": [
      {"name": "CL", "split": "test", "metric": "cl_top1", "digits": 2},
      {"name": "Params (M)", "split": "model", "metric": ["params_encoder", "params_trainable"], "scale": 1e-6},
      {"name": "Nobody", "split": "test", "metric": "not_logged"}]}]})json");
  const Table table = build_table(store, load_table_specs(file).at(0));
  ASSERT_EQ(table.rows.size(), 3u);
  EXPECT_EQ(table.rows[0].name, "Full");
  EXPECT_EQ(table.rows[1].name, "kd");
  EXPECT_EQ(table.rows[2].name, "kd_pcl");
  // Full: cl_top5 = 91, 92, 93.
  EXPECT_EQ(table.rows[0].cells[0].n, 3);
  EXPECT_DOUBLE_EQ(table.rows[0].cells[0].mean, 92.0);
  EXPECT_NEAR(table.rows[0].cells[0].std, 1.0, 1e-12);
  // kd: cl_top1 of seeds 1 and 3 only = 10, 30.
  EXPECT_EQ(table.rows[1].cells[0].n, 2);
  EXPECT_DOUBLE_EQ(table.rows[1].cells[0].mean, 20.0);
  EXPECT_NEAR(table.rows[1].cells[0].std, std::sqrt(200.0), 1e-12);
  // Params: (seed x 1e6 + 5e5) x 1e-6 = 1.5, 2.5, 3.5.
  EXPECT_NEAR(table.rows[2].cells[1].mean, 2.5, 1e-12);
  EXPECT_NEAR(table.rows[2].cells[1].std, 1.0, 1e-12);
  EXPECT_EQ(table.rows[2].cells[2].n, 0);
  const std::string md = render(table, Format::Markdown);
  EXPECT_NE(md.find("| kd | 20.00 ± 14.14 (n=2) | 2.5 ± 1.0 | n/a |"), std::string::npos) << md;
  EXPECT_NE(md.find("over 3 seeds; (n=K): a cell with only K."), std::string::npos) << md;
  EXPECT_NE(render(table, Format::Csv).find("kd,20,14.1421,2,2.5,1,3,,,0\n"), std::string::npos);
}

TEST_F(Table2Fixture, PaperTablesAreDefined) {
  for (const char* name : {"table1", "table2", "table4", "table5", "table6"}) EXPECT_NO_THROW(find_table(specs, name));
}

TEST_F(Table2Fixture, ErrorsNameTheProblem) {
  try {
    find_table(specs, "table9");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown table 'table9'"), std::string::npos) << e.what();
  }
  try {
    build_table(store, find_table(specs, "table1"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no experiment 'table1_main'"), std::string::npos) << e.what();
  }
  const std::string bad = dir / "bad.json";
  tedloc::testing::write_file(bad, R"({"tables": [{"name": "x", "title": "X", "experiment": "e",
    "rows": {"header": "H", "paths": ["$.a"]}, "columns": [{"name": "c", "split": 3, "metric": "m"}]}]})");
  try {
    load_table_specs(bad);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/tables/0/columns/0/split: wrong type"), std::string::npos) << e.what();
  }
}

// The real command: exit codes, --out, --list, and no database created by a report.
struct Cli {
  int code;
  std::string out, err;
};
Cli run_tedloc(const TempDir& dir, const std::string& args) {
  const std::string out = dir / "cli.out", err = dir / "cli.err";
  const int status = std::system((tedloc::testing::tedloc_exe() + " " + args + " >" + out + " 2>" + err).c_str());
  return {WEXITSTATUS(status), tedloc::testing::read_file(out), tedloc::testing::read_file(err)};
}

TEST_F(Table2Fixture, CommandLine) {
  const std::string tables = " --tables " + kTablesFile;
  Cli list = run_tedloc(dir, "report --list" + tables);
  EXPECT_EQ(list.code, 0);
  EXPECT_NE(list.out.find("table5   table5_orthogonalisation"), std::string::npos) << list.out;

  const std::string out = dir / "sub/table2.tex";
  Cli ok = run_tedloc(dir, "report table2 --db " + db + " --format latex --out " + out + tables);
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(tedloc::testing::read_file(out), render(build_table(store, find_table(specs, "table2")), Format::Latex));

  Cli unknown = run_tedloc(dir, "report table9 --db " + db + tables);
  EXPECT_EQ(unknown.code, kExitBadInput);
  EXPECT_NE(unknown.err.find("unknown table 'table9'"), std::string::npos) << unknown.err;

  Cli missing = run_tedloc(dir, "report table4 --db " + db + tables);
  EXPECT_EQ(missing.code, kExitBadInput);
  EXPECT_NE(missing.err.find("no experiment 'table4_dot_maps'"), std::string::npos) << missing.err;

  const std::string nowhere = dir / "nowhere.db";
  Cli no_db = run_tedloc(dir, "report table2 --db " + nowhere + tables);
  EXPECT_EQ(no_db.code, kExitBadInput);
  EXPECT_NE(no_db.err.find("no such database"), std::string::npos) << no_db.err;
  EXPECT_FALSE(std::filesystem::exists(nowhere));

  EXPECT_EQ(run_tedloc(dir, "report table2 --db " + db + " --format docx" + tables).code, kExitUsage);
}

}  // namespace
}  // namespace tedloc::reports
