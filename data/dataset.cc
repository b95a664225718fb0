#include "data/dataset.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace frugal::nn {

void SparseDataset::Add(Span<const uint32_t> idx, Span<const float> val,
                        Span<const uint32_t> labels) {
  if (idx.size() != val.size()) {
    throw std::invalid_argument("SparseDataset::Add: " +
                                std::to_string(idx.size()) + " ids but " +
                                std::to_string(val.size()) + " values");
  }
  for (uint32_t f : idx) {
    if (f >= num_features_) {
      throw std::invalid_argument("SparseDataset::Add: feature " +
                                  std::to_string(f) + " >= num_features " +
                                  std::to_string(num_features_));
    }
  }
  for (uint32_t l : labels) {
    if (l >= num_labels_) {
      throw std::invalid_argument("SparseDataset::Add: label " +
                                  std::to_string(l) + " >= num_labels " +
                                  std::to_string(num_labels_));
    }
  }
  idx_.insert(idx_.end(), idx.begin(), idx.end());
  val_.insert(val_.end(), val.begin(), val.end());
  labels_.insert(labels_.end(), labels.begin(), labels.end());
  row_ptr_.push_back(idx_.size());
  label_ptr_.push_back(labels_.size());
}

SparseDataset SelectRows(const SparseDataset& data, Span<const uint32_t> rows) {
  SparseDataset out(data.num_features(), data.num_labels());
  for (const uint32_t i : rows) {
    const SparseRow r = data.row(i);
    out.Add(r.idx, r.val, r.labels);
  }
  return out;
}

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// Parses one line; positions are reported 1-based.
class LineParser {
 public:
  LineParser(const LineReader& reader, std::string_view line)
      : reader_(reader),
        begin_(line.data()),
        p_(line.data()),
        end_(line.data() + line.size()) {}

  [[noreturn]] void Fail(const std::string& expected) const {
    std::string near(p_, std::min<size_t>(size_t(end_ - p_), 24));
    throw DataError(reader_.Where() + ": column " +
                    std::to_string(size_t(p_ - begin_) + 1) + ": expected " +
                    expected + (near.empty() ? " (at end of line)"
                                             : " near '" + near + "'"));
  }

  void SkipSpaces() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\r')) ++p_;
  }
  bool AtEnd() {
    SkipSpaces();
    return p_ >= end_;
  }
  char Peek() const { return p_ < end_ ? *p_ : '\0'; }
  void Expect(char c, const char* what) {
    if (Peek() != c) Fail(what);
    ++p_;
  }

  // A decimal integer < bound.
  uint64_t UInt(uint64_t bound, const char* what) {
    if (p_ >= end_ || *p_ < '0' || *p_ > '9') Fail(what);
    uint64_t v = 0;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
      v = v * 10 + uint64_t(*p_ - '0');
      if (v >= bound) {
        Fail(std::string(what) + " below " + std::to_string(bound));
      }
      ++p_;
    }
    return v;
  }

  // A finite float.
  float Float(const char* what) {
    char buf[64];
    size_t n = 0;
    while (p_ + n < end_ && n < sizeof(buf) - 1 && p_[n] != ' ' &&
           p_[n] != '\t' && p_[n] != '\r') {
      buf[n] = p_[n];
      ++n;
    }
    buf[n] = '\0';
    char* stop = nullptr;
    errno = 0;
    const float v = std::strtof(buf, &stop);
    if (n == 0 || stop != buf + n || errno == ERANGE || !std::isfinite(v)) {
      Fail(what);
    }
    p_ += n;
    return v;
  }

  bool NextIsLabel() {
    // Labels precede the first "f:v" pair: a run of digits and commas
    // followed by a space or the end of the line, with no ':'.
    const char* q = p_;
    while (q < end_ && ((*q >= '0' && *q <= '9') || *q == ',')) ++q;
    return q > p_ && (q == end_ || *q == ' ' || *q == '\t' || *q == '\r');
  }

 private:
  const LineReader& reader_;
  const char* begin_;
  const char* p_;
  const char* end_;
};

}  // namespace

RowParser::RowParser(const ReadOptions& options)
    : options_(options),
      feature_bound_(options.num_features ? options.num_features
                                          : options.max_features),
      label_bound_(options.num_labels ? options.num_labels
                                      : options.max_labels) {}

