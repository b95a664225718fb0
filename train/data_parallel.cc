#include "train/data_parallel.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>

#include "dispatch/registry.h"
#include "train/sharded_output.h"
#include "train/trainer.h"

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
double ExchangeStats::accumulate_seconds() const {
  double s = 0;
  for (const LayerExchange& l : layers) s += l.accumulate_s;
  return s;
}

ExchangePolicy ParseExchangePolicy(const std::string& name) {
  if (name == "auto") return ExchangePolicy::kAuto;
  if (name == "dense") return ExchangePolicy::kDense;
  if (name == "sparse" || name == "rows") return ExchangePolicy::kSparse;
  if (name == "factors") return ExchangePolicy::kFactors;
  throw std::invalid_argument("unknown gradient exchange '" + name +
                              "' (auto, dense, sparse, factors)");
}

const char* ExchangePolicyName(ExchangePolicy policy) {
  switch (policy) {
    case ExchangePolicy::kDense: return "dense";
    case ExchangePolicy::kSparse: return "sparse";
    case ExchangePolicy::kFactors: return "factors";
    default: return "auto";
  }
}

const char* ExchangeFormName(ExchangeForm form) {
  switch (form) {
    case ExchangeForm::kRows: return "rows";
    case ExchangeForm::kFactors: return "factors";
    default: return "dense";
  }
}

void AccumulateFactors(ParamBlock& W, ParamBlock* B,
                       const SampleFactors* samples, size_t count, size_t t,
                       size_t T, std::vector<uint8_t>& mark,
                       std::vector<uint32_t>& touched, FactorScratch& s) {
  constexpr uint32_t kNone = ~uint32_t{0};
  constexpr size_t kAhead = 8;   // rows whose gradient pass 3 prefetches ahead
  constexpr size_t kLine = 64;   // bytes per cache line
  const size_t owned = (W.rows + T - 1) / T;
  if (s.slot.size() != owned) s.slot.assign(owned, kNone);
  const auto axpy = dispatch::Axpy();
  const size_t row_bytes = W.cols * sizeof(float);
  // Chunks of whole samples with at most s.max_ids active ids (or one
  // sample), in order, bound the scratch for wide dense layers.
  for (size_t begin = 0, end = 0; begin < count; begin = end) {
    size_t ids = 0;
    while (end < count && (end == begin || ids + samples[end].m <= s.max_ids)) {
      ids += samples[end++].m;
    }
    s.rows.clear();
    s.start.assign(1, 0);
    // Pass 1: the distinct owned rows, first touch first, and how many
    // contributions each gets (counted in start[k + 1]).
    for (size_t i = begin; i < end; ++i) {
      const SampleFactors& f = samples[i];
      for (size_t j = 0; j < f.m; ++j) {
        const uint32_t r = f.active[j];
        if (r % T != t) continue;
        uint32_t& k = s.slot[r / T];
        if (k == kNone) {
          k = uint32_t(s.rows.size());
          s.rows.push_back(r);
          s.start.push_back(0);
        }
        ++s.start[k + 1];
      }
    }
    // Pass 2: the contributions grouped by row, in sample order within a
    // row (start[k] moves from the beginning to the end of row k's group).
    for (size_t k = 1; k < s.start.size(); ++k) s.start[k] += s.start[k - 1];
    s.entries.resize(s.start.back());
    for (size_t i = begin; i < end; ++i) {
      const SampleFactors& f = samples[i];
      for (size_t j = 0; j < f.m; ++j) {
        const uint32_t r = f.active[j];
        if (r % T != t) continue;
        s.entries[s.start[s.slot[r / T]]++] = {uint32_t(i), f.delta[j]};
      }
    }
    // Pass 3: row after row; group k ends at start[k], begins where k - 1
    // ends.
    for (size_t k = 0; k < s.rows.size(); ++k) {
      if (k + kAhead < s.rows.size()) {  // for writing
        const uint32_t ahead = s.rows[k + kAhead];
        const char* next =
            reinterpret_cast<const char*>(W.g.data() + size_t{ahead} * W.stride);
        for (size_t b = 0; b < row_bytes; b += kLine) __builtin_prefetch(next + b, 1, 3);
        if (B != nullptr) __builtin_prefetch(&B->g[ahead], 1, 3);
      }
      const uint32_t r = s.rows[k];
      float* g = W.g.data() + size_t{r} * W.stride;
      const size_t first = k == 0 ? 0 : s.start[k - 1];
      for (size_t e = first; e < s.start[k]; ++e) {
        const FactorScratch::Entry& c = s.entries[e];
        axpy(c.delta, samples[c.sample].h, g, W.cols);
      }
      if (B != nullptr) {
        float& bias = B->g[r];
        for (size_t e = first; e < s.start[k]; ++e) bias += s.entries[e].delta;
      }
      s.slot[r / T] = kNone;
      if (!mark[r]) {
        mark[r] = 1;
        touched.push_back(r);
      }
    }
  }
}

