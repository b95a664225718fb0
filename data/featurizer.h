// Turns the fields of a CSV record into a sparse feature row and label ids,
// with no feature engineering by the user: each column has a type.
//
//  text         lower-cased (ASCII), split into words (runs of letters,
//               digits and bytes >= 0x80) and punctuation (one token per
//               character); unigrams + word n-grams up to `word_ngrams`,
//               optionally character n-grams of each word ("<word>").
//  categorical  the whole value, hashed (the empty value is a value too).
//  numeric      a bucket: quantiles fitted on the training data, or
//               logarithmic; empty is a bucket of its own.
//  target       the label(s): strings mapped to ids (sorted numerically when
//               every label is an integer, else lexicographically); several
//               per field with a label delimiter.
//  ignore       skipped.
// Optional crosses of pairs of categorical columns hash both values together.
//
// Every feature is hashed with the kernels' id hash (kernels/hash_id.h;
// strings are folded through HashId four bytes at a time, then each row's ids
// go through the dispatched HashIds kernel) into [0, num_features). Equal
// ids in a row merge, their values summed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/csv.h"
#include "data/dataset.h"

namespace frugal::nn {

enum class ColumnType { kIgnore, kText, kCategorical, kNumeric, kTarget };

// "text", "categorical", "numeric", "target", "ignore"; throws
// std::invalid_argument for anything else.
ColumnType ParseColumnType(const std::string& name);
const char* ColumnTypeName(ColumnType type);

enum class NumericBinning { kQuantile, kLog };

// How a row's merged feature values are weighted.
//  kAuto   kTfIdf when a column is text, else kNone (measured on the bundled
//          sets: idf helps every text set and hurts the tabular one; see
//          bench/RESULTS.md). Featurizer::Fit resolves it.
//  kNone   as counted (a token seen twice has value 2).
//  kTfIdf  sublinear term frequency times inverse document frequency,
//          v -> (v >= 1 ? 1 + ln v : v) * idf(id), idf = 1 + ln((1 + N) /
//          (1 + df)) over the N rows FitWeights saw (features they never
//          had get 0 when those were all the training rows, else the idf
//          of df = 1), then the row scaled to L2 norm sqrt(mean features
//          per row), so weighted rows keep the magnitude of counted ones.
enum class FeatureWeighting { kAuto, kNone, kTfIdf };
// "auto", "none" or "tfidf"; std::invalid_argument naming the choices otherwise.
FeatureWeighting ParseFeatureWeighting(const std::string& name);
const char* FeatureWeightingName(FeatureWeighting w);

struct ColumnSpec {
  std::string name;  // header name, or 0-based index in decimal
  ColumnType type = ColumnType::kIgnore;
};

struct FeaturizerConfig {
  std::vector<ColumnSpec> columns;  // exactly one target
  uint32_t num_features = 1u << 18;  // hash space
  bool lowercase = true;
  uint32_t word_ngrams = 2;  // 1: unigrams; 2: and bigrams; ...
  uint32_t char_ngrams = 0;  // 0: none; n: character n-grams of each word
  NumericBinning binning = NumericBinning::kQuantile;
  uint32_t numeric_buckets = 32;  // quantile buckets per numeric column
  // Numeric columns also give their value as one feature's value:
  // sign(v) log(1 + |v|), divided by the largest such magnitude among the
  // training values Fit samples (all of them up to 2^17 per column), so in
  // [-1, 1] there; clamped to [-4, 4]. Empty fields and 0 give none.
  bool numeric_values = true;
  // Categorical values seen fewer times than this in training share one
  // "rare" feature per column (1: every value is its own feature).
  uint32_t min_category_count = 1;
  // Pairs of categorical column names whose values are crossed.
  std::vector<std::pair<std::string, std::string>> crosses;
  std::string label_delimiter;  // empty: one label per row
  uint32_t seed = 0x5eed1e55u;
  // Applied once FitWeights has seen the training rows (Featurize weights
  // nothing before).
  FeatureWeighting weighting = FeatureWeighting::kAuto;
};

// A field the featurizer cannot read: `column` 0-based in the record.
class FieldError : public std::runtime_error {
 public:
  FieldError(size_t column, const std::string& expected)
      : std::runtime_error(expected), column_(column) {}
  size_t column() const { return column_; }

 private:
  size_t column_;
};

// One featurized record; reused across calls so that featurizing allocates
// nothing once the vectors have grown.
struct FeatureRow {
  std::vector<uint32_t> idx;
  std::vector<float> val;
  std::vector<uint32_t> labels;
  std::vector<uint32_t> raw;  // scratch: pre-hash ids
  std::vector<float> raw_val;
  std::vector<uint32_t> order;  // scratch: merge of equal ids
  std::vector<uint32_t> words;  // scratch: word hashes of one text field
  std::vector<uint32_t> column_hash;  // scratch: categorical value hashes

