// Model files: a versioned binary format with a CRC-32 over the whole file,
// written atomically (temporary file, fsync, rename, fsync of the directory),
// so a crash never leaves a half-written file under the final name.
//
// Layout (little-endian): "FRUGALMD", u32 version (2), u32 flags, a header
// (input dim, seed, Adam step, layer and metadata counts), one fixed-size
// record per layer, the metadata as length-prefixed key/value strings, each
// layer's weight and bias rows (then their Adam moments when
// kWithOptimizerState), the label memory when kWithLabelMemory (u64 labels,
// u64 entries, u32 top_k, f32 blend, u64 offsets per input feature + 1, u32
// labels, f32 weights), then u32 CRC-32 of all preceding bytes.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "nn/model.h"

namespace frugal::nn {

// A model file that is missing, truncated, corrupted or of another version:
// what() names the file and the problem.
class ModelFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum SaveFlags : uint32_t {
  kWeightsOnly = 0,
  kWithOptimizerState = 1,  // Adam moments, for resuming training
  kWithLabelMemory = 2,     // set by SaveModel when the model has one
};

// Writes "<path>.tmp.<host>.<pid>", then renames it over `path`; first
// removes such files of this host whose process is gone (killed saves).
// Throws ModelFileError naming the file on any failure, leaving `path` as it
// was.
void SaveModel(const Model& model, const std::string& path,
               uint32_t flags = kWeightsOnly);

// Writes `contents` to `path` as SaveModel writes a model: a temporary file,
// fsync, rename, fsync of the directory. Throws ModelFileError naming the
// file, leaving `path` as it was.
void WriteFileAtomically(const std::string& path, const std::string& contents);

// Verifies size and checksum before returning; the LSH index (if any) is
// rebuilt from the loaded weights.
std::unique_ptr<Model> LoadModel(const std::string& path);

// The same from `size` bytes at `data`; `name` labels errors.
std::unique_ptr<Model> LoadModelFromMemory(const void* data, size_t size,
                                           const std::string& name);

}  // namespace frugal::nn
