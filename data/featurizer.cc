#include "data/featurizer.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <unordered_map>

#include "dispatch/registry.h"
#include "kernels/hash_id.h"

namespace frugal::nn {
namespace {

// Folds bytes four at a time through HashId; the length enters last, so
// "a" and "a\0" differ.
class StringHasher {
 public:
  explicit StringHasher(uint32_t seed) : h_(seed) {}
  void Add(uint8_t b) {
    w_ |= uint32_t(b) << (8 * (len_ & 3));
    if ((++len_ & 3) == 0) {
      h_ = HashId(w_, h_);
      w_ = 0;
    }
  }
  uint32_t Finish() const {
    const uint32_t h = (len_ & 3) ? HashId(w_, h_) : h_;
    return HashId(uint32_t(len_), h);
  }

 private:
  uint32_t h_, w_ = 0;
  size_t len_ = 0;
};

inline uint8_t Lower(uint8_t c) {
  return (c >= 'A' && c <= 'Z') ? uint8_t(c + ('a' - 'A')) : c;
}

inline bool IsWordByte(uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || c >= 0x80;
}

inline bool IsSpace(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(uint8_t(s.front()))) s.remove_prefix(1);
  while (!s.empty() && IsSpace(uint8_t(s.back()))) s.remove_suffix(1);
  return s;
}

// Seeds of the feature kinds within a column.
constexpr uint32_t kSeedNgram = 0x2545f491u;
constexpr uint32_t kSeedChar = 0x9e3779b9u;
constexpr uint32_t kSeedMissing = 0xffffffffu;
constexpr uint32_t kSeedRare = 0xfffffffeu;
constexpr uint32_t kSeedValue = 0xfffffffdu;

// sign(v) * log(1 + |v|): counts and amounts on a scale an input layer can
// use.
float SignedLog(double v) {
  return float(v < 0 ? -std::log1p(-v) : std::log1p(v));
}

// Parses a finite number; false if `s` is not one.
// v as a float, saturated at +-FLT_MAX: a finite double beyond float's
// range would otherwise become infinity (a quantile boundary "inf" that
// model metadata cannot store).
float SaturatedFloat(double v) {
  return float(std::clamp(v, -double(std::numeric_limits<float>::max()),
                          double(std::numeric_limits<float>::max())));
}

bool ParseNumber(std::string_view s, double* out) {
  char buf[64];
  if (s.empty() || s.size() >= sizeof(buf)) return false;
  std::copy(s.begin(), s.end(), buf);
  buf[s.size()] = '\0';
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(buf, &end);
  if (end != buf + s.size() || errno == ERANGE || !std::isfinite(v)) {
    return false;
  }
  *out = v;
  return true;
}

bool IsInteger(const std::string& s) {
  const size_t start = (!s.empty() && s[0] == '-') ? 1 : 0;
  return s.size() > start && s.size() - start <= 18 &&
         s.find_first_not_of("0123456789", start) == std::string::npos;
}

// Base64 (RFC 4648, with padding) for binary metadata values.
constexpr char kBase64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string ToBase64(const std::vector<uint8_t>& in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    const uint32_t n = uint32_t(in[i]) << 16 |
                       (i + 1 < in.size() ? uint32_t(in[i + 1]) << 8 : 0u) |
                       (i + 2 < in.size() ? uint32_t(in[i + 2]) : 0u);
    out += kBase64[n >> 18 & 63];
    out += kBase64[n >> 12 & 63];
    out += i + 1 < in.size() ? kBase64[n >> 6 & 63] : '=';
    out += i + 2 < in.size() ? kBase64[n & 63] : '=';
  }
  return out;
}

// False for anything but well-formed padded Base64.
bool FromBase64(std::string_view in, std::vector<uint8_t>* out) {
  if (in.size() % 4 != 0) return false;
  out->clear();
  out->reserve(in.size() / 4 * 3);
  auto value = [](char c) -> int {
    const char* p = std::strchr(kBase64, c);
    return c != '\0' && p != nullptr ? int(p - kBase64) : -1;
  };
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    const int pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=') : 0;
    if (pad == 1 && in[i + 2] == '=') return false;
    uint32_t n = 0;
    for (size_t j = 0; j < 4; ++j) {
      const int v = j >= 4 - size_t(pad) ? 0 : value(in[i + j]);
      if (v < 0) return false;
      n = n << 6 | uint32_t(v);
    }
    out->push_back(uint8_t(n >> 16));
    if (pad < 2) out->push_back(uint8_t(n >> 8));
    if (pad < 1) out->push_back(uint8_t(n));
  }
  return true;
}

