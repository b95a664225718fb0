// Data-parallel training step costs: per step, compute time against
// gradient-exchange time and bytes, with the touched-row exchange against
// dense allreduces, for an Amazon-670K-shaped and a Criteo-shaped model.
// One process is one rank: run it under `frugal launch`, e.g.
//
//   build/apps/frugal launch -n 3 -- build/bench/frugal_dist_bench
//       --shape amazon --batch 256 --steps 8          (one command line)
//
// Options: --shape amazon|criteo, --batch N (per rank), --steps N (timed),
// --warmup N, --exchange auto|dense|sparse|factors, --bandwidth GBIT (auto's
// TrainConfig::exchange_bandwidth), --threads N (per rank, default 1), --hidden N, --sparsity F (amazon's output layer; default
// automatic), --address A (this rank's listening address; default
// loopback), --shard-input 1 (TrainConfig::shard_input), --overlap 0
// (TrainConfig::overlap_exchange off), --shard-output 1 (TrainConfig::shard_output: each rank holds
// 1/N of the output layer). Also prints the output layer's bytes per step
// against a dense allreduce of it, every rank's peak RSS and rank 0's
// collectives per step by kind. Rank 0 prints medians over the timed steps; "sent" is what
// rank 0 sent (ring collectives send alike on every rank), and per layer
// what each form would send per rank (the mean over the ranks).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "kernels/hash_id.h"
#include "train/data_parallel.h"
#include "nn/model.h"
#include "data/synthetic.h"
#include "train/sharded_output.h"
#include "train/trainer.h"

#include <sys/resource.h>

namespace {

using namespace frugal;

struct Settings {
  std::string shape = "amazon";
  size_t batch = 256, steps = 8, warmup = 2, threads = 1, hidden = 0;
  float sparsity = 0;  // output layer; 0: automatic (0.5% at 670K labels)
  nn::ExchangePolicy exchange = nn::ExchangePolicy::kAuto;
  double gbit = 0;  // TrainConfig::exchange_bandwidth in Gbit/s
  bool shard_output = false, shard_input = false, overlap = true;
  std::string address = "127.0.0.1";  // this rank's listening address
};

// Criteo-shaped samples: 13 numeric features (ids 0..12, values in
// [0, 1)) and 26 categorical ones hashed into [13, dim); the click label
// depends on a few of them, so the task is learnable.
nn::SparseDataset CriteoLike(size_t dim, size_t first, size_t count) {
  nn::SparseDataset d(dim, 2);
  std::vector<uint32_t> idx;
  std::vector<float> val;
  for (size_t i = first; i < first + count; ++i) {
    idx.clear();
    val.clear();
    for (uint32_t f = 0; f < 13; ++f) {
      idx.push_back(f);
      val.push_back(float(HashId(uint32_t(i), f + 1) % 1000) / 1000.0f);
    }
    for (uint32_t c = 0; c < 26; ++c) {
      // Column c takes one of ~dim/26 values, Zipf-skewed by squaring.
      const double u = double(HashId(uint32_t(i), 100 + c) % 1000000) / 1e6;
      const uint32_t v = uint32_t(u * u * double((dim - 13) / 26));
      idx.push_back(uint32_t(13 + (HashId(v, 1000 + c) % (dim - 13))));
      val.push_back(1.0f);
    }
    std::sort(idx.begin() + 13, idx.end());
    idx.erase(std::unique(idx.begin() + 13, idx.end()), idx.end());
    val.resize(idx.size());
    const uint32_t label = (HashId(idx[13], 7) + HashId(idx[14], 9)) % 4 == 0;
    d.Add(idx, val, std::vector<uint32_t>{label});
  }
  return d;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Main(int argc, char** argv) {
  Settings st;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--shape") st.shape = v;
    else if (a == "--batch") st.batch = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--steps") st.steps = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--warmup") st.warmup = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--threads") st.threads = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--hidden") st.hidden = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--sparsity") st.sparsity = std::strtof(v.c_str(), nullptr);
    else if (a == "--exchange") st.exchange = nn::ParseExchangePolicy(v);
    else if (a == "--bandwidth") st.gbit = std::strtod(v.c_str(), nullptr);
    else if (a == "--shard-output") st.shard_output = v == "1";
    else if (a == "--address") st.address = v;
    else if (a == "--shard-input") st.shard_input = v == "1";
    else if (a == "--overlap") st.overlap = v == "1";
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  comm::ConnectOptions co;
  comm::ApplyEnvironment(&co);
  co.timeout = std::chrono::milliseconds(600000);
  co.hostname = st.address;
  auto comm = comm::Connect(co);
  const int rank = comm->rank(), ranks = comm->size();
  const size_t samples = (st.warmup + st.steps) * st.batch;

