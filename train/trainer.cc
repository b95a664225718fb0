#include "train/trainer.h"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

#include "dispatch/registry.h"
#include "nn/loss.h"
#include "train/optimizer.h"

namespace frugal::nn {

namespace {

// Everything phase 1 leaves for phases 2 and 3, per sample of the batch:
// every layer's active set, outputs and d loss / d pre-activation.
struct SampleWork {
  uint32_t row = 0;
  double loss = 0;
  Model::Activations act;
};

struct WorkerScratch {
  std::vector<float> dh;
  std::vector<uint32_t> labels;
  Model::QueryScratches query;  // shared by the thread's samples
};

}  // namespace

struct Trainer::Impl {
  explicit Impl(size_t threads) : arena(int(threads)) {}
  tbb::task_arena arena;
  tbb::enumerable_thread_specific<WorkerScratch> scratch;
  std::vector<SampleWork> work;
  // Per layer: the rows each thread touched this batch, and a mark per row.
  std::vector<std::vector<std::vector<uint32_t>>> touched;
  std::vector<std::vector<uint8_t>> mark;
  std::vector<std::vector<FactorScratch>> factor_scratch;  // [thread][layer]
  std::vector<std::vector<SampleFactors>> factors;  // per layer, the batch's
  // Phase 2's seconds per thread and layer ([t * layers + l]), and per layer
  // over the threads (the slowest).
  std::vector<double> thread_layer_s, layer_s;
  ExchangeStats exchange;
  std::unique_ptr<Optimizer> optimizer;
};

Trainer::Trainer(Model& model, const TrainConfig& config)
    : model_(model), config_(config) {
  if (config.batch_size == 0) {
    throw std::invalid_argument("TrainConfig: batch_size must be positive");
  }
  if (!(config.lr > 0) || !(config.beta1 >= 0 && config.beta1 < 1) ||
      !(config.beta2 >= 0 && config.beta2 < 1) || !(config.eps > 0) ||
      !(config.weight_decay >= 0)) {
    throw std::invalid_argument("TrainConfig: invalid optimizer settings");
  }
  if (!(config.exchange_bandwidth >= 0)) {
    throw std::invalid_argument("TrainConfig: exchange_bandwidth must be >= 0");
  }
  threads_ = config.threads ? config.threads
                            : size_t(tbb::info::default_concurrency());
  impl_ = std::make_unique<Impl>(threads_);
  impl_->optimizer = std::make_unique<Adam>(config.beta1, config.beta2,
                                            config.eps, config.weight_decay);
  const size_t layers = model.num_layers();
  impl_->touched.assign(layers, std::vector<std::vector<uint32_t>>(threads_));
  impl_->mark.resize(layers);
  impl_->factors.resize(layers);
  impl_->factor_scratch.assign(threads_, std::vector<FactorScratch>(layers));
  impl_->thread_layer_s.assign(threads_ * layers, 0.0);
  impl_->layer_s.assign(layers, 0.0);
  for (size_t l = 0; l < layers; ++l) {
    impl_->mark[l].assign(model.layer(l).w.rows, 0);
  }
}

Trainer::~Trainer() = default;

uint64_t Trainer::steps() const { return model_.step(); }

const ExchangeStats& Trainer::last_exchange() const { return impl_->exchange; }

namespace {

// Phase 1 for one sample: forward pass, loss, and every layer's d loss /
// d pre-activation over its active set (LayerState::delta).
void ForwardBackward(const Model& model, const Loss& loss, const SparseRow& x,
                     uint64_t pad_seed, WorkerScratch& s, SampleWork& w) {
  model.Forward(x, Model::Mode::kTrain, pad_seed, w.act, s.query);
  std::vector<Model::LayerState>& st = w.act.layers;
  Model::LayerState& o = st.back();
  const size_t m = o.m;

  // Positions of the distinct labels in the active set: their own index in a
  // dense set; the first entries of a sampled one (the query puts forced ids
  // first, duplicates merged, in order).
  s.labels.assign(x.labels.begin(), x.labels.end());
  std::sort(s.labels.begin(), s.labels.end());
  s.labels.erase(std::unique(s.labels.begin(), s.labels.end()),
                 s.labels.end());
  const size_t num_labels = s.labels.size();
  if (o.active != model.all_neurons()) {
    for (size_t i = 0; i < num_labels; ++i) s.labels[i] = uint32_t(i);
  }

  o.delta.resize(m);
  w.loss = loss.Gradient(o.pre.data(), m, s.labels.data(), num_labels,
                         o.delta.data());

  // Down the layers: d loss / d out(l-1) = sum_j delta_j W_l[active_j], then
  // through layer l-1's activation at its active neurons.
  for (size_t l = st.size() - 1; l > 0; --l) {
    const Layer& layer = model.layer(l);
    const Model::LayerState& cur = st[l];
    Model::LayerState& prev = st[l - 1];
    s.dh.assign(layer.input_dim, 0.0f);
    dispatch::RowAccumulate()(layer.w.w.data(), layer.w.stride, cur.active,
                              cur.delta.data(), cur.m, s.dh.data(),
                              layer.input_dim);
    const bool relu = model.layer(l - 1).config.activation == Activation::kRelu;
    prev.delta.resize(prev.m);
    for (size_t j = 0; j < prev.m; ++j) {
      const float d = s.dh[prev.active[j]];
      prev.delta[j] = (!relu || prev.pre[j] > 0) ? d : 0.0f;
    }
  }
}

// Marks row r of a layer touched by thread-local list `touched`.
inline void Touch(uint32_t r, std::vector<uint8_t>& mark,
                  std::vector<uint32_t>& touched) {
  if (!mark[r]) {
    mark[r] = 1;
    touched.push_back(r);
  }
}

// Every layer l >= 1's factors of work[0 .. count) into factors[l], in
// sample order (factors[0] stays empty).
void CollectFactors(const std::vector<SampleWork>& work, size_t count,
                    std::vector<std::vector<SampleFactors>>& factors) {
  for (size_t l = 1; l < factors.size(); ++l) {
    factors[l].resize(count);
    for (size_t i = 0; i < count; ++i) {
      const Model::LayerState& st = work[i].act.layers[l];
      factors[l][i] = {st.active, st.delta.data(), st.m,
                       work[i].act.layers[l - 1].out.data()};
    }
  }
}

// Phase 2 for the rows owned by `t` of `T`: adds every sample's gradient
// contributions, layer by layer in sample order, and records the rows it
// touched (touched[l][t]) and the wall seconds each layer took (seconds[l]).
// factors: CollectFactors of the same samples; scratch: this thread's, per
// layer.
void AccumulateOwned(Model& model, const SparseDataset& batch,
                     const std::vector<SampleWork>& work,
                     const std::vector<std::vector<SampleFactors>>& factors,
                     size_t count, size_t t, size_t T,
                     std::vector<std::vector<uint8_t>>& mark,
                     std::vector<std::vector<std::vector<uint32_t>>>& touched,
                     std::vector<FactorScratch>& scratch, double* seconds) {
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  auto lap = [&start](double& into) {
    const auto now = Clock::now();
    into = std::chrono::duration<double>(now - start).count();
    start = now;
  };
  const auto axpy = dispatch::Axpy();
  // Layer 0 is feature-major: row f gets x_f * delta.
  ParamBlock& W = model.layer(0).w;
  ParamBlock& B = model.layer(0).b;
  for (size_t i = 0; i < count; ++i) {
    const Model::LayerState& st = work[i].act.layers[0];
    const SparseRow x = batch.row(work[i].row);
    for (size_t j = 0; j < x.idx.size(); ++j) {
      const uint32_t f = x.idx[j];
      if (f % T != t) continue;
      axpy(x.val[j], st.delta.data(), W.g.data() + size_t{f} * W.stride, W.cols);
      Touch(f, mark[0], touched[0][t]);
    }
    if (t == 0) axpy(1.0f, st.delta.data(), B.g.data(), B.cols);
  }
  lap(seconds[0]);
  // Neuron-major: row r gets delta_r * the previous layer's output.
  for (size_t l = 1; l < model.num_layers(); ++l) {
    AccumulateFactors(model.layer(l).w, model.layer(l).b, factors[l].data(),
                      count, t, T, mark[l], touched[l][t], scratch[l]);
    lap(seconds[l]);
  }
}

}  // namespace

void CheckDataFits(const Model& model, size_t features, size_t labels,
                   const char* who) {
  if (features > model.input_dim() || labels > model.output_dim()) {
    throw std::invalid_argument(
        std::string(who) + ": data has " + std::to_string(features) +
        " features and " + std::to_string(labels) + " labels; the model takes " +
        std::to_string(model.input_dim()) + " features and " +
        std::to_string(model.output_dim()) + " labels");
  }
}

BatchStats Trainer::TrainBatch(const SparseDataset& batch, float lr) {
  CheckDataFits(model_, batch.num_features(), batch.num_labels(), "Trainer");
  if (!(lr >= 0)) throw std::invalid_argument("Trainer: negative learning rate");
  Impl& im = *impl_;
  const size_t count = batch.size();
  const Loss& loss = LossFor(model_.output().config.activation);
  if (im.work.size() < count) im.work.resize(count);
  const size_t T = threads_;
  const size_t num_layers = model_.num_layers();
  const uint64_t step = model_.step() + 1;
  model_.set_step(step);
  BatchStats stats;
  stats.samples = count;

  using Clock = std::chrono::steady_clock;
  auto lap = [t = Clock::now()](double& into) mutable {
    const auto now = Clock::now();
    into += std::chrono::duration<double>(now - t).count();
    t = now;
  };
  // Random padding: one draw per step when shared; otherwise per sample,
  // differing between ranks (sample i of rank r draws as sample
  // r * count + i of one big batch would).
  const uint64_t first_sample =
      config_.comm != nullptr ? uint64_t(config_.comm->rank()) * count : 0;
  auto pad_seed = [&](size_t i) {
    return step * 0x9e3779b97f4a7c15ull +
           (config_.shared_padding ? 0 : first_sample + i);
  };
  im.arena.execute([&] {
    // Phase 1: per sample.
    tbb::parallel_for(
        tbb::blocked_range<size_t>(0, count, 8),
        [&](const tbb::blocked_range<size_t>& r) {
          WorkerScratch& s = im.scratch.local();
          for (size_t i = r.begin(); i < r.end(); ++i) {
            SampleWork& w = im.work[i];
            w.row = uint32_t(i);
            ForwardBackward(model_, loss, batch.row(i), pad_seed(i), s, w);
          }
        });
    lap(stats.forward_s);
    // Phase 2: per owned row.
    CollectFactors(im.work, count, im.factors);
    tbb::parallel_for(size_t{0}, T, [&](size_t t) {
      AccumulateOwned(model_, batch, im.work, im.factors, count, t, T, im.mark,
                      im.touched, im.factor_scratch[t],
                      &im.thread_layer_s[t * num_layers]);
    });
    lap(stats.accumulate_s);
    for (size_t l = 0; l < num_layers; ++l) {
      im.layer_s[l] = 0;
      for (size_t t = 0; t < T; ++t) {
        im.layer_s[l] = std::max(im.layer_s[l], im.thread_layer_s[t * num_layers + l]);
      }
    }
    // Between phases 2 and 3: sum the gradients over the ranks (a layer
    // exchanged as factors is accumulated again, from every rank's samples).
    if (config_.comm != nullptr && config_.comm->size() > 1) {
      ExchangeGradients(model_, *config_.comm,
                        {config_.exchange, config_.exchange_bandwidth},
                        im.layer_s, im.factors, im.mark, im.touched,
                        &im.exchange);
      stats.exchange_bytes = im.exchange.bytes();
      stats.exchange_dense_bytes = im.exchange.dense_bytes();
      lap(stats.exchange_s);
      const double again = im.exchange.accumulate_seconds();
      stats.exchange_s -= again;
      stats.accumulate_s += again;
    }
    // Phase 3: the optimizer on the touched rows.
    im.optimizer->BeginStep(step, lr);
    const Optimizer& opt = *im.optimizer;
    tbb::parallel_for(size_t{0}, T, [&](size_t t) {
      for (size_t l = 0; l < num_layers; ++l) {
        ParamBlock& W = model_.layer(l).w;
        ParamBlock& B = model_.layer(l).b;
        const std::vector<uint32_t>& to = im.touched[l][t];
        opt.UpdateRows(W, to.data(), to.size(), /*bias=*/false);
        if (l > 0) {
          opt.UpdateRows(B, to.data(), to.size(), /*bias=*/true);
        } else if (t == 0) {
          opt.UpdateAll(B, /*bias=*/true);
        }
        for (uint32_t r : to) im.mark[l][r] = 0;
      }
    });
    lap(stats.update_s);
    for (size_t l = 0; l < num_layers; ++l) {
      Layer& layer = model_.layer(l);
      if (!layer.sampled()) continue;
      for (size_t t = 0; t < T; ++t) layer.index->MarkChanged(im.touched[l][t]);
      layer.index->OnBatchEnd(layer.w.W());
    }
    lap(stats.index_s);
  });
  for (const auto& list : im.touched.back()) {
    stats.output_rows_updated += list.size();
  }
  for (auto& per_layer : im.touched) {
    for (auto& list : per_layer) list.clear();
  }
  for (size_t i = 0; i < count; ++i) {
    stats.loss_sum += im.work[i].loss;
    stats.active_sum += im.work[i].act.layers.back().m;
  }
  return stats;
}

double Trainer::SampleGradient(const SparseRow& x) {
  Impl& im = *impl_;
  std::vector<SampleWork> work(1);
  WorkerScratch s;
  ForwardBackward(model_, LossFor(model_.output().config.activation), x, 0, s,
                  work[0]);
  // Accumulate through the same phase-2 code with a one-row dataset.
  SparseDataset one(model_.input_dim(), model_.output_dim());
  one.Add(x.idx, x.val, x.labels);
  work[0].row = 0;
  std::vector<std::vector<std::vector<uint32_t>>> touched(
      model_.num_layers(), std::vector<std::vector<uint32_t>>(1));
  std::vector<std::vector<SampleFactors>> factors(model_.num_layers());
  CollectFactors(work, 1, factors);
  std::vector<double> seconds(model_.num_layers());
  std::vector<FactorScratch> scratch(model_.num_layers());
  AccumulateOwned(model_, one, work, factors, 1, 0, 1, im.mark, touched,
                  scratch, seconds.data());
  for (size_t l = 0; l < touched.size(); ++l) {
    for (uint32_t r : touched[l][0]) im.mark[l][r] = 0;
  }
  return work[0].loss;
}

void PredictBatch(const Model& model, size_t n,
                  const std::function<SparseRow(size_t)>& row, size_t k,
                  bool exact, size_t threads, uint32_t* labels,
                  float* scores, double* candidate_recall) {
  const int nthreads =
      threads ? int(threads) : tbb::info::default_concurrency();
  tbb::task_arena arena(nthreads);
  struct Local {
    Model::Activations act;
    std::vector<uint32_t> labels;
    std::vector<float> scores;
    double recall = 0;    // summed over rows with labels
    size_t labelled = 0;
  };
  const bool sampled = !exact && model.sparse_output() && candidate_recall != nullptr;
  tbb::enumerable_thread_specific<Local> locals;
  arena.execute([&] {
    tbb::parallel_for(
        tbb::blocked_range<size_t>(0, n, 64),
        [&](const tbb::blocked_range<size_t>& r) {
          Local& l = locals.local();
          for (size_t i = r.begin(); i < r.end(); ++i) {
            const SparseRow x = row(i);
            model.Predict(x, k, exact, l.act, l.labels, l.scores);
            if (sampled && !x.labels.empty()) {
              const Model::LayerState& o = l.act.layers.back();
              size_t found = 0;
              for (const uint32_t y : x.labels) {
                found += std::find(o.active, o.active + o.m, y) != o.active + o.m;
              }
              l.recall += double(found) / double(x.labels.size());
              ++l.labelled;
            }
            const size_t got = l.labels.size();
            std::copy_n(l.labels.begin(), got, labels + i * k);
            std::copy_n(l.scores.begin(), got, scores + i * k);
            std::fill(labels + i * k + got, labels + (i + 1) * k, kNoLabel);
            std::fill(scores + i * k + got, scores + (i + 1) * k,
                      -std::numeric_limits<float>::infinity());
          }
        });
  });
  if (candidate_recall != nullptr) {
    double sum = 0;
    size_t rows = 0;
    for (const Local& l : locals) {
      sum += l.recall;
      rows += l.labelled;
    }
    *candidate_recall = sampled && rows ? sum / double(rows) : -1.0;
  }
}

EvalResult Evaluate(const Model& model, const SparseDataset& data, bool exact,
                    size_t threads) {
  const auto start = std::chrono::steady_clock::now();
  constexpr size_t k = 5;
  const size_t n = data.size();
  std::vector<uint32_t> top(n * k);
  std::vector<float> scores(n * k);
  double candidate_recall = -1;
  PredictBatch(
      model, n, [&](size_t i) { return data.row(i); }, k, exact, threads,
      top.data(), scores.data(), &candidate_recall);
  EvalResult out;
  out.samples = n;
  out.candidate_recall = candidate_recall;
  for (size_t i = 0; i < n; ++i) {
    const SparseRow x = data.row(i);
    size_t hit = 0;
    for (size_t j = 0; j < k; ++j) {
      if (std::find(x.labels.begin(), x.labels.end(), top[i * k + j]) !=
          x.labels.end()) {
        ++hit;
      }
      out.p_at[j + 1] += double(hit) / double(j + 1);
    }
    if (!x.labels.empty()) out.recall_at5 += double(hit) / double(x.labels.size());
  }
  const double denom = std::max<double>(1.0, double(n));
  for (size_t j = 1; j <= k; ++j) out.p_at[j] /= denom;
  out.recall_at5 /= denom;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                              start)
                    .count();
  return out;
}

}  // namespace frugal::nn