// idf quantization: stored q = round(16 (idf - 1)) + 1 in [1, 255]; 0 means
// "never seen" (weight 0).
constexpr float kIdfStep = 1.0f / 16.0f;

// Percent-encodes '%', ',', ':' and control bytes so lists survive a join.
std::string Escape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const auto u = uint8_t(c);
    if (c == '%' || c == ',' || c == ':' || u < 0x20) {
      char b[4];
      std::snprintf(b, sizeof(b), "%%%02X", unsigned(u));
      out += b;
    } else {
      out += c;
    }
  }
  return out;
}

std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || !std::isxdigit(uint8_t(s[i + 1])) ||
          !std::isxdigit(uint8_t(s[i + 2]))) {
        throw std::invalid_argument("model metadata: bad escape in '" +
                                    std::string(s) + "'");
      }
      out += char(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t start = 0;
  for (;;) {
    const size_t end = s.find(sep, start);
    out.emplace_back(s.substr(start, end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

}  // namespace

uint32_t HashString(std::string_view s, uint32_t seed, bool lowercase) {
  StringHasher h(seed);
  for (const char c : s) h.Add(lowercase ? Lower(uint8_t(c)) : uint8_t(c));
  return h.Finish();
}

ColumnType ParseColumnType(const std::string& name) {
  if (name == "text") return ColumnType::kText;
  if (name == "categorical") return ColumnType::kCategorical;
  if (name == "numeric") return ColumnType::kNumeric;
  if (name == "target") return ColumnType::kTarget;
  if (name == "ignore") return ColumnType::kIgnore;
  throw std::invalid_argument("unknown column type '" + name +
                              "' (text, categorical, numeric, target, ignore)");
}

const char* ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kText:
      return "text";
    case ColumnType::kCategorical:
      return "categorical";
    case ColumnType::kNumeric:
      return "numeric";
    case ColumnType::kTarget:
      return "target";
    case ColumnType::kIgnore:
      break;
  }
  return "ignore";
}

void Featurizer::Resolve(const CsvReader& reader) {
  num_columns_ = reader.num_columns();
  columns_.clear();
  size_t targets = 0;
  std::vector<std::pair<std::string, size_t>> named;  // spec name -> index
  for (const ColumnSpec& spec : config_.columns) {
    const size_t index = reader.ColumnIndex(spec.name);
    for (const auto& [n, i] : named) {
      if (i == index) {
        throw DataError(reader.name() + ": column '" + spec.name +
                        "' given twice" + (n != spec.name ? " (as '" + n + "')" : ""));
      }
    }
    named.emplace_back(spec.name, index);
    if (spec.type == ColumnType::kTarget) {
      target_ = index;
      ++targets;
    } else if (spec.type != ColumnType::kIgnore) {
      Column c;
      c.index = index;
      c.type = spec.type;
      columns_.push_back(c);
    }
  }
  if (targets != 1) {
    throw DataError(reader.name() + ": expected exactly one target column, got " +
                    std::to_string(targets));
  }
  if (columns_.empty()) {
    throw DataError(reader.name() + ": expected at least one feature column");
  }
  std::sort(columns_.begin(), columns_.end(),
            [](const Column& a, const Column& b) { return a.index < b.index; });
  crosses_.clear();
  for (const auto& [a, b] : config_.crosses) {
    Cross x;
    const size_t ia = reader.ColumnIndex(a), ib = reader.ColumnIndex(b);
    bool found_a = false, found_b = false;
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (columns_[i].type != ColumnType::kCategorical) continue;
      if (columns_[i].index == ia) x.a = i, found_a = true;
      if (columns_[i].index == ib) x.b = i, found_b = true;
    }
    if (!found_a || !found_b || ia == ib) {
      throw DataError(reader.name() + ": cross '" + a + "*" + b +
                      "' needs two distinct categorical columns");
    }
    crosses_.push_back(x);
  }
}