void RowParser::ParseHeader(const LineReader& reader, std::string_view line,
                            uint64_t* rows, uint64_t* features,
                            uint64_t* labels) {
  LineParser p(reader, line);
  p.SkipSpaces();
  *rows = p.UInt(uint64_t{1} << 40, "the row count N of 'N D L'");
  p.SkipSpaces();
  *features = p.UInt(options_.max_features + 1, "the feature count D of 'N D L'");
  p.SkipSpaces();
  *labels = p.UInt(options_.max_labels + 1, "the label count L of 'N D L'");
  if (!p.AtEnd()) p.Fail("end of the header line 'N D L'");
  if (*features == 0 || *labels == 0) {
    p.Fail("D > 0 and L > 0 in the header 'N D L'");
  }
  set_bounds(*features, *labels);
}

bool RowParser::ParseRow(const LineReader& reader, std::string_view line) {
  LineParser p(reader, line);
  idx_.clear();
  val_.clear();
  labels_.clear();
  if (p.AtEnd()) {
    if (options_.format == DataFormat::kXc) p.Fail("a row 'l1,l2 f:v ...'");
    return false;
  }
  if (p.NextIsLabel()) {
    for (;;) {
      labels_.push_back(uint32_t(p.UInt(label_bound_, "a label id")));
      if (p.Peek() != ',') break;
      p.Expect(',', "','");
    }
  }
  while (!p.AtEnd()) {
    idx_.push_back(uint32_t(p.UInt(feature_bound_, "a feature id")));
    p.Expect(':', "':' after the feature id");
    // Float() reads up to the next blank, so pairs are blank-separated.
    val_.push_back(p.Float("a finite feature value"));
  }
  return true;
}

LineReader::LineReader(const std::string& path, uint64_t begin, uint64_t end,
                       size_t max_line_bytes)
    : path_(path), max_line_(max_line_bytes) {
  file_ = std::fopen(path.c_str(), "rb");
  if (file_ == nullptr) {
    throw DataError(path + ": cannot open: " + std::strerror(errno));
  }
  Reset(begin, end);
}

LineReader::~LineReader() {
  if (file_ != nullptr) std::fclose(file_);
}

uint64_t LineReader::FileSize(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f || std::fseek(f.get(), 0, SEEK_END) != 0) {
    throw DataError(path + ": cannot open: " + std::strerror(errno));
  }
  const long size = std::ftell(f.get());
  if (size < 0) throw DataError(path + ": cannot tell its size");
  return uint64_t(size);
}

void LineReader::Reset(uint64_t begin, uint64_t end) {
  begin_ = begin;
  end_ = end;
  buf_.resize(std::max<size_t>(kChunk, buf_.size()));
  head_ = tail_ = 0;
  eof_ = false;
  line_no_ = 0;
  next_offset_ = begin;
  // A range that starts inside the file owns the lines that start at or
  // after `begin`: one starting exactly there needs the byte before it.
  const uint64_t seek_to = begin > 0 ? begin - 1 : 0;
  // A fresh reader from the start does not seek, so pipes work (/dev/stdin).
  const bool fresh = seek_to == 0 && bytes_read_ == 0;
  if (!fresh && std::fseek(file_, long(seek_to), SEEK_SET) != 0) {
    throw DataError(path_ + ": cannot seek to byte " + std::to_string(seek_to));
  }
  file_pos_ = seek_to;
  if (begin > 0) {
    next_offset_ = seek_to;
    std::string_view skipped;
    ReadLine(&skipped);  // the tail of the line that straddles `begin`
    line_no_ = 0;
  }
  known_lines_ = begin == 0;
}

bool LineReader::Fill() {
  if (eof_) return false;
  if (head_ > 0) {
    std::memmove(buf_.data(), buf_.data() + head_, tail_ - head_);
    tail_ -= head_;
    head_ = 0;
  }
  if (tail_ == buf_.size()) buf_.resize(buf_.size() * 2);
  // Past the range's end only the last line's tail is needed: small reads.
  size_t want = buf_.size() - tail_;
  if (end_ != kToEnd) {
    want = std::min<uint64_t>(want, std::max<uint64_t>(
                                        end_ > file_pos_ ? end_ - file_pos_ : 0, 4096));
  }
  const size_t got = std::fread(buf_.data() + tail_, 1, want, file_);
  bytes_read_ += got;
  file_pos_ += got;
  tail_ += got;
  if (got == 0) {
    if (std::ferror(file_)) {
      throw DataError(path_ + ": read failed: " + std::strerror(errno));
    }
    eof_ = true;
  }
  return got > 0;
}