  nn::SparseDataset data;
  nn::ModelConfig mc;
  if (st.shape == "amazon") {
    const nn::SyntheticConfig sc;  // 135,909 features, 670,091 labels
    data = nn::GenerateSynthetic(sc, size_t(rank) * samples, samples);
    mc = nn::AutoConfig(sc.num_features, sc.num_labels, st.hidden ? st.hidden : 128,
                        st.sparsity);
  } else if (st.shape == "criteo") {
    const size_t dim = size_t{1} << 20;
    data = CriteoLike(dim, size_t(rank) * samples, samples);
    mc = nn::AutoConfig(dim, 2, st.hidden ? st.hidden : 64);
  } else {
    std::fprintf(stderr, "--shape must be amazon or criteo\n");
    return 2;
  }
  const bool sharded = st.shard_output && ranks > 1;
  nn::Model model(sharded ? nn::ShardConfig(mc, rank, ranks) : mc);
  nn::TrainConfig tc;
  tc.shard_output = sharded;
  tc.shard_input = st.shard_input;
  tc.overlap_exchange = st.overlap;
  tc.batch_size = st.batch;
  tc.threads = st.threads;
  tc.comm = comm.get();
  tc.exchange = st.exchange;
  tc.exchange_bandwidth = st.gbit * 1e9 / 8;
  nn::Trainer trainer(model, tc);

