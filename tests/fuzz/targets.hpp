#pragma once
// The fuzz targets: one function per reader of untrusted bytes (.npy, WSOL metadata, safetensors, spec JSON,
// PNG/JPEG, IDX). libFuzzer feeds them in the fuzz build (fuzz_main.cpp); in the normal build
// test_corpus.cpp feeds them every file of tests/fuzz/corpus/<name>/. A target returns normally for a clean
// parse or an InputError; any other exception, a crash, a sanitizer report or a parse that breaks its own
// invariants (the target aborts) is a defect.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tedloc::fuzz {

struct Target {
  const char* name;  // the corpus folder and the fuzzer's name (fuzz_<name>)
  void (*feed)(const std::uint8_t* data, std::size_t size);
};

const std::vector<Target>& targets();
const Target& target(const std::string& name);  // aborts for an unknown name

// The metadata target's input is the split's files joined by this byte, in the order image_ids.txt,
// localization.txt, image_sizes.txt, class_labels.txt (a missing last part: no class_labels.txt).
constexpr char kMetadataSeparator = '\0';

}  // namespace tedloc::fuzz
