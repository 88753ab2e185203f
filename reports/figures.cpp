// The report figures (figures.hpp), drawn with the raster primitives of raster.hpp.
#include "tedloc/reports/figures.hpp"

#include <fmt/format.h>
#include <torch/types.h>

#include <algorithm>
#include <optional>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "tedloc/data/fashion_wsol.hpp"
#include "tedloc/data/transforms.hpp"
#include "tedloc/error.hpp"
#include "tedloc/eval/npy.hpp"
#include "tedloc/method/anchors.hpp"
#include "tedloc/clip/text_encoder.hpp"
#include "tedloc/reports/raster.hpp"

namespace tedloc::reports {
namespace {

namespace fs = std::filesystem;
using data::Image;

constexpr Rgb kWhite{255, 255, 255}, kBlack{0, 0, 0}, kGrey{150, 150, 150}, kLightGrey{225, 225, 225};
constexpr Rgb kGreen{0, 200, 0}, kRed{230, 0, 0};
// Series colours, in order (a colour-blind-safe palette).
constexpr Rgb kPalette[] = {{0, 0, 0}, {0, 114, 178}, {230, 159, 0}, {0, 158, 115}, {204, 121, 167}, {213, 94, 0}};

// A plot area in pixels and the data range it shows.
struct Panel {
  int x0, y0, width, height;
  double xmin, xmax, ymin, ymax, ystep;
  int px(double x) const { return x0 + static_cast<int>(std::lround((x - xmin) / (xmax - xmin) * (width - 1))); }
  int py(double y) const { return y0 + height - 1 - static_cast<int>(std::lround((y - ymin) / (ymax - ymin) * (height - 1))); }
};

// "12", "0.25", "1.5e+03": short tick labels.
std::string tick_label(double v) { return fmt::format("{:.3g}", std::abs(v) < 1e-12 ? 0.0 : v); }

// Frame, grid lines and tick labels: integer epochs on x, the panel's steps on y.
void draw_axes(Image& image, const Panel& p, const std::string& title, const std::string& xlabel) {
  const int ticks_x = std::min<int>(10, static_cast<int>(p.xmax - p.xmin));
  const double step_x = std::max(1.0, std::ceil((p.xmax - p.xmin) / std::max(1, ticks_x)));
  for (double x = p.xmin; x <= p.xmax + 1e-9; x += step_x) {
    draw_line(image, p.px(x), p.y0, p.px(x), p.y0 + p.height - 1, kLightGrey);
    const std::string label = tick_label(x);
    draw_text(image, p.px(x) - text_width(label) / 2, p.y0 + p.height + 3, label, kBlack);
  }
  for (double y = p.ymin; y <= p.ymax + p.ystep * 1e-6; y += p.ystep) {
    draw_line(image, p.x0, p.py(y), p.x0 + p.width - 1, p.py(y), kLightGrey);
    const std::string label = tick_label(y);
    draw_text(image, p.x0 - 4 - text_width(label), p.py(y) - 3, label, kBlack);
  }
  draw_rect(image, p.x0, p.y0, p.x0 + p.width - 1, p.y0 + p.height - 1, kBlack);
  draw_text(image, p.x0 + (p.width - text_width(title)) / 2, p.y0 - 12, title, kBlack);
  draw_text(image, p.x0 + (p.width - text_width(xlabel)) / 2, p.y0 + p.height + 14, xlabel, kBlack);
}

using Series = std::map<int, double>;  // epoch -> value

void draw_series(Image& image, const Panel& p, const Series& series, Rgb colour) {
  const std::pair<const int, double>* previous = nullptr;
  for (const auto& point : series) {
    if (previous) draw_line(image, p.px(previous->first), p.py(previous->second), p.px(point.first), p.py(point.second), colour, 2);
    fill_rect(image, p.px(point.first) - 2, p.py(point.second) - 2, p.px(point.first) + 3, p.py(point.second) + 3, colour);
    previous = &point;
  }
}

void draw_legend(Image& image, const Panel& p, const std::vector<std::pair<std::string, Rgb>>& entries) {
  int width = 0;
  for (const auto& [name, colour] : entries) width = std::max(width, text_width(name) + 16);
  const int x = p.x0 + p.width - width - 6, y = p.y0 + 5;
  fill_rect(image, x - 3, y - 3, x + width + 3, y + 10 * static_cast<int>(entries.size()) + 2, kWhite);
  draw_rect(image, x - 3, y - 3, x + width + 3, y + 10 * static_cast<int>(entries.size()) + 2, kGrey);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const int row = y + 10 * static_cast<int>(i);
    fill_rect(image, x, row + 2, x + 10, row + 5, entries[i].second);
    draw_text(image, x + 14, row, entries[i].first, kBlack);
  }
}

// 1, 2 or 5 times a power of ten, at least `raw`: tick steps that read well.
double nice_step(double raw) {
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * power >= raw * (1 - 1e-9)) return m * power;
  }
  return 10 * power;
}

