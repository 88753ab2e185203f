#pragma once
// Box evaluation of the WSOL protocol (clovaai/wsolevaluation's BoxEvaluator): MaxBoxAcc, MaxBoxAccV2, the
// best cam threshold, Top-1/Top-5 Loc. The rules, in the order they are applied (golden/wsol/README.md):
//  - the map is quantised once, u = uint8(v * 255) (truncated), M = max u;
//  - cam threshold t is on pixels with u > int(t * M);
//  - boxes come from the borders cv2.findContours(RETR_TREE) finds: single-contour mode keeps the border of
//    largest cv2.contourArea (ties: the first in OpenCV's order), multi-contour mode keeps every border (outer
//    borders and hole borders); no border gives [0, 0, 0, 0];
//  - a box is [x, y, x + w, y + h] clipped to W - 1, H - 1; IoU counts pixels inclusively (+1);
//  - an image is correct at (t, d) iff its best IoU over boxes and GT boxes is >= d / 100.
// Instead of calling findContours ~1000 times per map, one sweep over the <= 256 distinct levels of u grows
// 8-connected components (and, for hole borders, 4-connected background regions) with union-find; the
// exact contour area is traced only for components that can still be the largest.
#include <cstdint>
#include <string>
#include <vector>

#include "tedloc/eval/metadata.hpp"
#include "tedloc/eval/npy.hpp"

namespace tedloc::eval {

// The cam thresholds np.arange(0, 1, interval): t_i = i * interval, not rounded.
std::vector<double> cam_thresholds(double interval);

// A score map quantised as the reference does.
struct QuantizedMap {
  int height = 0, width = 0;
  std::vector<std::uint8_t> values;  // row-major, uint8(v * 255) truncated
  std::uint8_t max = 0;              // M
};

// Checks the reference's validity rules (2-D, non-empty, no NaN, every value in [0, 1]) and quantises.
// `name` (the file) is used in the InputError.
QuantizedMap quantize_scoremap(const NpyArray& map, const std::string& name);
QuantizedMap quantize_scoremap(const double* values, int height, int width, const std::string& name);
// Reads the .npy score map `path` and quantises it: a float32 C-order map straight from the file's bytes
// (the same values: widening float32 to double is exact), any other dtype through read_npy.
QuantizedMap read_scoremap(const std::string& path);

// The binarisation level of cam threshold t: pixels with u > int(t * M) are on.
inline int threshold_level(double t, std::uint8_t max) { return static_cast<int>(t * static_cast<double>(max)); }

// calculate_multiple_iou for one pair: inclusive pixel areas, one double division.
double box_iou(const Box& a, const Box& b);

// Per cam threshold: the best IoU over the map's boxes and the GT boxes, and the number of boxes.
struct MapCurve {
  std::vector<double> best_iou;
  std::vector<int> num_boxes;
};

// The sweep over one map. Holds buffers reused across maps: keep one per thread.
class ContourSweep {
 public:
  // The reference's boxes at every threshold. Single mode: exactly the reference's box. Multi mode: the
  // same set of boxes, outer borders first (not OpenCV's order).
  std::vector<std::vector<Box>> boxes(const QuantizedMap& map, const std::vector<double>& thresholds, bool multi_contour);

  // What BoxEvaluator.accumulate derives from the boxes: best IoU against `gt` (already in 224 x 224).
  MapCurve best_iou(const QuantizedMap& map, const std::vector<Box>& gt, const std::vector<double>& thresholds,
                    bool multi_contour);

 private:
  struct LevelSink;
  struct Pixel {  // an inner pixel: padded index and coordinates
    int index;
    std::uint16_t x, y;
  };
  struct alignas(64) Component {  // a union-find set: its parent, and what a root knows of the set
    int parent;
    int size, x0, y0, x1, y1;     // pixels; bounding box in padded coordinates
    int start;                    // top-most, then left-most pixel: where the outer border starts
    int euler4;                   // 4 * Euler number from Gray's bit-quad counts
    int root_pos;                 // index in roots_
    std::int64_t quad_area2;      // 2 * (full 2x2 windows) + (3-pixel windows)
    std::int64_t area2;           // cached twice the contour area, valid unless dirty
    bool dirty, outside;          // outside: a background region joined to the zero frame
  };
  void sweep(const QuantizedMap& map, const std::vector<double>& thresholds, bool multi_contour, LevelSink& sink);
  void prepare(const QuantizedMap& map);
  template <class F>
  static void for_each_pixel_by_strips(int w, int h, int wp, F&& f);
  void reset_sets();
  int find(int p);
  int unite(int a, int b);
  void add_root(Pixel p);
  void attach(Pixel p, int root);
  int join(Pixel p, const int* offsets, unsigned neighbours);
  void sweep_components(const std::vector<bool>& wanted, bool multi_contour, LevelSink& sink, std::vector<bool>& holed);
  void sweep_holes(const std::vector<bool>& wanted, LevelSink& sink);
  std::int64_t outer_border_area2(int start, int level) const;
  unsigned lit_neighbours(int p) const;
  void prefetch_neighbourhood(std::size_t k) const;
  void count_quads(int p, int root, unsigned lit_neighbours);  // root: p's component

