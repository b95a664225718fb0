#include "tasks/classifier.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <stdexcept>

#include "kernels/hash_id.h"
#include "data/batch_source.h"
#include "data/csv_source.h"
#include "train/fit.h"

namespace frugal::nn {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Rows of a streamed file featurized to estimate its features per row and
// fit the feature weighting.
constexpr size_t kWeightSample = 100000;

// Labels whose probabilities Predict normalizes over.
constexpr size_t kScoredLabels = 64;

// Uniform weights in [-scale, scale) from the id hash: fast enough for the
// tens of millions of input weights of a hashed feature space (the normal
// draws of ParamBlock::Init take ~1 s for 2^18 x 64).
void FillUniform(ParamBlock& p, float scale, uint32_t seed) {
  for (size_t r = 0; r < p.rows; ++r) {
    float* row = p.w.data() + r * p.stride;
    for (size_t c = 0; c < p.cols; ++c) {
      const uint32_t h = HashId(uint32_t(r * p.cols + c), seed);
      row[c] = scale * (float(h) * (2.0f / 4294967296.0f) - 1.0f);
    }
  }
}

std::map<std::string, std::string> CsvMetadata(const CsvOptions& o) {
  return {{"csv.delimiter", std::to_string(uint8_t(o.delimiter))},
          {"csv.quote", std::to_string(uint8_t(o.quote))},
          {"csv.header", o.header ? "1" : "0"},
          {"csv.rest_in_last_column", o.rest_in_last_column ? "1" : "0"}};
}

CsvOptions CsvFromMetadata(const std::map<std::string, std::string>& m) {
  auto get = [&](const char* key) -> int {
    const auto it = m.find(key);
    if (it == m.end() || it->second.empty() || it->second.size() > 3 ||
        it->second.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(it->second) > 255) {
      throw std::invalid_argument(std::string("model metadata: missing or bad ") +
                                  key);
    }
    return std::stoi(it->second);
  };
  CsvOptions o;
  o.delimiter = char(get("csv.delimiter"));
  o.quote = char(get("csv.quote"));
  o.header = get("csv.header") != 0;
  o.rest_in_last_column = get("csv.rest_in_last_column") != 0;
  return o;
}

// Frees the Adam moments and gradients of a model that is done training.
void FreeOptimizerState(Model& model) {
  for (size_t l = 0; l < model.num_layers(); ++l) {
    for (ParamBlock* p : {&model.layer(l).w, &model.layer(l).b}) {
      std::vector<float>().swap(p->m);
      std::vector<float>().swap(p->v);
      std::vector<float>().swap(p->g);
    }
  }
}

// One model whose logits are the mean of `members`' logits (equal shapes,
// at most one hidden layer): a linear model's weights are averaged; hidden
// layers are concatenated side by side and the output layer reads all of
// them, each member's weights divided by the member count. Adam state is
// not kept (the result is for prediction).
std::unique_ptr<Model> Merge(const std::vector<std::unique_ptr<Model>>& members,
                             const ModelConfig& member_config) {
  const size_t k = members.size();
  const Model& first = *members[0];
  if (first.num_layers() > 2) {
    throw std::invalid_argument("an ensemble needs at most one hidden layer");
  }
  ModelConfig mc = member_config;
  const bool hidden = first.num_layers() == 2;
  if (hidden) mc.layers[0].width *= k;
  mc.seed = first.config().seed;
  auto merged = std::make_unique<Model>(mc, /*initialize=*/false);
  const float inv = 1.0f / float(k);
  for (size_t l = 0; l < merged->num_layers(); ++l) {
    ParamBlock* to[2] = {&merged->layer(l).w, &merged->layer(l).b};
    for (size_t m = 0; m < k; ++m) {
      const Layer& from_layer = members[m]->layer(l);
      const ParamBlock* from[2] = {&from_layer.w, &from_layer.b};
      for (size_t p = 0; p < 2; ++p) {
        ParamBlock& t = *to[p];
        const ParamBlock& f = *from[p];
        // Where member m's columns go, and how much of them.
        const bool concat = hidden && (l == 1 ? p == 0 : true);
        const size_t offset = concat ? m * f.cols : 0;
        const float w = (hidden && l == 0) ? 1.0f : inv;
        for (size_t r = 0; r < f.rows; ++r) {
          for (size_t c = 0; c < f.cols; ++c) {
            float& dst = t.w[r * t.stride + offset + c];
            const float src = w * f.w[r * f.stride + c];
            dst = concat ? src : dst + src;
          }
        }
      }
    }
  }
  FreeOptimizerState(*merged);
  merged->RebuildIndex();
  return merged;
}

// Held-out rows for choosing settings: a tenth of the rows, 200 to 5,000.
constexpr double kValidFraction = 0.1;

// A model's predictions on held-out rows, for the figure settings are
// chosen by: ROC-AUC for a binary target (accuracy there mostly counts the
// majority class; `value` is each row's score for label 1, `positive` its
// truth), else top-1 accuracy (`value` 1 where the best label is among the
// row's labels).
struct HeldOutPredictions {
  bool binary = false;
  std::vector<float> value;
  std::vector<uint8_t> positive;

