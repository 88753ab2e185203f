// Tables from the store: specs from JSON, one SQL pass for the runs and one for their final metrics,
// mean +- sample std per cell, then Markdown / LaTeX / CSV text.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tedloc/error.hpp"
#include "tedloc/reports/report.hpp"

#ifndef TEDLOC_REPORTS_SOURCE_DIR
#define TEDLOC_REPORTS_SOURCE_DIR "reports"
#endif

namespace tedloc::reports {
namespace {

using json = nlohmann::json;

// Reads a field of `object` at JSON path `where`, with one clear line when it is missing or mistyped.
template <class T>
T field(const json& object, const std::string& key, const std::string& file, const std::string& where,
        const T* fallback = nullptr) {
  if (!object.contains(key)) {
    if (fallback) return *fallback;
    throw InputError(fmt::format("{}: {}/{}: missing", file, where, key));
  }
  try {
    return object.at(key).get<T>();
  } catch (const json::exception&) {
    throw InputError(fmt::format("{}: {}/{}: wrong type ({})", file, where, key, object.at(key).type_name()));
  }
}

// A metric given as one name or a list of names (summed).
std::vector<std::string> metric_names(const json& value, const std::string& file, const std::string& where) {
  if (value.is_string()) return {value.get<std::string>()};
  if (value.is_array() && !value.empty() && std::all_of(value.begin(), value.end(), [](const json& v) {
        return v.is_string();
      })) {
    return value.get<std::vector<std::string>>();
  }
  throw InputError(fmt::format("{}: {}: expected a metric name or a non-empty list of names", file, where));
}

ColumnSpec parse_column(const json& c, const std::string& file, const std::string& where) {
  if (!c.is_object()) throw InputError(fmt::format("{}: {}: expected an object", file, where));
  ColumnSpec column;
  column.name = field<std::string>(c, "name", file, where);
  column.split = field<std::string>(c, "split", file, where);
  if (!c.contains("metric")) throw InputError(fmt::format("{}: {}/metric: missing", file, where));
  column.metrics = metric_names(c.at("metric"), file, where + "/metric");
  const double one = 1.0;
  const int one_digit = 1;
  column.scale = field<double>(c, "scale", file, where, &one);
  column.digits = field<int>(c, "digits", file, where, &one_digit);
  if (column.digits < 0 || column.digits > 12) {
    throw InputError(fmt::format("{}: {}/digits: expected 0..12, got {}", file, where, column.digits));
  }
  return column;
}

TableSpec parse_table(const json& t, const std::string& file, const std::string& where) {
  if (!t.is_object()) throw InputError(fmt::format("{}: {}: expected an object", file, where));
  const std::string empty;
  TableSpec spec;
  spec.name = field<std::string>(t, "name", file, where);
  spec.title = field<std::string>(t, "title", file, where);
  spec.experiment = field<std::string>(t, "experiment", file, where);
  spec.note = field<std::string>(t, "note", file, where, &empty);
  if (!t.contains("rows") || !t.at("rows").is_object()) {
    throw InputError(fmt::format("{}: {}/rows: missing or not an object", file, where));
  }
  const json& rows = t.at("rows");
  const std::string rows_at = where + "/rows";
  spec.row_header = field<std::string>(rows, "header", file, rows_at);
  spec.row_paths = field<std::vector<std::string>>(rows, "paths", file, rows_at);
  if (spec.row_paths.empty()) throw InputError(fmt::format("{}: {}/paths: empty", file, rows_at));
  for (std::size_t i = 0; i < spec.row_paths.size(); ++i) {
    if (spec.row_paths[i].rfind('$', 0) != 0) {
      throw InputError(fmt::format("{}: {}/paths/{}: a JSON path starts with '$' (e.g. \"$.loss.plugin\"), got \"{}\"",
                                   file, rows_at, i, spec.row_paths[i]));
    }
  }
  if (!t.contains("columns") || !t.at("columns").is_array() || t.at("columns").empty()) {
    throw InputError(fmt::format("{}: {}/columns: missing, empty or not a list", file, where));
  }
  for (std::size_t i = 0; i < t.at("columns").size(); ++i) {
    spec.columns.push_back(parse_column(t.at("columns")[i], file, fmt::format("{}/columns/{}", where, i)));
  }
  const json no_values = json::array();
  const json& values = rows.contains("values") ? rows.at("values") : no_values;
  if (!values.is_array()) throw InputError(fmt::format("{}: {}/values: expected a list", file, rows_at));
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::string at = fmt::format("{}/values/{}", rows_at, i);
    RowSpec row;
    row.key = field<std::string>(values[i], "key", file, at);
    row.name = field<std::string>(values[i], "name", file, at);
    if (values[i].contains("metrics")) {
      const json& m = values[i].at("metrics");
      if (!m.is_object()) throw InputError(fmt::format("{}: {}/metrics: expected an object", file, at));
      for (const auto& [column, names] : m.items()) {
        const bool known = std::any_of(spec.columns.begin(), spec.columns.end(),
                                       [&](const ColumnSpec& c) { return c.name == column; });
        if (!known) throw InputError(fmt::format("{}: {}/metrics/{}: no such column", file, at, column));
        row.metrics[column] = metric_names(names, file, at + "/metrics/" + column);
      }
    }
    spec.rows.push_back(std::move(row));
  }
  return spec;
}

// A run's row key: the values present at the row paths, joined by "/" (booleans as true/false).
std::string row_key(const std::vector<std::pair<std::string, std::string>>& config_values) {
  std::string key;
  for (const auto& [type, extracted] : config_values) {
    std::string value = extracted;
    if (type.empty() || type == "null") continue;  // path absent, or JSON null
    if (type == "true" || type == "false") value = type;
    key += (key.empty() ? "" : "/") + value;
  }
  return key;
}

std::string format_number(double value, int digits) { return fmt::format("{:.{}f}", value, digits); }

// "mean ± std (n=K)": std only with 2+ values, n only when fewer than the table's most.
std::string cell_text(const Summary& s, int digits, int max_n, const std::string& plus_minus) {
  if (s.n == 0) return "n/a";
  std::string text = format_number(s.mean, digits);
  if (s.n >= 2) text += plus_minus + format_number(s.std, digits);
  if (s.n < max_n) text += fmt::format(" (n={})", s.n);
  return text;
}

// The footnote: what a cell is, and which runs were not counted.
std::string footnote(const Table& table) {
  const StatusCounts& c = table.counts;
  const bool partial = std::any_of(table.rows.begin(), table.rows.end(), [&](const TableRow& row) {
    return std::any_of(row.cells.begin(), row.cells.end(), [&](const Summary& s) { return s.n > 0 && s.n < table.max_n; });
  });
  std::string text = fmt::format("Mean ± sample std (n - 1) over {} seeds{}. Experiment '{}': {} of {} runs done and "
                                 "counted; not counted: {} failed, {} diverged, {} pending",
                                 table.max_n, partial ? "; (n=K): a cell with only K" : "", table.spec.experiment,
                                 c.done, c.total(), c.failed, c.diverged, c.pending);
  if (c.running) text += fmt::format(", {} running", c.running);
  if (c.interrupted) text += fmt::format(", {} interrupted", c.interrupted);
  text += ".";
  if (!table.spec.note.empty()) text += " " + table.spec.note;
  return text;
}

std::string markdown_escape(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string latex_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': case '%': case '$': case '#': case '_': case '{': case '}': out += std::string("\\") + c; break;
      case '~': out += "\\textasciitilde{}"; break;
      case '^': out += "\\textasciicircum{}"; break;
      case '\\': out += "\\textbackslash{}"; break;
      case '<': out += "\\textless{}"; break;
      case '>': out += "\\textgreater{}"; break;
      default: out += c;
    }
  }
  return out;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string render_markdown(const Table& table) {
  std::ostringstream out;
  out << "**" << markdown_escape(table.spec.title) << "**\n\n| " << markdown_escape(table.spec.row_header);
  for (const auto& c : table.spec.columns) out << " | " << markdown_escape(c.name);
  out << " |\n| ---";
  for (std::size_t i = 0; i < table.spec.columns.size(); ++i) out << " | ---:";
  out << " |\n";
  for (const auto& row : table.rows) {
    out << "| " << markdown_escape(row.name);
    for (std::size_t i = 0; i < row.cells.size(); ++i) {
      out << " | " << cell_text(row.cells[i], table.spec.columns[i].digits, table.max_n, " ± ");
    }
    out << " |\n";
  }
  out << "\n" << markdown_escape(footnote(table)) << "\n";
  return out.str();
}

