#include "data/batch_source.h"

#include <glob.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <utility>

namespace frugal::nn {

uint64_t MixSeed(uint64_t seed, uint64_t a, uint64_t b) {
  uint64_t z = seed;
  for (const uint64_t w : {a, b}) {
    z += 0x9e3779b97f4a7c15ull + w;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
  }
  return z;
}

void HoldOut(const SparseDataset& data, size_t held_rows, uint64_t seed,
             SparseDataset* rest, SparseDataset* held) {
  const size_t n = data.size();
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::mt19937_64 rng(MixSeed(seed, 0xa11d));
  std::shuffle(order.begin(), order.end(), rng);
  *held = SelectRows(data, Span<const uint32_t>(order.data(), held_rows));
  *rest = SelectRows(data, Span<const uint32_t>(order.data() + held_rows, n - held_rows));
}

// --- InMemorySource --------------------------------------------------------

InMemorySource::InMemorySource(const SparseDataset& data, uint64_t seed,
                               bool shuffle, int rank, int world)
    : data_(data), seed_(seed), shuffle_(shuffle) {
  if (world < 1 || rank < 0 || rank >= world) {
    throw std::invalid_argument("InMemorySource: rank " + std::to_string(rank) +
                                " of " + std::to_string(world));
  }
  const size_t per = data.size() / size_t(world);
  rows_.resize(world == 1 ? data.size() : per);
  for (size_t i = 0; i < rows_.size(); ++i) {
    rows_[i] = uint32_t(i * size_t(world) + size_t(rank));
  }
}

void InMemorySource::Start(uint64_t epoch) {
  order_ = rows_;
  if (shuffle_) {
    std::mt19937_64 rng(MixSeed(seed_, epoch));
    std::shuffle(order_.begin(), order_.end(), rng);
  }
  pos_ = 0;
}

bool InMemorySource::Next(size_t max_rows, SparseDataset* batch) {
  batch->Reset(data_.num_features(), data_.num_labels());
  const size_t n = std::min(max_rows, order_.size() - pos_);
  for (size_t i = 0; i < n; ++i) {
    const SparseRow r = data_.row(order_[pos_ + i]);
    batch->Add(r.idx, r.val, r.labels);
  }
  pos_ += n;
  return n > 0;
}

double InMemorySource::Progress() const {
  return order_.empty() ? 1.0 : double(pos_) / double(order_.size());
}

// --- ShuffledSource --------------------------------------------------------

ShuffledSource::ShuffledSource(std::unique_ptr<RowStream> stream,
                               const ShuffleOptions& options)
    : stream_(std::move(stream)), options_(options) {
  buffer_.resize(std::min<size_t>(std::max<size_t>(1, options.rows), 1 << 16));
}

void ShuffledSource::Start(uint64_t epoch) {
  stream_->Rewind();
  consumed_bytes_ = 0;
  rng_.seed(MixSeed(options_.seed, epoch));
  buffered_ = 0;
  uint64_t held = 0;
  const size_t want = std::max<size_t>(1, options_.rows);
  while (buffered_ < want && (buffered_ == 0 || held < options_.max_bytes)) {
    if (buffered_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
    RowSlot& s = buffer_[buffered_];
    if (!stream_->Read(&s)) break;
    held += 8 * s.idx.size() + 4 * s.labels.size() + sizeof(RowSlot);
    ++buffered_;
  }
}

bool ShuffledSource::Next(size_t max_rows, SparseDataset* batch) {
  batch->Reset(stream_->num_features(), stream_->num_labels());
  while (batch->size() < max_rows && buffered_ > 0) {
    const size_t j = buffered_ == 1 || options_.rows <= 1
                         ? 0
                         : size_t(rng_() % buffered_);
    RowSlot& s = buffer_[j];
    batch->Add(Span<const uint32_t>(s.idx.data(), s.idx.size()),
               Span<const float>(s.val.data(), s.val.size()),
               Span<const uint32_t>(s.labels.data(), s.labels.size()));
    consumed_bytes_ += s.bytes;
    // Refill slot j from the stream; at its end, the last slot fills the
    // gap.
    if (!stream_->Read(&s)) {
      if (j + 1 != buffered_) std::swap(buffer_[j], buffer_[buffered_ - 1]);
      --buffered_;
    }
  }
  return batch->size() > 0;
}

double ShuffledSource::Progress() const {
  // A range's first and last lines straddle its ends: bytes delivered only
  // approximate its length, so the end of the pass says 1 itself.
  const uint64_t total = stream_->pass_bytes();
  if (buffered_ == 0 || total == 0) return buffered_ == 0 ? 1.0 : 0.0;
  return std::min(1.0, double(consumed_bytes_) / double(total));
}

// --- StreamingSource -------------------------------------------------------

// XC/libsvm lines of this rank's byte range of several files.
class XcRowStream : public RowStream {
 public:
  XcRowStream(std::vector<std::string> paths, const StreamOptions& options);
  size_t num_features() const override { return num_features_; }
  size_t num_labels() const override { return num_labels_; }
  void Rewind() override;
  bool Read(RowSlot* slot) override;
  uint64_t pass_bytes() const override { return range_bytes_; }
  size_t size_hint() const override { return rows_hint_; }
  uint64_t bytes_read() const {
    return closed_bytes_ + (reader_ ? reader_->bytes_read() : 0);
  }

 private:
  struct Piece {  // this rank's byte range of one file
    size_t file;
    uint64_t begin, end;
  };
  std::vector<std::string> paths_;
  ReadOptions read_;
  size_t num_features_ = 0, num_labels_ = 0, rows_hint_ = 0;
  std::vector<uint64_t> header_end_;  // per file: the first data byte
  std::vector<Piece> pieces_;
  uint64_t range_bytes_ = 0;
  uint64_t closed_bytes_ = 0;  // bytes read by readers already closed
  size_t piece_ = 0;
  std::unique_ptr<LineReader> reader_;
  RowParser parser_;
};

XcRowStream::XcRowStream(std::vector<std::string> paths,
                         const StreamOptions& options)
    : paths_(std::move(paths)), read_(options.read), parser_(options.read) {
  if (paths_.empty()) throw DataError("no input files");
  if (options.world < 1 || options.rank < 0 || options.rank >= options.world) {
    throw std::invalid_argument("StreamingSource: rank " +
                                std::to_string(options.rank) + " of " +
                                std::to_string(options.world));
  }
  const bool xc = read_.format == DataFormat::kXc;
  if (!xc && (read_.num_features == 0 || read_.num_labels == 0)) {
    throw std::invalid_argument(
        "streaming libsvm input needs the feature and label counts");
  }
  num_features_ = read_.num_features;
  num_labels_ = read_.num_labels;
  std::vector<uint64_t> sizes;
  uint64_t rows = 0;
  for (const std::string& path : paths_) {
    sizes.push_back(LineReader::FileSize(path));
    uint64_t start = 0;
    if (xc) {
      // The lines starting in [0, 1): the header alone.
      LineReader head(path, 0, 1, read_.max_line_bytes);
      std::string_view header;
      if (!head.ReadLine(&header)) {
        throw DataError(path + ":1: expected the header 'N D L' (empty file)");
      }
      start = head.next_offset();
      closed_bytes_ += head.bytes_read();
      uint64_t n = 0, d = 0, l = 0;
      RowParser p(read_);
      p.ParseHeader(head, header, &n, &d, &l);
      if (path == paths_.front()) {
        num_features_ = std::max<size_t>(num_features_, d);
        num_labels_ = std::max<size_t>(num_labels_, l);
      } else if (d != num_features_ || l != num_labels_) {
        throw DataError(path + ":1: header D and L (" + std::to_string(d) + ", " +
                        std::to_string(l) + ") differ from " + paths_.front() +
                        "'s (" + std::to_string(num_features_) + ", " +
                        std::to_string(num_labels_) + ")");
      }
      rows += n;
    }
    header_end_.push_back(start);
  }
  parser_.set_bounds(num_features_, num_labels_);
  rows_hint_ = size_t(rows / uint64_t(options.world));
  // This rank's share of the data bytes (headers excluded).
  uint64_t total = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    total += sizes[i] - std::min(sizes[i], header_end_[i]);
  }
  const uint64_t lo = total * uint64_t(options.rank) / uint64_t(options.world);
  const uint64_t hi = total * uint64_t(options.rank + 1) / uint64_t(options.world);
  uint64_t at = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const uint64_t len = sizes[i] - std::min(sizes[i], header_end_[i]);
    const uint64_t a = std::max(lo, at), b = std::min(hi, at + len);
    if (a < b) {
      pieces_.push_back({i, header_end_[i] + (a - at), header_end_[i] + (b - at)});
      range_bytes_ += b - a;
    }
    at += len;
  }
}