void Featurizer::SetSeeds() {
  for (Column& c : columns_) c.seed = HashId(uint32_t(c.index), config_.seed);
  for (size_t i = 0; i < crosses_.size(); ++i) {
    crosses_[i].seed = HashId(uint32_t(i) + 0x10000u, config_.seed);
  }
}

void Featurizer::Finish() {
  if (config_.num_features == 0) {
    throw std::invalid_argument("FeaturizerConfig: num_features must be positive");
  }
  if (config_.word_ngrams == 0 || config_.word_ngrams > 8 ||
      config_.char_ngrams > 16 || config_.numeric_buckets == 0) {
    throw std::invalid_argument(
        "FeaturizerConfig: word_ngrams in [1, 8], char_ngrams <= 16, "
        "numeric_buckets > 0");
  }
  SetSeeds();
  sorted_labels_.clear();
  for (size_t i = 0; i < labels_.size(); ++i) {
    sorted_labels_.emplace_back(labels_[i], uint32_t(i));
  }
  std::sort(sorted_labels_.begin(), sorted_labels_.end());
}

Featurizer Featurizer::Fit(const FeaturizerConfig& config, CsvReader& reader) {
  Featurizer f;
  f.config_ = config;
  f.Resolve(reader);
  f.SetSeeds();
  if (f.config_.weighting == FeatureWeighting::kAuto) {
    const bool text = std::any_of(f.columns_.begin(), f.columns_.end(),
                                  [](const Column& c) { return c.type == ColumnType::kText; });
    f.config_.weighting = text ? FeatureWeighting::kTfIdf : FeatureWeighting::kNone;
  }
  std::set<std::string> labels;
  const bool count_values = config.min_category_count > 1;
  std::vector<std::unordered_map<uint32_t, uint32_t>> counts(f.columns_.size());
  // Numeric columns: a uniform sample of at most kSample values each.
  constexpr size_t kSample = 1 << 17;
  std::vector<std::vector<float>> samples(f.columns_.size());
  std::vector<size_t> seen(f.columns_.size(), 0);
  std::mt19937_64 rng(config.seed);
  const bool quantile = config.binning == NumericBinning::kQuantile;
  const bool sample_numbers = quantile || config.numeric_values;
  while (reader.Next()) {
    bool bad = false;
    for (size_t i = 0; i < f.columns_.size() && sample_numbers; ++i) {
      const Column& c = f.columns_[i];
      if (c.type != ColumnType::kNumeric) continue;
      const std::string_view s = Trim(reader.field(c.index));
      if (s.empty()) continue;
      double v;
      if (!ParseNumber(s, &v)) {
        reader.Reject(c.index, "a number, got '" + std::string(s) + "'");
        bad = true;
        break;
      }
      const size_t n = seen[i]++;
      if (n < kSample) {
        samples[i].push_back(SaturatedFloat(v));
      } else {
        const size_t j = std::uniform_int_distribution<size_t>(0, n)(rng);
        if (j < kSample) samples[i][j] = SaturatedFloat(v);
      }
    }
    if (bad) continue;
    for (size_t i = 0; i < f.columns_.size() && count_values; ++i) {
      const Column& c = f.columns_[i];
      if (c.type != ColumnType::kCategorical) continue;
      ++counts[i][HashString(Trim(reader.field(c.index)), c.seed)];
    }
    const std::string_view t = reader.field(f.target_);
    if (config.label_delimiter.empty()) {
      const std::string_view l = Trim(t);
      if (!l.empty()) labels.emplace(l);
    } else {
      for (const std::string& l : Split(t, config.label_delimiter[0])) {
        const std::string_view tl = Trim(l);
        if (!tl.empty()) labels.emplace(tl);
      }
    }
  }
  if (labels.empty()) {
    throw DataError(reader.name() + ": expected at least one labelled row");
  }
  // Without a header the column count is known only now.
  f.num_columns_ = reader.num_columns();
  if (f.target_ >= f.num_columns_ ||
      std::any_of(f.columns_.begin(), f.columns_.end(),
                  [&](const Column& c) { return c.index >= f.num_columns_; })) {
    throw DataError(reader.name() + ": expected " +
                    std::to_string(std::max(f.target_, f.columns_.back().index) + 1) +
                    " columns or more, found " + std::to_string(f.num_columns_));
  }
  f.labels_.assign(labels.begin(), labels.end());
  if (std::all_of(f.labels_.begin(), f.labels_.end(), IsInteger)) {
    std::sort(f.labels_.begin(), f.labels_.end(),
              [](const std::string& a, const std::string& b) {
                return std::stoll(a) < std::stoll(b);
              });
  }
  for (size_t i = 0; i < f.columns_.size(); ++i) {
    for (const auto& [hash, count] : counts[i]) {
      if (count >= config.min_category_count) f.columns_[i].kept.push_back(hash);
    }
    std::sort(f.columns_[i].kept.begin(), f.columns_[i].kept.end());
    std::vector<float>& s = samples[i];
    if (s.empty()) continue;
    if (config.numeric_values) {
      float scale = 0;
      for (const float v : s) scale = std::max(scale, std::fabs(SignedLog(v)));
      f.columns_[i].value_scale = scale > 0 ? 1.0f / scale : 1.0f;
    }
    if (!quantile) continue;
    std::sort(s.begin(), s.end());
    const size_t buckets = config.numeric_buckets;
    for (size_t b = 1; b < buckets; ++b) {
      const float cut = s[b * s.size() / buckets];
      if (f.columns_[i].boundaries.empty() || cut > f.columns_[i].boundaries.back()) {
        f.columns_[i].boundaries.push_back(cut);
      }
    }
  }
  f.Finish();
  return f;
}

