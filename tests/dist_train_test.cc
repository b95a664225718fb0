// Data-parallel training over 3 forked ranks on loopback: replicas stay
// bit-identical after every step (whichever way the gradients cross), and 3
// ranks with batch b track 1 rank with batch 3b.
//
// Training runs only in child processes: TBB's threads do not survive a
// fork, so the test process itself never trains.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <sstream>

#include "comm/communicator.h"
#include "dispatch/registry.h"
#include "train/data_parallel.h"
#include "nn/model.h"
#include "data/synthetic.h"
#include "data/batch_source.h"
#include "train/fit.h"
#include "train/trainer.h"
#include "tests/dist_ranks.h"

namespace frugal::nn {
namespace {

using comm::testing::RankOptions;
using comm::testing::Ranks;
using comm::testing::TempDir;

SparseDataset Data(size_t count) {
  SyntheticConfig c;
  c.num_features = 2000;
  c.num_labels = 6000;
  c.mean_nonzeros = 20;
  c.mean_labels = 3;
  return GenerateSynthetic(c, 0, count);
}

// Hidden 32 (ReLU), output 6,000 labels with 5% sampled by LSH.
ModelConfig SampledConfig() { return AutoConfig(2000, 6000, 32, 0.05f); }
ModelConfig DenseConfig() { return AutoConfig(2000, 6000, 32, 1.0f); }
// SampledConfig with a second hidden layer (16, ReLU): a neuron-major
// hidden layer besides the output.
ModelConfig DeepConfig() {
  ModelConfig mc = SampledConfig();
  LayerConfig hidden;
  hidden.width = 16;
  mc.layers.insert(mc.layers.begin() + 1, hidden);
  return mc;
}

// Per layer, the form its gradient took: d(ense), r(ows) or f(actors).
char FormLetter(ExchangeForm form) { return ExchangeFormName(form)[0]; }

// Trains `epochs` epochs on rank `rank`'s shard; after every batch writes
// "step <n> hash <weights hash> loss <batch loss summed over ranks>
// forms <a letter per layer> fewer <0 if the output layer went as factors
// and sent no fewer bytes than rows or dense would have, else 1>" to `out`.
// bandwidth: TrainConfig::exchange_bandwidth.
void TrainRank(const ModelConfig& mc, comm::Communicator& comm,
               ExchangePolicy policy, size_t batch, bool shuffle, size_t epochs,
               std::ostream& out, double bandwidth = 0) {
  const SparseDataset data = Data(768);
  InMemorySource shard(data, /*seed=*/1, shuffle, comm.rank(), comm.size());
  Model model(mc);
  TrainConfig tc;
  tc.batch_size = batch;
  tc.lr = 3e-3f;
  tc.threads = 1;
  tc.comm = &comm;
  tc.exchange = policy;
  tc.exchange_bandwidth = bandwidth;
  Trainer trainer(model, tc);
  SparseDataset b;
  for (size_t e = 0; e < epochs; ++e) {
    shard.Start(e);
    while (shard.Next(batch, &b)) {
      const BatchStats s = trainer.TrainBatch(b, tc.lr);
      double loss = s.loss_sum;
      comm.Allreduce(&loss, 1, comm::ReduceOp::kSum);
      std::string forms = "-";  // one rank: no exchange
      int fewer = 1;
      const std::vector<LayerExchange>& x = trainer.last_exchange().layers;
      if (!x.empty()) {
        forms.clear();
        for (const LayerExchange& l : x) forms += FormLetter(l.form);
        const LayerExchange& o = x.back();
        fewer = o.form != ExchangeForm::kFactors ||
                (o.bytes < o.rows_bytes && o.bytes < o.dense_bytes);
      }
      out << "step " << trainer.steps() << " hash " << WeightsHash(model)
          << " loss " << loss << " forms " << forms << " fewer " << fewer << '\n';
    }
  }
  CheckReplicasIdentical(model, comm);
  out << "done\n";
}

struct StepLog {
  std::vector<std::string> hashes;
  std::vector<double> losses;
  std::vector<std::string> forms;  // per step, a letter per layer
  bool factors_sent_fewer = true;  // on every step
};

StepLog ParseLog(const std::string& text) {
  StepLog log;
  std::istringstream in(text);
  std::string word, hash, forms;
  size_t step = 0;
  int fewer = 0;
  double loss = 0;
  while (in >> word) {
    if (word != "step") continue;
    in >> step >> word >> hash >> word >> loss >> word >> forms >> word >> fewer;
    log.hashes.push_back(hash);
    log.losses.push_back(loss);
    log.forms.push_back(forms);
    log.factors_sent_fewer = log.factors_sent_fewer && fewer == 1;
  }
  return log;
}

class ReplicasTest : public ::testing::TestWithParam<ExchangePolicy> {};

TEST_P(ReplicasTest, ThreeRanksBitIdenticalAfterEveryStep) {
  TempDir dir;
  constexpr int kSize = 3;
  Ranks ranks(dir.path(), kSize, [&](int r, std::ostream& out) {
    auto comm = comm::Connect(RankOptions(dir.path(), r, kSize, 20000));
    TrainRank(DeepConfig(), *comm, GetParam(), 32, true, 2, out);
    return 0;
  });
  const std::vector<int> status = ranks.Wait(120);
  std::vector<StepLog> logs;
  for (int r = 0; r < kSize; ++r) {
    const std::string out = ranks.Output(r);
    ASSERT_EQ(status[size_t(r)], 0) << "rank " << r << ": " << out;
    ASSERT_NE(out.find("done"), std::string::npos) << out;
    logs.push_back(ParseLog(out));
  }
  ASSERT_EQ(logs[0].hashes.size(), 16u);  // 2 epochs x 256 rows / 32
  for (int r = 1; r < kSize; ++r) {
    for (size_t s = 0; s < logs[0].hashes.size(); ++s) {
      ASSERT_EQ(logs[size_t(r)].hashes[s], logs[0].hashes[s])
          << "rank " << r << " differs from rank 0 after step " << s + 1;
    }
  }
  // The weights moved, and the policy chose what it was told to. Auto sends
  // the output layer as factors (5% of 6,000 outputs active: 32 samples'
  // factors are a few % of its rows' bytes) and the 16 x 32 hidden layer
  // not (16 ids, deltas and 32 inputs per sample outweigh its 2 KB matrix).
  EXPECT_NE(logs[0].hashes.front(), logs[0].hashes.back());
  for (const std::string& forms : logs[0].forms) {
    ASSERT_EQ(forms.size(), 3u);
    EXPECT_NE(forms[0], 'f') << "layer 0 is feature-major";
    switch (GetParam()) {
      case ExchangePolicy::kDense: EXPECT_EQ(forms, "ddd"); break;
      case ExchangePolicy::kSparse: EXPECT_EQ(forms, "rrr"); break;
      case ExchangePolicy::kFactors: EXPECT_EQ(forms.substr(1), "ff"); break;
      default:
        EXPECT_NE(forms[1], 'f') << forms;
        EXPECT_EQ(forms[2], 'f') << forms;
    }
  }
  EXPECT_TRUE(logs[0].factors_sent_fewer);
}

INSTANTIATE_TEST_SUITE_P(Policies, ReplicasTest,
                         ::testing::Values(ExchangePolicy::kAuto,
                                           ExchangePolicy::kDense,
                                           ExchangePolicy::kSparse,
                                           ExchangePolicy::kFactors),
                         [](const auto& param_info) {
                           return std::string(ExchangePolicyName(param_info.param));
                         });

// 3 ranks, DeepConfig, auto, one epoch of 8 steps at `bandwidth`: the log
// of rank 0 (replicas checked identical at the end).
StepLog AutoAtBandwidth(double bandwidth) {
  TempDir dir;
  constexpr int kSize = 3;
  Ranks ranks(dir.path(), kSize, [&](int r, std::ostream& out) {
    auto comm = comm::Connect(RankOptions(dir.path(), r, kSize, 20000));
    TrainRank(DeepConfig(), *comm, ExchangePolicy::kAuto, 32, true, 1, out,
              bandwidth);
    return 0;
  });
  const std::vector<int> status = ranks.Wait(120);
  for (int r = 0; r < kSize; ++r) {
    EXPECT_EQ(status[size_t(r)], 0) << "rank " << r << ": " << ranks.Output(r);
  }
  return ParseLog(ranks.Output(0));
}

// With a bandwidth, auto weighs the factors' accumulation of every rank's
// samples against bytes / bandwidth: on a link of 1 KB/s the output layer's
// ~100 KB of factors beat its rows and dense (seconds against milliseconds
// of accumulation); on one of 1 PB/s bytes cost nothing and factors never win.
TEST(DataParallel, AutoWithBandwidthWeighsTheFactorsAccumulation) {
  const StepLog slow = AutoAtBandwidth(1e3);
  const StepLog fast = AutoAtBandwidth(1e15);
  ASSERT_EQ(slow.forms.size(), 8u);
  ASSERT_EQ(fast.forms.size(), 8u);
  for (size_t s = 0; s < 8; ++s) {
    EXPECT_EQ(slow.forms[s][2], 'f') << "step " << s + 1 << ": " << slow.forms[s];
    EXPECT_EQ(fast.forms[s].find('f'), std::string::npos)
        << "step " << s + 1 << ": " << fast.forms[s];
  }
}

// One step of `batch` samples (rows 0 .. batch-1 of `data`) from the initial
// weights; writes "hash <layers >= 1> <all layers>".
void OneStep(const ModelConfig& mc, comm::Communicator* comm,
             ExchangePolicy policy, const SparseDataset& data, size_t batch,
             size_t threads, std::ostream& out) {
  Model model(mc);
  TrainConfig tc;
  tc.batch_size = batch;
  tc.lr = 3e-3f;
  tc.threads = threads;
  tc.comm = comm;
  tc.exchange = policy;
  Trainer trainer(model, tc);
  std::vector<uint32_t> rows(batch);
  for (size_t i = 0; i < batch; ++i) rows[i] = uint32_t(i);
  trainer.TrainBatch(SelectRows(data, Span<const uint32_t>(rows.data(), batch)),
                     tc.lr);
  out << "hash " << WeightsHash(model, 1) << ' ' << WeightsHash(model) << '\n';
}

// Layers exchanged as factors get exactly the gradient one process gets
// from the concatenated batch (rank 0's samples, then rank 1's, ...): after
// one step from the same initial weights, layers 1 and 2 (hidden and
// LSH-sampled output) are bit-identical to the one-process run's, on 3 ranks
// of two threads (rows split between them) as on one process of one.
TEST(DataParallel, FactorsEqualOneProcessOnTheConcatenatedBatch) {
  constexpr int kSize = 3;
  constexpr size_t kBatch = 16;
  const SparseDataset data = Data(768);
  SparseDataset joined(data.num_features(), data.num_labels());
  for (int q = 0; q < kSize; ++q) {
    const SparseDataset shard = Shard(data, q, kSize);
    for (size_t i = 0; i < kBatch; ++i) {
      const SparseRow x = shard.row(i);
      joined.Add(x.idx, x.val, x.labels);
    }
  }
  TempDir one_dir;
  Ranks one(one_dir.path(), 1, [&](int, std::ostream& out) {
    OneStep(DeepConfig(), nullptr, ExchangePolicy::kAuto, joined, kSize * kBatch,
            1, out);
    return 0;
  });
  ASSERT_EQ(one.Wait(60)[0], 0) << one.Output(0);
  TempDir dir;
  Ranks three(dir.path(), kSize, [&](int r, std::ostream& out) {
    auto comm = comm::Connect(RankOptions(dir.path(), r, kSize, 20000));
    OneStep(DeepConfig(), comm.get(), ExchangePolicy::kFactors,
            Shard(data, r, kSize), kBatch, 2, out);
    return 0;
  });
  const std::vector<int> status = three.Wait(60);
  auto hashes = [](const std::string& text) {
    std::istringstream in(text);
    std::string word, upper, all;
    in >> word >> upper >> all;
    return std::make_pair(upper, all);
  };
  const auto expect = hashes(one.Output(0));
  for (int r = 0; r < kSize; ++r) {
    ASSERT_EQ(status[size_t(r)], 0) << three.Output(r);
    const auto got = hashes(three.Output(r));
    EXPECT_EQ(got.first, expect.first) << "rank " << r;
    // Layer 0 crossed as rows or dense: the ranks' partial sums were added,
    // in another order than one process adds the samples.
    std::printf("rank %d: all layers' hash %s, one process %s\n", r,
                got.second.c_str(), expect.second.c_str());
  }
}

// AccumulateFactors groups each thread's rows but keeps every row's sum in
// sample order: the same bits as one axpy per sample and active id, the
// rows of earlier calls (already marked) not listed again, the others listed
// in order of first touch, and a scratch reused across calls and layers.
TEST(DataParallel, AccumulateFactorsMatchesSampleBySampleAddition) {
  const size_t rows = 101, cols = 19, count = 40, T = 3;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<std::vector<uint32_t>> active(count);
  std::vector<std::vector<float>> delta(count), h(count);
  std::vector<SampleFactors> samples(count);
  for (size_t i = 0; i < count; ++i) {
    // Hot rows 0-9 recur in most samples; the rest are spread out.
    for (uint32_t r = 0; r < rows; ++r) {
      if ((r < 10 && rng() % 4 != 0) || rng() % 9 == 0) active[i].push_back(r);
    }
    std::shuffle(active[i].begin(), active[i].end(), rng);
    for (size_t j = 0; j < active[i].size(); ++j) delta[i].push_back(u(rng));
    for (size_t c = 0; c < cols; ++c) h[i].push_back(u(rng));
    samples[i] = {active[i].data(), delta[i].data(), active[i].size(), h[i].data()};
  }
  // Gradients that already hold something (a call adds to them).
  ParamBlock W_ref, B_ref;
  W_ref.Init(rows, cols, 0.0f, 1);
  B_ref.Init(rows, 1, 0.0f, 1);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) W_ref.g[r * W_ref.stride + c] = 1e-3f * float(r + c);
    B_ref.g[r] = 1e-2f * float(r);
  }
  const ParamBlock W_start = W_ref, B_start = B_ref;
  ParamBlock W = W_start, B = B_start;
  // Rows an earlier call of the batch touched.
  std::vector<uint8_t> mark_start(rows, 0);
  for (uint32_t r : {4u, 50u, 51u, 52u}) mark_start[r] = 1;
  // Reference: one axpy per sample and active id, sample after sample.
  std::vector<uint8_t> mark_ref = mark_start, mark = mark_start;
  std::vector<std::vector<uint32_t>> touched_ref(T), touched(T);
  const auto axpy = dispatch::Axpy();
  for (size_t t = 0; t < T; ++t) {
    for (size_t i = 0; i < count; ++i) {
      for (size_t j = 0; j < samples[i].m; ++j) {
        const uint32_t r = samples[i].active[j];
        if (r % T != t) continue;
        axpy(samples[i].delta[j], samples[i].h, W_ref.g.data() + r * W_ref.stride, cols);
        B_ref.g[r] += samples[i].delta[j];
        if (!mark_ref[r]) {
          mark_ref[r] = 1;
          touched_ref[t].push_back(r);
        }
      }
    }
  }
  std::vector<FactorScratch> scratch(T);
  for (size_t t = 0; t < T; ++t) {
    // Two calls on halves of the batch, as two ranks' blocks are added.
    AccumulateFactors(W, &B, samples.data(), count / 2, t, T, mark, touched[t], scratch[t]);
    AccumulateFactors(W, &B, samples.data() + count / 2, count - count / 2, t, T,
                      mark, touched[t], scratch[t]);
  }
  EXPECT_EQ(W.g, W_ref.g);  // bitwise
  EXPECT_EQ(B.g, B_ref.g);
  EXPECT_EQ(mark, mark_ref);
  EXPECT_EQ(touched, touched_ref);
  // The same in chunks of a few samples (at most 30 active ids, or one
  // sample when it alone has more).
  {
    ParamBlock Wc = W_start, Bc = B_start;
    std::vector<uint8_t> mark_c = mark_start;
    std::vector<std::vector<uint32_t>> touched_c(T);
    std::vector<FactorScratch> small(T);
    for (size_t t = 0; t < T; ++t) {
      small[t].max_ids = 30;
      AccumulateFactors(Wc, &Bc, samples.data(), count, t, T, mark_c, touched_c[t],
                        small[t]);
    }
    EXPECT_EQ(Wc.g, W_ref.g);
    EXPECT_EQ(Bc.g, B_ref.g);
    EXPECT_EQ(touched_c, touched_ref);
  }
  for (size_t t = 0; t < T; ++t) {
    EXPECT_TRUE(std::all_of(scratch[t].slot.begin(), scratch[t].slot.end(),
                            [](uint32_t k) { return k == ~uint32_t{0}; }));
  }
  // A scratch sized for another layer serves a smaller one; a row twice in
  // one sample gets both contributions.
  ParamBlock W2, B2;
  W2.Init(20, cols, 0.0f, 1);
  B2.Init(20, 1, 0.0f, 1);
  std::vector<uint8_t> mark2(20, 0);
  std::vector<uint32_t> touched2;
  const uint32_t ids[] = {19, 3, 19};
  const float d[] = {1.0f, 2.0f, 0.5f};
  const SampleFactors one{ids, d, 3, h[0].data()};
  AccumulateFactors(W2, &B2, &one, 1, 0, 1, mark2, touched2, scratch[0]);
  EXPECT_EQ(touched2, (std::vector<uint32_t>{19, 3}));
  EXPECT_EQ(W2.g[19 * W2.stride + 1], 1.5f * h[0][1]);
  EXPECT_EQ(W2.g[3 * W2.stride + 1], 2.0f * h[0][1]);
  EXPECT_EQ(B2.g[19], 1.5f);
  EXPECT_EQ(B2.g[3], 2.0f);
}