  // The figure over rows `rows` (repeats allowed), or every row.
  double Figure(const std::vector<uint32_t>* rows = nullptr) const {
    const size_t n = rows ? rows->size() : value.size();
    auto at = [&](size_t i) { return rows ? (*rows)[i] : uint32_t(i); };
    if (!binary) {
      double sum = 0;
      for (size_t i = 0; i < n; ++i) sum += value[at(i)];
      return n ? sum / double(n) : 0;
    }
    std::vector<float> score(n);
    std::vector<uint8_t> pos(n);
    for (size_t i = 0; i < n; ++i) score[i] = value[at(i)], pos[i] = positive[at(i)];
    return RocAuc(score, pos);
  }
};

HeldOutPredictions PredictHeldOut(const Model& m, const SparseDataset& held, size_t threads) {
  const size_t n = held.size();
  const size_t k = m.output_dim() == 2 ? 2 : 1;
  std::vector<uint32_t> labels(k * n);
  std::vector<float> logits(k * n);
  PredictBatch(m, n, [&](size_t i) { return held.row(i); }, k, true, threads, labels.data(),
               logits.data());
  HeldOutPredictions p;
  p.binary = k == 2;
  p.value.resize(n);
  p.positive.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const SparseRow r = held.row(i);
    auto has = [&](uint32_t l) { return std::find(r.labels.begin(), r.labels.end(), l) != r.labels.end(); };
    if (p.binary) {
      // Logit of label 1 minus label 0's: a monotone image of P(label 1).
      const float d = logits[2 * i] - logits[2 * i + 1];
      p.value[i] = labels[2 * i] == 1 ? d : -d;
      p.positive[i] = has(1);
    } else {
      p.value[i] = labels[i] != kNoLabel && has(labels[i]) ? 1.0f : 0.0f;
    }
  }
  return p;
}

// One standard error of b's figure minus a's on the same held-out rows:
// the spread of the difference over 200 bootstrap resamples of the rows
// (the same resamples for both; a fixed seed, so the same every run).
double PairedStandardError(const HeldOutPredictions& a, const HeldOutPredictions& b) {
  constexpr int kResamples = 200;
  const size_t n = a.value.size();
  std::mt19937_64 rng(0x5eed);
  std::uniform_int_distribution<uint32_t> pick(0, uint32_t(n - 1));
  std::vector<uint32_t> rows(n);
  double sum = 0, sum2 = 0;
  for (int t = 0; t < kResamples; ++t) {
    for (uint32_t& r : rows) r = pick(rng);
    const double d = b.Figure(&rows) - a.Figure(&rows);
    sum += d;
    sum2 += d * d;
  }
  const double mean = sum / kResamples;
  return std::sqrt(std::max(0.0, sum2 / kResamples - mean * mean));
}