FeatureWeighting ParseFeatureWeighting(const std::string& name) {
  if (name == "auto") return FeatureWeighting::kAuto;
  if (name == "none") return FeatureWeighting::kNone;
  if (name == "tfidf") return FeatureWeighting::kTfIdf;
  throw std::invalid_argument("weighting must be auto, none or tfidf, got '" + name + "'");
}

const char* FeatureWeightingName(FeatureWeighting w) {
  switch (w) {
    case FeatureWeighting::kAuto: return "auto";
    case FeatureWeighting::kNone: return "none";
    case FeatureWeighting::kTfIdf: return "tfidf";
  }
  return "?";
}

void Featurizer::FitWeights(const SparseDataset& rows, bool all_rows) {
  idf_.clear();
  row_norm_ = 0;
  if (config_.weighting == FeatureWeighting::kNone || rows.size() == 0) return;
  std::vector<uint32_t> df(config_.num_features, 0);
  for (size_t i = 0; i < rows.size(); ++i) {
    for (const uint32_t id : rows.row(i).idx) ++df[id];
  }
  const double n = double(rows.size());
  idf_.assign(df.size(), 0);
  for (size_t id = 0; id < df.size(); ++id) {
    if (df[id] == 0 && all_rows) continue;
    const double idf = std::log((1.0 + n) / (1.0 + double(std::max(df[id], 1u))));  // idf - 1
    idf_[id] = uint8_t(std::min(255.0, std::round(idf / kIdfStep) + 1.0));
  }
  row_norm_ = float(std::sqrt(double(rows.nonzeros()) / n));
}

void Featurizer::Weight(Span<const uint32_t> idx, Span<float> val) const {
  if (idf_.empty()) return;
  double norm = 0;
  for (size_t j = 0; j < idx.size(); ++j) {
    const uint8_t q = idf_[idx[j]];
    const float v = val[j];
    const float tf = v >= 1.0f ? 1.0f + std::log(v) : v;
    val[j] = q == 0 ? 0.0f : tf * (1.0f + float(q - 1) * kIdfStep);
    norm += double(val[j]) * val[j];
  }
  if (norm <= 0) return;
  const float k = float(double(row_norm_) / std::sqrt(norm));
  for (size_t j = 0; j < idx.size(); ++j) val[j] *= k;
}

void Featurizer::Weight(SparseDataset* data) const {
  if (idf_.empty()) return;
  for (size_t i = 0; i < data->size(); ++i) {
    Weight(data->row(i).idx, data->mutable_values(i));
  }
}

