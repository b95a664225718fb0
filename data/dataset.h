// Sparse multi-label data: rows of (feature index, value) pairs and label
// ids, stored CSR-style, and readers for the Extreme Classification
// Repository format (header "N D L", then "l1,l2 f:v f:v") and libsvm.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/types.h"

namespace frugal::nn {

// A malformed input: what() names the file, the line and what was expected.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SparseRow {
  Span<const uint32_t> idx;     // feature ids, < num_features
  Span<const float> val;        // same length as idx
  Span<const uint32_t> labels;  // label ids, < num_labels
};

class SparseDataset {
 public:
  SparseDataset() = default;
  SparseDataset(size_t num_features, size_t num_labels)
      : num_features_(num_features), num_labels_(num_labels) {}

  size_t size() const { return row_ptr_.size() - 1; }
  size_t num_features() const { return num_features_; }
  size_t num_labels() const { return num_labels_; }
  size_t nonzeros() const { return idx_.size(); }

  SparseRow row(size_t i) const {
    const uint64_t a = row_ptr_[i], b = row_ptr_[i + 1];
    const uint64_t la = label_ptr_[i], lb = label_ptr_[i + 1];
    return {Span<const uint32_t>(idx_.data() + a, b - a),
            Span<const float>(val_.data() + a, b - a),
            Span<const uint32_t>(labels_.data() + la, lb - la)};
  }

  // Appends a row; throws std::invalid_argument on an id out of range or
  // mismatched lengths.
  void Add(Span<const uint32_t> idx, Span<const float> val,
           Span<const uint32_t> labels);

 private:
  size_t num_features_ = 0;
  size_t num_labels_ = 0;
  std::vector<uint64_t> row_ptr_{0};
  std::vector<uint32_t> idx_;
  std::vector<float> val_;
  std::vector<uint64_t> label_ptr_{0};
  std::vector<uint32_t> labels_;
};

enum class DataFormat {
  kXc,      // first line "N D L"; 0-based labels and features
  kLibsvm,  // no header; dimensions given or inferred
};

struct ReadOptions {
  DataFormat format = DataFormat::kXc;
  // libsvm only: dimensions (0: infer as max id + 1).
  size_t num_features = 0;
  size_t num_labels = 0;
  // Limits that refuse absurd inputs before any large allocation.
  size_t max_features = size_t{1} << 31;
  size_t max_labels = size_t{1} << 31;
  size_t max_line_bytes = size_t{64} << 20;
};

// Streams the rows of a file to `sink` without holding the file in memory.
// Throws DataError ("file:line: expected ...") on malformed input, and on
// an XC file whose row count disagrees with its header. Returns the rows
// read. For XC, the header's D and L are written to *num_features and
// *num_labels before the first row is delivered.
size_t StreamSparseFile(const std::string& path, const ReadOptions& options,
                        size_t* num_features, size_t* num_labels,
                        const std::function<void(const SparseRow&)>& sink);

// Reads a whole file into memory.
SparseDataset ReadSparseFile(const std::string& path,
                             const ReadOptions& options = {});

// Writes XC format (header and rows); values printed with %g.
void WriteXcFile(const std::string& path, const SparseDataset& data);

}  // namespace frugal::nn