// Largest hashed feature space chosen from the data: an input layer of 64
// columns with Adam's two moments is 2^20 x 64 x 12 bytes = 805 MB while
// training (the model file a third of that).
constexpr uint32_t kMaxAutoFeatures = 1u << 20;

// The power of two at least the distinct features of `data` (hashed into
// data.num_features() ids, a power of two), within [data.num_features(),
// kMaxAutoFeatures]. V distinct features occupy D = M (1 - e^{-V/M}) of M
// ids in expectation, so V = -M ln(1 - D/M) (linear counting).
uint32_t SizedFeatureSpace(const SparseDataset& data) {
  const size_t m = data.num_features();
  std::vector<bool> seen(m, false);
  size_t occupied = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    for (const uint32_t id : data.row(i).idx) {
      if (!seen[id]) {
        seen[id] = true;
        ++occupied;
      }
    }
  }
  const double distinct = occupied >= m ? double(kMaxAutoFeatures)
                                        : -double(m) * std::log1p(-double(occupied) / double(m));
  size_t space = m;
  while (double(space) < distinct && space < kMaxAutoFeatures) space *= 2;
  return uint32_t(space);
}

// What training chose and, after a search, on what evidence, saved with
// the model: "choice.*" keys; candidates one per line as "word_ngrams
// char_ngrams hidden batch lr epochs held-out-figure".
std::map<std::string, std::string> ChoiceMetadata(const TrainReport& s) {
  char line[160];
  std::snprintf(line, sizeof line, "%zu %zu %g %zu", s.hidden, s.batch, double(s.lr), s.epochs);
  std::map<std::string, std::string> m = {{"choice.hidden_batch_lr_epochs", line}};
  if (s.valid_rows == 0) return m;
  m["choice.valid_rows"] = std::to_string(s.valid_rows);
  std::string candidates;
  for (const CandidateAccuracy& c : s.candidates) {
    std::snprintf(line, sizeof line, "%u %u %zu %zu %g %zu %.6f\n", c.word_ngrams,
                  c.char_ngrams, c.hidden, c.batch, double(c.lr), c.epochs, c.accuracy);
    candidates += line;
  }
  m["choice.candidates"] = candidates;
  return m;
}

// Bounds of the automatic batch size: rows of many features (r.wide_rows)
// take larger batches.
constexpr size_t kMinAutoBatch = 32;
size_t MaxAutoBatch(const TrainReport& r) { return r.wide_rows ? 1024 : 256; }

}  // namespace

