// Batch sources: what train/Fit draws its mini-batches from. A batch owns its
// rows (a small SparseDataset), so training never reads the data set again
// after drawing a batch, and a source need not hold the data set at all.
//
// Every source is deterministic: epoch e's order depends only on (seed, e,
// rank), so a run split over several calls, or resumed from a checkpoint,
// draws the same batches as one uninterrupted run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace frugal::nn {

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual size_t num_features() const = 0;
  virtual size_t num_labels() const = 0;
  // Begins pass `epoch` (0-based); the order is a function of the source's
  // seed and `epoch`.
  virtual void Start(uint64_t epoch) = 0;
  // Replaces *batch's rows (and dimensions) by the next at most `max_rows`
  // rows of this pass; false, with *batch empty, when the pass is over.
  virtual bool Next(size_t max_rows, SparseDataset* batch) = 0;
  // Fraction of this pass delivered, in [0, 1] (rows, or bytes for a
  // streaming source).
  virtual double Progress() const = 0;
  // Rows in a pass when known without reading the data (0 otherwise).
  virtual size_t size_hint() const { return 0; }
};

// 64-bit mix of a seed and up to two words (SplitMix64 finaliser): seeds of
// per-epoch and per-rank random streams.
uint64_t MixSeed(uint64_t seed, uint64_t a, uint64_t b = 0);

// Rows of a SparseDataset in memory (not owned; it must outlive the
// source). With world > 1 this source delivers the rows rank, rank + world,
// ... of `data` (every rank the same count: the last data.size() % world
// rows are left out). Shuffled per epoch when `shuffle`.
class InMemorySource : public BatchSource {
 public:
  InMemorySource(const SparseDataset& data, uint64_t seed, bool shuffle = true,
                 int rank = 0, int world = 1);
  size_t num_features() const override { return data_.num_features(); }
  size_t num_labels() const override { return data_.num_labels(); }
  void Start(uint64_t epoch) override;
  bool Next(size_t max_rows, SparseDataset* batch) override;
  double Progress() const override;
  size_t size_hint() const override { return rows_.size(); }

 private:
  const SparseDataset& data_;
  uint64_t seed_;
  bool shuffle_;
  std::vector<uint32_t> rows_;   // this rank's rows
  std::vector<uint32_t> order_;  // this pass's order of rows_
  size_t pos_ = 0;
};

struct StreamOptions {
  ReadOptions read;
  // Rows held for shuffling: each delivered row is drawn uniformly from a
  // buffer of this many rows (or of max_shuffle_bytes of row data, whichever
  // is reached first), refilled from the stream. 0 or 1: file order.
  size_t shuffle_rows = 65536;
  size_t max_shuffle_bytes = size_t{256} << 20;
  uint64_t seed = 1;
  // This rank reads bytes [rank * S / world, (rank + 1) * S / world) of the
  // files' concatenation (S bytes), aligned to line starts.
  int rank = 0;
  int world = 1;
};

// Rows streamed from XC or libsvm files, never holding a file in memory:
// memory is the shuffle buffer plus a 1 MiB read buffer. Several files
// read as their concatenation (every XC file's header must agree on D and L;
// headers are read, not delivered). A libsvm source needs
// read.num_features and read.num_labels. Malformed lines throw DataError
// naming the file and line (or, in a range that starts inside a file, the
// line's byte offset).
class StreamingSource : public BatchSource {
 public:
  StreamingSource(std::vector<std::string> paths, const StreamOptions& options);
  ~StreamingSource() override;
  size_t num_features() const override { return num_features_; }
  size_t num_labels() const override { return num_labels_; }
  void Start(uint64_t epoch) override;
  bool Next(size_t max_rows, SparseDataset* batch) override;
  double Progress() const override;
  // Rows in the files' XC headers divided by world (an estimate for a
  // shard); 0 for libsvm.
  size_t size_hint() const override { return rows_hint_; }
  // Bytes read from the files so far, headers included.
  uint64_t bytes_read() const;
  // This rank's share of the files, in bytes.
  uint64_t range_bytes() const { return range_bytes_; }

 private:
  struct Piece {  // this rank's byte range of one file
    size_t file;
    uint64_t begin, end;
  };
  struct Slot {  // a buffered row
    std::vector<uint32_t> idx, labels;
    std::vector<float> val;
    uint64_t bytes = 0;  // its line's length in the file
  };
  // Reads the next row of this pass into `slot`; false at the end.
  bool ReadRow(Slot& slot);

  std::vector<std::string> paths_;
  StreamOptions options_;
  size_t num_features_ = 0, num_labels_ = 0, rows_hint_ = 0;
  std::vector<uint64_t> header_end_;  // per file: the first data byte
  std::vector<Piece> pieces_;
  uint64_t range_bytes_ = 0;
  uint64_t closed_bytes_ = 0;  // bytes read by readers already closed
  // The pass in progress.
  size_t piece_ = 0;
  std::unique_ptr<LineReader> reader_;
  RowParser parser_;
  std::vector<Slot> buffer_;
  size_t buffered_ = 0;
  uint64_t buffered_bytes_ = 0;
  uint64_t consumed_bytes_ = 0;  // of delivered rows (and skipped lines)
  std::mt19937_64 rng_;
};

// Paths from a comma-separated list whose items may be glob patterns
// (sorted matches). Throws DataError for a pattern that matches nothing.
std::vector<std::string> ExpandPaths(const std::string& spec);

}  // namespace frugal::nn