  int w_ = 0, h_ = 0, wp_ = 0;             // map size; padded width
  std::uint8_t max_ = 0;
  std::vector<std::uint8_t> u_;            // padded with a zero frame (the frame is never on)
  std::vector<Pixel> order_;               // inner pixels sorted by u, raster order within a value
  std::vector<int> bucket_;                // order_ offsets per value of u, 257 entries
  // Union-find over sets numbered densely in creation order (a pixel's label: the set it joined), so that
  // the sets touched together sit together in memory instead of at their first pixels' scattered indices; a
  // set's parent shares its cache line with what a root knows.
  std::vector<int> label_;                 // per padded pixel, valid once lit
  std::vector<Component> sets_;            // per set; all but `parent` valid at roots only
  std::int64_t euler4_total_ = 0;          // the sum of euler4 over the live components
  std::vector<std::uint8_t> lit_;          // pixel already joined in the current sweep
  std::vector<int> roots_;                 // live components
  std::vector<Box> level_boxes_;
  std::vector<int> candidates_;
};

// Whether class `label` is among the k highest `scores`; ties go to the lower class index, like a stable sort.
bool class_in_top_k(const std::vector<float>& scores, int label, int k);

// Per-image classification result that Top-k Loc needs.
struct ClassHit {
  bool top1 = false;
  bool top5 = false;
};

// What the box evaluator accumulates over a split: counts per (IoU threshold, cam threshold).
struct BoxCurves {
  std::vector<double> cam_thresholds;
  std::vector<int> iou_thresholds;                     // percent, e.g. {30, 50, 70}
  std::vector<std::vector<std::int64_t>> num_correct;  // [iou][cam threshold]
  std::vector<std::int64_t> top1_loc, top5_loc;        // [cam threshold]: IoU >= 0.5 and class in top-1 / top-5
  std::int64_t num_images = 0;
  std::int64_t num_classified = 0, num_top1 = 0, num_top5 = 0;  // images with a ClassHit, and their hits
};

BoxCurves make_box_curves(double interval, const std::vector<int>& iou_thresholds);
// Adds one image; `hit` (may be null) adds it to Top-k Loc and CL accuracy too.
void accumulate(BoxCurves& curves, const MapCurve& map, const ClassHit* hit = nullptr);
// Adds the counts of `part` (same thresholds) to `total`; used to join per-thread results.
void merge(BoxCurves& total, const BoxCurves& part);

// count * 100.0 / n, the reference's accuracy.
double percent(std::int64_t count, std::int64_t n);

struct IouResult {
  int iou = 0;                 // percent
  double max_box_acc = 0;      // max over cam thresholds of the accuracy curve
  std::size_t best_index = 0;  // first argmax
  double best_threshold = 0;   // cam threshold at best_index
};

struct BoxSummary {
  std::vector<IouResult> per_iou;
  double mean = 0;  // the plain mean over IoU thresholds: MaxBoxAccV2 in multi-contour mode
};

BoxSummary summarize(const BoxCurves& curves);

// The cam threshold a split selects: the first argmax of the accuracy at IoU 50 (the protocol's MaxBoxAcc).
std::size_t operating_index(const BoxCurves& curves);

// Every figure at one cam threshold index, e.g. val's operating index applied to test.
struct LocalizationAt {
  std::size_t index = 0;
  double threshold = 0;
  std::vector<double> box_acc;  // per IoU threshold
  double top1_loc = 0, top5_loc = 0;  // 0 unless every image was accumulated with a ClassHit
};
LocalizationAt localization_at(const BoxCurves& curves, std::size_t index);

// Classification accuracy (percent) of the images accumulated with a ClassHit.
double top1_cl_accuracy(const BoxCurves& curves);
double top5_cl_accuracy(const BoxCurves& curves);

}  // namespace tedloc::eval