size_t ChooseOnValidation(
    const std::vector<FeaturizedRows>& variants, const ClassifierOptions& options,
    const std::function<std::unique_ptr<Model>(size_t, const TrainReport&, uint64_t)>& make_model,
    TrainReport* r) {
  const size_t n = variants.at(0).data->size();
  const size_t v = std::min<size_t>(5000, std::max<size_t>(200, size_t(kValidFraction * double(n))));
  const bool width_given = options.linear || options.hidden != 0;
  if (n < 2 * v ||
      (variants.size() == 1 && options.batch != 0 && width_given && options.lr > 0)) {
    return 0;
  }
  std::vector<SparseDataset> rest(variants.size()), held(variants.size());
  // Candidate `s` of variant k, trained on its rest, predicting its held.
  struct Trial {
    TrainReport settings;
    size_t variant = 0;
    HeldOutPredictions predictions;
    double figure = 0;
  };
  // The first candidate always runs; a later one only if it would end
  // within the budget, at the first's duration.
  const auto start = Clock::now();
  double first_seconds = 0;
  auto affordable = [&] {
    if (r->candidates.empty()) return true;
    const double budget = options.budget_seconds > 0 ? options.budget_seconds
                                                     : std::max(60.0, 10 * first_seconds);
    return Since(start) + first_seconds <= budget;
  };
  // The rules' settings for variant k's rows under `o`.
  auto rules_for = [&](size_t k, const ClassifierOptions& o) {
    TrainReport s = *r;
    ChooseSettings(n, variants[k].data->nonzeros(), r->labels, o, &s);
    s.word_ngrams = variants[k].word_ngrams;
    s.char_ngrams = variants[k].char_ngrams;
    return s;
  };
  auto trial = [&](size_t k, const TrainReport& s) {
    auto model = make_model(k, s, options.seed);
    TrainConfig tc;
    tc.batch_size = s.batch;
    tc.lr = s.lr;
    tc.threads = options.threads;
    FitConfig fc;
    fc.epochs = s.epochs;
    fc.schedule = LrSchedule::kLinearDecay;
    InMemorySource source(rest[k], options.seed);
    Fit(*model, source, tc, fc);
    Trial t{s, k, PredictHeldOut(*model, held[k], options.threads), 0};
    t.figure = t.predictions.Figure();
    CandidateAccuracy c;
    c.word_ngrams = s.word_ngrams;
    c.char_ngrams = s.char_ngrams;
    c.batch = s.batch;
    c.hidden = s.hidden;
    c.lr = s.lr;
    c.epochs = s.epochs;
    c.accuracy = t.figure;
    if (r->candidates.empty()) first_seconds = Since(start);
    r->candidates.push_back(c);
    return t;
  };
  // The best challenger replaces the incumbent only when it is better by
  // more than one standard error of the difference: the rules stand unless
  // the held-out rows clearly say otherwise.
  auto settle = [](Trial& incumbent, std::vector<Trial>& challengers) {
    Trial* best = nullptr;
    for (Trial& c : challengers) {
      if (!best || c.figure > best->figure) best = &c;
    }
    if (best && best->figure - incumbent.figure >
                    PairedStandardError(incumbent.predictions, best->predictions)) {
      incumbent = std::move(*best);
    }
  };
  // First the featurization, each with its rules' settings.
  std::vector<Trial> challengers;
  for (size_t k = 0; k < variants.size(); ++k) {
    const SparseDataset& data = *variants[k].data;
    if (data.size() != n) throw std::logic_error("ChooseOnValidation: variants of unequal rows");
    if (!affordable()) break;
    HoldOut(data, v, options.seed, &rest[k], &held[k]);
    challengers.push_back(trial(k, rules_for(k, options)));
  }
  Trial chosen = std::move(challengers[0]);
  challengers.erase(challengers.begin());
  settle(chosen, challengers);
  // Then, unless the width was given, no hidden layer (its rules' rate)
  // against the rules' hidden layer.
  if (!width_given && chosen.settings.hidden != 0 && affordable()) {
    ClassifierOptions linear = options;
    linear.linear = true;
    challengers.clear();
    challengers.push_back(trial(chosen.variant, rules_for(chosen.variant, linear)));
    settle(chosen, challengers);
  }
  // Then, unless the rate was given, the winner at three times and a third
  // of its rules' learning rate.
  if (options.lr <= 0) {
    challengers.clear();
    const TrainReport rules = chosen.settings;
    for (const float factor : {3.0f, 1.0f / 3}) {
      if (!affordable()) break;
      TrainReport s = rules;
      s.lr = rules.lr * factor;
      challengers.push_back(trial(chosen.variant, s));
    }
    settle(chosen, challengers);
  }
  // Then, for the winner, twice and half its batch (within the rules'
  // bounds), unless the batch was given.
  if (options.batch == 0) {
    challengers.clear();
    const TrainReport rules = chosen.settings;
    for (const size_t batch : {2 * rules.batch, rules.batch / 2}) {
      if (batch < kMinAutoBatch || batch > MaxAutoBatch(rules) || !affordable()) continue;
      TrainReport s = rules;
      s.batch = batch;
      challengers.push_back(trial(chosen.variant, s));
    }
    settle(chosen, challengers);
  }
  TrainReport best = chosen.settings;
  best.candidates = r->candidates;
  best.valid_rows = v;
  best.valid_accuracy = chosen.figure;
  *r = best;
  return chosen.variant;
}