int64_t Featurizer::LabelId(std::string_view label) const {
  const auto it = std::lower_bound(
      sorted_labels_.begin(), sorted_labels_.end(), label,
      [](const std::pair<std::string, uint32_t>& e, std::string_view l) {
        return std::string_view(e.first) < l;
      });
  if (it == sorted_labels_.end() || it->first != label) return -1;
  return it->second;
}

uint32_t Featurizer::CategoryHash(std::string_view value,
                                  const Column& c) const {
  const uint32_t h = HashString(Trim(value), c.seed);
  if (config_.min_category_count <= 1 ||
      std::binary_search(c.kept.begin(), c.kept.end(), h)) {
    return h;
  }
  return HashId(kSeedRare, c.seed);
}

uint32_t Featurizer::NumericBucket(std::string_view field, const Column& c,
                                   size_t column, float* value) const {
  const std::string_view s = Trim(field);
  *value = 0;
  if (s.empty()) return kSeedMissing;
  double v;
  if (!ParseNumber(s, &v)) {
    throw FieldError(column, "a number, got '" + std::string(s) + "'");
  }
  *value = std::clamp(SignedLog(v) * c.value_scale, -4.0f, 4.0f);
  if (config_.binning == NumericBinning::kQuantile) {
    return uint32_t(std::upper_bound(c.boundaries.begin(), c.boundaries.end(),
                                     SaturatedFloat(v)) -
                    c.boundaries.begin());
  }
  // Two buckets per doubling of |v| + 1, the sign apart.
  const auto b = uint32_t(2.0 * std::log2(1.0 + std::fabs(v)));
  return v < 0 ? b | 0x80000000u : b;
}

void Featurizer::AddText(std::string_view text, const Column& c,
                         FeatureRow& out) const {
  const bool lower = config_.lowercase;
  out.words.clear();
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const uint8_t ch = p[i];
    if (IsSpace(ch)) {
      ++i;
      continue;
    }
    StringHasher h(c.seed);
    if (!IsWordByte(ch)) {
      h.Add(ch);
      out.words.push_back(h.Finish());
      ++i;
      continue;
    }
    const size_t start = i;
    for (; i < n && IsWordByte(p[i]); ++i) h.Add(lower ? Lower(p[i]) : p[i]);
    out.words.push_back(h.Finish());
    if (config_.char_ngrams > 0) {
      // n-grams of "<word>", every position.
      const size_t len = i - start + 2, g = config_.char_ngrams;
      auto at = [&](size_t k) -> uint8_t {
        if (k == 0) return '<';
        if (k == len - 1) return '>';
        return lower ? Lower(p[start + k - 1]) : p[start + k - 1];
      };
      for (size_t k = 0; k + g <= len; ++k) {
        StringHasher gh(c.seed ^ kSeedChar);
        for (size_t j = 0; j < g; ++j) gh.Add(at(k + j));
        out.raw.push_back(gh.Finish());
        out.raw_val.push_back(1.0f);
      }
    }
  }
  const size_t w = out.words.size();
  for (size_t i = 0; i < w; ++i) {
    out.raw.push_back(out.words[i]);
    out.raw_val.push_back(1.0f);
    uint32_t h = out.words[i];
    for (size_t k = 1; k < config_.word_ngrams && i + k < w; ++k) {
      h = HashId(out.words[i + k], h + kSeedNgram + uint32_t(k));
      out.raw.push_back(h);
      out.raw_val.push_back(1.0f);
    }
  }
}

