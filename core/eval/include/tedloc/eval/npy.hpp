#pragma once
// NumPy .npy files: a strict reader (any shape; little/big endian floats, ints, bools) and a float32 writer.
#include <cstddef>
#include <string>
#include <vector>

namespace tedloc::eval {

// An array read from a .npy file, in C order, every value converted to double (exact for f4, f8 and
// integers up to 2^53; the WSOL reference converts every score map to float64 as well).
struct NpyArray {
  std::vector<std::size_t> shape;
  std::vector<double> data;
  std::string dtype;  // the file's descr, e.g. "<f4"
};

// What the header of a .npy file says, checked against the file's size.
struct NpyHeader {
  std::vector<std::size_t> shape;
  std::string dtype;  // descr, e.g. "<f4"
  bool fortran_order = false;
  std::size_t element_size = 0, count = 0;  // bytes per element; elements
  std::size_t data_offset = 0;              // where the data section starts
};
// Parses and checks the header of the .npy file `bytes` (same errors as parse_npy).
NpyHeader parse_npy_header(const std::string& bytes, const std::string& name);

// Reads the whole file into `bytes` (one read; a buffer that already has the file's size is reused as it is).
// Throws InputError naming the file when it cannot be opened or read.
void read_file_bytes(const std::string& path, std::string& bytes);

// Reads `path`. Throws InputError naming the file for a bad magic, version, header, dtype, shape, or a
// data section whose size does not match the header.
NpyArray read_npy(const std::string& path);

// Parses the bytes of a .npy file; `name` is used in error messages (the path, for read_npy).
NpyArray parse_npy(const std::string& bytes, const std::string& name);

// Writes a 2-D float32 (<f4, C order, format 1.0) array: the layout the WSOL reference saves score maps in.
// Creates missing parent folders. Throws InputError if the file cannot be written.
void write_npy_f32(const std::string& path, const float* data, std::size_t rows, std::size_t cols);

}  // namespace tedloc::eval