void ChooseSettings(size_t samples, size_t nonzeros, size_t labels,
                    const ClassifierOptions& o, TrainReport* r) {
  // Two regimes, measured on dbpedia14k (text: ~100 features per row) and
  // criteo10k (tabular: 39 per row); see bench/RESULTS.md. Many features per
  // row average out noise, so large batches and a high learning rate train
  // fast; few features per row want small batches, a low rate and a small
  // initial embedding (values unseen in training stay near 0).
  const double per_row = double(nonzeros) / double(std::max<size_t>(1, samples));
  const bool wide_rows = per_row >= 64;
  const size_t hidden = labels > 4096 ? 256 : labels > 64 ? 128
                        : wide_rows   ? 64  : 32;
  r->hidden = o.linear ? 0 : o.hidden ? o.hidden : hidden;
  r->members = o.members ? o.members : 1;
  // At least 64 optimizer steps per epoch: a small training file in large
  // batches makes too few Adam updates in its epochs to fit (5,452 rows in
  // batches of 256 for 8 epochs is 170 updates).
  r->wide_rows = wide_rows;
  r->batch = o.batch ? o.batch
                     : std::min<size_t>(MaxAutoBatch(*r),
                                        std::max<size_t>(kMinAutoBatch, samples / 64));
  // Narrow rows: a linear model wants a higher rate than a hidden layer
  // (criteo10k, chosen by 5-fold validation on its training file).
  r->lr = o.lr > 0 ? o.lr : wide_rows ? 0.006f : r->hidden ? 0.001f : 0.002f;
  // About 40,000 samples seen in all, and each label's rows about 40 times
  // (many labels with a few rows each: 5,000 labels x 4 rows of synthetic
  // topic words reach 5.7% test accuracy in 2 passes, 75.5% in 10); 2 to 20
  // passes.
  const size_t n = std::max<size_t>(1, samples);
  r->epochs = o.epochs ? o.epochs
                       : std::clamp<size_t>(std::max((40000 + n - 1) / n,
                                                     (40 * labels + n - 1) / n),
                                            2, 20);
  // Uniform weights in +-init_scale * sqrt(3 / features per row) for the
  // layer reading the sparse input.
  r->init_scale = wide_rows ? 0.1f : 0.01f;
}