// Panel over the values of `series` (y from 0 when all values are >= 0), y range widened to whole ticks.
Panel fit_panel(int x0, int y0, int width, int height, const std::vector<const Series*>& series, double fixed_ymax) {
  double xmin = 1e300, xmax = -1e300, ymin = 0, ymax = fixed_ymax;
  for (const Series* s : series) {
    for (const auto& [epoch, value] : *s) {
      xmin = std::min<double>(xmin, epoch);
      xmax = std::max<double>(xmax, epoch);
      ymin = std::min(ymin, value);
      if (fixed_ymax <= 0) ymax = std::max(ymax, value);
    }
  }
  if (xmin > xmax) xmin = 0, xmax = 1;
  if (xmax - xmin < 1) xmax = xmin + 1;
  if (ymax - ymin < 1e-12) ymax = ymin + 1;
  const double step = nice_step((ymax - ymin) / 5);
  return {x0, y0, width, height, xmin, xmax, std::floor(ymin / step) * step, std::ceil(ymax / step - 1e-9) * step, step};
}

std::string safe_name(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_';
  return out;
}

// The cosine-similarity matrix of the rows of `m`.
torch::Tensor cosine_matrix(const torch::Tensor& m) {
  const torch::Tensor unit = m.to(torch::kDouble) / m.to(torch::kDouble).norm(2, 1, true).clamp_min(1e-12);
  return unit.mm(unit.t());
}

// One K x K heat map with its title, index labels and the largest off-diagonal |cos| under it.
void draw_similarity(Image& image, int x0, int y0, int cell, const torch::Tensor& cos, const std::string& title) {
  const int k = static_cast<int>(cos.size(0));
  const auto acc = cos.accessor<double, 2>();
  double off_max = 0;
  for (int i = 0; i < k; ++i) {
    const std::string label = std::to_string(i);
    if (cell >= 8 || i % 5 == 0) {
      draw_text(image, x0 - 3 - text_width(label), y0 + i * cell + (cell - 7) / 2, label, kBlack);
      draw_text(image, x0 + i * cell + (cell - text_width(label)) / 2 + 1, y0 - 10, label, kBlack);
    }
    for (int j = 0; j < k; ++j) {
      fill_rect(image, x0 + j * cell, y0 + i * cell, x0 + (j + 1) * cell, y0 + (i + 1) * cell, diverging_colour(acc[i][j]));
      if (i != j) off_max = std::max(off_max, std::abs(acc[i][j]));
    }
  }
  draw_rect(image, x0 - 1, y0 - 1, x0 + k * cell, y0 + k * cell, kBlack);
  draw_text(image, x0 + (k * cell - text_width(title)) / 2, y0 - 24, title, kBlack);
  const std::string stat = fmt::format("max off-diag |cos| = {:.2f}", off_max);
  draw_text(image, x0 + (k * cell - text_width(stat)) / 2, y0 + k * cell + 6, stat, kBlack);
}

// Bilinear sample of a row-major h x w map at image position (u, v) in [0, 1) (pixel centres, as
// align_corners=False).
double sample_map(const eval::NpyArray& map, std::size_t h, std::size_t w, double u, double v) {
  const double x = std::clamp(u * w - 0.5, 0.0, w - 1.0), y = std::clamp(v * h - 0.5, 0.0, h - 1.0);
  const std::size_t x0 = static_cast<std::size_t>(x), y0 = static_cast<std::size_t>(y);
  const std::size_t x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
  const double fx = x - x0, fy = y - y0;
  const auto at = [&](std::size_t r, std::size_t c) { return map.data[r * w + c]; };
  return (at(y0, x0) * (1 - fx) + at(y0, x1) * fx) * (1 - fy) + (at(y1, x0) * (1 - fx) + at(y1, x1) * fx) * fy;
}