void XcRowStream::Rewind() {
  if (reader_) {
    closed_bytes_ += reader_->bytes_read();
    reader_.reset();
  }
  piece_ = 0;
}

bool XcRowStream::Read(RowSlot* slot) {
  std::string_view line;
  for (;;) {
    if (!reader_) {
      if (piece_ >= pieces_.size()) return false;
      const Piece& p = pieces_[piece_];
      // A piece that starts at the file's first data line reads from the
      // file's start, so errors carry line numbers.
      const bool whole = p.begin == header_end_[p.file];
      reader_ = std::make_unique<LineReader>(paths_[p.file], whole ? 0 : p.begin,
                                             p.end, read_.max_line_bytes);
      if (whole && header_end_[p.file] > 0) reader_->ReadLine(&line);
    }
    if (reader_->ReadLine(&line)) {
      if (!parser_.ParseRow(*reader_, line)) continue;  // a blank libsvm line
      const SparseRow r = parser_.row();
      slot->idx.assign(r.idx.begin(), r.idx.end());
      slot->val.assign(r.val.begin(), r.val.end());
      slot->labels.assign(r.labels.begin(), r.labels.end());
      slot->bytes = reader_->next_offset() - reader_->line_offset();
      return true;
    }
    closed_bytes_ += reader_->bytes_read();
    reader_.reset();
    ++piece_;
  }
}