std::unique_ptr<Classifier> Classifier::Train(
    const std::string& train_path, const ClassifierOptions& options,
    TrainReport* report, const std::function<void(size_t, double)>& on_epoch) {
  TrainReport r;
  const auto start = Clock::now();
  r.streamed = options.stream || LineReader::FileSize(train_path) > kStreamAboveBytes;
  // The training file in memory with `features` (weights fitted on every
  // row), its bad rows into r.bad_rows.
  // With auto_features the hashed space is sized from the rows first read.
  auto featurize = [&](FeaturizerConfig features, Featurizer* f, SparseDataset* data) {
    auto read = [&] {
      {
        CsvReader fit_reader(train_path, options.csv);
        *f = Featurizer::Fit(features, fit_reader);
      }
      CsvReader reader(train_path, options.csv);
      *data = f->ReadDataset(reader);
      r.bad_rows = reader.bad_rows();
    };
    read();
    if (options.auto_features) {
      const uint32_t space = SizedFeatureSpace(*data);
      if (space != features.num_features) {
        features.num_features = space;
        read();
      }
    }
    f->FitWeights(*data, true);
    f->Weight(data);
  };
  Featurizer featurizer;
  SparseDataset data;  // in memory, unless streamed
  SparseDataset sample;  // streamed: the first kWeightSample rows, weighted
  size_t nonzeros = 0;
  if (r.streamed) {
    // The fitting pass counts the rows; features per row and the weighting
    // come from the first kWeightSample rows.
    CsvReader fit_reader(train_path, options.csv);
    featurizer = Featurizer::Fit(options.features, fit_reader);
    r.bad_rows = fit_reader.bad_rows();
    r.samples = fit_reader.records() - std::min(fit_reader.records(), r.bad_rows);
    CsvSource head(train_path, options.csv, featurizer, {1, size_t{1} << 20, 0});
    head.Start(0);
    head.Next(kWeightSample, &sample);
    featurizer.FitWeights(sample, false);
    featurizer.Weight(&sample);
    nonzeros = size_t(double(sample.nonzeros()) / double(std::max<size_t>(1, sample.size())) *
                      double(r.samples));
  } else {
    featurize(options.features, &featurizer, &data);
    r.samples = data.size();
    nonzeros = data.nonzeros();
  }
  if (r.samples == 0) {
    throw DataError(train_path + ": expected at least one training row");
  }
  r.featurize_seconds = Since(start);
  r.features = featurizer.num_features();
  r.labels = featurizer.num_labels();
  r.word_ngrams = options.features.word_ngrams;
  r.char_ngrams = options.features.char_ngrams;
  ChooseSettings(r.samples, nonzeros, r.labels, options, &r);
  // Layer 0 reads ~nnz features per row: scale its weights to that, not to
  // the hashed dimension (which would make them vanishingly small).
  auto make_model = [&](const Featurizer& f, double nnz, const TrainReport& s, uint64_t seed) {
    ModelConfig mc = AutoConfig(f.num_features(), r.labels, s.hidden, 0);
    mc.metadata = f.ToMetadata();
    for (const auto& [k, v] : CsvMetadata(options.csv)) mc.metadata[k] = v;
    for (const auto& [k, v] : ChoiceMetadata(s)) mc.metadata[k] = v;
    mc.seed = seed;
    auto model = std::make_unique<Model>(mc, /*initialize=*/false);
    for (size_t l = 0; l < model->num_layers(); ++l) {
      Layer& layer = model->layer(l);
      const float scale =
          l == 0 ? s.init_scale * std::sqrt(3.0f / float(std::max(1.0, nnz)))
                 : std::sqrt(6.0f / float(layer.w.rows + layer.w.cols));
      FillUniform(layer.w, scale, uint32_t(seed) + uint32_t(l));
    }
    model->RebuildIndex();
    return model;
  };
  const auto train_start = Clock::now();
  if (options.search && !r.streamed) {
    // Alternative featurizations of text: character 3-grams of each word
    // (fastText's subwords; they help short texts whose words are rare) and
    // word unigrams alone (bigrams of long documents can add more noise
    // than signal). Each sized from its own rows.
    const bool text = std::any_of(options.features.columns.begin(), options.features.columns.end(),
                                  [](const ColumnSpec& c) { return c.type == ColumnType::kText; });
    std::vector<FeaturizerConfig> alternatives;
    if (text && options.auto_char_ngrams && options.features.char_ngrams != 3) {
      alternatives.push_back(options.features);
      alternatives.back().char_ngrams = 3;
    }
    if (text && options.auto_word_ngrams && options.features.word_ngrams != 1) {
      alternatives.push_back(options.features);
      alternatives.back().word_ngrams = 1;
    }
    std::vector<Featurizer> featurizers(alternatives.size() + 1);
    std::vector<SparseDataset> datasets(alternatives.size() + 1);
    std::vector<FeaturizedRows> variants = {
        {options.features.word_ngrams, options.features.char_ngrams, &data}};
    for (size_t i = 0; i < alternatives.size(); ++i) {
      featurize(alternatives[i], &featurizers[i + 1], &datasets[i + 1]);
      variants.push_back({alternatives[i].word_ngrams, alternatives[i].char_ngrams,
                          &datasets[i + 1]});
    }
    const size_t k = ChooseOnValidation(
        variants, options,
        [&](size_t i, const TrainReport& s, uint64_t seed) {
          const SparseDataset& d = *variants[i].data;
          return make_model(i == 0 ? featurizer : featurizers[i],
                            double(d.nonzeros()) / double(d.size()), s, seed);
        },
        &r);
    if (k != 0) {
      featurizer = std::move(featurizers[k]);
      data = std::move(datasets[k]);
      r.features = featurizer.num_features();
    }
    nonzeros = data.nonzeros();
    r.search_seconds = Since(train_start);
  } else if (options.search) {
    // A streamed file: the first kWeightSample rows stand in for it (the
    // features as configured; width, rate and batch chosen on them). Epochs
    // stay the whole file's rules.
    const size_t epochs = r.epochs;
    ChooseOnValidation(
        {{options.features.word_ngrams, options.features.char_ngrams, &sample}}, options,
        [&](size_t, const TrainReport& s, uint64_t seed) {
          return make_model(featurizer, double(sample.nonzeros()) / double(sample.size()), s,
                            seed);
        },
        &r);
    r.epochs = epochs;
    r.search_seconds = Since(train_start);
  }
  sample = SparseDataset();
  const double nnz = double(nonzeros) / double(r.samples);
  if (report) *report = r;  // visible to on_epoch

  std::vector<std::unique_ptr<Model>> members;
  ModelConfig mc;
  for (size_t k = 0; k < r.members; ++k) {
    const uint64_t seed = options.seed + 7919 * k;
    auto model = make_model(featurizer, nnz, r, seed);
    mc = model->config();
    TrainConfig tc;
    tc.batch_size = r.batch;
    tc.lr = r.lr;
    tc.threads = options.threads;
    FitConfig fc;
    fc.epochs = r.epochs;
    fc.schedule = LrSchedule::kLinearDecay;
    std::unique_ptr<BatchSource> source;
    if (r.streamed) {
      source = std::make_unique<CsvSource>(train_path, options.csv, featurizer,
                                           ShuffleOptions{65536, size_t{256} << 20, seed});
    } else {
      source = std::make_unique<InMemorySource>(data, seed);
    }
    FitCallbacks callbacks;
    callbacks.on_epoch = [&](const EpochReport& e) {
      r.final_loss = e.mean_loss();
      if (on_epoch && k == 0) on_epoch(e.epoch, r.final_loss);
    };
    Fit(*model, *source, tc, fc, callbacks);
    if (r.members > 1) FreeOptimizerState(*model);
    members.push_back(std::move(model));
  }
  std::unique_ptr<Model> model =
      members.size() == 1 ? std::move(members[0]) : Merge(members, mc);
  r.train_seconds = Since(train_start);
  if (report) *report = r;
  return std::unique_ptr<Classifier>(
      new Classifier(std::move(featurizer), options.csv, std::move(model)));
}

