// Sparse multi-label data: rows of (feature index, value) pairs and label
// ids, stored CSR-style, and readers for the Extreme Classification
// Repository format (header "N D L", then "l1,l2 f:v f:v") and libsvm.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
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

  // Row i's values, writable (e.g. to reweight features in place).
  Span<float> mutable_values(size_t i) {
    const uint64_t a = row_ptr_[i], b = row_ptr_[i + 1];
    return Span<float>(val_.data() + a, b - a);
  }

  // Removes every row, keeping the capacity (a batch reused per step).
  void Clear() {
    row_ptr_.assign(1, 0);
    label_ptr_.assign(1, 0);
    idx_.clear();
    val_.clear();
    labels_.clear();
  }
  // Same dimensions, no rows.
  void Reset(size_t num_features, size_t num_labels) {
    Clear();
    num_features_ = num_features;
    num_labels_ = num_labels;
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

// The rows rows[0], rows[1], ... of `data` (ids < data.size()), as a new
// data set of the same dimensions: e.g. a batch for Trainer::TrainBatch.
SparseDataset SelectRows(const SparseDataset& data, Span<const uint32_t> rows);

// Reads the lines that start in bytes [begin, end) of a file, through a
// buffer of 1 MiB or more: a range that starts inside a line skips to the next
// line start, and the line that starts before `end` is read whole, so
// adjacent ranges split a file's lines between them exactly. Not
// thread-safe. Throws DataError ("file:line: ...") on I/O errors and on a
// line longer than max_line_bytes.
class LineReader {
 public:
  static constexpr uint64_t kToEnd = ~uint64_t{0};
  LineReader(const std::string& path, uint64_t begin, uint64_t end,
             size_t max_line_bytes);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line without its '\n', valid until the next call; false at
  // the end of the range.
  bool ReadLine(std::string_view* line);
  // Rewinds to another range of the same file (which must be seekable,
  // unlike a fresh reader of [0, end), which reads pipes too).
  void Reset(uint64_t begin, uint64_t end);

  // "file:line" of the last line read (1-based); for a range that starts
  // inside the file, where line numbers are unknown, "file: the line at
  // byte B".
  std::string Where() const;
  [[noreturn]] void Fail(const std::string& what) const;
  // Bytes of the last line read from the file's start, and of the next.
  uint64_t line_offset() const { return line_offset_; }
  uint64_t next_offset() const { return next_offset_; }
  // Bytes read from the file so far (over every Reset).
  uint64_t bytes_read() const { return bytes_read_; }
  const std::string& path() const { return path_; }

  static uint64_t FileSize(const std::string& path);

 private:
  static constexpr size_t kChunk = size_t{1} << 20;
  bool Fill();

  std::string path_;
  size_t max_line_;
  std::FILE* file_ = nullptr;
  std::vector<char> buf_;
  size_t head_ = 0, tail_ = 0;  // unread bytes: buf_[head_, tail_)
  bool eof_ = false;
  uint64_t begin_ = 0, end_ = 0;
  uint64_t line_offset_ = 0, next_offset_ = 0;
  uint64_t bytes_read_ = 0;
  uint64_t file_pos_ = 0;  // of the next fread
  size_t line_no_ = 0;
  bool known_lines_ = true;
};

// Parses XC and libsvm lines of one file (or byte range) into rows: the
// one parser behind ReadSparseFile, StreamSparseFile and the streaming
// batch source. Errors name the reader's file and line.
class RowParser {
 public:
  explicit RowParser(const ReadOptions& options);
  // The header "N D L" of an XC file into rows/features/labels; the
  // bounds of later rows become D and L.
  void ParseHeader(const LineReader& reader, std::string_view line,
                   uint64_t* rows, uint64_t* features, uint64_t* labels);
  // A data line; false for a blank line (libsvm only; XC fails on it).
  bool ParseRow(const LineReader& reader, std::string_view line);
  SparseRow row() const {
    return {Span<const uint32_t>(idx_.data(), idx_.size()),
            Span<const float>(val_.data(), val_.size()),
            Span<const uint32_t>(labels_.data(), labels_.size())};
  }
  void set_bounds(uint64_t features, uint64_t labels) {
    feature_bound_ = features;
    label_bound_ = labels;
  }

 private:
  ReadOptions options_;
  uint64_t feature_bound_, label_bound_;
  std::vector<uint32_t> idx_, labels_;
  std::vector<float> val_;
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