TEST(DataParallel, ParsesExchangePolicies) {
  for (ExchangePolicy p : {ExchangePolicy::kAuto, ExchangePolicy::kDense,
                           ExchangePolicy::kSparse, ExchangePolicy::kFactors}) {
    EXPECT_EQ(ParseExchangePolicy(ExchangePolicyName(p)), p);
  }
  EXPECT_EQ(ParseExchangePolicy("rows"), ExchangePolicy::kSparse);
  EXPECT_THROW(ParseExchangePolicy("factor"), std::invalid_argument);
}

// Per-epoch mean loss of a run, from its log.
std::vector<double> EpochLoss(const StepLog& log, size_t steps_per_epoch,
                              size_t samples_per_step) {
  std::vector<double> out;
  for (size_t s = 0; s + steps_per_epoch <= log.losses.size(); s += steps_per_epoch) {
    double sum = 0;
    for (size_t i = 0; i < steps_per_epoch; ++i) sum += log.losses[s + i];
    out.push_back(sum / double(steps_per_epoch * samples_per_step));
  }
  return out;
}

// Without shuffling, step k of 3 ranks with batch 16 sees rows 48k ..
// 48k + 47 (shards are strided), as step k of 1 rank with batch 48 does:
// the same gradient up to the order of float additions. Stated tolerance:
// every epoch's mean loss within 0.1% (dense output) and 1% (sampled output,
// whose LSH padding draws differ) of the 1-rank run's.
void ExpectTracks(const ModelConfig& mc, double tolerance) {
  TempDir dir;
  constexpr int kSize = 3;
  constexpr size_t kEpochs = 4;
  TempDir one_dir;
  Ranks one(one_dir.path(), 1, [&](int, std::ostream& out) {
    auto comm = comm::MakeLocalCommunicator();
    TrainRank(mc, *comm, ExchangePolicy::kAuto, 48, false, kEpochs, out);
    return 0;
  });
  ASSERT_EQ(one.Wait(120)[0], 0) << one.Output(0);
  Ranks three(dir.path(), kSize, [&](int r, std::ostream& out) {
    auto comm = comm::Connect(RankOptions(dir.path(), r, kSize, 20000));
    TrainRank(mc, *comm, ExchangePolicy::kAuto, 16, false, kEpochs, out);
    return 0;
  });
  const std::vector<int> status = three.Wait(120);
  for (int r = 0; r < kSize; ++r) ASSERT_EQ(status[size_t(r)], 0) << three.Output(r);
  const std::vector<double> a = EpochLoss(ParseLog(one.Output(0)), 16, 48);
  const std::vector<double> b = EpochLoss(ParseLog(three.Output(0)), 16, 48);
  ASSERT_EQ(a.size(), kEpochs);
  ASSERT_EQ(b.size(), kEpochs);
  EXPECT_LT(b.back(), 0.9 * b.front()) << "the 3-rank run did not learn";
  for (size_t e = 0; e < kEpochs; ++e) {
    std::printf("epoch %zu: mean loss 1 rank x 48 = %.5f, 3 ranks x 16 = %.5f\n",
                e + 1, a[e], b[e]);
    EXPECT_NEAR(b[e], a[e], tolerance * a[e]) << "epoch " << e + 1;
  }
}

TEST(DataParallel, ThreeRanksTrackOneRankWithTripleBatchDense) {
  ExpectTracks(DenseConfig(), 0.001);
}

TEST(DataParallel, ThreeRanksTrackOneRankWithTripleBatchSampled) {
  ExpectTracks(SampledConfig(), 0.01);
}

TEST(DataParallel, ShardsAreEqualAndDisjoint) {
  const SparseDataset d = Data(10);
  size_t total = 0;
  for (int r = 0; r < 3; ++r) {
    const SparseDataset s = Shard(d, r, 3);
    EXPECT_EQ(s.size(), 3u);
    for (size_t i = 0; i < s.size(); ++i) {
      const SparseRow a = s.row(i), b = d.row(3 * i + size_t(r));
      EXPECT_TRUE(std::equal(a.idx.begin(), a.idx.end(), b.idx.begin(), b.idx.end()));
    }
    total += s.size();
  }
  EXPECT_EQ(total, 9u);
  EXPECT_THROW(Shard(d, 3, 3), std::invalid_argument);
}

}  // namespace
}  // namespace frugal::nn