void Classifier::Save(const std::string& path) const {
  SaveModel(*model_, path);
}

std::unique_ptr<Classifier> Classifier::Load(const std::string& path) {
  std::unique_ptr<Model> model = LoadModel(path);
  const auto& m = model->config().metadata;
  Featurizer f = Featurizer::FromMetadata(m);
  CsvOptions csv = CsvFromMetadata(m);
  csv.num_columns = f.num_columns();
  if (f.num_labels() != model->output_dim()) {
    throw std::invalid_argument(path + ": the model has " +
                                std::to_string(model->output_dim()) +
                                " outputs for " +
                                std::to_string(f.num_labels()) + " labels");
  }
  return std::unique_ptr<Classifier>(
      new Classifier(std::move(f), csv, std::move(model)));
}

void Classifier::Score(Scratch& s) const {
  const size_t k = std::min(featurizer_.num_labels(), kScoredLabels);
  model_->Predict(s.row.row(), k, !model_->sparse_output(), s.model, s.labels,
                  s.scores);
  // Softmax over the scored labels, in place (scores are best first).
  if (s.scores.empty()) return;
  const float top = s.scores[0];
  float sum = 0;
  for (float& v : s.scores) sum += (v = std::exp(v - top));
  for (float& v : s.scores) v /= sum;
}