  SparseRow row() const {
    return {Span<const uint32_t>(idx.data(), idx.size()),
            Span<const float>(val.data(), val.size()),
            Span<const uint32_t>(labels.data(), labels.size())};
  }
};

class Featurizer {
 public:
  Featurizer() = default;

  // Resolves the columns against `reader`'s header (or indices) and fits
  // the label vocabulary and the numeric quantiles on every remaining record
  // of `reader`. Throws DataError for a missing column, a configuration
  // without exactly one target, a malformed record (unless the reader skips
  // them), or a non-numeric value in a numeric column.
  static Featurizer Fit(const FeaturizerConfig& config, CsvReader& reader);

  const FeaturizerConfig& config() const { return config_; }
  size_t num_features() const { return config_.num_features; }
  size_t num_labels() const { return labels_.size(); }
  const std::string& label_name(uint32_t id) const { return labels_[id]; }
  // The id of a label string, or -1 when training never saw it.
  int64_t LabelId(std::string_view label) const;
  // Column positions in a record (0-based), as resolved by Fit.
  size_t num_columns() const { return num_columns_; }
  size_t target_column() const { return target_; }

  // Features (and labels, when `with_labels`) of one record of
  // num_columns() fields. Labels never seen in training are dropped. Throws
  // FieldError for a non-numeric value in a numeric column or too few
  // fields. Allocates nothing once `out`'s vectors have grown.
  void Featurize(const std::string_view* fields, size_t num_fields,
                 bool with_labels, FeatureRow& out) const;

  // Fits the weighting's statistics (document frequencies, the mean row
  // length) on `rows` (featurized by this featurizer, not yet weighted):
  // all the training rows (`all_rows`), or a sample of them. Every later
  // Featurize weights its row. Does nothing for FeatureWeighting::kNone.
  void FitWeights(const SparseDataset& rows, bool all_rows);
  bool weighted() const { return !idf_.empty(); }
  // Weights one featurized row in place (ids ascending, unique), as
  // Featurize does once the weights are fitted; a no-op before.
  void Weight(Span<const uint32_t> idx, Span<float> val) const;
  // Weights every row of `data` in place (rows featurized before
  // FitWeights).
  void Weight(SparseDataset* data) const;

  // Every remaining record of `reader` into a dataset; malformed records
  // throw DataError naming file, line and column, or are skipped and
  // counted by the reader (skip_bad_rows).
  SparseDataset ReadDataset(CsvReader& reader) const;

  // The settings and fitted state as strings (for model files), and back.
  // FromMetadata throws std::invalid_argument on missing or malformed keys.
  std::map<std::string, std::string> ToMetadata() const;
  static Featurizer FromMetadata(const std::map<std::string, std::string>& m);

 private:
  struct Column {
    size_t index = 0;  // position in the record
    ColumnType type = ColumnType::kIgnore;
    uint32_t seed = 0;              // per-column hash seed
    std::vector<float> boundaries;  // numeric quantile cut points, ascending
    std::vector<uint32_t> kept;     // categorical: frequent value hashes, sorted
    float value_scale = 0;          // numeric_values: 1 / max |SignedLog|
  };
  struct Cross {
    size_t a = 0, b = 0;  // positions in columns_
    uint32_t seed = 0;
  };

  void Resolve(const CsvReader& reader);
  void SetSeeds();
  void Finish();  // seeds, label map
  uint32_t CategoryHash(std::string_view value, const Column& c) const;
  void AddText(std::string_view text, const Column& c, FeatureRow& out) const;
  // The bucket id of a numeric field and, into *value, its scaled value
  // (0 when empty).
  uint32_t NumericBucket(std::string_view field, const Column& c,
                         size_t column, float* value) const;

  FeaturizerConfig config_;
  size_t num_columns_ = 0;
  size_t target_ = 0;
  std::vector<Column> columns_;  // non-ignored, non-target, in record order
  std::vector<Cross> crosses_;
  std::vector<std::string> labels_;
  std::vector<std::pair<std::string, uint32_t>> sorted_labels_;  // by name
  // kTfIdf, once fitted: per feature id, idf quantized to 1/16
  // (0: a feature the fitted rows never had), and the row norm.
  std::vector<uint8_t> idf_;
  float row_norm_ = 0;
};

// A string's 32-bit hash: its bytes (lower-cased ASCII when `lowercase`)
// folded four at a time through HashId, seeded.
uint32_t HashString(std::string_view s, uint32_t seed, bool lowercase = false);

}  // namespace frugal::nn
