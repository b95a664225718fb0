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

// Row r of layer l's gradient: cols floats of W.g, then for neuron-major
// layers (l > 0) its bias.
struct LayerView {
  ParamBlock* W;
  ParamBlock* B;
  bool row_bias;
  size_t row_floats() const { return W->cols + (row_bias ? 1 : 0); }
};

}  // namespace

// Per step: one allgather of every rank's touched-row count per layer, then
// per layer either one allgatherv of ids and values (sparse) or an allgatherv
// of ids (for the union) and allreduces of the matrix and its biases
// (dense); layer 0's bias row by allreduce. Every rank computes the same
// choice from the same counts.
void ExchangeGradients(Model& model, dist::Communicator& comm,
                       ExchangePolicy policy,
                       std::vector<std::vector<std::vector<uint32_t>>>& touched,
                       ExchangeStats* stats) {
  ExchangeStats local;
  ExchangeStats& s = stats ? *stats : local;
  const size_t L = model.num_layers();
  const int n = comm.size();
  s.layers.assign(L, LayerExchange());
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  uint64_t sent = comm.stats().total_bytes();
  // Charges the time and bytes since the last call to layer l.
  auto charge = [&](size_t l) {
    const auto now = Clock::now();
    s.layers[l].seconds += std::chrono::duration<double>(now - t0).count();
    s.layers[l].bytes += comm.stats().total_bytes() - sent;
    t0 = now;
    sent = comm.stats().total_bytes();
  };

  std::vector<std::vector<uint32_t>> mine(L);
  std::vector<int64_t> my_counts(L);
  for (size_t l = 0; l < L; ++l) {
    for (const auto& list : touched[l]) {
      mine[l].insert(mine[l].end(), list.begin(), list.end());
    }
    std::sort(mine[l].begin(), mine[l].end());
    my_counts[l] = int64_t(mine[l].size());
  }
  std::vector<int64_t> counts(L * size_t(n));  // [rank][layer]
  comm.Allgather(my_counts.data(), L * sizeof(int64_t), counts.data());
  charge(L - 1);

  const auto axpy = dispatch::Axpy();
  for (size_t l = 0; l < L; ++l) {
    Layer& layer = model.layer(l);
    const LayerView v{&layer.w, &layer.b, l > 0};
    ParamBlock& W = *v.W;
    ParamBlock& B = *v.B;
    const size_t row_bytes = v.row_floats() * sizeof(float);
    uint64_t total = 0;
    for (int q = 0; q < n; ++q) total += uint64_t(counts[size_t(q) * L + l]);
    // Per rank: a ring allgatherv forwards all ranks' rows but one's; a ring
    // allreduce sends 2 (n-1)/n of the matrix.
    const uint64_t dense =
        RingAllreduceBytes(uint64_t(W.rows) * W.stride * sizeof(float), n) +
        (v.row_bias ? RingAllreduceBytes(uint64_t(B.rows) * sizeof(float), n) : 0);
    const uint64_t sparse =
        total * (row_bytes + sizeof(uint32_t)) * uint64_t(n - 1) / uint64_t(n);
    LayerExchange& out = s.layers[l];
    out.sparse = policy == ExchangePolicy::kSparse ||
                 (policy == ExchangePolicy::kAuto && sparse < dense);
    out.touched_rows = total;
    out.dense_bytes = dense;

    // Rank q's block: its ids, then (sparse) its rows' values.
    const size_t per_row = sizeof(uint32_t) + (out.sparse ? row_bytes : 0);
    std::vector<size_t> block(static_cast<size_t>(n));
    for (int q = 0; q < n; ++q) {
      block[size_t(q)] = size_t(counts[size_t(q) * L + l]) * per_row;
    }
    std::vector<uint8_t> send(mine[l].size() * per_row);
    if (!mine[l].empty()) {
      std::memcpy(send.data(), mine[l].data(), mine[l].size() * sizeof(uint32_t));
    }
    if (out.sparse) {
      float* dst =
          reinterpret_cast<float*>(send.data() + mine[l].size() * sizeof(uint32_t));
      for (uint32_t r : mine[l]) {
        std::memcpy(dst, W.g.data() + size_t{r} * W.stride, W.cols * sizeof(float));
        if (v.row_bias) dst[W.cols] = B.g[r];
        dst += v.row_floats();
      }
    }
    std::vector<uint8_t> all(total * per_row);
    comm.AllgathervKnown(send.data(), block, all.data());

    std::vector<uint32_t> uni;
    uni.reserve(total);
    for (size_t at = 0, q = 0; q < size_t(n); at += block[q], ++q) {
      const auto* ids = reinterpret_cast<const uint32_t*>(all.data() + at);
      uni.insert(uni.end(), ids, ids + counts[q * L + l]);
    }
    std::sort(uni.begin(), uni.end());
    uni.erase(std::unique(uni.begin(), uni.end()), uni.end());
    out.union_rows = uni.size();

    if (out.sparse) {
      // Sum in rank order from zero: the same additions on every rank.
      for (uint32_t r : uni) {
        std::fill_n(W.g.data() + size_t{r} * W.stride, W.cols, 0.0f);
        if (v.row_bias) B.g[r] = 0.0f;
      }
      for (size_t at = 0, q = 0; q < size_t(n); at += block[q], ++q) {
        const size_t k = size_t(counts[q * L + l]);
        const auto* ids = reinterpret_cast<const uint32_t*>(all.data() + at);
        const auto* vals =
            reinterpret_cast<const float*>(all.data() + at + k * sizeof(uint32_t));
        for (size_t i = 0; i < k; ++i, vals += v.row_floats()) {
          axpy(1.0f, vals, W.g.data() + size_t{ids[i]} * W.stride, W.cols);
          if (v.row_bias) B.g[ids[i]] += vals[W.cols];
        }
      }
    } else {
      comm.Allreduce(W.g.data(), W.g.size(), dist::ReduceOp::kSum);
      if (v.row_bias) comm.Allreduce(B.g.data(), B.g.size(), dist::ReduceOp::kSum);
    }
    const size_t T = touched[l].size();
    for (auto& list : touched[l]) list.clear();
    for (uint32_t r : uni) touched[l][r % T].push_back(r);
    if (l == 0) {  // layer 0's bias is one dense row
      comm.Allreduce(B.g.data(), B.g.size(), dist::ReduceOp::kSum);
      out.dense_bytes += RingAllreduceBytes(B.g.size() * sizeof(float), n);
    }
    charge(l);
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