namespace {

ShuffleOptions RankShuffle(const StreamOptions& o) {
  ShuffleOptions s = o.shuffle;
  if (o.world > 1) s.seed = MixSeed(s.seed, uint64_t(o.rank), 0x5eed);
  return s;
}

}  // namespace

StreamingSource::StreamingSource(std::vector<std::string> paths,
                                 const StreamOptions& options)
    : ShuffledSource(std::make_unique<XcRowStream>(std::move(paths), options),
                     RankShuffle(options)),
      xc_(static_cast<const XcRowStream*>(&stream())) {}

uint64_t StreamingSource::bytes_read() const { return xc_->bytes_read(); }
uint64_t StreamingSource::range_bytes() const { return xc_->pass_bytes(); }

std::vector<std::string> ExpandPaths(const std::string& spec) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= spec.size()) {
    const size_t comma = std::min(spec.find(',', pos), spec.size());
    const std::string item = spec.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) continue;
    if (item.find_first_of("*?[") == std::string::npos) {
      out.push_back(item);
      continue;
    }
    glob_t g{};
    const int rc = ::glob(item.c_str(), 0, nullptr, &g);
    if (rc != 0) {
      ::globfree(&g);
      throw DataError(item + ": no file matches");
    }
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
    ::globfree(&g);
  }
  if (out.empty()) throw DataError("'" + spec + "': no input files");
  return out;
}

}  // namespace frugal::nn