std::array<double, 4> parse_box(const nlohmann::json& box, const std::string& file, const std::string& where) {
  if (!box.is_array() || box.size() != 4 || !std::all_of(box.begin(), box.end(), [](const auto& v) { return v.is_number(); })) {
    throw InputError(fmt::format("{}: {}: expected [x0, y0, x1, y1]", file, where));
  }
  return {box[0].get<double>(), box[1].get<double>(), box[2].get<double>(), box[3].get<double>()};
}

std::string resolve(const std::string& path, const fs::path& base) {
  const fs::path p(path);
  return p.is_absolute() ? p.string() : (base / p).string();
}

}  // namespace

Image training_curves_figure(const Store& store, std::int64_t run, const std::string& title) {
  // Per epoch: the train losses, val MaxBoxAcc and CL; and the selected epoch.
  std::map<std::string, Series> losses, accuracies;
  double best_epoch = -1;
  for (const auto& m : store.run_metrics(run)) {
    if (!std::isfinite(m.value)) continue;  // a diverged epoch: nothing to draw
    if (m.split == "model" && m.name == "best_epoch" && m.epoch == -1) best_epoch = m.value;
    if (m.epoch < 0) continue;
    if (m.split == "train" && m.name.rfind("loss", 0) == 0) losses[m.name][m.epoch] = m.value;
    if (m.split == "val" && (m.name == "maxboxacc_50" || m.name == "cl_top1")) accuracies[m.name][m.epoch] = m.value;
  }
  if (losses.empty() && accuracies.empty()) throw InputError(fmt::format("run {}: no per-epoch metrics", run));
  if (best_epoch < 0 && accuracies.count("maxboxacc_50")) {  // the model-selection rule, when not recorded
    const Series& s = accuracies.at("maxboxacc_50");
    best_epoch = std::max_element(s.begin(), s.end(), [](const auto& a, const auto& b) { return a.second < b.second; })->first;
  }

  Image image(780, 330, 3, 255);
  draw_text(image, 10, 8, title, kBlack);
  const auto panel_of = [](const std::map<std::string, Series>& group, int x0, double ymax) {
    std::vector<const Series*> all;
    for (const auto& [name, series] : group) all.push_back(&series);
    return fit_panel(x0, 50, 320, 230, all, ymax);
  };
  const std::array<std::pair<const std::map<std::string, Series>*, Panel>, 2> panels = {
      {{&losses, panel_of(losses, 60, 0)}, {&accuracies, panel_of(accuracies, 440, 100)}}};
  const std::array<const char*, 2> titles = {"train loss terms", "val MaxBoxAcc@50 and CL top-1 (%)"};
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const auto& [group, panel] = panels[i];
    draw_axes(image, panel, titles[i], "epoch");
    std::vector<std::pair<std::string, Rgb>> legend;
    int colour = 0;
    for (const auto& [name, series] : *group) {
      const Rgb c = kPalette[colour++ % std::size(kPalette)];
      draw_series(image, panel, series, c);
      legend.emplace_back(name, c);
    }
    if (best_epoch >= panel.xmin && best_epoch <= panel.xmax) {
      draw_line(image, panel.px(best_epoch), panel.y0, panel.px(best_epoch), panel.y0 + panel.height - 1, kRed, 1, 4);
      const std::string label = fmt::format("best {}", static_cast<int>(best_epoch));
      draw_text(image, panel.px(best_epoch) + 3, panel.y0 + panel.height - 12, label, kRed);
    }
    if (!legend.empty()) draw_legend(image, panel, legend);
  }
  return image;
}