void Featurizer::Featurize(const std::string_view* fields, size_t num_fields,
                           bool with_labels, FeatureRow& out) const {
  if (num_fields < num_columns_) {
    throw FieldError(num_fields, std::to_string(num_columns_) +
                                     " columns, found " +
                                     std::to_string(num_fields));
  }
  out.raw.clear();
  out.raw_val.clear();
  out.labels.clear();
  out.column_hash.resize(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) {
    const Column& c = columns_[i];
    const std::string_view f = fields[c.index];
    switch (c.type) {
      case ColumnType::kText:
        AddText(f, c, out);
        break;
      case ColumnType::kCategorical:
        out.column_hash[i] = CategoryHash(f, c);
        out.raw.push_back(out.column_hash[i]);
        out.raw_val.push_back(1.0f);
        break;
      case ColumnType::kNumeric: {
        float value;
        out.raw.push_back(HashId(NumericBucket(f, c, c.index, &value), c.seed));
        out.raw_val.push_back(1.0f);
        if (c.value_scale > 0 && value != 0) {
          out.raw.push_back(HashId(kSeedValue, c.seed));
          out.raw_val.push_back(value);
        }
        break;
      }
      case ColumnType::kTarget:
      case ColumnType::kIgnore:
        break;
    }
  }
  for (const Cross& x : crosses_) {
    out.raw.push_back(HashId(out.column_hash[x.b], out.column_hash[x.a] ^ x.seed));
    out.raw_val.push_back(1.0f);
  }
  // Final mix through the dispatched kernel, then [0, num_features) by
  // multiply-shift; equal ids merge.
  const size_t m = out.raw.size();
  out.idx.resize(m);
  dispatch::HashIds()(out.raw.data(), m, config_.seed, out.idx.data());
  const uint64_t range = config_.num_features;
  out.order.resize(m);
  for (size_t j = 0; j < m; ++j) {
    out.idx[j] = uint32_t((uint64_t(out.idx[j]) * range) >> 32);
    out.order[j] = uint32_t(j);
  }
  std::sort(out.order.begin(), out.order.end(), [&](uint32_t a, uint32_t b) {
    return out.idx[a] < out.idx[b];
  });
  // Merged ids go into raw (no longer needed), then swap into idx.
  out.val.clear();
  size_t k = 0;
  for (size_t j = 0; j < m; ++j) {
    const uint32_t id = out.idx[out.order[j]];
    const float v = out.raw_val[out.order[j]];
    if (k > 0 && out.raw[k - 1] == id) {
      out.val[k - 1] += v;
    } else {
      out.raw[k++] = id;
      out.val.push_back(v);
    }
  }
  out.raw.resize(k);
  out.idx.swap(out.raw);
  Weight(Span<const uint32_t>(out.idx.data(), out.idx.size()),
         Span<float>(out.val.data(), out.val.size()));

  if (!with_labels) return;
  const std::string_view t = fields[target_];
  auto add = [&](std::string_view l) {
    l = Trim(l);
    if (l.empty()) return;
    const int64_t id = LabelId(l);
    if (id >= 0 && std::find(out.labels.begin(), out.labels.end(),
                             uint32_t(id)) == out.labels.end()) {
      out.labels.push_back(uint32_t(id));
    }
  };
  if (config_.label_delimiter.empty()) {
    add(t);
  } else {
    const char d = config_.label_delimiter[0];
    size_t start = 0;
    for (;;) {
      const size_t end = t.find(d, start);
      add(t.substr(start, end - start));
      if (end == std::string_view::npos) break;
      start = end + 1;
    }
  }
}

SparseDataset Featurizer::ReadDataset(CsvReader& reader) const {
  SparseDataset data(num_features(), num_labels());
  FeatureRow row;
  std::vector<std::string_view> fields;
  while (reader.Next()) {
    fields.resize(reader.num_fields());
    for (size_t i = 0; i < fields.size(); ++i) fields[i] = reader.field(i);
    try {
      Featurize(fields.data(), fields.size(), true, row);
    } catch (const FieldError& e) {
      reader.Reject(e.column(), e.what());
      continue;
    }
    data.Add(row.idx, row.val, row.labels);
  }
  return data;
}