namespace {

// Bytes a ring allreduce of `bytes` sends per rank.
uint64_t RingAllreduceBytes(uint64_t bytes, int ranks) {
  return 2 * uint64_t(ranks - 1) * bytes / uint64_t(ranks);
}

// Bytes a ring allgatherv of blocks totalling `bytes` sends per rank (every
// rank forwards all blocks but one; the mean over the ranks).
uint64_t RingAllgathervBytes(uint64_t bytes, int ranks) {
  return bytes * uint64_t(ranks - 1) / uint64_t(ranks);
}

// Row r of layer l's gradient: cols floats of W.g, then for neuron-major
// layers (l > 0) its bias.
struct LayerView {
  ParamBlock* W;
  ParamBlock* B;
  bool row_bias;
  size_t row_floats() const { return W->cols + (row_bias ? 1 : 0); }
};

// Per rank and layer, allgathered before the exchange.
struct LayerCounts {
  int64_t rows;     // touched rows
  int64_t samples;  // samples of the batch
  int64_t active;   // active ids summed over the samples
  double accumulate_s;  // phase 2's wall seconds for the layer
};

// One sample's factors on the wire: m (u32), m ids (u32), m deltas (f32),
// then h (cols f32).
size_t FactorBytes(uint64_t samples, uint64_t active, size_t cols) {
  return size_t(samples * (sizeof(uint32_t) + cols * sizeof(float)) +
                active * (sizeof(uint32_t) + sizeof(float)));
}

// Layer l >= 1 as factors: gathers every rank's samples and rebuilds the
// gradient rows from zero in rank order on T threads.
void ExchangeFactors(const LayerView& v, comm::Communicator& comm,
                     const std::vector<SampleFactors>& mine,
                     const std::vector<size_t>& block, std::vector<uint8_t>& mark,
                     std::vector<std::vector<uint32_t>>& touched,
                     LayerExchange& out, const std::function<void()>& charge) {
  ParamBlock& W = *v.W;
  ParamBlock& B = *v.B;
  const size_t cols = W.cols;
  std::vector<uint8_t> send(block[size_t(comm.rank())]);
  uint8_t* p = send.data();
  auto put = [&p](const void* src, size_t bytes) {
    if (bytes) std::memcpy(p, src, bytes);
    p += bytes;
  };
  for (const SampleFactors& f : mine) {
    const uint32_t m = uint32_t(f.m);
    put(&m, sizeof m);
    put(f.active, f.m * sizeof(uint32_t));
    put(f.delta, f.m * sizeof(float));
    put(f.h, cols * sizeof(float));
  }
  size_t total = 0;
  for (size_t b : block) total += b;
  std::vector<uint8_t> all(total);
  comm.AllgathervKnown(send.data(), block, all.data());
  charge();

  const auto start = std::chrono::steady_clock::now();
  // This rank's partial sums from phase 2 give way to the global sum.
  const size_t T = touched.size();
  for (auto& list : touched) {
    for (uint32_t r : list) {
      std::fill_n(W.g.data() + size_t{r} * W.stride, cols, 0.0f);
      B.g[r] = 0.0f;
      mark[r] = 0;
    }
    list.clear();
  }
  std::vector<SampleFactors> samples;
  samples.reserve(size_t(out.samples));
  for (size_t at = 0; at < total;) {
    SampleFactors f;
    uint32_t m;
    std::memcpy(&m, all.data() + at, sizeof m);
    f.m = m;
    f.active = reinterpret_cast<const uint32_t*>(all.data() + at + sizeof m);
    f.delta = reinterpret_cast<const float*>(f.active + m);
    f.h = f.delta + m;
    samples.push_back(f);
    at += FactorBytes(1, m, cols);
  }
  std::vector<FactorScratch> scratch(T);
  tbb::parallel_for(size_t{0}, T, [&](size_t t) {
    AccumulateFactors(W, &B, samples.data(), samples.size(), t, T, mark,
                      touched[t], scratch[t]);
    std::sort(touched[t].begin(), touched[t].end());
  });
  out.union_rows = 0;
  for (const auto& list : touched) out.union_rows += list.size();
  out.accumulate_s +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
}

}  // namespace