Image anchor_similarity_figure(const std::vector<std::string>& class_names) {
  const torch::Tensor text = clip::ngram_text_embeddings(class_names, clip::default_prompt_templates());
  const std::array<std::pair<std::string, torch::Tensor>, 3> matrices = {{
      {"before: text embeddings", cosine_matrix(text)},
      {"after QR (Gram-Schmidt)", cosine_matrix(method::qr_anchors(text).anchors)},
      {"after Loewdin", cosine_matrix(method::lowdin_anchors(text).anchors)},
  }};
  const int k = static_cast<int>(class_names.size());
  const int cell = std::max(2, 240 / k), side = cell * k, gap = 60, left = 40, top = 60;
  int key_width = 0;
  for (int i = 0; i < k; ++i) key_width = std::max(key_width, text_width(fmt::format("{:>2} {}", i, class_names[i])));
  const int key_columns = std::max(1, (3 * (side + gap)) / (key_width + 16));
  const int key_rows = (k + key_columns - 1) / key_columns;
  Image image(left + 3 * (side + gap) + 70, top + side + 40 + key_rows * 10 + 10, 3, 255);
  draw_text(image, 10, 8, "Cosine similarity of the class text anchors (built-in text encoder)", kBlack);
  for (int m = 0; m < 3; ++m) draw_similarity(image, left + m * (side + gap), top, cell, matrices[m].second, matrices[m].first);
  // Colour bar over [-1, 1].
  const int bar_x = left + 3 * (side + gap) - gap / 2;
  for (int y = 0; y < side; ++y) fill_rect(image, bar_x, top + y, bar_x + 14, top + y + 1, diverging_colour(1.0 - 2.0 * y / (side - 1)));
  draw_rect(image, bar_x - 1, top - 1, bar_x + 14, top + side, kBlack);
  for (int i = 0; i <= 4; ++i) {
    const double v = 1.0 - 0.5 * i;
    const int y = top + static_cast<int>(std::lround((1.0 - v) / 2.0 * (side - 1)));
    draw_line(image, bar_x + 14, y, bar_x + 17, y, kBlack);
    draw_text(image, bar_x + 20, y - 3, tick_label(v), kBlack);
  }
  // The key from indices to class names.
  const int key_y = top + side + 24;
  for (int i = 0; i < k; ++i) {
    draw_text(image, left + (i / key_rows) * (key_width + 16), key_y + (i % key_rows) * 10,
              fmt::format("{:>2} {}", i, class_names[i]), kBlack);
  }
  return image;
}

Image overlay_tile(const std::string& artifact_json, int cell) {
  std::ifstream in(artifact_json, std::ios::binary);
  if (!in) throw InputError(artifact_json + ": cannot open the overlay artifact");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(fmt::format("{}: malformed JSON: {}", artifact_json, e.what()));
  }
  const fs::path base = fs::path(artifact_json).parent_path();
  for (const char* key : {"image", "map"}) {
    if (!doc.contains(key) || !doc[key].is_string()) throw InputError(fmt::format("{}: /{}: missing or not a path", artifact_json, key));
  }
  const Image source = data::decode_image(resolve(doc["image"].get<std::string>(), base));
  const std::string map_path = resolve(doc["map"].get<std::string>(), base);
  eval::NpyArray map = eval::read_npy(map_path);
  std::vector<std::size_t> dims;
  for (std::size_t d : map.shape) if (d != 1) dims.push_back(d);
  if (dims.size() > 2 || map.data.empty()) throw InputError(map_path + ": expected a 2-D map");
  while (dims.size() < 2) dims.insert(dims.begin(), 1);

  const int label_height = 12;
  Image tile(cell, cell + label_height, 3, 255);
  blit(tile, data::resize_bilinear(source, cell, cell), 0, 0);
  for (int y = 0; y < cell; ++y) {
    for (int x = 0; x < cell; ++x) {
      const double v = std::clamp(sample_map(map, dims[0], dims[1], (x + 0.5) / cell, (y + 0.5) / cell), 0.0, 1.0);
      blend_pixel(tile, x, y, heat_colour(v), 0.45);
    }
  }
  const double sx = static_cast<double>(cell) / source.width, sy = static_cast<double>(cell) / source.height;
  const auto draw_box = [&](const std::array<double, 4>& b, Rgb colour) {
    draw_rect(tile, static_cast<int>(std::lround(b[0] * sx)), static_cast<int>(std::lround(b[1] * sy)),
              std::min(cell - 1, static_cast<int>(std::lround(b[2] * sx))),
              std::min(cell - 1, static_cast<int>(std::lround(b[3] * sy))), colour, 2);
  };
  if (doc.contains("pred_box")) draw_box(parse_box(doc["pred_box"], artifact_json, "/pred_box"), kRed);
  if (doc.contains("gt_boxes")) {  // drawn last: a GT outline stays green where the boxes touch
    if (!doc["gt_boxes"].is_array()) throw InputError(artifact_json + ": /gt_boxes: expected a list of boxes");
    for (std::size_t i = 0; i < doc["gt_boxes"].size(); ++i) {
      draw_box(parse_box(doc["gt_boxes"][i], artifact_json, fmt::format("/gt_boxes/{}", i)), kGreen);
    }
  }
  std::string label = doc.value("label", std::string());
  label.resize(std::min<std::size_t>(label.size(), static_cast<std::size_t>(cell / 6)));
  draw_text(tile, (cell - text_width(label)) / 2, cell + 3, label, kBlack);
  return tile;
}

