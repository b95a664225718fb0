// A classifier trained from raw CSV: a Featurizer (text, categorical and
// numeric columns -> hashed sparse features) in front of a Model (sparse
// input, one ReLU hidden layer or none, softmax output), with the network's
// shape and the training schedule chosen from the data. Model files carry
// the featurizer's settings and the CSV dialect in the model's metadata.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "data/csv.h"
#include "data/featurizer.h"
#include "data/dataset.h"
#include "nn/model.h"
#include "nn/serialize.h"

namespace frugal::nn {

struct ClassifierOptions {
  FeaturizerConfig features;
  CsvOptions csv;
  // No hidden layer: multinomial logistic regression on the same features.
  bool linear = false;
  // 0 selects automatically from the data (see ChooseSettings).
  size_t hidden = 0;
  // Networks trained independently (seeds seed, seed + 7919, ...) whose
  // logits are averaged: one model with their hidden layers side by side.
  size_t members = 0;
  size_t epochs = 0;
  size_t batch = 0;
  float lr = 0;
  size_t threads = 0;  // 0: all cores
  uint64_t seed = 1;
  // Stream the training file (featurized per epoch, a bounded shuffle
  // buffer) instead of featurizing it into memory once; automatic above
  // 1 GiB.
  bool stream = false;
  // Choose the batch size, learning rate, hidden layer or none and, for
  // text with
  // auto_char_ngrams / auto_word_ngrams, the n-grams on held-out rows
  // (ChooseOnValidation) instead of the rules alone. A streamed file's
  // first 100,000 rows stand in for it (width, rate and batch only).
  bool search = true;
  // With search: try character 3-grams of each word beside
  // features.char_ngrams (only when a column is text).
  bool auto_char_ngrams = true;
  // With search: try word unigrams alone beside features.word_ngrams (only
  // when a column is text).
  bool auto_word_ngrams = true;
  // With search: wall seconds for it; a candidate starts only when the time
  // spent plus the first candidate's would fit (0: max(60, 10 x the first
  // candidate's), so the whole search on data of any size).
  double budget_seconds = 0;
  // Size the hashed feature space from the training rows (held in memory):
  // features.num_features, doubled while smaller than the distinct features
  // estimated from its occupied ids, up to 2^20.
  bool auto_features = true;
};

// The automatic choices for `samples` training rows with `nonzeros` features
// in all and `labels` labels: hidden width, epochs, batch size, learning
// rate (for the fields of `options` that are 0) and the input layer's
// initial scale, filled into *report.
struct TrainReport;
void ChooseSettings(size_t samples, size_t nonzeros, size_t labels,
                    const ClassifierOptions& options, TrainReport* report);

// One candidate of the search on held-out rows.
struct CandidateAccuracy {
  uint32_t word_ngrams = 0;  // the featurization's word n-grams, up to this
  uint32_t char_ngrams = 0;  // the featurization's character n-grams (0: none)
  size_t batch = 0;
  size_t hidden = 0;  // 0: linear
  float lr = 0;
  size_t epochs = 0;
  double accuracy = 0;  // on the held-out rows after `epochs` (ROC-AUC for a
                        // binary target)
};

// What training chose and how it went.
struct TrainReport {
  size_t samples = 0, features = 0, labels = 0, bad_rows = 0;
  bool streamed = false;  // the training file was streamed, not loaded
  size_t hidden = 0, epochs = 0, batch = 0;  // hidden 0: linear
  size_t members = 1;  // ensemble size; the model's width is members * hidden
  bool wide_rows = false;  // 64 or more features per row on average
  uint32_t word_ngrams = 0;  // the features' word n-grams, up to this
  uint32_t char_ngrams = 0;  // the features' character n-grams (0: none)
  float lr = 0;
  float init_scale = 0;  // input-layer weights, relative to 1/sqrt(nnz)
  double featurize_seconds = 0, train_seconds = 0;
  double search_seconds = 0;  // of train_seconds, choosing on held-out rows
  double final_loss = 0;  // mean over the last epoch (of the last member)
  // Settings chosen on held-out training rows (empty: the rules alone).
  std::vector<CandidateAccuracy> candidates;
  size_t valid_rows = 0;
  double valid_accuracy = 0;
};

// The training file featurized one way, held in memory.
struct FeaturizedRows {
  uint32_t word_ngrams = 0;  // the featurizer's
  uint32_t char_ngrams = 0;
  const SparseDataset* data = nullptr;
};

// Chooses settings on a held-out tenth of the rows (200 to 5,000; the same
// rows for every candidate), each candidate trained for its rules' epochs on
// the other rows and scored once on the held-out ones (accuracy, or ROC-AUC
// for two labels): first among featurizations (`variants`, the configured
// one first; the same rows in the same order), each with the rules'
// settings for its rows (ChooseSettings); then, unless the width is given
// (options.linear or options.hidden), the winner without a hidden layer;
// then, unless options.lr is given, the winner at 3x and 1/3 its rules'
// rate; then, unless options.batch is given, the winner at twice and at
// half the rules' batch (within the rules' bounds). At each stage the best
// challenger replaces the incumbent (the configured features; the rules'
// width, rate, batch) only when its figure is
// higher by more than one standard error of the difference (a paired
// bootstrap over the held-out rows). Returns the index of the
// winner's variant and sets *r to its settings, the candidates and the
// held-out figures. A candidate after the first starts only when the
// search's time so far plus the first's duration fits options.budget_seconds
// (a stage's candidates skipped when it would not). With a single
// candidate, or too few rows to hold any
// out, returns 0 and leaves *r as the rules set it. `make_model` builds an
// initialized model for a variant's index and settings.
size_t ChooseOnValidation(
    const std::vector<FeaturizedRows>& variants, const ClassifierOptions& options,
    const std::function<std::unique_ptr<Model>(size_t, const TrainReport&, uint64_t)>& make_model,
    TrainReport* r);

struct ClassifierMetrics {
  size_t samples = 0;
  size_t bad_rows = 0;
  double accuracy = 0;  // top-1 label among the row's labels
  double roc_auc = -1;  // binary targets only; -1 otherwise
  double seconds = 0;
};

// One prediction: the best label's id and its probability.
struct Prediction {
  uint32_t label = 0;
  float score = 0;
};

class Classifier {
 public:
  // Reads `train_path` twice (fit the featurizer, then featurize) and
  // trains. Throws DataError on malformed input (unless options.csv skips
  // bad rows) and std::invalid_argument on bad options. `on_epoch` is called
  // after each epoch with the epoch (1-based) and its mean loss (of the
  // first member of an ensemble).
  static std::unique_ptr<Classifier> Train(
      const std::string& train_path, const ClassifierOptions& options,
      TrainReport* report = nullptr,
      const std::function<void(size_t, double)>& on_epoch = nullptr);

