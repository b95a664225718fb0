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

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// Parses one line; positions are reported 1-based.
class LineParser {
 public:
  LineParser(const std::string& path, size_t line, const char* p,
             const char* end)
      : path_(path), line_(line), begin_(p), p_(p), end_(end) {}

  [[noreturn]] void Fail(const std::string& expected) const {
    std::string near(p_, std::min<size_t>(size_t(end_ - p_), 24));
    throw DataError(path_ + ":" + std::to_string(line_) + ": column " +
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
  const std::string& path_;
  size_t line_;
  const char* begin_;
  const char* p_;
  const char* end_;
};

}  // namespace

size_t StreamSparseFile(const std::string& path, const ReadOptions& options,
                        size_t* num_features, size_t* num_labels,
                        const std::function<void(const SparseRow&)>& sink) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    throw DataError(path + ": cannot open: " + std::strerror(errno));
  }
  const bool xc = options.format == DataFormat::kXc;
  uint64_t feature_bound = options.num_features ? options.num_features
                                                : options.max_features;
  uint64_t label_bound =
      options.num_labels ? options.num_labels : options.max_labels;
  uint64_t expected_rows = 0;
  size_t rows = 0, line_no = 0;
  std::vector<char> line;
  std::vector<uint32_t> idx, labels;
  std::vector<float> val;
  int c = 0;
  bool header_done = !xc;
  while (c != EOF) {
    line.clear();
    while ((c = getc_unlocked(file.get())) != EOF && c != '\n') {
      if (line.size() >= options.max_line_bytes) {
        throw DataError(path + ":" + std::to_string(line_no + 1) +
                        ": line longer than " +
                        std::to_string(options.max_line_bytes) + " bytes");
      }
      line.push_back(char(c));
    }
    if (c == EOF && line.empty()) break;
    ++line_no;
    LineParser p(path, line_no, line.data(), line.data() + line.size());
    if (!header_done) {
      p.SkipSpaces();
      expected_rows = p.UInt(uint64_t{1} << 40, "the row count N of 'N D L'");
      p.SkipSpaces();
      feature_bound = p.UInt(options.max_features + 1,
                             "the feature count D of 'N D L'");
      p.SkipSpaces();
      label_bound =
          p.UInt(options.max_labels + 1, "the label count L of 'N D L'");
      if (!p.AtEnd()) p.Fail("end of the header line 'N D L'");
      if (feature_bound == 0 || label_bound == 0) {
        p.Fail("D > 0 and L > 0 in the header 'N D L'");
      }
      if (num_features) *num_features = feature_bound;
      if (num_labels) *num_labels = label_bound;
      header_done = true;
      continue;
    }
    if (p.AtEnd()) {
      if (xc) p.Fail("a row 'l1,l2 f:v ...'");
      continue;  // libsvm: blank lines are allowed
    }
    idx.clear();
    val.clear();
    labels.clear();
    if (p.NextIsLabel()) {
      for (;;) {
        labels.push_back(uint32_t(p.UInt(label_bound, "a label id")));
        if (p.Peek() != ',') break;
        p.Expect(',', "','");
      }
    }
    while (!p.AtEnd()) {
      idx.push_back(uint32_t(p.UInt(feature_bound, "a feature id")));
      p.Expect(':', "':' after the feature id");
      // Float() reads up to the next blank, so pairs are blank-separated.
      val.push_back(p.Float("a finite feature value"));
    }
    sink(SparseRow{Span<const uint32_t>(idx.data(), idx.size()),
                   Span<const float>(val.data(), val.size()),
                   Span<const uint32_t>(labels.data(), labels.size())});
    ++rows;
  }
  if (xc && !header_done) {
    throw DataError(path + ":1: expected the header 'N D L' (empty file)");
  }
  if (xc && rows != expected_rows) {
    throw DataError(path + ":" + std::to_string(line_no) + ": header says " +
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