std::string render_latex(const Table& table) {
  std::ostringstream out;
  out << "\\begin{table}[t]\n\\centering\n\\caption{" << latex_escape(table.spec.title) << "}\n\\begin{tabular}{l"
      << std::string(table.spec.columns.size(), 'r') << "}\n\\toprule\n" << latex_escape(table.spec.row_header);
  for (const auto& c : table.spec.columns) out << " & " << latex_escape(c.name);
  out << " \\\\\n\\midrule\n";
  for (const auto& row : table.rows) {
    out << latex_escape(row.name);
    for (std::size_t i = 0; i < row.cells.size(); ++i) {
      out << " & " << cell_text(row.cells[i], table.spec.columns[i].digits, table.max_n, " $\\pm$ ");
    }
    out << " \\\\\n";
  }
  std::string note = latex_escape(footnote(table));
  const std::string pm = "±";
  for (auto at = note.find(pm); at != std::string::npos; at = note.find(pm)) note.replace(at, pm.size(), "$\\pm$");
  out << "\\bottomrule\n\\end{tabular}\n\\par\\smallskip{\\footnotesize " << note << "}\n\\end{table}\n";
  return out.str();
}

std::string render_csv(const Table& table) {
  std::ostringstream out;
  out << csv_field(table.spec.row_header);
  for (const auto& c : table.spec.columns) {
    out << "," << csv_field(c.name + " mean") << "," << csv_field(c.name + " std") << "," << csv_field(c.name + " n");
  }
  out << "\n";
  for (const auto& row : table.rows) {
    out << csv_field(row.name);
    for (const Summary& s : row.cells) {
      if (s.n == 0) out << ",,,0";
      else if (s.n == 1) out << fmt::format(",{:.6g},,1", s.mean);
      else out << fmt::format(",{:.6g},{:.6g},{}", s.mean, s.std, s.n);
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace

std::vector<TableSpec> load_table_specs(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open the tables file");
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::parse_error& e) {
    throw InputError(fmt::format("{}: malformed JSON: {}", path, e.what()));
  }
  if (!doc.is_object() || !doc.contains("tables") || !doc.at("tables").is_array()) {
    throw InputError(path + ": /tables: missing or not a list");
  }
  std::vector<TableSpec> specs;
  std::set<std::string> names;
  for (std::size_t i = 0; i < doc.at("tables").size(); ++i) {
    specs.push_back(parse_table(doc.at("tables")[i], path, fmt::format("/tables/{}", i)));
    if (!names.insert(specs.back().name).second) {
      throw InputError(fmt::format("{}: /tables/{}/name: duplicate table '{}'", path, i, specs.back().name));
    }
  }
  return specs;
}

std::string default_tables_path() {
  if (const char* env = std::getenv("TEDLOC_REPORT_TABLES")) return env;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto installed = exe.parent_path().parent_path() / "share/tedloc/reports/tables.json";
    if (std::filesystem::exists(installed, ec)) return installed.string();
  }
  return std::string(TEDLOC_REPORTS_SOURCE_DIR) + "/tables.json";
}

const TableSpec& find_table(const std::vector<TableSpec>& specs, const std::string& name) {
  for (const auto& spec : specs) {
    if (spec.name == name) return spec;
  }
  std::string known;
  for (const auto& spec : specs) known += (known.empty() ? "" : ", ") + spec.name;
  throw InputError(fmt::format("unknown table '{}' (known: {}; see tedloc report --list)", name, known));
}

Summary summarize(const std::vector<double>& values) {
  Summary s;
  s.n = static_cast<int>(values.size());
  if (s.n == 0) return s;
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / s.n;
  if (s.n < 2) return s;
  double squares = 0;
  for (double v : values) squares += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(squares / (s.n - 1));
  return s;
}

Table build_table(const Store& store, const TableSpec& spec) {
  const std::optional<std::int64_t> id = store.find_experiment(spec.experiment);
  if (!id) {
    throw InputError(fmt::format("{}: no experiment '{}' (table {} reads it; run its grid first, see tedloc runs)",
                                 store.path(), spec.experiment, spec.name));
  }
  Table table;
  table.spec = spec;
  table.counts = store.counts(*id);

  // Every run of the experiment with its status and row key, in the spec's cell order.
  std::vector<Store::ExperimentRun> runs;
  try {
    runs = store.experiment_runs(*id, spec.row_paths);
  } catch (const InputError& e) {
    throw InputError(fmt::format("table {}: a row path is not a valid SQLite JSON path: {}", spec.name, e.what()));
  }
  std::map<std::int64_t, std::map<std::string, double>> values;  // run id -> "split/name" -> value
  for (const auto& m : store.final_metrics_of_done_runs(*id)) values[m.run][m.split + "/" + m.name] = m.value;

  std::map<std::string, std::vector<std::int64_t>> done_runs;  // row key -> done run ids
  std::set<std::string> keys;                                   // every key seen, whatever the fate
  for (const auto& run : runs) {
    const std::string key = row_key(run.config_values);
    keys.insert(key);
    if (run.status == "done") done_runs[key].push_back(run.id);
  }
  std::vector<const RowSpec*> order;
  std::vector<RowSpec> unlisted;
  for (const auto& row : spec.rows) {
    if (keys.erase(row.key)) order.push_back(&row);
  }
  for (const auto& key : keys) unlisted.push_back({key, key.empty() ? "(none)" : key, {}});
  for (const auto& row : unlisted) order.push_back(&row);

  for (const RowSpec* row : order) {
    TableRow out{row->name, {}};
    for (const auto& column : spec.columns) {
      const auto override_it = row->metrics.find(column.name);
      const auto& names = override_it != row->metrics.end() ? override_it->second : column.metrics;
      std::vector<double> per_run;
      for (const auto& run : done_runs[row->key]) {
        double sum = 0;
        bool complete = true;
        for (const auto& name : names) {
          const auto it = values[run].find(column.split + "/" + name);
          if (it == values[run].end()) complete = false;
          else sum += it->second;
        }
        if (complete) per_run.push_back(sum * column.scale);
      }
      out.cells.push_back(summarize(per_run));
      table.max_n = std::max(table.max_n, out.cells.back().n);
    }
    table.rows.push_back(std::move(out));
  }
  return table;
}

Format parse_format(const std::string& name) {
  if (name == "md" || name == "markdown") return Format::Markdown;
  if (name == "latex" || name == "tex") return Format::Latex;
  if (name == "csv") return Format::Csv;
  throw UsageError("--format: expected md, latex or csv, got '" + name + "'");
}

std::string render(const Table& table, Format format) {
  switch (format) {
    case Format::Markdown: return render_markdown(table);
    case Format::Latex: return render_latex(table);
    case Format::Csv: return render_csv(table);
  }
  return {};
}

}  // namespace tedloc::reports
