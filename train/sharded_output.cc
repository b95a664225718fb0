#include "train/sharded_output.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <dirent.h>
#include <fstream>
#include <sstream>

#include "nn/serialize.h"

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
    // The same hash functions and table shapes over 1/n of the rows: a
    // shard's bucket holds about 1/n of the whole index's, so its capacity
    // is divided too (the tables' memory then divides by n as well).
    o.lsh.bucket_capacity = uint32_t(divide(o.lsh.bucket_capacity));
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

namespace {

std::string ShardFileName(const std::string& name, int rank, int ranks, uint64_t step) {
  return name + ".shard-" + std::to_string(rank) + "-of-" + std::to_string(ranks) +
         ".step-" + std::to_string(step);
}

// `path` split after its last '/': the directory ("" when there is none)
// and the name in it.
std::pair<std::string, std::string> SplitPath(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return {"", path};
  return {path.substr(0, slash + 1), path.substr(slash + 1)};
}

struct Manifest {
  int ranks = 0;
  uint64_t step = 0;
  std::vector<std::string> files;  // per rank, relative to the manifest's directory
};

Manifest ReadManifest(const std::string& path) {
  const std::string mpath = ShardManifestPath(path);
  std::ifstream in(mpath);
  if (!in) throw ModelFileError(mpath + ": cannot open the shard manifest");
  Manifest m;
  std::string magic, word;
  int version = 0;
  if (!(in >> magic >> version) || magic != "frugal-shards" || version != 1 ||
      !(in >> word >> m.ranks) || word != "ranks" || m.ranks < 1 || m.ranks > (1 << 20) ||
      !(in >> word >> m.step) || word != "step") {
    throw ModelFileError(mpath + ": not a frugal shard manifest (version 1)");
  }
  for (int r = 0; r < m.ranks; ++r) {
    std::string file;
    if (!(in >> file)) throw ModelFileError(mpath + ": truncated (fewer files than ranks)");
    m.files.push_back(file);
  }
  return m;
}

}  // namespace

std::string ShardManifestPath(const std::string& path) { return path + ".shards"; }

void SaveShardedModel(const Model& shard, const std::string& path, uint32_t flags,
                      comm::Communicator& comm) {
  const auto [dir, name] = SplitPath(path);
  const int rank = comm.rank(), ranks = comm.size();
  const std::string mine = ShardFileName(name, rank, ranks, shard.step());
  std::string error;
  try {
    SaveModel(shard, dir + mine, flags);
  } catch (const std::exception& e) {
    error = e.what();
  }
  // Every rank's outcome before the manifest names the files.
  double failed = error.empty() ? 0 : 1;
  comm.Allreduce(&failed, 1, comm::ReduceOp::kSum);
  if (failed > 0) {
    throw ModelFileError(path + ": " + std::to_string(int(failed)) +
                         " rank(s) could not write their shard" +
                         (error.empty() ? "" : " (this rank: " + error + ")"));
  }
  if (rank == 0) {
    std::ostringstream m;
    m << "frugal-shards 1\nranks " << ranks << "\nstep " << shard.step() << '\n';
    for (int r = 0; r < ranks; ++r) m << ShardFileName(name, r, ranks, shard.step()) << '\n';
    try {
      WriteFileAtomically(ShardManifestPath(path), m.str());
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  failed = error.empty() ? 0 : 1;
  comm.Allreduce(&failed, 1, comm::ReduceOp::kSum);
  if (failed > 0) throw ModelFileError(path + ": the shard manifest could not be written");
  // This rank's files of other steps are no longer named by the manifest.
  const std::string start = name + ".shard-" + std::to_string(rank) + "-of-" +
                            std::to_string(ranks) + ".step-";
  if (DIR* d = ::opendir(dir.empty() ? "." : dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string f = e->d_name;
      if (f.compare(0, start.size(), start) == 0 && f != mine &&
          f.find(".tmp.") == std::string::npos) {
        std::remove((dir + f).c_str());
      }
    }
    ::closedir(d);
  }
}

std::unique_ptr<Model> LoadShardedModel(const std::string& path, int rank, int ranks) {
  const Manifest m = ReadManifest(path);
  if (m.ranks != ranks) {
    throw ModelFileError(ShardManifestPath(path) + ": a model of " + std::to_string(m.ranks) +
                         " shards, for a job of " + std::to_string(ranks) + " ranks");
  }
  auto model = LoadModel(SplitPath(path).first + m.files[size_t(rank)]);
  const OutputShard want = OutputShardFor(model->output_dim(), rank, ranks);
  if (model->config().output_shard.first != want.first ||
      model->config().output_shard.total != want.total || model->step() != m.step) {
    throw ModelFileError(m.files[size_t(rank)] + ": not shard " + std::to_string(rank) +
                         " of " + std::to_string(ranks) + " at step " + std::to_string(m.step));
  }
  return model;
}

std::unique_ptr<Model> LoadShardsAsWhole(const std::string& path) {
  const Manifest m = ReadManifest(path);
  std::unique_ptr<Model> whole;
  for (int r = 0; r < m.ranks; ++r) {
    const std::unique_ptr<Model> shard = LoadShardedModel(path, r, m.ranks);
    if (!whole) {
      ModelConfig c = shard->config();
      c.layers.back().width = c.output_shard.total;
      c.output_shard = OutputShard();
      const size_t n = size_t(m.ranks);
      if (c.output().sparsity < 1.0f) {  // ShardConfig divided these
        c.output().lsh.max_active *= n;
        c.output().lsh.min_active *= n;
        c.output().lsh.bucket_capacity *= uint32_t(n);
      }
      whole = std::make_unique<Model>(c, /*initialize=*/false);
      for (size_t l = 0; l + 1 < whole->num_layers(); ++l) {
        whole->layer(l).w = shard->layer(l).w;
        whole->layer(l).b = shard->layer(l).b;
      }
      whole->set_step(shard->step());
    }
    const size_t first = shard->config().output_shard.first;
    for (auto [from, to] : {std::pair{&shard->output().w, &whole->output().w},
                            std::pair{&shard->output().b, &whole->output().b}}) {
      const size_t k = from->stride;
      std::copy(from->w.begin(), from->w.end(), to->w.begin() + long(first * k));
      std::copy(from->m.begin(), from->m.end(), to->m.begin() + long(first * k));
      std::copy(from->v.begin(), from->v.end(), to->v.begin() + long(first * k));
    }
  }
  whole->RebuildIndex();
  return whole;
}

}  // namespace frugal::nn