std::map<std::string, std::string> Featurizer::ToMetadata() const {
  std::map<std::string, std::string> m;
  const std::string p = "featurizer.";
  m[p + "version"] = "1";
  m[p + "num_columns"] = std::to_string(num_columns_);
  m[p + "target"] = std::to_string(target_);
  std::string cols;
  for (const Column& c : columns_) {
    cols += (cols.empty() ? "" : ",") + std::to_string(c.index) + ":" +
            ColumnTypeName(c.type);
    if (!c.boundaries.empty()) {
      std::string b;
      for (const float v : c.boundaries) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%.9g", double(v));
        b += (b.empty() ? "" : ",") + std::string(buf);
      }
      m[p + "boundaries." + std::to_string(c.index)] = b;
    }
    if (c.value_scale > 0) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.9g", double(c.value_scale));
      m[p + "value_scale." + std::to_string(c.index)] = buf;
    }
    if (config_.min_category_count > 1 && c.type == ColumnType::kCategorical) {
      std::string k;
      for (const uint32_t h : c.kept) {
        char buf[16];
        std::snprintf(buf, sizeof(buf), "%x", h);
        k += (k.empty() ? "" : ",") + std::string(buf);
      }
      m[p + "kept." + std::to_string(c.index)] = k;
    }
  }
  m[p + "columns"] = cols;
  std::string crosses;
  for (const Cross& x : crosses_) {
    crosses += (crosses.empty() ? "" : ",") + std::to_string(columns_[x.a].index) +
               ":" + std::to_string(columns_[x.b].index);
  }
  m[p + "crosses"] = crosses;
  std::string labels;
  for (size_t i = 0; i < labels_.size(); ++i) {
    labels += (i ? "," : "") + Escape(labels_[i]);
  }
  m[p + "labels"] = labels;
  m[p + "num_features"] = std::to_string(config_.num_features);
  m[p + "lowercase"] = config_.lowercase ? "1" : "0";
  m[p + "word_ngrams"] = std::to_string(config_.word_ngrams);
  m[p + "char_ngrams"] = std::to_string(config_.char_ngrams);
  m[p + "binning"] =
      config_.binning == NumericBinning::kQuantile ? "quantile" : "log";
  m[p + "numeric_buckets"] = std::to_string(config_.numeric_buckets);
  m[p + "min_category_count"] = std::to_string(config_.min_category_count);
  m[p + "label_delimiter"] = Escape(config_.label_delimiter);
  m[p + "seed"] = std::to_string(config_.seed);
  if (!idf_.empty()) {
    m[p + "weighting"] = FeatureWeightingName(config_.weighting);
    m[p + "idf"] = ToBase64(idf_);
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.9g", double(row_norm_));
    m[p + "row_norm"] = buf;
  }
  return m;
}