// Per step: one allgather of every rank's counts per layer (touched rows,
// samples, active ids), then per layer one of
//  - rows: one allgatherv of ids and values;
//  - dense: an allgatherv of ids (for the union) and allreduces of the matrix
//    and its biases;
//  - factors: one allgatherv of every sample's factors;
// layer 0's bias row rides layer 0's allgatherv (summed in rank order). No
// collective at all when no layer is exchanged (first_layer >= the layers).
// Every rank computes the same choice from the same counts.
void ExchangeGradients(Model& model, comm::Communicator& comm,
                       const ExchangeOptions& options,
                       const std::vector<double>& accumulate_s,
                       const std::vector<std::vector<SampleFactors>>& factors,
                       std::vector<std::vector<uint8_t>>& mark,
                       std::vector<std::vector<std::vector<uint32_t>>>& touched,
                       ExchangeStats* stats) {
  ExchangeStats local;
  ExchangeStats& s = stats ? *stats : local;
  const size_t L = options.num_layers ? std::min(options.num_layers, model.num_layers())
                                      : model.num_layers();
  const int n = comm.size();
  s.layers.assign(model.num_layers(), LayerExchange());
  if (options.first_layer >= L) return;
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  uint64_t sent = comm.stats().total_bytes();
  size_t charged = L - 1;
  // Charges the time and bytes since the last call to layer `charged`.
  const std::function<void()> charge = [&] {
    const auto now = Clock::now();
    s.layers[charged].seconds += std::chrono::duration<double>(now - t0).count();
    s.layers[charged].bytes += comm.stats().total_bytes() - sent;
    t0 = now;
    sent = comm.stats().total_bytes();
  };

  std::vector<std::vector<uint32_t>> mine(L);
  std::vector<LayerCounts> my_counts(L);
  for (size_t l = 0; l < L; ++l) {
    for (const auto& list : touched[l]) {
      mine[l].insert(mine[l].end(), list.begin(), list.end());
    }
    std::sort(mine[l].begin(), mine[l].end());
    my_counts[l] = {int64_t(mine[l].size()), 0, 0, accumulate_s[l]};
    if (l > 0) {
      my_counts[l].samples = int64_t(factors[l].size());
      for (const SampleFactors& f : factors[l]) my_counts[l].active += int64_t(f.m);
    }
  }
  std::vector<LayerCounts> counts(L * size_t(n));  // [rank][layer]
  comm.Allgather(my_counts.data(), L * sizeof(LayerCounts), counts.data());
  charge();

  const auto axpy = dispatch::Axpy();
  for (size_t l = options.first_layer; l < L; ++l) {
    charged = l;
    Layer& layer = model.layer(l);
    const LayerView v{&layer.w, &layer.b, l > 0};
    ParamBlock& W = *v.W;
    ParamBlock& B = *v.B;
    const size_t row_bytes = v.row_floats() * sizeof(float);
    LayerExchange& out = s.layers[l];
    double slowest = 0;  // phase 2's seconds for the layer, over the ranks
    for (int q = 0; q < n; ++q) {
      const LayerCounts& c = counts[size_t(q) * L + l];
      out.touched_rows += uint64_t(c.rows);
      out.samples += uint64_t(c.samples);
      out.active += uint64_t(c.active);
      slowest = std::max(slowest, c.accumulate_s);
    }
    const uint64_t total = out.touched_rows;
    out.dense_bytes =
        RingAllreduceBytes(uint64_t(W.rows) * W.stride * sizeof(float), n) +
        (v.row_bias ? RingAllreduceBytes(uint64_t(B.rows) * sizeof(float), n) : 0);
    const uint64_t id_bytes = RingAllgathervBytes(total * sizeof(uint32_t), n);
    out.rows_bytes = RingAllgathervBytes(total * (row_bytes + sizeof(uint32_t)), n);
    if (l > 0) {
      out.factor_bytes = RingAllgathervBytes(
          FactorBytes(out.samples, out.active, W.cols), n);
    }
    // The least cost, dense (which gathers the ids too) before rows before
    // factors on a tie: bytes, or seconds with a bandwidth.
    const ExchangePolicy policy = options.policy;
    const double bw = options.bandwidth;
    auto cost = [bw](uint64_t bytes, double compute_s) {
      return bw > 0 ? double(bytes) / bw + compute_s : double(bytes);
    };
    ExchangeForm form = ExchangeForm::kDense;
    double best = cost(out.dense_bytes + id_bytes, 0);
    if (policy == ExchangePolicy::kSparse) {
      form = ExchangeForm::kRows;
    } else if (policy == ExchangePolicy::kFactors && l > 0) {
      form = ExchangeForm::kFactors;
    } else if (policy != ExchangePolicy::kDense) {
      if (cost(out.rows_bytes, 0) < best) {
        form = ExchangeForm::kRows;
        best = cost(out.rows_bytes, 0);
      }
      if (l > 0 && cost(out.factor_bytes, double(n) * slowest) < best) {
        form = ExchangeForm::kFactors;
      }
    }
    out.form = form;

    std::vector<size_t> block(static_cast<size_t>(n));
    if (form == ExchangeForm::kFactors) {
      for (int q = 0; q < n; ++q) {
        const LayerCounts& c = counts[size_t(q) * L + l];
        block[size_t(q)] = FactorBytes(uint64_t(c.samples), uint64_t(c.active), W.cols);
      }
      ExchangeFactors(v, comm, factors[l], block, mark[l], touched[l], out, charge);
      t0 = Clock::now();
      continue;
    }

    // Rank q's block: its ids, then (rows) its rows' values, then (layer
    // 0) its bias gradient.
    const bool rows = form == ExchangeForm::kRows;
    const size_t per_row = sizeof(uint32_t) + (rows ? row_bytes : 0);
    const size_t bias_bytes = l == 0 ? B.g.size() * sizeof(float) : 0;
    for (int q = 0; q < n; ++q) {
      block[size_t(q)] = size_t(counts[size_t(q) * L + l].rows) * per_row + bias_bytes;
    }
    std::vector<uint8_t> send(mine[l].size() * per_row + bias_bytes);
    if (!mine[l].empty()) {
      std::memcpy(send.data(), mine[l].data(), mine[l].size() * sizeof(uint32_t));
    }
    if (bias_bytes > 0) {
      std::memcpy(send.data() + mine[l].size() * per_row, B.g.data(), bias_bytes);
    }
    if (rows) {
      float* dst =
          reinterpret_cast<float*>(send.data() + mine[l].size() * sizeof(uint32_t));
      for (uint32_t r : mine[l]) {
        std::memcpy(dst, W.g.data() + size_t{r} * W.stride, W.cols * sizeof(float));
        if (v.row_bias) dst[W.cols] = B.g[r];
        dst += v.row_floats();
      }
    }
    std::vector<uint8_t> all(total * per_row + size_t(n) * bias_bytes);
    comm.AllgathervKnown(send.data(), block, all.data());

    std::vector<uint32_t> uni;
    uni.reserve(total);
    for (size_t at = 0, q = 0; q < size_t(n); at += block[q], ++q) {
      const auto* ids = reinterpret_cast<const uint32_t*>(all.data() + at);
      uni.insert(uni.end(), ids, ids + counts[q * L + l].rows);
    }
    std::sort(uni.begin(), uni.end());
    uni.erase(std::unique(uni.begin(), uni.end()), uni.end());
    out.union_rows = uni.size();

    if (rows) {
      // Sum in rank order from zero: the same additions on every rank.
      for (uint32_t r : uni) {
        std::fill_n(W.g.data() + size_t{r} * W.stride, W.cols, 0.0f);
        if (v.row_bias) B.g[r] = 0.0f;
      }
      for (size_t at = 0, q = 0; q < size_t(n); at += block[q], ++q) {
        const size_t k = size_t(counts[q * L + l].rows);
        const auto* ids = reinterpret_cast<const uint32_t*>(all.data() + at);
        const auto* vals =
            reinterpret_cast<const float*>(all.data() + at + k * sizeof(uint32_t));
        for (size_t i = 0; i < k; ++i, vals += v.row_floats()) {
          axpy(1.0f, vals, W.g.data() + size_t{ids[i]} * W.stride, W.cols);
          if (v.row_bias) B.g[ids[i]] += vals[W.cols];
        }
      }
    } else {
      comm.Allreduce(W.g.data(), W.g.size(), comm::ReduceOp::kSum);
      if (v.row_bias) comm.Allreduce(B.g.data(), B.g.size(), comm::ReduceOp::kSum);
    }
    const size_t T = touched[l].size();
    for (auto& list : touched[l]) list.clear();
    for (uint32_t r : uni) touched[l][r % T].push_back(r);
    if (l == 0) {  // layer 0's bias is one dense row: summed in rank order
      std::fill(B.g.begin(), B.g.end(), 0.0f);
      for (size_t at = 0, q = 0; q < size_t(n); at += block[q], ++q) {
        axpy(1.0f, reinterpret_cast<const float*>(all.data() + at + block[q] - bias_bytes),
             B.g.data(), B.g.size());
      }
      out.dense_bytes += RingAllreduceBytes(B.g.size() * sizeof(float), n);
    }
    charge();
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

uint64_t WeightsHash(const Model& model, size_t first_layer, size_t end_layer) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the float bits
  auto mix = [&h](const std::vector<float>& v) {
    for (float f : v) {
      uint32_t bits;
      std::memcpy(&bits, &f, sizeof bits);
      h = (h ^ bits) * 1099511628211ull;
    }
  };
  for (size_t l = first_layer; l < std::min(end_layer, model.num_layers()); ++l) {
    mix(model.layer(l).w.w);
    mix(model.layer(l).b.w);
  }
  return h;
}

void CheckReplicasIdentical(const Model& model, comm::Communicator& comm) {
  const bool sharded = model.config().output_shard.sharded();
  const uint64_t h = WeightsHash(model, 0, sharded ? model.num_layers() - 1 : size_t(-1));
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
                         bool exact, size_t threads, comm::Communicator& comm) {
  if (comm.size() == 1) return Evaluate(model, data, exact, threads);
  if (model.config().output_shard.sharded()) {
    return EvaluateSharded(model, data, exact, threads, comm);
  }
  const EvalResult mine = Evaluate(
      model, Shard(data, comm.rank(), comm.size(), false), exact, threads);
  // Sums of the per-sample figures, then means over every rank's samples.
  const double n = double(mine.samples);
  // Candidate recall is weighted by samples (rows without labels count as
  // rows with them here); -1 on one rank is -1 for all.
  const bool recall = mine.candidate_recall >= 0;
  double sums[8] = {mine.p_at[1] * n, mine.p_at[2] * n, mine.p_at[3] * n,
                    mine.p_at[4] * n, mine.p_at[5] * n, mine.recall_at5 * n, n,
                    recall ? mine.candidate_recall * n : -1e300};
  comm.Allreduce(sums, 8, comm::ReduceOp::kSum);
  double seconds = mine.seconds;
  comm.Allreduce(&seconds, 1, comm::ReduceOp::kMax);
  EvalResult all;
  all.samples = size_t(sums[6]);
  const double total = std::max(1.0, sums[6]);
  for (int k = 1; k <= 5; ++k) all.p_at[k] = sums[k - 1] / total;
  all.recall_at5 = sums[5] / total;
  all.candidate_recall = sums[7] >= 0 ? sums[7] / total : -1.0;
  all.seconds = seconds;
  return all;
}

}  // namespace frugal::nn