float Classifier::Probability(const Scratch& s, uint32_t label) {
  for (size_t i = 0; i < s.labels.size(); ++i) {
    if (s.labels[i] == label) return s.scores[i];
  }
  return 0.0f;
}

Prediction Classifier::Predict(const std::string_view* fields,
                               size_t num_fields, Scratch& s) const {
  featurizer_.Featurize(fields, num_fields, false, s.row);
  Score(s);
  if (s.labels.empty()) return {};
  return {s.labels[0], s.scores[0]};
}

float Classifier::PositiveProbability(const std::string_view* fields,
                                      size_t num_fields, Scratch& s) const {
  return LabelProbability(fields, num_fields, 1, s);
}

float Classifier::LabelProbability(const std::string_view* fields,
                                   size_t num_fields, uint32_t label,
                                   Scratch& s) const {
  featurizer_.Featurize(fields, num_fields, false, s.row);
  Score(s);
  return Probability(s, label);
}

void Classifier::Probabilities(const std::string_view* fields,
                               size_t num_fields, Scratch& s, float* out) const {
  featurizer_.Featurize(fields, num_fields, false, s.row);
  Score(s);
  std::fill(out, out + featurizer_.num_labels(), 0.0f);
  for (size_t i = 0; i < s.labels.size(); ++i) out[s.labels[i]] = s.scores[i];
}

ClassifierMetrics Classifier::Evaluate(const std::string& path,
                                       const CsvOptions& csv) const {
  const auto start = Clock::now();
  CsvReader reader(path, csv);
  const bool binary = featurizer_.num_labels() == 2;
  Scratch s;
  std::vector<std::string_view> fields;
  std::vector<float> scores;
  std::vector<uint8_t> positive;
  ClassifierMetrics m;
  size_t correct = 0;
  while (reader.Next()) {
    fields.resize(reader.num_fields());
    for (size_t i = 0; i < fields.size(); ++i) fields[i] = reader.field(i);
    try {
      featurizer_.Featurize(fields.data(), fields.size(), true, s.row);
    } catch (const FieldError& e) {
      reader.Reject(e.column(), e.what());
      continue;
    }
    Score(s);  // s.row.labels: the truth
    ++m.samples;
    const auto& truth = s.row.labels;
    if (!s.labels.empty() &&
        std::find(truth.begin(), truth.end(), s.labels[0]) != truth.end()) {
      ++correct;
    }
    if (binary) {
      scores.push_back(Probability(s, 1));
      positive.push_back(std::find(truth.begin(), truth.end(), 1u) != truth.end());
    }
  }
  m.bad_rows = reader.bad_rows();
  m.accuracy = m.samples ? double(correct) / double(m.samples) : 0.0;
  if (binary) m.roc_auc = RocAuc(scores, positive);
  m.seconds = Since(start);
  return m;
}

double RocAuc(const std::vector<float>& scores,
              const std::vector<uint8_t>& positive) {
  const size_t n = scores.size();
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return scores[a] < scores[b]; });
  // Mann-Whitney U: sum of the positives' ranks (ties get the mean rank).
  double rank_sum = 0;
  size_t pos = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double mean_rank = 0.5 * double(i + 1 + j);
    for (size_t t = i; t < j; ++t) {
      if (positive[order[t]]) {
        rank_sum += mean_rank;
        ++pos;
      }
    }
    i = j;
  }
  const size_t neg = n - pos;
  if (pos == 0 || neg == 0) return -1;
  return (rank_sum - 0.5 * double(pos) * double(pos + 1)) /
         (double(pos) * double(neg));
}

}  // namespace frugal::nn
