#pragma once
// FG/BG pseudo-labels from a CAM (paper Appendix A; DESIGN.md "The method, precisely" 3).
// Cells are indexed row-major on the decoder grid: p = row * grid_w + col.
#include <vector>

#include <torch/types.h>

namespace tedloc::method {

// Otsu's threshold of a map, computed as scikit-image's threshold_otsu(map, nbins=256) does: a 256-bin
// histogram over [min, max] of the map, bin centres as candidate thresholds, the centre that maximises the
// between-class variance w0 w1 (mu0 - mu1)^2 (first one on ties). FG = values > threshold.
// A constant map returns its value (then no cell is FG). Throws InputError on an empty map or NaN/inf.
double otsu_threshold(const torch::Tensor& cam);

// Resizes a CAM (H x W) to the decoder grid: each cell's mean over its pixels (adaptive average pooling)
// when the grid is smaller than the CAM in both directions, bilinear (align_corners = false) otherwise.
// Returns a float32 grid_h x grid_w map.
torch::Tensor cam_to_grid(const torch::Tensor& cam, int64_t grid_h, int64_t grid_w);

struct CandidateOptions {
  int64_t grid_h = 56;
  int64_t grid_w = 56;
  int64_t n_pos = 100;  // n+: FG candidates = the n+ highest cells
  int64_t n_neg = 100;  // n-: BG candidates = the n- lowest cells outside the Otsu FG
};

// One image's candidate cells (int64 cell indices, CPU) and the Otsu threshold of its grid map.
struct Candidates {
  torch::Tensor fg;  // [<= n+], highest first
  torch::Tensor bg;  // [<= n-], lowest first
  double otsu = 0;
};

// Candidates of one image from its CAM (H x W, true class): resize to the grid (cam_to_grid), Otsu on
// the grid map, FG = the n+ highest cells, BG = the n- lowest cells that are neither Otsu FG nor FG
// candidates (when n+ exceeds the Otsu FG they would otherwise overlap). Ties are broken by cell index
// (stable sort), so the result is deterministic. Fewer cells than asked are returned when the grid has
// fewer. Throws InputError if either set comes out empty (e.g. n+ covers the whole grid) or on a bad map.
Candidates candidate_cells(const torch::Tensor& cam, const CandidateOptions& options);

// The cells drawn for a batch at one step: omega+ = fg, omega- = bg, omega = both.
struct CellSample {
  torch::Tensor fg;  // [B, s] int64 cell indices
  torch::Tensor bg;  // [B, s]
};

// Draws, per image, s FG cells and s BG cells (balanced, as the paper does) from its candidates: without
// replacement when a set has at least s candidates, with replacement otherwise (so every image gives
// exactly s of each and the batch stays a tensor). Deterministic given the generator's state.
// Throws InputError if s < 1 or an image has an empty candidate set.
CellSample sample_cells(const std::vector<Candidates>& batch, int64_t s, torch::Generator& generator);

}  // namespace tedloc::method
