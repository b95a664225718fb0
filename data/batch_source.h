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

// A validation split: `held` gets `held_rows` rows of `data` drawn
// uniformly (a function of `seed`), `rest` the other rows, in a shuffled
// order. Precondition: held_rows <= data.size().
void HoldOut(const SparseDataset& data, size_t held_rows, uint64_t seed,
             SparseDataset* rest, SparseDataset* held);

// Front ends stream training files larger than this in all (bytes) instead
// of loading them.
constexpr uint64_t kStreamAboveBytes = uint64_t{1} << 30;

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

// A row as a streaming source holds it, with the bytes of input it came
// from (for progress).
struct RowSlot {
  std::vector<uint32_t> idx, labels;
  std::vector<float> val;
  uint64_t bytes = 0;
};

// One pass over rows in input order, restartable: what ShuffledSource
// shuffles (XC/libsvm files here, CSV through a featurizer in
// data/csv_source.h).
class RowStream {
 public:
  virtual ~RowStream() = default;
  virtual size_t num_features() const = 0;
  virtual size_t num_labels() const = 0;
  // Back to the first row of the pass.
  virtual void Rewind() = 0;
  // The next row into *slot; false at the end of the pass.
  virtual bool Read(RowSlot* slot) = 0;
  // Bytes a pass spans (0 when unknown), for Progress.
  virtual uint64_t pass_bytes() const = 0;
  virtual size_t size_hint() const { return 0; }
};

struct ShuffleOptions {
  // Rows held for shuffling: each delivered row is drawn uniformly from a
  // buffer of this many rows (or of max_bytes of row data, whichever is
  // reached first), refilled from the stream. 0 or 1: input order.
  size_t rows = 65536;
  size_t max_bytes = size_t{256} << 20;
  uint64_t seed = 1;
};

// A BatchSource over a RowStream with a bounded shuffle buffer: memory is
// the buffer plus what the stream holds. Epoch e's order depends on (seed,
// e) only.
class ShuffledSource : public BatchSource {
 public:
  ShuffledSource(std::unique_ptr<RowStream> stream, const ShuffleOptions& options);
  size_t num_features() const override { return stream_->num_features(); }
  size_t num_labels() const override { return stream_->num_labels(); }
  void Start(uint64_t epoch) override;
  bool Next(size_t max_rows, SparseDataset* batch) override;
  double Progress() const override;
  size_t size_hint() const override { return stream_->size_hint(); }

 protected:
  RowStream& stream() const { return *stream_; }

 private:
  std::unique_ptr<RowStream> stream_;
  ShuffleOptions options_;
  std::vector<RowSlot> buffer_;
  size_t buffered_ = 0;
  uint64_t consumed_bytes_ = 0;  // of delivered rows
  std::mt19937_64 rng_;
};

struct StreamOptions {
  ReadOptions read;
  ShuffleOptions shuffle;
  // This rank reads bytes [rank * S / world, (rank + 1) * S / world) of the
  // files' concatenation (S data bytes), aligned to line starts.
  int rank = 0;
  int world = 1;
};

class XcRowStream;

// Rows streamed from XC or libsvm files, never holding a file in memory:
// memory is the shuffle buffer plus a 1 MiB read buffer. Several files
// read as their concatenation (every XC file's header must agree on D and L;
// headers are read, not delivered). A libsvm source needs
// read.num_features and read.num_labels. Malformed lines throw DataError
// naming the file and line (or, in a range that starts inside a file, the
// line's byte offset). Ranks shuffle with seeds mixed with their rank.
class StreamingSource : public ShuffledSource {
 public:
  StreamingSource(std::vector<std::string> paths, const StreamOptions& options);
  // Bytes read from the files so far, headers included.
  uint64_t bytes_read() const;
  // This rank's share of the files, in bytes.
  uint64_t range_bytes() const;

 private:
  const XcRowStream* xc_;
};

// Paths from a comma-separated list whose items may be glob patterns
// (sorted matches). Throws DataError for a pattern that matches nothing.
std::vector<std::string> ExpandPaths(const std::string& spec);

}  // namespace frugal::nn
