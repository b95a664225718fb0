#include "train/sharded_output.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace frugal::nn {

namespace {

void CheckRanks(int rank, int ranks, size_t total) {
  if (ranks < 1 || rank < 0 || rank >= ranks) {
    throw std::invalid_argument("output shard: rank " + std::to_string(rank) +
                                " is outside [0, " + std::to_string(ranks) + ")");
  }
  if (total < size_t(ranks)) {
    throw std::invalid_argument("output shard: " + std::to_string(total) +
                                " outputs for " + std::to_string(ranks) + " ranks");
  }
}

}  // namespace

size_t OutputShardWidth(size_t total, int rank, int ranks) {
  CheckRanks(rank, ranks, total);
  const size_t n = size_t(ranks), r = size_t(rank);
  return total / n + (r < total % n ? 1 : 0);
}

OutputShard OutputShardFor(size_t total, int rank, int ranks) {
  CheckRanks(rank, ranks, total);
  const size_t n = size_t(ranks), r = size_t(rank);
  OutputShard s;
  s.first = r * (total / n) + std::min(r, total % n);
  s.total = total;
  return s;
}

ModelConfig ShardConfig(const ModelConfig& config, int rank, int ranks) {
  if (config.output_shard.sharded()) {
    throw std::invalid_argument("ShardConfig: the configuration is already a shard");
  }
  ModelConfig c = config;
  const size_t total = config.output_dim();
  c.output_shard = OutputShardFor(total, rank, ranks);
  LayerConfig& o = c.output();
  o.width = OutputShardWidth(total, rank, ranks);
  if (o.sparsity < 1.0f) {
    const size_t n = size_t(ranks);
    auto divide = [n](size_t x) { return x == 0 ? 0 : std::max<size_t>(1, (x + n - 1) / n); };
    o.lsh.max_active = std::min(o.width, divide(o.lsh.max_active));
    o.lsh.min_active = std::min(o.width, divide(o.lsh.min_active));
  }
  return c;
}

std::unique_ptr<Model> ExtractShard(const Model& whole, int rank, int ranks) {
  auto shard = std::make_unique<Model>(ShardConfig(whole.config(), rank, ranks),
                                       /*initialize=*/false);
  const size_t L = whole.num_layers();
  for (size_t l = 0; l + 1 < L; ++l) {
    shard->layer(l).w = whole.layer(l).w;
    shard->layer(l).b = whole.layer(l).b;
  }
  const size_t first = shard->config().output_shard.first;
  const size_t rows = shard->output().config.width;
  auto copy_rows = [&](const ParamBlock& from, ParamBlock& to) {
    const size_t k = from.stride;
    for (auto [src, dst] : {std::pair{&from.w, &to.w}, std::pair{&from.m, &to.m},
                            std::pair{&from.v, &to.v}}) {
      std::copy_n(src->begin() + long(first * k), rows * k, dst->begin());
    }
  };
  copy_rows(whole.output().w, shard->output().w);
  copy_rows(whole.output().b, shard->output().b);
  shard->set_step(whole.step());
  shard->RebuildIndex();
  return shard;
}

EvalResult EvaluateSharded(const Model& shard, const SparseDataset& data,
                           bool exact, size_t threads, comm::Communicator& comm) {
  const auto start = std::chrono::steady_clock::now();
  constexpr size_t k = 5;
  const size_t n = data.size();
  const size_t ranks = size_t(comm.size());
  // Per row: this shard's top 5 (global labels) and their scores.
  struct Candidate {
    float score;
    uint32_t label;
  };
  std::vector<uint32_t> labels;
  std::vector<float> scores;
  double recall = -1;
  PredictTop5(shard, data, exact, threads, &labels, &scores, &recall);
  std::vector<Candidate> mine(n * k);
  for (size_t i = 0; i < n * k; ++i) mine[i] = {scores[i], labels[i]};
  std::vector<Candidate> all(ranks * n * k);
  comm.Allgather(mine.data(), mine.size() * sizeof(Candidate), all.data());
  std::vector<uint32_t> top(n * k);
  std::vector<Candidate> row(ranks * k);
  for (size_t i = 0; i < n; ++i) {
    for (size_t q = 0; q < ranks; ++q) {
      std::copy_n(all.data() + (q * n + i) * k, k, row.data() + q * k);
    }
    // Best score first; equal scores: the smaller label.
    std::partial_sort(row.begin(), row.begin() + long(k), row.end(),
                      [](const Candidate& a, const Candidate& b) {
                        return a.score != b.score ? a.score > b.score : a.label < b.label;
                      });
    for (size_t j = 0; j < k; ++j) top[i * k + j] = row[j].label;
  }
  EvalResult out = ScoreTop5(data, top.data());
  // The shards' candidates are disjoint: the union's recall is the sum.
  double sums[2] = {recall, recall >= 0 ? 0.0 : 1.0};
  comm.Allreduce(sums, 2, comm::ReduceOp::kSum);
  out.candidate_recall = sums[1] > 0 ? -1.0 : sums[0];
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                    .count();
  comm.Allreduce(&out.seconds, 1, comm::ReduceOp::kMax);
  return out;
}

}  // namespace frugal::nn
