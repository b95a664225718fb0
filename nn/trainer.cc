#include "nn/trainer.h"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

#include "dispatch/registry.h"

namespace frugal::nn {

namespace {

// Everything phase 1 leaves for phases 2 and 3, per sample of the batch.
struct SampleWork {
  uint32_t row = 0;
  double loss = 0;
  std::vector<float> pre, hidden, dpre;
  std::vector<uint32_t> active;
  std::vector<float> dz;  // logits, then d loss / d logits
};

struct WorkerScratch {
  lsh::QueryScratch query;
  std::vector<float> dh;
  std::vector<uint32_t> labels;
};

float Softplus(float z) {  // log(1 + exp(z)), stable
  return std::max(z, 0.0f) + std::log1p(std::exp(-std::fabs(z)));
}

}  // namespace

struct Trainer::Impl {
  explicit Impl(size_t threads) : arena(int(threads)) {}
  tbb::task_arena arena;
  tbb::enumerable_thread_specific<WorkerScratch> scratch;
  std::vector<SampleWork> work;
  std::vector<uint32_t> all_outputs;  // 0..output_dim-1 (dense active set)
  std::vector<std::vector<uint32_t>> touched_out, touched_in;
  std::vector<uint8_t> mark_out, mark_in;
  std::vector<uint32_t> order;
  std::mt19937_64 rng;
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
  threads_ = config.threads ? config.threads
                            : size_t(tbb::info::default_concurrency());
  impl_ = std::make_unique<Impl>(threads_);
  const ModelConfig& mc = model.config();
  impl_->all_outputs.resize(mc.output_dim);
  std::iota(impl_->all_outputs.begin(), impl_->all_outputs.end(), 0u);
  impl_->touched_out.resize(threads_);
  impl_->touched_in.resize(threads_);
  impl_->mark_out.assign(mc.output_dim, 0);
  impl_->mark_in.assign(mc.input_dim, 0);
  impl_->rng.seed(config.seed);
}

Trainer::~Trainer() = default;

namespace {

// Phase 1 for one sample: forward pass, loss, and the gradients of the
// logits (w.dz) and of the hidden pre-activation (w.dpre).
void ForwardBackward(const Model& model, const SparseRow& x,
                     const std::vector<uint32_t>& all_outputs,
                     uint64_t pad_seed, WorkerScratch& s, SampleWork& w) {
  const ModelConfig& mc = model.config();
  const size_t h = mc.hidden_dim;
  w.pre.resize(h);
  w.hidden.resize(h);
  w.dpre.resize(h);
  model.Hidden(x, w.hidden.data(), w.pre.data());

  // Active set; the labels' positions in it.
  const bool dense = model.index() == nullptr;
  if (dense) {
    w.active = all_outputs;
  } else {
    model.index()->Query(w.hidden.data(), x.labels, pad_seed, s.query,
                         w.active);
  }
  const size_t m = w.active.size();
  w.dz.resize(m);
  const ParamBlock& wo = model.w_out();
  dispatch::RowGatherDot()(wo.w.data(), wo.stride, w.active.data(), m,
                           w.hidden.data(), h, w.dz.data());
  const std::vector<float>& bias = model.b_out().w;
  for (size_t j = 0; j < m; ++j) w.dz[j] += bias[w.active[j]];

  // Positions of the distinct labels in the active set: their own index in a
  // dense set; the first entries of a sparse one (the query puts forced ids
  // first, duplicates merged, in order).
  s.labels.assign(x.labels.begin(), x.labels.end());
  std::sort(s.labels.begin(), s.labels.end());
  s.labels.erase(std::unique(s.labels.begin(), s.labels.end()),
                 s.labels.end());
  const size_t num_labels = s.labels.size();
  if (!dense) {
    for (size_t i = 0; i < num_labels; ++i) s.labels[i] = uint32_t(i);
  }

  std::vector<float>& z = w.dz;
  w.loss = 0;
  if (mc.loss == OutputLoss::kSoftmax) {
    // Cross-entropy against the uniform distribution over the labels.
    if (num_labels == 0) {
      std::fill(z.begin(), z.end(), 0.0f);
    } else {
      double label_logits = 0;
      for (uint32_t p : s.labels) label_logits += z[p];
      const float lse = dispatch::Softmax()(z.data(), z.data(), m);
      w.loss = double(lse) - label_logits / double(num_labels);
      const float t = 1.0f / float(num_labels);
      for (uint32_t p : s.labels) z[p] -= t;
    }
  } else {
    // Binary cross-entropy: target 1 for labels, 0 for the other actives.
    double loss = 0;
    for (size_t j = 0; j < m; ++j) loss += Softplus(z[j]);
    for (uint32_t p : s.labels) loss -= z[p];
    w.loss = loss;
    dispatch::Sigmoid()(z.data(), z.data(), m);
    for (uint32_t p : s.labels) z[p] -= 1.0f;
  }

  // d loss / d hidden = sum_j dz_j W_out[active_j]; then through the ReLU.
  s.dh.assign(h, 0.0f);
  dispatch::RowAccumulate()(wo.w.data(), wo.stride, w.active.data(),
                            w.dz.data(), m, s.dh.data(), h);
  for (size_t d = 0; d < h; ++d) w.dpre[d] = w.pre[d] > 0 ? s.dh[d] : 0.0f;
}

}  // namespace

namespace {

// Phase 2 for the rows owned by `t` of `T`: adds every sample's gradient
// contributions, in sample order, and records the rows it touched.
void AccumulateOwned(Model& model, const SparseDataset& data,
                     const std::vector<SampleWork>& work, size_t count,
                     size_t t, size_t T, std::vector<uint8_t>& mark_out,
                     std::vector<uint8_t>& mark_in,
                     std::vector<uint32_t>& touched_out,
                     std::vector<uint32_t>& touched_in) {
  const size_t h = model.config().hidden_dim;
  ParamBlock& wo = model.w_out();
  ParamBlock& bo = model.b_out();
  ParamBlock& wi = model.w_in();
  const auto axpy = dispatch::Axpy();
  for (size_t i = 0; i < count; ++i) {
    const SampleWork& w = work[i];
    for (size_t j = 0; j < w.active.size(); ++j) {
      const uint32_t r = w.active[j];
      if (r % T != t) continue;
      axpy(w.dz[j], w.hidden.data(), wo.g.data() + size_t{r} * wo.stride, h);
      bo.g[r] += w.dz[j];
      if (!mark_out[r]) {
        mark_out[r] = 1;
        touched_out.push_back(r);
      }
    }
    const SparseRow x = data.row(w.row);
    for (size_t j = 0; j < x.idx.size(); ++j) {
      const uint32_t f = x.idx[j];
      if (f % T != t) continue;
      axpy(x.val[j], w.dpre.data(), wi.g.data() + size_t{f} * wi.stride, h);
      if (!mark_in[f]) {
        mark_in[f] = 1;
        touched_in.push_back(f);
      }
    }
    if (t == 0) axpy(1.0f, w.dpre.data(), model.b_in().g.data(), h);
  }
}

}  // namespace

BatchStats Trainer::TrainBatch(const SparseDataset& data, const uint32_t* rows,
                               size_t count, size_t total_steps) {
  Impl& im = *impl_;
  if (im.work.size() < count) im.work.resize(count);
  const size_t T = threads_;
  const uint64_t step = ++step_;
  BatchStats stats;
  stats.samples = count;

  using Clock = std::chrono::steady_clock;
  auto lap = [t = Clock::now()](double& into) mutable {
    const auto now = Clock::now();
    into += std::chrono::duration<double>(now - t).count();
    t = now;
  };
  im.arena.execute([&] {
    // Phase 1: per sample.
    tbb::parallel_for(
        tbb::blocked_range<size_t>(0, count, 8),
        [&](const tbb::blocked_range<size_t>& r) {
          WorkerScratch& s = im.scratch.local();
          for (size_t i = r.begin(); i < r.end(); ++i) {
            SampleWork& w = im.work[i];
            w.row = rows[i];
            ForwardBackward(model_, data.row(rows[i]), im.all_outputs,
                            step * 0x9e3779b97f4a7c15ull + i, s, w);
          }
        });
    lap(stats.forward_s);
    // Phase 2: per owned row.
    tbb::parallel_for(size_t{0}, T, [&](size_t t) {
      AccumulateOwned(model_, data, im.work, count, t, T, im.mark_out,
                      im.mark_in, im.touched_out[t], im.touched_in[t]);
    });
    lap(stats.accumulate_s);
    // Phase 3: Adam on the touched rows.
    float lr = config_.lr;
    if (config_.schedule == LrSchedule::kLinearDecay && total_steps > 0) {
      lr *= std::max(0.02f, 1.0f - float(step - 1) / float(total_steps));
    }
    const AdamParams p = AdamParams::ForStep(lr, config_.beta1, config_.beta2,
                                             config_.eps, config_.weight_decay,
                                             step);
    AdamParams p_bias = p;
    p_bias.decay = 0.0f;  // no weight decay on biases
    const auto adam_rows = dispatch::AdamRows();
    tbb::parallel_for(size_t{0}, T, [&](size_t t) {
      ParamBlock& wo = model_.w_out();
      ParamBlock& bo = model_.b_out();
      ParamBlock& wi = model_.w_in();
      const auto& to = im.touched_out[t];
      const auto& ti = im.touched_in[t];
      adam_rows(wo.w.data(), wo.m.data(), wo.v.data(), wo.g.data(), wo.stride,
                to.data(), to.size(), wo.cols, p);
      adam_rows(bo.w.data(), bo.m.data(), bo.v.data(), bo.g.data(), bo.stride,
                to.data(), to.size(), 1, p_bias);
      adam_rows(wi.w.data(), wi.m.data(), wi.v.data(), wi.g.data(), wi.stride,
                ti.data(), ti.size(), wi.cols, p);
      for (uint32_t r : to) im.mark_out[r] = 0;
      for (uint32_t f : ti) im.mark_in[f] = 0;
      if (t == 0) {
        ParamBlock& bi = model_.b_in();
        dispatch::AdamDense()(bi.w.data(), bi.m.data(), bi.v.data(),
                              bi.g.data(), bi.cols, p_bias);
        std::fill(bi.g.begin(), bi.g.end(), 0.0f);
      }
    });
    lap(stats.update_s);
    if (lsh::NeuronIndex* index = model_.index()) {
      for (size_t t = 0; t < T; ++t) index->MarkChanged(im.touched_out[t]);
      index->OnBatchEnd(model_.w_out().W());
    }
    lap(stats.index_s);
  });
  for (size_t t = 0; t < T; ++t) {
    im.touched_out[t].clear();
    im.touched_in[t].clear();
  }
  for (size_t i = 0; i < count; ++i) {
    stats.loss_sum += im.work[i].loss;
    stats.active_sum += im.work[i].active.size();
  }
  return stats;
}

BatchStats Trainer::TrainEpoch(
    const SparseDataset& data, size_t total_steps,
    const std::function<void(const BatchStats&)>& on_batch) {
  const ModelConfig& mc = model_.config();
  if (data.num_features() > mc.input_dim || data.num_labels() > mc.output_dim) {
    throw std::invalid_argument(
        "Trainer: data has " + std::to_string(data.num_features()) +
        " features and " + std::to_string(data.num_labels()) +
        " labels; the model takes " + std::to_string(mc.input_dim) +
        " features and " + std::to_string(mc.output_dim) + " labels");
  }
  Impl& im = *impl_;
  im.order.resize(data.size());
  std::iota(im.order.begin(), im.order.end(), 0u);
  if (config_.shuffle) std::shuffle(im.order.begin(), im.order.end(), im.rng);
  ++epoch_;
  BatchStats total;
  for (size_t b = 0; b < im.order.size(); b += config_.batch_size) {
    const size_t n = std::min(config_.batch_size, im.order.size() - b);
    const BatchStats s = TrainBatch(data, im.order.data() + b, n, total_steps);
    total.Add(s);
    if (on_batch) on_batch(s);
  }
  return total;
}

double Trainer::SampleGradient(const SparseRow& x) {
  Impl& im = *impl_;
  SampleWork w;
  WorkerScratch s;
  ForwardBackward(model_, x, im.all_outputs, 0, s, w);
  // Accumulate through the same phase-2 code with a one-row dataset.
  SparseDataset one(model_.config().input_dim, model_.config().output_dim);
  one.Add(x.idx, x.val, x.labels);
  w.row = 0;
  std::vector<SampleWork> work(1);
  work[0] = std::move(w);
  std::vector<uint32_t> to, ti;
  AccumulateOwned(model_, one, work, 1, 0, 1, im.mark_out, im.mark_in, to, ti);
  for (uint32_t r : to) im.mark_out[r] = 0;
  for (uint32_t f : ti) im.mark_in[f] = 0;
  return work[0].loss;
}

EvalResult Evaluate(const Model& model, const SparseDataset& data, bool exact,
                    size_t threads) {
  const auto start = std::chrono::steady_clock::now();
  EvalResult out;
  out.samples = data.size();
  const int nthreads =
      threads ? int(threads) : tbb::info::default_concurrency();
  tbb::task_arena arena(nthreads);
  struct Local {
    Model::Scratch scratch;
    std::vector<uint32_t> labels;
    std::vector<float> scores;
    double hits[6] = {0, 0, 0, 0, 0, 0};
    double recall5 = 0;
  };
  tbb::enumerable_thread_specific<Local> locals;
  arena.execute([&] {
    tbb::parallel_for(
        tbb::blocked_range<size_t>(0, data.size(), 64),
        [&](const tbb::blocked_range<size_t>& r) {
          Local& l = locals.local();
          for (size_t i = r.begin(); i < r.end(); ++i) {
            const SparseRow x = data.row(i);
            model.Predict(x, 5, exact, l.scratch, l.labels, l.scores);
            size_t hit = 0;
            for (size_t k = 0; k < 5; ++k) {
              if (k < l.labels.size() &&
                  std::find(x.labels.begin(), x.labels.end(), l.labels[k]) !=
                      x.labels.end()) {
                ++hit;
              }
              l.hits[k + 1] += double(hit) / double(k + 1);
            }
            if (!x.labels.empty()) {
              l.recall5 += double(hit) / double(x.labels.size());
            }
          }
        });
  });
  for (const Local& l : locals) {
    for (int k = 1; k <= 5; ++k) out.p_at[k] += l.hits[k];
    out.recall_at5 += l.recall5;
  }
  const double n = std::max<double>(1.0, double(data.size()));
  for (int k = 1; k <= 5; ++k) out.p_at[k] /= n;
  out.recall_at5 /= n;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                              start)
                    .count();
  return out;
}

}  // namespace frugal::nn
