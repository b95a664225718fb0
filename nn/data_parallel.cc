#include "nn/data_parallel.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>

#include "dispatch/registry.h"
#include "nn/trainer.h"

namespace frugal::nn {

uint64_t ExchangeStats::bytes() const {
  uint64_t b = 0;
  for (const LayerExchange& l : layers) b += l.bytes;
  return b;
}
uint64_t ExchangeStats::dense_bytes() const {
  uint64_t b = 0;
  for (const LayerExchange& l : layers) b += l.dense_bytes;
  return b;
}
double ExchangeStats::seconds() const {
  double s = 0;
  for (const LayerExchange& l : layers) s += l.seconds;
  return s;
}

namespace {

// Bytes a ring allreduce of `bytes` sends per rank.
uint64_t RingAllreduceBytes(uint64_t bytes, int ranks) {
  return 2 * uint64_t(ranks - 1) * bytes / uint64_t(ranks);
}

// One layer: gradient rows of W (cols floats each at stride) and, for
// neuron-major layers (l > 0), one bias per row.
void ExchangeLayer(Layer& layer, bool has_row_bias, dist::Communicator& comm,
                   ExchangePolicy policy,
                   std::vector<std::vector<uint32_t>>& touched,
                   LayerExchange& out) {
  ParamBlock& W = layer.w;
  ParamBlock& B = layer.b;
  const int n = comm.size();
  const size_t T = touched.size();
  const uint64_t before = comm.stats().total_bytes();

  std::vector<uint32_t> mine;
  for (const auto& list : touched) mine.insert(mine.end(), list.begin(), list.end());
  std::sort(mine.begin(), mine.end());
  std::vector<size_t> counts;
  const std::vector<uint32_t> all = comm.Allgatherv(mine, &counts);
  std::vector<uint32_t> uni = all;
  std::sort(uni.begin(), uni.end());
  uni.erase(std::unique(uni.begin(), uni.end()), uni.end());

  // Per rank: values of its rows in the ring allgather (each rank forwards
  // all rows but one rank's) against a ring allreduce of the matrix.
  const size_t row_floats = W.cols + (has_row_bias ? 1 : 0);
  const uint64_t dense =
      RingAllreduceBytes(uint64_t(W.rows) * W.stride * sizeof(float), n) +
      (has_row_bias ? RingAllreduceBytes(uint64_t(B.rows) * sizeof(float), n) : 0);
  const uint64_t sparse = uint64_t(all.size()) * row_floats * sizeof(float) *
                          uint64_t(n - 1) / uint64_t(n);
  out.sparse = policy == ExchangePolicy::kSparse ||
               (policy == ExchangePolicy::kAuto && sparse < dense);
  out.touched_rows = all.size();
  out.union_rows = uni.size();
  out.dense_bytes = dense;

  if (out.sparse) {
    std::vector<float> send(mine.size() * row_floats);
    for (size_t i = 0; i < mine.size(); ++i) {
      float* dst = send.data() + i * row_floats;
      std::memcpy(dst, W.g.data() + size_t{mine[i]} * W.stride,
                  W.cols * sizeof(float));
      if (has_row_bias) dst[W.cols] = B.g[mine[i]];
    }
    const std::vector<float> vals = comm.Allgatherv(send);
    // Sum in rank order from zero: the same additions on every rank.
    for (uint32_t r : uni) {
      std::fill_n(W.g.data() + size_t{r} * W.stride, W.cols, 0.0f);
      if (has_row_bias) B.g[r] = 0.0f;
    }
    const auto axpy = dispatch::Axpy();
    for (size_t i = 0; i < all.size(); ++i) {
      const float* src = vals.data() + i * row_floats;
      axpy(1.0f, src, W.g.data() + size_t{all[i]} * W.stride, W.cols);
      if (has_row_bias) B.g[all[i]] += src[W.cols];
    }
  } else {
    comm.Allreduce(W.g.data(), W.g.size(), dist::ReduceOp::kSum);
    if (has_row_bias) comm.Allreduce(B.g.data(), B.g.size(), dist::ReduceOp::kSum);
  }
  for (auto& list : touched) list.clear();
  for (uint32_t r : uni) touched[r % T].push_back(r);
  out.bytes = comm.stats().total_bytes() - before;
}

}  // namespace

void ExchangeGradients(Model& model, dist::Communicator& comm,
                       ExchangePolicy policy,
                       std::vector<std::vector<std::vector<uint32_t>>>& touched,
                       ExchangeStats* stats) {
  ExchangeStats local;
  ExchangeStats& s = stats ? *stats : local;
  s.layers.assign(model.num_layers(), LayerExchange());
  for (size_t l = 0; l < model.num_layers(); ++l) {
    const auto t0 = std::chrono::steady_clock::now();
    Layer& layer = model.layer(l);
    ExchangeLayer(layer, l > 0, comm, policy, touched[l], s.layers[l]);
    if (l == 0) {  // layer 0's bias is one dense row
      const uint64_t before = comm.stats().total_bytes();
      comm.Allreduce(layer.b.g.data(), layer.b.g.size(), dist::ReduceOp::kSum);
      s.layers[l].bytes += comm.stats().total_bytes() - before;
      s.layers[l].dense_bytes +=
          RingAllreduceBytes(layer.b.g.size() * sizeof(float), comm.size());
    }
    s.layers[l].seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
}

SparseDataset Shard(const SparseDataset& data, int rank, int size,
                    bool equal_sizes) {
  if (size < 1 || rank < 0 || rank >= size) {
    throw std::invalid_argument("Shard: rank " + std::to_string(rank) +
                                " is outside [0, " + std::to_string(size) + ")");
  }
  SparseDataset out(data.num_features(), data.num_labels());
  const size_t end =
      equal_sizes ? data.size() / size_t(size) * size_t(size) : data.size();
  for (size_t i = size_t(rank); i < end; i += size_t(size)) {
    const SparseRow x = data.row(i);
    out.Add(x.idx, x.val, x.labels);
  }
  return out;
}

uint64_t WeightsHash(const Model& model) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the float bits
  auto mix = [&h](const std::vector<float>& v) {
    for (float f : v) {
      uint32_t bits;
      std::memcpy(&bits, &f, sizeof bits);
      h = (h ^ bits) * 1099511628211ull;
    }
  };
  for (size_t l = 0; l < model.num_layers(); ++l) {
    mix(model.layer(l).w.w);
    mix(model.layer(l).b.w);
  }
  return h;
}

void CheckReplicasIdentical(const Model& model, dist::Communicator& comm) {
  const uint64_t h = WeightsHash(model);
  const std::vector<uint64_t> all = comm.Allgatherv(std::vector<uint64_t>{h});
  std::string differ;
  for (size_t r = 1; r < all.size(); ++r) {
    if (all[r] != all[0]) differ += (differ.empty() ? "" : ", ") + std::to_string(r);
  }
  if (!differ.empty()) {
    throw std::runtime_error("replicas differ: the weights of rank(s) " + differ +
                             " are not those of rank 0");
  }
}

}  // namespace frugal::nn

namespace frugal::nn {

EvalResult EvaluateRanks(const Model& model, const SparseDataset& data,
                         bool exact, size_t threads, dist::Communicator& comm) {
  if (comm.size() == 1) return Evaluate(model, data, exact, threads);
  const EvalResult mine = Evaluate(
      model, Shard(data, comm.rank(), comm.size(), false), exact, threads);
  // Sums of the per-sample figures, then means over every rank's samples.
  const double n = double(mine.samples);
  double sums[7] = {mine.p_at[1] * n, mine.p_at[2] * n, mine.p_at[3] * n,
                    mine.p_at[4] * n, mine.p_at[5] * n, mine.recall_at5 * n, n};
  comm.Allreduce(sums, 7, dist::ReduceOp::kSum);
  double seconds = mine.seconds;
  comm.Allreduce(&seconds, 1, dist::ReduceOp::kMax);
  EvalResult all;
  all.samples = size_t(sums[6]);
  const double total = std::max(1.0, sums[6]);
  for (int k = 1; k <= 5; ++k) all.p_at[k] = sums[k - 1] / total;
  all.recall_at5 = sums[5] / total;
  all.seconds = seconds;
  return all;
}

}  // namespace frugal::nn