  // Per step: compute (forward, phase-2 accumulation, Adam, index), the
  // factors' accumulation of every rank's samples, the exchange.
  std::vector<double> compute, local_accumulate, factor_accumulate, exchange,
      bytes, dense_bytes, output_bytes, output_dense, input_bytes, overlapped, step_s;
  // Collectives per step (comm::CommStats): every kind, allreduces,
  // allgathers, alltoallvs.
  std::vector<double> calls, allreduces, allgathers, alltoalls;
  struct LayerSeries {
    std::vector<double> bytes, dense, rows_bytes, factor_bytes, rows, uni,
        accumulate;
    size_t form_steps[3] = {0, 0, 0};  // dense, rows, factors
  };
  std::vector<LayerSeries> layers(model.num_layers());
  std::vector<uint32_t> rows(st.batch);
  // CPU seconds of this process over the timed steps (robust to ranks
  // sharing cores), and the phases' wall seconds.
  double cpu_start = 0;
  std::vector<double> forward, accumulate, update, index;
  auto cpu_seconds = [] {
    rusage u;
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  for (size_t s = 0; s < st.warmup + st.steps; ++s) {
    if (s == st.warmup) cpu_start = cpu_seconds();
    for (size_t i = 0; i < st.batch; ++i) rows[i] = uint32_t(s * st.batch + i);
    comm->Barrier();  // steps start together: exchange time is not skew
    const comm::CommStats c0 = comm->stats();
    const auto t0 = std::chrono::steady_clock::now();
    const nn::BatchStats b = trainer.TrainBatch(
        nn::SelectRows(data, Span<const uint32_t>(rows.data(), st.batch)), tc.lr);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s < st.warmup) continue;
    const comm::CommStats& c1 = comm->stats();
    calls.push_back(double(c1.calls - c0.calls));
    allreduces.push_back(double(c1.allreduce_calls - c0.allreduce_calls));
    allgathers.push_back(double(c1.allgather_calls - c0.allgather_calls));
    alltoalls.push_back(double(c1.alltoall_calls - c0.alltoall_calls));
    const nn::ExchangeStats& x = trainer.last_exchange();
    compute.push_back(b.forward_s + b.accumulate_s + b.update_s + b.index_s);
    step_s.push_back(wall);
    forward.push_back(b.forward_s);
    accumulate.push_back(b.accumulate_s);
    update.push_back(b.update_s);
    index.push_back(b.index_s);
    factor_accumulate.push_back(x.accumulate_seconds());
    local_accumulate.push_back(b.accumulate_s - x.accumulate_seconds());
    exchange.push_back(b.exchange_s);
    bytes.push_back(double(b.exchange_bytes));
    dense_bytes.push_back(double(b.exchange_dense_bytes));
    output_bytes.push_back(double(b.output_exchange_bytes));
    output_dense.push_back(double(b.output_dense_bytes));
    input_bytes.push_back(double(b.input_exchange_bytes));
    overlapped.push_back(b.overlap_s);
    for (size_t l = 0; l < x.layers.size(); ++l) {
      const nn::LayerExchange& e = x.layers[l];
      LayerSeries& ls = layers[l];
      ls.bytes.push_back(double(e.bytes));
      ls.dense.push_back(double(e.dense_bytes));
      ls.rows_bytes.push_back(double(e.rows_bytes));
      ls.factor_bytes.push_back(double(e.factor_bytes));
      ls.rows.push_back(double(e.touched_rows) / ranks);
      ls.uni.push_back(double(e.union_rows));
      ls.accumulate.push_back(e.accumulate_s);
      ++ls.form_steps[size_t(e.form)];
    }
  }
  const double cpu_per_step = (cpu_seconds() - cpu_start) / double(std::max<size_t>(1, st.steps));
  trainer.SyncShardedState();
  nn::CheckReplicasIdentical(model, *comm);
  double cpu[2] = {cpu_per_step, cpu_per_step};
  comm->Allreduce(cpu, 1, comm::ReduceOp::kSum);
  comm->Allreduce(cpu + 1, 1, comm::ReduceOp::kMax);
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const int64_t rss_kb = ru.ru_maxrss;
  std::vector<int64_t> rss(size_t(ranks), 0);
  comm->Allgather(&rss_kb, sizeof rss_kb, rss.data());
  if (rank != 0) return 0;
  std::printf("output layer%s: sent %.3f MB/step vs dense allreduce %.2f MB (1/%.0f); "
              "peak RSS per rank (MB):",
              sharded ? " (sharded)" : "", Median(output_bytes) / 1e6,
              Median(output_dense) / 1e6,
              Median(output_dense) / std::max(1.0, Median(output_bytes)));
  for (int64_t kb : rss) std::printf(" %.0f", double(kb) / 1024);
  std::printf("\n");
  if (st.shard_input) {
    std::printf("input layer (rows owned by rank): sent %.3f MB/step\n",
                Median(input_bytes) / 1e6);
  }
  std::printf("CPU s/step per rank: mean %.3f, max %.3f; rank 0 phases (wall s): forward "
              "%.3f, accumulate %.3f, Adam %.3f, index %.3f\n",
              cpu[0] / ranks, cpu[1], Median(forward), Median(accumulate), Median(update),
              Median(index));
  std::printf("collectives per step (rank 0): %.0f: %.0f allreduce, %.0f allgather, "
              "%.0f alltoallv\n",
              Median(calls), Median(allreduces), Median(allgathers), Median(alltoalls));
  std::printf("step wall s: median %.3f; exchange overlapped with the output's "
              "accumulation: %.3f s\n",
              Median(step_s), Median(overlapped));
  std::printf("%s ranks=%d batch=%zu/rank active=%zu threads=%zu exchange=%s bandwidth=%g "
              "Gbit/s steps=%zu: "
              "compute %.3f s (phase-2 accumulate %.3f s, factors' accumulate "
              "%.3f s), exchange %.3f s, sent %.2f MB (dense allreduces %.2f MB)\n",
              st.shape.c_str(), ranks, st.batch, model.active_size(), st.threads,
              nn::ExchangePolicyName(st.exchange), st.gbit, st.steps, Median(compute),
              Median(local_accumulate), Median(factor_accumulate), Median(exchange),
              Median(bytes) / 1e6, Median(dense_bytes) / 1e6);
  for (size_t l = 0; l < model.num_layers(); ++l) {
    const nn::Layer& L = model.layer(l);
    const LayerSeries& ls = layers[l];
    const size_t form = size_t(
        std::max_element(ls.form_steps, ls.form_steps + 3) - ls.form_steps);
    const double dense = std::max(1.0, Median(ls.dense));
    std::printf("  layer %zu (%zu x %zu): %s, touched rows/rank %.0f (%.2f%%), "
                "union %.0f (%.2f%%), sent %.2f MB vs dense %.2f MB (ratio %.3f); "
                "per rank rows would send %.2f MB (ratio %.3f), factors %.2f MB "
                "(ratio %.3f); factors' accumulate %.3f s\n",
                l, L.w.rows, L.w.cols, nn::ExchangeFormName(nn::ExchangeForm(form)),
                Median(ls.rows), 100 * Median(ls.rows) / double(L.w.rows),
                Median(ls.uni), 100 * Median(ls.uni) / double(L.w.rows),
                Median(ls.bytes) / 1e6, Median(ls.dense) / 1e6,
                Median(ls.bytes) / dense, Median(ls.rows_bytes) / 1e6,
                Median(ls.rows_bytes) / dense, Median(ls.factor_bytes) / 1e6,
                Median(ls.factor_bytes) / dense, Median(ls.accumulate));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "frugal_dist_bench: %s\n", e.what());
    return 1;
  }
}