  // Accuracy (and ROC-AUC with two labels, the second label positive) on a
  // labelled file laid out like the training file.
  // Malformed rows throw DataError, or with csv.skip_bad_rows are counted.
  ClassifierMetrics Evaluate(const std::string& path,
                             const CsvOptions& csv) const;

  // Per-thread buffers: Predict allocates nothing once they have grown.
  struct Scratch {
    FeatureRow row;
    Model::Activations model;
    std::vector<uint32_t> labels;
    std::vector<float> scores;
  };

  // The best label of one record (num_fields fields, laid out like the
  // training file; the target field is not read). The score is the softmax
  // probability among the 64 best labels. Throws FieldError on a bad field.
  Prediction Predict(const std::string_view* fields, size_t num_fields,
                     Scratch& scratch) const;
  // Probability of the positive (second) label of a binary target.
  float PositiveProbability(const std::string_view* fields, size_t num_fields,
                            Scratch& scratch) const;
  // Probability of `label` for one record (0 when it is not among the 64
  // best labels).
  float LabelProbability(const std::string_view* fields, size_t num_fields,
                         uint32_t label, Scratch& scratch) const;
  // Every label's probability for one record into out[0, num_labels):
  // labels outside the 64 best get 0.
  void Probabilities(const std::string_view* fields, size_t num_fields,
                     Scratch& scratch, float* out) const;

  // Saves the model with the featurizer and CSV settings in its metadata
  // (atomically; see nn/serialize.h).
  void Save(const std::string& path) const;
  // Throws ModelFileError for an unreadable file and std::invalid_argument
  // for a model without classifier metadata.
  static std::unique_ptr<Classifier> Load(const std::string& path);

  // The CSV dialect of the training file (header, delimiter, quoting).
  const CsvOptions& csv() const { return csv_; }
  const Featurizer& featurizer() const { return featurizer_; }
  const Model& model() const { return *model_; }
  const std::string& label_name(uint32_t id) const {
    return featurizer_.label_name(id);
  }

 private:
  Classifier(Featurizer f, CsvOptions csv, std::unique_ptr<Model> m)
      : featurizer_(std::move(f)), csv_(csv), model_(std::move(m)) {}
  // Scores scratch.row (featurized): the best labels into scratch.labels,
  // their probabilities into scratch.scores.
  void Score(Scratch& scratch) const;
  // The probability Score gave `label` (0 if not among the scored).
  static float Probability(const Scratch& scratch, uint32_t label);

  Featurizer featurizer_;
  CsvOptions csv_;
  std::unique_ptr<Model> model_;
};

// Area under the ROC curve of `scores` against binary `positive`; ties
// count half. -1 when one class is absent.
double RocAuc(const std::vector<float>& scores,
              const std::vector<uint8_t>& positive);

}  // namespace frugal::nn