Featurizer Featurizer::FromMetadata(const std::map<std::string, std::string>& m) {
  const std::string p = "featurizer.";
  auto get = [&](const std::string& key) -> const std::string& {
    const auto it = m.find(p + key);
    if (it == m.end()) {
      throw std::invalid_argument("model metadata: missing " + p + key);
    }
    return it->second;
  };
  auto num = [&](const std::string& key) -> uint64_t {
    const std::string& v = get(key);
    if (v.empty() || v.size() > 19 ||
        v.find_first_not_of("0123456789") != std::string::npos) {
      throw std::invalid_argument("model metadata: " + p + key +
                                  " is not a number: '" + v + "'");
    }
    return std::stoull(v);
  };
  if (get("version") != "1") {
    throw std::invalid_argument("model metadata: unknown featurizer version " +
                                get("version"));
  }
  Featurizer f;
  FeaturizerConfig& c = f.config_;
  f.num_columns_ = num("num_columns");
  f.target_ = num("target");
  c.num_features = uint32_t(num("num_features"));
  c.lowercase = num("lowercase") != 0;
  c.word_ngrams = uint32_t(num("word_ngrams"));
  c.char_ngrams = uint32_t(num("char_ngrams"));
  const std::string& binning = get("binning");
  if (binning != "quantile" && binning != "log") {
    throw std::invalid_argument("model metadata: bad binning '" + binning + "'");
  }
  c.binning = binning == "log" ? NumericBinning::kLog : NumericBinning::kQuantile;
  c.numeric_buckets = uint32_t(num("numeric_buckets"));
  c.min_category_count = uint32_t(num("min_category_count"));
  c.label_delimiter = Unescape(get("label_delimiter"));
  c.seed = uint32_t(num("seed"));
  if (f.target_ >= f.num_columns_) {
    throw std::invalid_argument("model metadata: target column out of range");
  }
  c.columns.push_back({std::to_string(f.target_), ColumnType::kTarget});
  c.numeric_values = false;  // unless a column has a value scale
  for (const std::string& entry : Split(get("columns"), ',')) {
    const std::vector<std::string> parts = Split(entry, ':');
    if (parts.size() != 2 || parts[0].empty() ||
        parts[0].find_first_not_of("0123456789") != std::string::npos ||
        parts[0].size() > 9) {
      throw std::invalid_argument("model metadata: bad column '" + entry + "'");
    }
    Column col;
    col.index = std::stoul(parts[0]);
    col.type = ParseColumnType(parts[1]);
    if (col.index >= f.num_columns_ || col.type == ColumnType::kTarget ||
        col.type == ColumnType::kIgnore) {
      throw std::invalid_argument("model metadata: bad column '" + entry + "'");
    }
    const auto b = m.find(p + "boundaries." + parts[0]);
    if (b != m.end()) {
      for (const std::string& v : Split(b->second, ',')) {
        double x;
        if (!ParseNumber(v, &x)) {
          throw std::invalid_argument("model metadata: bad boundary '" + v + "'");
        }
        col.boundaries.push_back(float(x));
      }
    }
    const auto vs = m.find(p + "value_scale." + parts[0]);
    if (vs != m.end()) {
      double x;
      if (col.type != ColumnType::kNumeric || !ParseNumber(vs->second, &x) ||
          !(x > 0)) {
        throw std::invalid_argument("model metadata: bad value scale '" +
                                    vs->second + "'");
      }
      col.value_scale = float(x);
      c.numeric_values = true;
    }
    const auto k = m.find(p + "kept." + parts[0]);
    if (k != m.end()) {
      for (const std::string& v : Split(k->second, ',')) {
        if (v.empty() || v.size() > 8 ||
            v.find_first_not_of("0123456789abcdef") != std::string::npos) {
          throw std::invalid_argument("model metadata: bad value hash '" + v + "'");
        }
        col.kept.push_back(uint32_t(std::stoul(v, nullptr, 16)));
      }
      if (!std::is_sorted(col.kept.begin(), col.kept.end())) {
        throw std::invalid_argument("model metadata: unsorted value hashes");
      }
    }
    c.columns.push_back({parts[0], col.type});
    f.columns_.push_back(std::move(col));
  }
  if (f.columns_.empty()) {
    throw std::invalid_argument("model metadata: no feature columns");
  }
  for (const std::string& entry : Split(get("crosses"), ',')) {
    const std::vector<std::string> parts = Split(entry, ':');
    Cross x;
    bool found_a = false, found_b = false;
    for (size_t i = 0; parts.size() == 2 && i < f.columns_.size(); ++i) {
      if (std::to_string(f.columns_[i].index) == parts[0]) x.a = i, found_a = true;
      if (std::to_string(f.columns_[i].index) == parts[1]) x.b = i, found_b = true;
    }
    if (!found_a || !found_b) {
      throw std::invalid_argument("model metadata: bad cross '" + entry + "'");
    }
    c.crosses.emplace_back(parts[0], parts[1]);
    f.crosses_.push_back(x);
  }
  for (const std::string& l : Split(get("labels"), ',')) {
    f.labels_.push_back(Unescape(l));
  }
  if (f.labels_.empty()) {
    throw std::invalid_argument("model metadata: no labels");
  }
  const auto w = m.find(p + "weighting");
  c.weighting = FeatureWeighting::kNone;
  if (w != m.end()) {
    if (w->second != FeatureWeightingName(FeatureWeighting::kTfIdf)) {
      throw std::invalid_argument("model metadata: featurizer.weighting must be tfidf, got '" +
                                  w->second + "'");
    }
    c.weighting = FeatureWeighting::kTfIdf;
    double norm = 0;
    if (!FromBase64(get("idf"), &f.idf_) || f.idf_.size() != c.num_features ||
        !ParseNumber(get("row_norm"), &norm) || !(norm > 0) || !std::isfinite(norm)) {
      throw std::invalid_argument("model metadata: bad featurizer.idf or row_norm");
    }
    f.row_norm_ = float(norm);
  }
  f.Finish();
  return f;
}

}  // namespace frugal::nn
