#pragma once
// The paper's tables regenerated from the store (reports/tables.json says which experiment, rows and
// columns each one has; reports/README.md how to add one). The `tedloc report` command is in core/cli.
// A cell is the mean +- sample standard deviation over the seeds of one row's `done` runs.
#include <map>
#include <string>
#include <vector>

#include "tedloc/store.hpp"

namespace tedloc::reports {

// One column: the paper's name and the metric (split, name, epoch -1) it shows. Several metric names
// are summed per run (e.g. encoder + trainable parameters); the value is multiplied by `scale`.
struct ColumnSpec {
  std::string name;
  std::string split;
  std::vector<std::string> metrics;
  double scale = 1.0;
  int digits = 1;  // decimals shown
};

// A known row: runs whose key (see TableSpec::row_paths) equals `key` are shown as `name`.
// `metrics` replaces a column's metric names for this row only (column name -> metric names).
struct RowSpec {
  std::string key;
  std::string name;
  std::map<std::string, std::vector<std::string>> metrics;
};

struct TableSpec {
  std::string name;        // e.g. "table2"
  std::string title;
  std::string experiment;  // the experiment whose runs it reads
  std::string note;        // printed under the table (may be empty)
  std::string row_header;  // the first column's name
  // A run's row key: the values of these JSON paths in its resolved config, the present ones joined by "/".
  std::vector<std::string> row_paths;
  std::vector<RowSpec> rows;  // display order; keys seen in the store but not listed follow, sorted
  std::vector<ColumnSpec> columns;
};

// Parses a tables file ({"tables": [...]}, see reports/README.md). Throws InputError naming the file
// and the JSON path of a missing or mistyped field.
std::vector<TableSpec> load_table_specs(const std::string& path);

// $TEDLOC_REPORT_TABLES if set, else the installed share/tedloc/reports/tables.json next to the
// executable's prefix if it exists, else the source tree's reports/tables.json.
std::string default_tables_path();

// The spec named `name`; InputError listing the known names otherwise.
const TableSpec& find_table(const std::vector<TableSpec>& specs, const std::string& name);

// n values -> mean and sample standard deviation (n - 1 in the denominator; 0 when n < 2).
struct Summary {
  int n = 0;
  double mean = 0;
  double std = 0;
};
Summary summarize(const std::vector<double>& values);

struct TableRow {
  std::string name;
  std::vector<Summary> cells;  // one per column; n == 0: no value
};

struct Table {
  TableSpec spec;
  std::vector<TableRow> rows;
  StatusCounts counts;  // every run of the experiment, whatever its fate
  int max_n = 0;        // the largest n of any cell: cells with fewer seeds show their n
};

// Reads the experiment's done runs and their final metrics (epoch -1). Throws InputError when the
// store holds no experiment of that name.
Table build_table(const Store& store, const TableSpec& spec);

enum class Format { Markdown, Latex, Csv };
Format parse_format(const std::string& name);  // "md" / "markdown", "latex" / "tex", "csv"

// Markdown pipe table with a footnote (seeds, runs not counted); LaTeX booktabs tabular in a table
// environment with the same footnote; CSV with `COLUMN mean`, `COLUMN std`, `COLUMN n` columns and no footnote.
std::string render(const Table& table, Format format);

}  // namespace tedloc::reports
