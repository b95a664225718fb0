#include "train/trainer.h"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "dispatch/registry.h"
#include "nn/loss.h"
#include "train/optimizer.h"
#include "train/sharded_input.h"
#include "train/sharded_output.h"

namespace frugal::nn {

namespace {

// Everything phase 1 leaves for phases 2 and 3, per sample of the batch:
// every layer's active set, outputs and d loss / d pre-activation.
struct SampleWork {
  uint32_t row = 0;
  double loss = 0;
  float label_recall = -1;  // sampled output: labels the index found / labels
  Model::Activations act;
};

struct WorkerScratch {
  std::vector<float> dh;
  std::vector<uint32_t> labels;
  Model::QueryScratches query;  // shared by the thread's samples
};

// A sharded output's work on one sample of the global batch: the shard's
// active neurons, logits and d loss / d logits.
struct ShardSample {
  std::vector<uint32_t> active_ids;
  const uint32_t* active = nullptr;
  size_t m = 0;
  std::vector<float> pre, delta;
  std::vector<uint32_t> label_pos;  // the shard's labels' positions in active
  size_t num_labels = 0;            // the sample's distinct labels (all shards)
  double label_logits = 0;          // sum of the shard's labels' logits
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
  // Sharded output: the global batch's hidden vectors ([sample][hidden]),
  // labels (sample g's: labels[label_start[g] .. label_start[g + 1])),
  // samples per rank, per-sample work, normalisers, hidden gradients.
  std::vector<float> h_all, dh_all, dh_mine;
  std::vector<uint32_t> labels_all;
  std::vector<size_t> label_start, rank_samples;
  std::vector<ShardSample> shard_work;
  std::vector<float> lse;
  std::vector<uint8_t> send;
  // Sharded input layer: this step's fetch, for its push.
  InputRowRequests input_requests;
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
  if (config.shard_output && config.comm != nullptr && config.comm->size() > 1) {
    const OutputShard want = OutputShardFor(model.output_dim(), config.comm->rank(),
                                            config.comm->size());
    const OutputShard& got = model.config().output_shard;
    if (!got.sharded() || got.first != want.first || got.total != want.total ||
        model.output().config.width !=
            OutputShardWidth(model.output_dim(), config.comm->rank(),
                             config.comm->size())) {
      throw std::invalid_argument(
          "TrainConfig: shard_output needs rank " + std::to_string(config.comm->rank()) +
          "'s shard of the output (nn::ShardConfig)");
    }
    if (model.num_layers() < 2) {
      throw std::invalid_argument("TrainConfig: shard_output needs a hidden layer");
    }
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

void Trainer::SyncShardedState() {
  if (config_.shard_input && config_.comm != nullptr && config_.comm->size() > 1) {
    SyncInputLayer(model_, *config_.comm);
  }
}

namespace {

// Down the layers from layer `top`: d loss / d out(l-1) = sum_j delta_j
// W_l[active_j], then through layer l-1's activation at its active neurons.
// With dh_top (layer top - 1's output width floats), layer top's delta is
// not read: dh_top is d loss / d out(top - 1) itself.
void BackwardFrom(const Model& model, size_t top, const float* dh_top,
                  std::vector<Model::LayerState>& st, std::vector<float>& dh) {
  for (size_t l = top; l > 0; --l) {
    const Layer& layer = model.layer(l);
    const Model::LayerState& cur = st[l];
    Model::LayerState& prev = st[l - 1];
    const float* g = dh_top;
    if (l != top || dh_top == nullptr) {
      dh.assign(layer.input_dim, 0.0f);
      dispatch::RowAccumulate()(layer.w.w.data(), layer.w.stride, cur.active,
                                cur.delta.data(), cur.m, dh.data(),
                                layer.input_dim);
      g = dh.data();
    }
    const bool relu = model.layer(l - 1).config.activation == Activation::kRelu;
    prev.delta.resize(prev.m);
    for (size_t j = 0; j < prev.m; ++j) {
      const float d = g[prev.active[j]];
      prev.delta[j] = (!relu || prev.pre[j] > 0) ? d : 0.0f;
    }
  }
}

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
  w.label_recall = -1;
  if (o.active != model.all_neurons()) {
    for (size_t i = 0; i < num_labels; ++i) s.labels[i] = uint32_t(i);
    if (num_labels > 0) {
      w.label_recall = float(s.query.back().forced_found()) / float(num_labels);
    }
  }

  o.delta.resize(m);
  w.loss = loss.Gradient(o.pre.data(), m, s.labels.data(), num_labels,
                         o.delta.data());

  BackwardFrom(model, st.size() - 1, nullptr, st, s.dh);
}

// Marks row r of a layer touched by thread-local list `touched`.
inline void Touch(uint32_t r, std::vector<uint8_t>& mark,
                  std::vector<uint32_t>& touched) {
  if (!mark[r]) {
    mark[r] = 1;
    touched.push_back(r);
  }
}

// Every layer l < num_layers's factors of work[0 .. count) (rows of `batch`)
// into factors[l], in sample order: layer 0 (feature-major) the input row as
// active/delta and its delta as h; the others their active neurons, deltas
// and the previous layer's output.
void CollectFactors(const SparseDataset& batch, const std::vector<SampleWork>& work,
                    size_t count, std::vector<std::vector<SampleFactors>>& factors,
                    size_t num_layers = size_t(-1)) {
  factors[0].resize(count);
  for (size_t i = 0; i < count; ++i) {
    const SparseRow x = batch.row(work[i].row);
    factors[0][i] = {x.idx.data(), x.val.data(), x.idx.size(),
                     work[i].act.layers[0].delta.data()};
  }
  for (size_t l = 1; l < std::min(num_layers, factors.size()); ++l) {
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
// touched (touched[l][t]) and the wall seconds each layer took (seconds[l]);
// layers [first_layer, end_layer) only.
// factors: CollectFactors of the same samples; scratch: this thread's, per
// layer.
void AccumulateOwned(Model& model,
                     const std::vector<std::vector<SampleFactors>>& factors,
                     size_t t, size_t T,
                     std::vector<std::vector<uint8_t>>& mark,
                     std::vector<std::vector<std::vector<uint32_t>>>& touched,
                     std::vector<FactorScratch>& scratch, double* seconds,
                     size_t first_layer = 0, size_t end_layer = size_t(-1)) {
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  auto lap = [&start](double& into) {
    const auto now = Clock::now();
    into = std::chrono::duration<double>(now - start).count();
    start = now;
  };
  if (first_layer == 0) {
    // Layer 0 is feature-major: row f gets x_f * delta. When the batch's
    // nonzeros reach a quarter of the rows, rows repeat across samples and
    // are accumulated row after row (each row's gradient read and written
    // once); sparser batches go sample after sample (grouping would cost more
    // than it saves). Either way a row's contributions come in sample order:
    // the same bits.
    const auto axpy = dispatch::Axpy();
    ParamBlock& W = model.layer(0).w;
    ParamBlock& B = model.layer(0).b;
    const std::vector<SampleFactors>& in = factors[0];
    size_t nonzeros = 0;
    for (const SampleFactors& x : in) nonzeros += x.m;
    if (4 * nonzeros >= W.rows) {
      AccumulateFactors(W, nullptr, in.data(), in.size(), t, T, mark[0], touched[0][t],
                        scratch[0]);
    } else {
      for (const SampleFactors& x : in) {
        for (size_t j = 0; j < x.m; ++j) {
          const uint32_t f = x.active[j];
          if (f % T != t) continue;
          axpy(x.delta[j], x.h, W.g.data() + size_t{f} * W.stride, W.cols);
          Touch(f, mark[0], touched[0][t]);
        }
      }
    }
    if (t == 0) {
      for (const SampleFactors& x : in) axpy(1.0f, x.h, B.g.data(), B.cols);
    }
    lap(seconds[0]);
  }
  // Neuron-major: row r gets delta_r * the previous layer's output.
  for (size_t l = std::max<size_t>(1, first_layer);
       l < std::min(end_layer, model.num_layers()); ++l) {
    AccumulateFactors(model.layer(l).w, &model.layer(l).b, factors[l].data(),
                      factors[l].size(), t, T, mark[l], touched[l][t], scratch[l]);
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
  const bool sharded = config_.shard_output && config_.comm != nullptr &&
                       config_.comm->size() > 1;
  const bool shard_input = config_.shard_input && config_.comm != nullptr &&
                           config_.comm->size() > 1;
  uint64_t input_bytes = 0;
  double input_s = 0;
  if (shard_input) {
    // The current values of the input rows this batch reads.
    const auto t0 = Clock::now();
    std::vector<uint32_t> rows;
    for (size_t i = 0; i < count; ++i) {
      const SparseRow x = batch.row(i);
      rows.insert(rows.end(), x.idx.begin(), x.idx.end());
    }
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    input_bytes += FetchInputRows(model_, *config_.comm, rows, &im.input_requests);
    input_s += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  im.arena.execute([&] {
    // Phase 1: per sample.
    double comm_s = 0;
    if (sharded) {
      comm_s = ShardedForwardBackward(batch, step, stats);
    } else {
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
    }
    lap(stats.forward_s);
    stats.forward_s -= comm_s;
    stats.exchange_s += comm_s;
    // Phase 2: per owned row.
    if (sharded) {
      // The hidden layers from this rank's samples; the output shard from
      // every sample of the global batch, in global order.
      CollectFactors(batch, im.work, count, im.factors, num_layers - 1);
      std::vector<SampleFactors>& of = im.factors.back();
      const size_t H = model_.output().input_dim;
      of.resize(im.shard_work.size());
      for (size_t g = 0; g < of.size(); ++g) {
        const ShardSample& w = im.shard_work[g];
        of[g] = {w.active, w.delta.data(), w.m, im.h_all.data() + g * H};
      }
    } else {
      CollectFactors(batch, im.work, count, im.factors);
    }
    // With a sharded output, phase 2 of the hidden layers first; their
    // exchange then runs on another thread while phase 2 accumulates the
    // output shard (which nothing exchanges): the same arithmetic, overlapped.
    const bool overlap = sharded && config_.overlap_exchange;
    const size_t phase2_end = overlap ? num_layers - 1 : num_layers;
    tbb::parallel_for(size_t{0}, T, [&](size_t t) {
      AccumulateOwned(model_, im.factors, t, T, im.mark,
                      im.touched, im.factor_scratch[t],
                      &im.thread_layer_s[t * num_layers], 0, phase2_end);
    });
    for (size_t l = 0; l < phase2_end; ++l) {
      im.layer_s[l] = 0;
      for (size_t t = 0; t < T; ++t) {
        im.layer_s[l] = std::max(im.layer_s[l], im.thread_layer_s[t * num_layers + l]);
      }
    }
    // Between phases 2 and 3: sum the gradients over the ranks (a layer
    // exchanged as factors is accumulated again, from every rank's samples).
    const bool exchange = config_.comm != nullptr && config_.comm->size() > 1;
    double exchange_thread_s = 0;
    auto exchange_layers = [&] {
      const auto t0 = Clock::now();
      ExchangeGradients(model_, *config_.comm,
                        {config_.exchange, config_.exchange_bandwidth,
                         sharded ? num_layers - 1 : 0, shard_input ? size_t{1} : 0},
                        im.layer_s, im.factors, im.mark, im.touched,
                        &im.exchange);
      if (shard_input) {
        input_bytes += PushInputGradients(model_, *config_.comm, im.input_requests,
                                          im.touched[0], im.mark[0]);
      }
      exchange_thread_s = std::chrono::duration<double>(Clock::now() - t0).count();
    };
    if (overlap) {
      std::exception_ptr failure;
      std::thread exchanger([&] {
        try {
          exchange_layers();
        } catch (...) {
          failure = std::current_exception();
        }
      });
      const auto t0 = Clock::now();
      tbb::parallel_for(size_t{0}, T, [&](size_t t) {
        AccumulateOwned(model_, im.factors, t, T, im.mark,
                        im.touched, im.factor_scratch[t],
                        &im.thread_layer_s[t * num_layers], num_layers - 1, num_layers);
      });
      const double output_s = std::chrono::duration<double>(Clock::now() - t0).count();
      exchanger.join();
      if (failure) std::rethrow_exception(failure);
      stats.overlap_s = std::min(output_s, exchange_thread_s);
    }
    lap(stats.accumulate_s);
    if (exchange) {
      if (!overlap) exchange_layers();
      stats.exchange_bytes += im.exchange.bytes();
      if (shard_input) {
        stats.exchange_bytes += input_bytes;
        stats.input_exchange_bytes = input_bytes;
      }
      if (sharded) {
        // What replicated training would send for the output: a dense
        // allreduce of its whole gradient (weights and biases).
        const int n = config_.comm->size();
        const uint64_t floats =
            uint64_t(model_.output_dim()) * (model_.output().w.stride + 1);
        stats.output_dense_bytes =
            2 * uint64_t(n - 1) * floats * sizeof(float) / uint64_t(n);
        stats.exchange_dense_bytes = im.exchange.dense_bytes() + stats.output_dense_bytes;
        stats.exchange_bytes += stats.output_exchange_bytes;
      } else {
        const LayerExchange& o = im.exchange.layers.back();
        stats.output_exchange_bytes = o.bytes;
        stats.output_dense_bytes = o.dense_bytes;
        stats.exchange_dense_bytes = im.exchange.dense_bytes();
      }
      lap(stats.exchange_s);
      if (overlap) {
        // The exchange's time beyond the output's accumulation was in the
        // accumulate lap: move the whole exchange to exchange_s.
        stats.exchange_s += exchange_thread_s;
        stats.accumulate_s -= exchange_thread_s - stats.overlap_s;
      }
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
  stats.exchange_s += input_s;  // the fetch ran before phase 1's clock lap
  stats.forward_s -= input_s;
  for (const auto& list : im.touched.back()) {
    stats.output_rows_updated += list.size();
  }
  for (auto& per_layer : im.touched) {
    for (auto& list : per_layer) list.clear();
  }
  if (!sharded) {
    for (size_t i = 0; i < count; ++i) {
      stats.loss_sum += im.work[i].loss;
      stats.active_sum += im.work[i].act.layers.back().m;
      if (im.work[i].label_recall >= 0) {
        stats.label_recall_sum += im.work[i].label_recall;
        ++stats.label_rows;
      }
    }
  }
  return stats;
}

double Trainer::ShardedForwardBackward(const SparseDataset& batch, uint64_t step,
                                       BatchStats& stats) {
  using Clock = std::chrono::steady_clock;
  Impl& im = *impl_;
  comm::Communicator& comm = *config_.comm;
  const size_t count = batch.size();
  const size_t L = model_.num_layers();
  const Layer& out = model_.output();
  const size_t H = out.input_dim;
  const size_t first = model_.config().output_shard.first;
  const size_t width = out.config.width;
  const bool softmax = out.config.activation == Activation::kSoftmax;
  const Loss& loss = LossFor(out.config.activation);
  const uint64_t sent0 = comm.stats().total_bytes();
  double comm_s = 0;
  auto timed = [&](auto&& f) {
    const auto t0 = Clock::now();
    f();
    comm_s += std::chrono::duration<double>(Clock::now() - t0).count();
  };

  // 1. The hidden layers on this rank's samples.
  const uint64_t shared_seed = step * 0x9e3779b97f4a7c15ull;
  tbb::parallel_for(tbb::blocked_range<size_t>(0, count, 8),
                    [&](const tbb::blocked_range<size_t>& r) {
                      WorkerScratch& s = im.scratch.local();
                      for (size_t i = r.begin(); i < r.end(); ++i) {
                        SampleWork& w = im.work[i];
                        w.row = uint32_t(i);
                        w.loss = 0;
                        // As TrainBatch seeds a replicated layer's padding.
                        const uint64_t pad =
                            shared_seed + (config_.shared_padding
                                               ? 0
                                               : uint64_t(comm.rank()) * count + i);
                        model_.ForwardLayers(batch.row(i), Model::Mode::kTrain, pad,
                                             w.act, s.query, L - 1);
                      }
                    });
  // Pack [count][label counts][labels][hidden vectors] and gather every
  // rank's.
  size_t num_labels = 0;
  for (size_t i = 0; i < count; ++i) num_labels += batch.row(i).labels.size();
  im.send.resize((1 + count + num_labels) * sizeof(uint32_t) +
                 count * H * sizeof(float));
  {
    auto* u = reinterpret_cast<uint32_t*>(im.send.data());
    *u++ = uint32_t(count);
    for (size_t i = 0; i < count; ++i) *u++ = uint32_t(batch.row(i).labels.size());
    for (size_t i = 0; i < count; ++i) {
      for (uint32_t y : batch.row(i).labels) *u++ = y;
    }
    auto* f = reinterpret_cast<uint8_t*>(u);
    for (size_t i = 0; i < count; ++i, f += H * sizeof(float)) {
      std::memcpy(f, im.work[i].act.layers[L - 2].out.data(), H * sizeof(float));
    }
  }
  std::vector<uint8_t> all;
  std::vector<size_t> block;
  timed([&] { all = comm.AllgathervBytes(im.send.data(), im.send.size(), &block); });
  const size_t n = size_t(comm.size());
  im.rank_samples.assign(n, 0);
  im.labels_all.clear();
  im.label_start.assign(1, 0);
  im.h_all.clear();
  for (size_t at = 0, q = 0; q < n; at += block[q], ++q) {
    const auto* u = reinterpret_cast<const uint32_t*>(all.data() + at);
    const size_t c = *u++;
    im.rank_samples[q] = c;
    const uint32_t* counts = u;
    u += c;
    for (size_t i = 0; i < c; ++i) {
      im.labels_all.insert(im.labels_all.end(), u, u + counts[i]);
      u += counts[i];
      im.label_start.push_back(im.labels_all.size());
    }
    const auto* h = reinterpret_cast<const uint8_t*>(u);
    const size_t old = im.h_all.size();
    im.h_all.resize(old + c * H);
    std::memcpy(im.h_all.data() + old, h, c * H * sizeof(float));
  }
  const size_t G = im.label_start.size() - 1;
  for (size_t label : im.labels_all) {
    if (label >= model_.output_dim()) {
      throw std::invalid_argument("Trainer: a rank's label " + std::to_string(label) +
                                  " exceeds the model's " +
                                  std::to_string(model_.output_dim()) + " labels");
    }
  }

  // 2. The shard's logits for every sample of the global batch.
  if (im.shard_work.size() < G) im.shard_work.resize(G);
  im.lse.assign(G, -std::numeric_limits<float>::infinity());
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, G, 8), [&](const tbb::blocked_range<size_t>& r) {
        WorkerScratch& s = im.scratch.local();
        s.query.resize(L);
        for (size_t g = r.begin(); g < r.end(); ++g) {
          ShardSample& w = im.shard_work[g];
          const float* h = im.h_all.data() + g * H;
          s.labels.assign(im.labels_all.begin() + long(im.label_start[g]),
                          im.labels_all.begin() + long(im.label_start[g + 1]));
          std::sort(s.labels.begin(), s.labels.end());
          s.labels.erase(std::unique(s.labels.begin(), s.labels.end()),
                         s.labels.end());
          w.num_labels = s.labels.size();
          w.label_pos.clear();
          for (uint32_t y : s.labels) {
            if (y >= first && y - first < width) w.label_pos.push_back(uint32_t(y - first));
          }
          if (out.sampled()) {
            const uint64_t pad = shared_seed + (config_.shared_padding ? 0 : g);
            out.index->Query(h, Span<const uint32_t>(w.label_pos.data(), w.label_pos.size()),
                             pad, s.query.back(), w.active_ids);
            w.active = w.active_ids.data();
            w.m = w.active_ids.size();
            for (size_t i = 0; i < w.label_pos.size(); ++i) w.label_pos[i] = uint32_t(i);
          } else {
            w.active = model_.all_neurons();
            w.m = width;
          }
          w.pre.resize(w.m);
          w.delta.resize(w.m);
          dispatch::RowGatherDot()(out.w.w.data(), out.w.stride, w.active, w.m, h, H,
                                   w.pre.data());
          for (size_t j = 0; j < w.m; ++j) w.pre[j] += out.b.w[w.active[j]];
          w.label_logits = 0;
          for (uint32_t p : w.label_pos) w.label_logits += w.pre[p];
          if (softmax) {
            // Probabilities over the shard's neurons; the shard's normaliser.
            if (w.m > 0) im.lse[g] = dispatch::Softmax()(w.pre.data(), w.delta.data(), w.m);
          } else {
            // Independent per neuron: the shard's part of the loss.
            w.label_logits = loss.Gradient(w.pre.data(), w.m, w.label_pos.data(),
                                           w.label_pos.size(), w.delta.data());
          }
        }
      });

  // 3. The softmax's normaliser over every shard; d loss / d logits.
  const size_t mine_first = [&] {
    size_t f = 0;
    for (size_t q = 0; q < size_t(comm.rank()); ++q) f += im.rank_samples[q];
    return f;
  }();
  // Each sample's loss in two halves: the shard's (its labels' mean logit,
  // negated; a sigmoid output: its neurons' loss), carried to the sample's
  // rank with the hidden gradient below, and the normaliser.
  std::vector<float> shard_loss(G, 0.0f);
  if (softmax) {
    std::vector<float> local_lse = im.lse;
    timed([&] { comm.Allreduce(im.lse.data(), G, comm::ReduceOp::kLogSumExp); });
    for (size_t g = 0; g < G; ++g) {
      ShardSample& w = im.shard_work[g];
      if (w.num_labels == 0) {
        std::fill(w.delta.begin(), w.delta.end(), 0.0f);
        im.lse[g] = 0;  // no labels: no loss
        continue;
      }
      const float scale = std::exp(local_lse[g] - im.lse[g]);
      for (size_t j = 0; j < w.m; ++j) w.delta[j] *= scale;
      const float t = 1.0f / float(w.num_labels);
      for (uint32_t p : w.label_pos) w.delta[p] -= t;
      shard_loss[g] = float(-w.label_logits / double(w.num_labels));
    }
  } else {
    for (size_t g = 0; g < G; ++g) shard_loss[g] = float(im.shard_work[g].label_logits);
  }
  for (size_t g = 0; g < G; ++g) stats.active_sum += im.shard_work[g].m;

  // 4. The hidden vectors' gradient from this shard (and the shard's loss
  // half in a last column), summed over the shards for each rank's samples.
  const size_t H1 = H + 1;
  im.dh_all.assign(G * H1, 0.0f);
  tbb::parallel_for(tbb::blocked_range<size_t>(0, G, 8),
                    [&](const tbb::blocked_range<size_t>& r) {
                      for (size_t g = r.begin(); g < r.end(); ++g) {
                        const ShardSample& w = im.shard_work[g];
                        float* dh = im.dh_all.data() + g * H1;
                        dispatch::RowAccumulate()(out.w.w.data(), out.w.stride,
                                                  w.active, w.delta.data(), w.m, dh, H);
                        dh[H] = shard_loss[g];
                      }
                    });
  std::vector<size_t> counts(n);
  for (size_t q = 0; q < n; ++q) counts[q] = im.rank_samples[q] * H1;
  im.dh_mine.resize(count * H1);
  timed([&] { comm.ReduceScatter(im.dh_all.data(), counts, im.dh_mine.data()); });
  stats.output_exchange_bytes = comm.stats().total_bytes() - sent0;
  for (size_t i = 0; i < count; ++i) {
    im.work[i].loss = double(im.dh_mine[i * H1 + H]) +
                      (softmax ? double(im.lse[mine_first + i]) : 0.0);
    stats.loss_sum += im.work[i].loss;
  }

  // 5. Down the hidden layers from each sample's hidden gradient.
  tbb::parallel_for(tbb::blocked_range<size_t>(0, count, 8),
                    [&](const tbb::blocked_range<size_t>& r) {
                      WorkerScratch& s = im.scratch.local();
                      for (size_t i = r.begin(); i < r.end(); ++i) {
                        BackwardFrom(model_, L - 1, im.dh_mine.data() + i * H1,
                                     im.work[i].act.layers, s.dh);
                      }
                    });
  return comm_s;
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
  CollectFactors(one, work, 1, factors);
  std::vector<double> seconds(model_.num_layers());
  std::vector<FactorScratch> scratch(model_.num_layers());
  AccumulateOwned(model_, factors, 0, 1, im.mark, touched,
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
  const size_t first = model.config().output_shard.first;
  const size_t width = model.output().config.width;
  tbb::enumerable_thread_specific<Local> locals;
  arena.execute([&] {
    tbb::parallel_for(
        tbb::blocked_range<size_t>(0, n, 64),
        [&](const tbb::blocked_range<size_t>& r) {
          Local& l = locals.local();
          for (size_t i = r.begin(); i < r.end(); ++i) {
            const SparseRow x = row(i);
            model.Predict(x, k, exact, l.act, l.labels, l.scores);
            if (sampled && !x.labels.empty() && !l.act.layers.empty()) {
              const Model::LayerState& o = l.act.layers.back();
              size_t found = 0;
              for (const uint32_t y : x.labels) {
                if (y < first || y - first >= width) continue;  // another shard's
                const uint32_t id = uint32_t(y - first);
                found += std::find(o.active, o.active + o.m, id) != o.active + o.m;
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

void PredictTop5(const Model& model, const SparseDataset& data, bool exact,
                 size_t threads, std::vector<uint32_t>* labels,
                 std::vector<float>* scores, double* candidate_recall) {
  constexpr size_t k = 5;
  const size_t n = data.size();
  labels->resize(n * k);
  scores->resize(n * k);
  PredictBatch(
      model, n, [&](size_t i) { return data.row(i); }, k, exact, threads,
      labels->data(), scores->data(), candidate_recall);
}

EvalResult ScoreTop5(const SparseDataset& data, const uint32_t* top) {
  constexpr size_t k = 5;
  const size_t n = data.size();
  EvalResult out;
  out.samples = n;
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
  return out;
}

EvalResult Evaluate(const Model& model, const SparseDataset& data, bool exact,
                    size_t threads) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<uint32_t> top;
  std::vector<float> scores;
  double candidate_recall = -1;
  PredictTop5(model, data, exact, threads, &top, &scores, &candidate_recall);
  EvalResult out = ScoreTop5(data, top.data());
  out.candidate_recall = candidate_recall;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                              start)
                    .count();
  return out;
}

}  // namespace frugal::nn
