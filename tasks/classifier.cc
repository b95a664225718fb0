#include "tasks/classifier.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <cmath>
#include <numeric>
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

// The held-out figure settings are chosen by: ROC-AUC for a binary target
// (accuracy there mostly counts the majority class), else top-1 accuracy.
double HeldOutFigure(const Model& m, const SparseDataset& held, size_t threads) {
  if (m.output_dim() != 2) return Evaluate(m, held, true, threads).p_at[1];
  const size_t n = held.size();
  std::vector<uint32_t> labels(2 * n);
  std::vector<float> logits(2 * n);
  PredictBatch(m, n, [&](size_t i) { return held.row(i); }, 2, true, threads,
               labels.data(), logits.data());
  std::vector<float> score(n);
  std::vector<uint8_t> positive(n);
  for (size_t i = 0; i < n; ++i) {
    // Logit of label 1 minus label 0's: a monotone image of P(label 1).
    const float d = logits[2 * i] - logits[2 * i + 1];
    score[i] = labels[2 * i] == 1 ? d : -d;
    const SparseRow r = held.row(i);
    positive[i] = std::find(r.labels.begin(), r.labels.end(), 1u) != r.labels.end();
  }
  return RocAuc(score, positive);
}

}  // namespace

void ChooseOnValidation(
    const SparseDataset& data, const ClassifierOptions& options,
    const std::function<std::unique_ptr<Model>(const TrainReport&, uint64_t)>& make_model,
    TrainReport* r) {
  const size_t n = data.size();
  const size_t v = std::min<size_t>(5000, std::max<size_t>(200, size_t(kValidFraction * double(n))));
  if (n < 2 * v) return;  // too few rows to hold any out: the rules stand
  SparseDataset rest, held;
  HoldOut(data, v, options.seed, &rest, &held);
  // Candidates: a linear model and the hidden layer of the rules, unless
  // one was asked for.
  std::vector<bool> linear;
  if (options.linear) {
    linear = {true};
  } else if (options.hidden) {
    linear = {false};
  } else {
    linear = {true, false};
  }
  // Epochs: early stopping within twice the rules' count (at least 10),
  // unless given.
  const size_t max_epochs = options.epochs ? options.epochs : std::max<size_t>(10, 2 * r->epochs);
  TrainReport best = *r;
  double best_acc = -1;
  for (const bool lin : linear) {
    ClassifierOptions o = options;
    o.linear = lin;
    TrainReport s = *r;
    ChooseSettings(data.size(), data.nonzeros(), r->labels, o, &s);
    auto model = make_model(s, options.seed);
    TrainConfig tc;
    tc.batch_size = s.batch;
    tc.lr = s.lr;
    tc.threads = options.threads;
    FitConfig fc;
    fc.epochs = max_epochs;
    fc.schedule = LrSchedule::kLinearDecay;
    fc.validate = [&](const Model& m) { return HeldOutFigure(m, held, options.threads); };
    fc.patience = options.epochs ? 0 : 2;
    InMemorySource source(rest, options.seed);
    const FitResult f = Fit(*model, source, tc, fc);
    CandidateAccuracy c;
    c.linear = lin;
    c.hidden = s.hidden;
    c.lr = s.lr;
    c.best_epoch = f.best_epoch;
    c.accuracy = f.best_metric;
    r->candidates.push_back(c);
    if (f.best_metric > best_acc) {
      best_acc = f.best_metric;
      best = s;
      best.epochs = options.epochs ? options.epochs : std::max<size_t>(1, f.best_epoch);
      best.horizon = max_epochs;  // the validated run's schedule, stopped at its best epoch
    }
  }
  best.candidates = r->candidates;
  best.valid_rows = v;
  best.valid_accuracy = best_acc;
  *r = best;
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
  r->batch = o.batch ? o.batch
                     : std::min<size_t>(wide_rows ? 1024 : 256,
                                        std::max<size_t>(32, samples / 8));
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
  Featurizer featurizer;
  SparseDataset data;  // in memory, unless streamed
  size_t nonzeros = 0;
  r.streamed = options.stream || LineReader::FileSize(train_path) > kStreamAboveBytes;
  {
    CsvReader fit_reader(train_path, options.csv);
    featurizer = Featurizer::Fit(options.features, fit_reader);
    if (r.streamed) {
      // The fitting pass counted the rows; features per row and the
      // weighting come from the first kWeightSample rows.
      r.bad_rows = fit_reader.bad_rows();
      r.samples = fit_reader.records() - std::min(fit_reader.records(), r.bad_rows);
      CsvSource head(train_path, options.csv, featurizer, {1, size_t{1} << 20, 0});
      head.Start(0);
      SparseDataset sample;
      head.Next(kWeightSample, &sample);
      featurizer.FitWeights(sample, false);
      nonzeros = size_t(double(sample.nonzeros()) / double(std::max<size_t>(1, sample.size())) *
                        double(r.samples));
    } else {
      CsvReader reader(train_path, options.csv);
      data = featurizer.ReadDataset(reader);
      featurizer.FitWeights(data, true);
      featurizer.Weight(&data);
      r.bad_rows = reader.bad_rows();
      r.samples = data.size();
      nonzeros = data.nonzeros();
    }
  }
  if (r.samples == 0) {
    throw DataError(train_path + ": expected at least one training row");
  }
  r.featurize_seconds = Since(start);
  r.features = featurizer.num_features();
  r.labels = featurizer.num_labels();
  ChooseSettings(r.samples, nonzeros, r.labels, options, &r);
  // Layer 0 reads ~nnz features per row: scale its weights to that, not to
  // the hashed dimension (which would make them vanishingly small).
  const double nnz = double(nonzeros) / double(r.samples);
  auto make_model = [&](const TrainReport& s, uint64_t seed) {
    ModelConfig mc = AutoConfig(r.features, r.labels, s.hidden, 0);
    mc.metadata = featurizer.ToMetadata();
    for (const auto& [k, v] : CsvMetadata(options.csv)) mc.metadata[k] = v;
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
  if (options.search && !r.streamed &&
      (options.epochs == 0 || (!options.linear && options.hidden == 0))) {
    ChooseOnValidation(data, options, make_model, &r);
  }
  if (report) *report = r;  // visible to on_epoch

  std::vector<std::unique_ptr<Model>> members;
  ModelConfig mc;
  for (size_t k = 0; k < r.members; ++k) {
    const uint64_t seed = options.seed + 7919 * k;
    auto model = make_model(r, seed);
    mc = model->config();
    TrainConfig tc;
    tc.batch_size = r.batch;
    tc.lr = r.lr;
    tc.threads = options.threads;
    FitConfig fc;
    fc.epochs = r.epochs;
    fc.total_epochs = r.horizon ? r.horizon : r.epochs;
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