Image tile_grid(const std::vector<Image>& tiles, int columns, const std::string& title) {
  if (tiles.empty()) throw std::invalid_argument("tile_grid: no tiles");
  columns = std::max(1, std::min<int>(columns, static_cast<int>(tiles.size())));
  const int rows = (static_cast<int>(tiles.size()) + columns - 1) / columns;
  const int w = tiles[0].width, h = tiles[0].height, gap = 6, top = 22;
  Image grid(std::max(gap + columns * (w + gap), text_width(title) + 20), top + rows * (h + gap), 3, 255);
  draw_text(grid, gap, 7, title, kBlack);
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    blit(grid, tiles[i], gap + static_cast<int>(i % columns) * (w + gap), top + static_cast<int>(i / columns) * (h + gap));
  }
  return grid;
}

std::vector<std::string> write_figures(const Store& store, const FigureOptions& options) {
  fs::create_directories(options.out_dir);
  std::vector<std::string> written;
  const auto save = [&](const Image& image, const std::string& name) {
    written.push_back((fs::path(options.out_dir) / name).string());
    data::write_png(written.back(), image);
  };
  std::vector<std::string> class_names = options.class_names;
  if (class_names.empty()) class_names.assign(data::kFashionClassNames.begin(), data::kFashionClassNames.end());
  save(anchor_similarity_figure(class_names), "anchors_cosine.png");

  std::vector<std::string> experiments = options.experiments;
  if (experiments.empty()) experiments = store.experiment_names();
  for (const auto& experiment : experiments) {
    const std::optional<std::int64_t> id = store.find_experiment(experiment);
    if (!id) throw InputError(fmt::format("{}: no experiment '{}'", store.path(), experiment));
    for (const auto& run : store.experiment_runs(*id)) {
      const auto metrics = store.run_metrics(run.id);
      if (std::none_of(metrics.begin(), metrics.end(), [](const Store::RunMetric& m) { return m.epoch >= 0; })) continue;
      const std::string title = fmt::format("{} run {}: {} [{}]", experiment, run.id, run.label, run.status);
      save(training_curves_figure(store, run.id, title), fmt::format("curves_{}_run{}.png", safe_name(experiment), run.id));
    }
    std::map<std::int64_t, std::pair<std::string, std::vector<Image>>> overlays;  // run -> label, tiles
    for (const auto& a : store.experiment_artifacts(*id, "overlay")) {
      auto& [label, tiles] = overlays[a.run];
      label = a.label;
      if (static_cast<int>(tiles.size()) >= options.max_overlays) continue;
      const bool relative_to_work_dir = !fs::path(a.path).is_absolute() && !fs::exists(a.path) && !a.work_dir.empty();
      tiles.push_back(overlay_tile(relative_to_work_dir ? resolve(a.path, a.work_dir) : a.path));
    }
    for (const auto& [run, entry] : overlays) {
      save(tile_grid(entry.second, options.overlay_columns,
                     fmt::format("{} run {}: {}  (GT green, predicted red)", experiment, run, entry.first)),
           fmt::format("overlays_{}_run{}.png", safe_name(experiment), run));
    }
  }
  return written;
}

}  // namespace tedloc::reports
