#include "targets.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tedloc/clip/safetensors_header.hpp"
#include "tedloc/data/fashion_wsol.hpp"
#include "tedloc/data/image.hpp"
#include "tedloc/error.hpp"
#include "tedloc/eval/box_eval.hpp"
#include "tedloc/eval/metadata.hpp"
#include "tedloc/eval/npy.hpp"
#include "tedloc/spec.hpp"

namespace tedloc::fuzz {
namespace {

namespace fs = std::filesystem;

// A parse that succeeded but broke what its reader promises: as fatal as a crash.
void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz target invariant broken: %s\n", what);
  std::abort();
}

// Runs `parse`; an InputError is a correct answer to bad bytes, anything else escapes.
template <class F>
void accept(F parse) {
  try {
    parse();
  } catch (const InputError&) {
  }
}

std::string as_string(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// This process's scratch folder, for the readers that take a path; removed at exit.
struct Scratch {
  fs::path dir = fs::temp_directory_path() / ("tedloc-fuzz-" + std::to_string(::getpid()));
  Scratch() { fs::create_directories(dir); }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};
const fs::path& scratch() {
  static const Scratch s;
  return s.dir;
}

std::string write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path.string();
}

std::size_t product(const std::vector<std::size_t>& shape) {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  return n;
}

// parse_npy on the bytes, and read_scoremap (its float32 fast path and quantisation) on them as a file.
void feed_npy(const std::uint8_t* data, std::size_t size) {
  const std::string bytes = as_string(data, size);
  accept([&] {
    const eval::NpyArray a = eval::parse_npy(bytes, "fuzz.npy");
    check(a.data.size() == product(a.shape), "npy: data size != product of the shape");
  });
  const std::string path = write_file(scratch() / "map.npy", bytes);
  accept([&] {
    const eval::QuantizedMap q = eval::read_scoremap(path);
    check(q.values.size() == static_cast<std::size_t>(q.height) * static_cast<std::size_t>(q.width),
          "score map: values != height x width");
  });
}

// load_split on a folder of the input's parts, then every image's boxes rescaled as the evaluator does.
void feed_metadata(const std::uint8_t* data, std::size_t size) {
  static const char* const kFiles[] = {"image_ids.txt", "localization.txt", "image_sizes.txt", "class_labels.txt"};
  const fs::path dir = scratch() / "split";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string bytes = as_string(data, size);
  std::size_t start = 0;
  for (const char* name : kFiles) {
    if (start > bytes.size()) break;
    const std::size_t end = std::min(bytes.find(kMetadataSeparator, start), bytes.size());
    write_file(dir / name, bytes.substr(start, end - start));
    start = end + 1;
  }
  accept([&] {
    const eval::SplitMetadata split = eval::load_split(dir.string());
    const std::size_t n = split.image_ids.size();
    check(n > 0, "metadata: a split without images");
    check(split.class_labels.empty() || split.class_labels.size() == n, "metadata: class labels != images");
    check(split.image_sizes.empty() || split.image_sizes.size() == n, "metadata: image sizes != images");
    if (split.kind == eval::LocalizationKind::kMasks) {
      check(split.masks.size() == n, "metadata: masks != images");
      return;
    }
    check(split.boxes.size() == n, "metadata: boxes != images");
    for (std::size_t i = 0; i < n; ++i) eval::resized_boxes(split, i);
  });
}

void feed_safetensors(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(as_string(data, size));
  accept([&] {
    const clip::SafetensorsHeader h = clip::read_safetensors_header(in, size, "fuzz.safetensors");
    for (const auto& e : h.entries) {
      check(e.begin <= e.end && e.end <= size - h.data_start, "safetensors: range");
      // What torch::empty(e.shape) needs: no negative dimension, strides (products of the others) within int64.
      std::int64_t strides = 1;
      for (std::int64_t d : e.shape) {
        check(d >= 0, "safetensors: negative dimension");
        check(!__builtin_mul_overflow(strides, std::max<std::int64_t>(d, 1), &strides), "safetensors: strides overflow");
      }
    }
  });
}

void feed_spec(const std::uint8_t* data, std::size_t size) {
  accept([&] {
    const Spec spec = parse_spec(as_string(data, size), "fuzz.json");
    check(!spec.seeds.empty() && !spec.experiment.empty(), "spec: no seed or no experiment");
  });
}

void feed_image(const std::uint8_t* data, std::size_t size) {
  accept([&] {
    const data::Image im = data::decode_image_bytes(std::vector<std::uint8_t>(data, data + size), "fuzz.img");
    check(im.width > 0 && im.height > 0 && im.channels == 3 &&
              im.pixels.size() == static_cast<std::size_t>(im.width) * static_cast<std::size_t>(im.height) * 3,
          "image: pixels != width x height x 3");
  });
}

// The input as an images file and as a labels file (plain or gzip: the reader takes both).
void feed_idx(const std::uint8_t* data, std::size_t size) {
  const std::string path = write_file(scratch() / "data.idx", as_string(data, size));
  accept([&] {
    const data::IdxImages im = data::read_idx_images(path);
    check(im.count >= 0 && im.rows >= 0 && im.cols >= 0 &&
              im.pixels.size() == static_cast<std::size_t>(im.count) * static_cast<std::size_t>(im.rows) *
                                      static_cast<std::size_t>(im.cols),
          "idx: pixels != count x rows x cols");
  });
  accept([&] { data::read_idx_labels(path); });
}

}  // namespace

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {{"npy", feed_npy},   {"metadata", feed_metadata},
                                          {"safetensors", feed_safetensors}, {"spec", feed_spec},
                                          {"image", feed_image}, {"idx", feed_idx}};
  return all;
}

const Target& target(const std::string& name) {
  for (const Target& t : targets())
    if (name == t.name) return t;
  std::fprintf(stderr, "no fuzz target '%s'\n", name.c_str());
  std::abort();
}

}  // namespace tedloc::fuzz