bool LineReader::ReadLine(std::string_view* line) {
  // Lines starting at or after end_ belong to the next range.
  if (next_offset_ >= end_) return false;
  for (;;) {
    const char* start = buf_.data() + head_;
    const void* nl = std::memchr(start, '\n', tail_ - head_);
    if (nl != nullptr || (eof_ && tail_ > head_)) {
      const size_t len =
          nl ? size_t(static_cast<const char*>(nl) - start) : tail_ - head_;
      if (len > max_line_) {
        ++line_no_;
        line_offset_ = next_offset_;
        Fail("line longer than " + std::to_string(max_line_) + " bytes");
      }
      *line = std::string_view(start, len);
      head_ += len + (nl ? 1 : 0);
      line_offset_ = next_offset_;
      next_offset_ += len + (nl ? 1 : 0);
      ++line_no_;
      return true;
    }
    if (tail_ - head_ > max_line_) {
      ++line_no_;
      line_offset_ = next_offset_;
      Fail("line longer than " + std::to_string(max_line_) + " bytes");
    }
    if (!Fill() && tail_ == head_) return false;
  }
}

std::string LineReader::Where() const {
  if (known_lines_) return path_ + ":" + std::to_string(line_no_);
  return path_ + ": the line at byte " + std::to_string(line_offset_);
}

void LineReader::Fail(const std::string& what) const {
  throw DataError(Where() + ": " + what);
}

size_t StreamSparseFile(const std::string& path, const ReadOptions& options,
                        size_t* num_features, size_t* num_labels,
                        const std::function<void(const SparseRow&)>& sink) {
  LineReader reader(path, 0, LineReader::kToEnd, options.max_line_bytes);
  RowParser parser(options);
  const bool xc = options.format == DataFormat::kXc;
  uint64_t expected_rows = 0;
  size_t rows = 0;
  bool header_done = !xc;
  std::string_view line;
  while (reader.ReadLine(&line)) {
    if (!header_done) {
      uint64_t d = 0, l = 0;
      parser.ParseHeader(reader, line, &expected_rows, &d, &l);
      if (num_features) *num_features = d;
      if (num_labels) *num_labels = l;
      header_done = true;
      continue;
    }
    if (!parser.ParseRow(reader, line)) continue;
    sink(parser.row());
    ++rows;
  }
  if (xc && !header_done) {
    throw DataError(path + ":1: expected the header 'N D L' (empty file)");
  }
  if (xc && rows != expected_rows) {
    throw DataError(reader.Where() + ": header says " +
                    std::to_string(expected_rows) + " rows, file has " +
                    std::to_string(rows));
  }
  return rows;
}

SparseDataset ReadSparseFile(const std::string& path,
                             const ReadOptions& options) {
  if (options.format == DataFormat::kXc) {
    size_t d = 0, l = 0;
    std::unique_ptr<SparseDataset> data;
    StreamSparseFile(path, options, &d, &l, [&](const SparseRow& r) {
      if (!data) data = std::make_unique<SparseDataset>(d, l);
      data->Add(r.idx, r.val, r.labels);
    });
    if (!data) data = std::make_unique<SparseDataset>(d, l);
    return std::move(*data);
  }
  // libsvm: two passes when dimensions must be inferred.
  ReadOptions o = options;
  if (o.num_features == 0 || o.num_labels == 0) {
    size_t max_f = 0, max_l = 0;
    StreamSparseFile(path, o, nullptr, nullptr, [&](const SparseRow& r) {
      for (uint32_t f : r.idx) max_f = std::max<size_t>(max_f, f + 1);
      for (uint32_t l : r.labels) max_l = std::max<size_t>(max_l, l + 1);
    });
    if (o.num_features == 0) o.num_features = std::max<size_t>(max_f, 1);
    if (o.num_labels == 0) o.num_labels = std::max<size_t>(max_l, 1);
  }
  SparseDataset data(o.num_features, o.num_labels);
  StreamSparseFile(path, o, nullptr, nullptr, [&](const SparseRow& r) {
    data.Add(r.idx, r.val, r.labels);
  });
  return data;
}

void WriteXcFile(const std::string& path, const SparseDataset& data) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "wb"));
  if (!f) throw DataError(path + ": cannot create: " + std::strerror(errno));
  std::fprintf(f.get(), "%zu %zu %zu\n", data.size(), data.num_features(),
               data.num_labels());
  for (size_t i = 0; i < data.size(); ++i) {
    const SparseRow r = data.row(i);
    for (size_t j = 0; j < r.labels.size(); ++j) {
      std::fprintf(f.get(), j ? ",%u" : "%u", r.labels[j]);
    }
    for (size_t j = 0; j < r.idx.size(); ++j) {
      std::fprintf(f.get(), " %u:%g", r.idx[j], double(r.val[j]));
    }
    std::fputc('\n', f.get());
  }
  if (std::fflush(f.get()) != 0 || std::ferror(f.get())) {
    throw DataError(path + ": write failed: " + std::strerror(errno));
  }
}

}  // namespace frugal::nn
