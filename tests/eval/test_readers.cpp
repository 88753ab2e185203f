// The .npy and metadata readers: real files, round trips, clear errors, and mutation fuzzing (any input either
// parses or throws InputError; run under the asan preset too).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

#include "golden.hpp"
#include "tedloc/error.hpp"
#include "tedloc/eval/metadata.hpp"
#include "tedloc/eval/npy.hpp"

namespace tedloc::eval {
namespace {

namespace fs = std::filesystem;
using testing::golden_dir;
using testing::shared_dir;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A fresh temporary folder, removed at the end of the test.
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("tedloc_eval_" + std::to_string(::getpid()) + "_" +
                                               std::to_string(std::random_device{}()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void write(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

// Random byte flips, insertions, deletions and truncations of `s`.
std::string mutate(std::string s, std::mt19937& rng) {
  const int edits = 1 + static_cast<int>(rng() % 4);
  const char alphabet[] = "0123456789,-\n\r ()':{}TFx<>|fiu";
  for (int e = 0; e < edits && !s.empty(); ++e) {
    const std::size_t pos = rng() % s.size();
    switch (rng() % 5) {
      case 0: s[pos] = static_cast<char>(rng()); break;
      case 1: s[pos] = alphabet[rng() % (sizeof alphabet - 1)]; break;
      case 2: s.insert(pos, 1, alphabet[rng() % (sizeof alphabet - 1)]); break;
      case 3: s.erase(pos, 1 + rng() % 8); break;
      default: s.resize(pos); break;
    }
  }
  return s;
}

TEST(Npy, EveryGoldenMapReads) {
  TEDLOC_NEED_SHARED("golden/wsol");
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(golden_dir()))
    if (e.path().extension() == ".npy") {
      const NpyArray a = read_npy(e.path().string());
      ASSERT_EQ(a.shape.size(), 2u) << e.path();
      EXPECT_EQ(a.data.size(), a.shape[0] * a.shape[1]);
      ++n;
    }
  EXPECT_GE(n, 70 + 23 + 20);
}

TEST(Npy, WriterRoundTripsAndMatchesNumpyLayout) {
  TempDir dir;
  const std::vector<float> v = {0.f, 0.25f, 1.f, 0.29f, 1e-7f, 0.5f};
  write_npy_f32(dir.file("sub/a.npy"), v.data(), 2, 3);
  const NpyArray a = read_npy(dir.file("sub/a.npy"));
  EXPECT_EQ(a.shape, (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(a.dtype, "<f4");
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_EQ(a.data[i], static_cast<double>(v[i]));
  EXPECT_EQ(slurp(dir.file("sub/a.npy")).size() % 64, (6 * 4) % 64);  // header padded to 64 bytes
}

TEST(Npy, OtherDtypesFortranOrderAndVersion2) {
  TempDir dir;
  const auto make = [](int major, const std::string& dict, const std::string& data) {
    std::string h = dict;
    std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
    if (major == 1) out += std::string{static_cast<char>(h.size()), 0};
    else out += std::string{static_cast<char>(h.size()), 0, 0, 0};
    return out + h + data;
  };
  const std::string u8 = make(1, "{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3), }\n", "\x01\x02\x03\x04\x05\x06");
  const NpyArray a = parse_npy(u8, "u8");
  EXPECT_EQ(a.data, (std::vector<double>{1, 3, 5, 2, 4, 6}));
  const std::string i4 = make(2, "{\"descr\": \">i4\", \"fortran_order\": False, \"shape\": (1,)}\n", std::string("\xff\xff\xff\xfe", 4));
  EXPECT_EQ(parse_npy(i4, "i4").data, (std::vector<double>{-2}));
}

TEST(Npy, MalformedHeadersNameTheFile) {
  TEDLOC_NEED_SHARED("golden/wsol");
  const std::string good = slurp(golden_dir() + "/cases/ring.npy");
  for (const std::string& bad : {std::string(), std::string("\x93NUMPZ"), good.substr(0, 9), good.substr(0, 40),
                                 good.substr(0, good.size() - 1), good + "x"}) {
    try {
      parse_npy(bad, "ring.npy");
      ADD_FAILURE() << "accepted a malformed file of " << bad.size() << " bytes";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("ring.npy: ", 0), 0u) << e.what();
    }
  }
  std::string huge = good;
  const std::size_t at = huge.find("(11, 11)");
  huge.replace(at, 8, "(99999999999, 99999999999)");
  EXPECT_THROW(parse_npy(huge, "huge"), InputError);
}

TEST(Npy, FuzzedFilesParseOrThrowInputError) {
  TEDLOC_NEED_SHARED("golden/wsol");
  std::mt19937 rng(1);
  const std::vector<std::string> seeds = {slurp(golden_dir() + "/cases/ring.npy"),
                                          slurp(golden_dir() + "/cases/levels_k255_f64.npy")};
  int accepted = 0;
  for (int k = 0; k < 20000; ++k) {
    const std::string bytes = mutate(seeds[k % 2], rng);
    try {
      const NpyArray a = parse_npy(bytes, "fuzz");
      std::size_t n = 1;
      for (auto d : a.shape) n *= d;
      ASSERT_EQ(a.data.size(), n);
      ++accepted;
    } catch (const InputError&) {
    }
  }
  EXPECT_GT(accepted, 0);
}

TEST(Metadata, EveryRealSplitLoads) {
  TEDLOC_NEED_SHARED("data/wsol_metadata");
  const std::string root = shared_dir() + "/data/wsol_metadata";
  struct Want { const char* split; std::size_t images; std::size_t boxes; };
  for (const Want& w : {Want{"CUB/train", 5994, 5994}, Want{"CUB/val", 1000, 1000}, Want{"CUB/test", 5794, 5794},
                        Want{"ILSVRC/val", 10000, 18532}}) {
    const SplitMetadata s = load_split(root + "/" + w.split);
    EXPECT_EQ(s.image_ids.size(), w.images) << w.split;
    EXPECT_EQ(s.class_labels.size(), w.images);
    EXPECT_EQ(s.image_sizes.size(), w.images);
    std::size_t boxes = 0;
    for (std::size_t i = 0; i < s.boxes.size(); ++i) {
      boxes += s.boxes[i].size();
      for (const Box& b : resized_boxes(s, i)) EXPECT_TRUE(b.x0 <= b.x1 && b.x1 <= 224 && b.y1 <= 224) << s.image_ids[i];
    }
    EXPECT_EQ(boxes, w.boxes) << w.split;
  }
}

TEST(Metadata, LineOrderDoesNotMatterAndBoxesKeepFileOrder) {
  TempDir dir;
  write(dir.file("image_ids.txt"), "a b.jpg\nc.jpg\n");
  write(dir.file("class_labels.txt"), "c.jpg,3\na b.jpg,1\n");
  write(dir.file("image_sizes.txt"), "c.jpg,448,224\na b.jpg,10,20");  // no final newline
  write(dir.file("localization.txt"), "c.jpg,0,0,448,224\na b.jpg,1,2,3,4\nc.jpg,5,6,7,8\n");
  const SplitMetadata s = load_split(dir.path.string());
  EXPECT_EQ(s.image_ids, (std::vector<std::string>{"a b.jpg", "c.jpg"}));
  EXPECT_EQ(s.class_labels, (std::vector<int>{1, 3}));
  ASSERT_EQ(s.boxes[1].size(), 2u);
  EXPECT_EQ(s.boxes[1][1], (Box{5, 6, 7, 8}));
  EXPECT_EQ(resized_boxes(s, 1)[0], (Box{0, 0, 224, 224}));
}

TEST(Metadata, ErrorsNameFileAndLine) {
  TempDir dir;
  write(dir.file("image_ids.txt"), "a.jpg\nb.jpg\n");
  write(dir.file("class_labels.txt"), "a.jpg,0\nb.jpg,1\n");
  write(dir.file("image_sizes.txt"), "a.jpg,10,10\nb.jpg,10,10\n");
  const auto error_of = [&](const std::string& localization) {
    write(dir.file("localization.txt"), localization);
    try {
      load_split(dir.path.string());
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string loc = dir.file("localization.txt");
  EXPECT_EQ(error_of("a.jpg,1,2,3,4\nb.jpg,1,2,x,4\n"), loc + ":2: bad x1 'x'");
  EXPECT_EQ(error_of("a.jpg,1,2,3,4\nb.jpg,5,2,3,4\n"), loc + ":2: box with x0 > x1 or y0 > y1");
  EXPECT_EQ(error_of("a.jpg,1,2,3,4\nz.jpg,1,2,3,4\n"), loc + ":2: image id 'z.jpg' is not in image_ids.txt");
  EXPECT_EQ(error_of("a.jpg,1,2,3,4\n"), loc + ": no line for image id 'b.jpg'");
  EXPECT_EQ(error_of("a.jpg,1,2,3,4\n\nb.jpg,1,2,3,4\n"), loc + ":2: empty line");
  EXPECT_EQ(error_of("a.jpg,1,2,3,4\nb.jpg,1,2,3\n"),
            loc + ":2: expected 5 comma-separated fields (id,x0,y0,x1,y1), got 4");
}

TEST(Metadata, FuzzedFilesLoadOrThrowInputError) {
  TEDLOC_NEED_SHARED("golden/wsol");
  TempDir dir;
  const std::string src = golden_dir() + "/metadata/CUB/val/";
  std::mt19937 rng(2);
  const char* names[] = {"image_ids.txt", "class_labels.txt", "image_sizes.txt", "localization.txt"};
  int accepted = 0;
  for (int k = 0; k < 500; ++k) {
    for (const char* n : names) write(dir.file(n), slurp(src + n));
    const char* victim = names[rng() % 4];
    write(dir.file(victim), mutate(slurp(src + victim), rng));
    try {
      const SplitMetadata s = load_split(dir.path.string());
      for (std::size_t i = 0; i < s.image_ids.size(); ++i) resized_boxes(s, i);
      ++accepted;
    } catch (const InputError&) {
    }
  }
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace tedloc::eval
