#pragma once
// A small raster library for the report figures, on RGB tedloc::data::Image: rectangles, lines, alpha
// blending, colour scales and a built-in 5x7 pixel font. Everything clips to the image.
#include <cstdint>
#include <string>

#include "tedloc/data/image.hpp"

namespace tedloc::reports {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};
inline bool operator==(const Rgb& a, const Rgb& b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

Rgb pixel(const data::Image& image, int x, int y);
void set_pixel(data::Image& image, int x, int y, Rgb colour);
// colour over the pixel with opacity alpha in [0, 1].
void blend_pixel(data::Image& image, int x, int y, Rgb colour, double alpha);

// Filled rectangle [x0, x1) x [y0, y1).
void fill_rect(data::Image& image, int x0, int y0, int x1, int y1, Rgb colour);
// Outline of the rectangle with corners (x0, y0) and (x1, y1) (both inclusive), `thickness` pixels inward.
void draw_rect(data::Image& image, int x0, int y0, int x1, int y1, Rgb colour, int thickness = 1);
// Line from (x0, y0) to (x1, y1) (Bresenham), a square pen of `thickness`; dash > 0 draws dash on, dash off.
void draw_line(data::Image& image, int x0, int y0, int x1, int y1, Rgb colour, int thickness = 1, int dash = 0);

// Sequential scale for v in [0, 1] (clamped): dark blue -> cyan -> yellow -> red, as a "jet"-like heat map.
Rgb heat_colour(double v);
// Diverging scale for v in [-1, 1] (clamped): blue -> white -> red.
Rgb diverging_colour(double v);

// The built-in font: 5x7 glyphs in 6x8 cells (printable ASCII; other bytes draw as a hollow box), scaled by
// an integer factor. Returns the width drawn; (x, y) is the top-left corner of the first cell.
int draw_text(data::Image& image, int x, int y, const std::string& text, Rgb colour, int scale = 1);
int text_width(const std::string& text, int scale = 1);
inline int text_height(int scale = 1) { return 8 * scale; }

// Copies `source` (RGB) with its top-left corner at (x, y).
void blit(data::Image& target, const data::Image& source, int x, int y);

}  // namespace tedloc::reports
