// Data-parallel training over 3 forked ranks on loopback: replicas stay
// bit-identical after every step (whichever way the gradients cross), and 3
// ranks with batch b track 1 rank with batch 3b.
//
// Training runs only in child processes: TBB's threads do not survive a
// fork, so the test process itself never trains.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <sstream>

#include "dist/communicator.h"
#include "nn/data_parallel.h"
#include "nn/model.h"
#include "nn/synthetic.h"
#include "nn/trainer.h"
#include "tests/dist_ranks.h"

namespace frugal::nn {
namespace {

using dist::testing::RankOptions;
using dist::testing::Ranks;
using dist::testing::TempDir;

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

// Trains `epochs` epochs on rank `rank`'s shard; after every batch writes
// "step <n> hash <weights hash> loss <batch loss summed over ranks>
// sparse <layers exchanged sparsely>" to `out`.
void TrainRank(const ModelConfig& mc, dist::Communicator& comm,
               ExchangePolicy policy, size_t batch, bool shuffle, size_t epochs,
               std::ostream& out) {
  const SparseDataset shard = Shard(Data(768), comm.rank(), comm.size());
  Model model(mc);
  TrainConfig tc;
  tc.batch_size = batch;
  tc.lr = 3e-3f;
  tc.threads = 1;
  tc.shuffle = shuffle;
  tc.comm = &comm;
  tc.exchange = policy;
  Trainer trainer(model, tc);
  const size_t batches = (shard.size() + batch - 1) / batch;
  for (size_t e = 0; e < epochs; ++e) {
    trainer.TrainEpoch(shard, epochs * batches, [&](const BatchStats& s) {
      double loss = s.loss_sum;
      comm.Allreduce(&loss, 1, dist::ReduceOp::kSum);
      size_t sparse = 0;
      for (const LayerExchange& l : trainer.last_exchange().layers) sparse += l.sparse;
      out << "step " << trainer.steps() << " hash " << WeightsHash(model)
          << " loss " << loss << " sparse " << sparse << '\n';
    });
  }
  CheckReplicasIdentical(model, comm);
  out << "done\n";
}

struct StepLog {
  std::vector<std::string> hashes;
  std::vector<double> losses;
  size_t sparse_layer_steps = 0;
};

StepLog ParseLog(const std::string& text) {
  StepLog log;
  std::istringstream in(text);
  std::string word, hash;
  size_t step = 0, sparse = 0;
  double loss = 0;
  while (in >> word) {
    if (word != "step") continue;
    in >> step >> word >> hash >> word >> loss >> word >> sparse;
    log.hashes.push_back(hash);
    log.losses.push_back(loss);
    log.sparse_layer_steps += sparse;
  }
  return log;
}

class ReplicasTest : public ::testing::TestWithParam<ExchangePolicy> {};

TEST_P(ReplicasTest, ThreeRanksBitIdenticalAfterEveryStep) {
  TempDir dir;
  constexpr int kSize = 3;
  Ranks ranks(dir.path(), kSize, [&](int r, std::ostream& out) {
    auto comm = dist::Connect(RankOptions(dir.path(), r, kSize, 20000));
    TrainRank(SampledConfig(), *comm, GetParam(), 32, true, 2, out);
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
  // The weights moved, and the policy chose what it was told to.
  EXPECT_NE(logs[0].hashes.front(), logs[0].hashes.back());
  const size_t layer_steps = 2 * logs[0].hashes.size();
  if (GetParam() == ExchangePolicy::kSparse) {
    EXPECT_EQ(logs[0].sparse_layer_steps, layer_steps);
  }
  if (GetParam() == ExchangePolicy::kDense) {
    EXPECT_EQ(logs[0].sparse_layer_steps, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Policies, ReplicasTest,
                         ::testing::Values(ExchangePolicy::kAuto,
                                           ExchangePolicy::kDense,
                                           ExchangePolicy::kSparse),
                         [](const auto& param_info) {
                           switch (param_info.param) {
                             case ExchangePolicy::kAuto: return std::string("Auto");
                             case ExchangePolicy::kDense: return std::string("Dense");
                             default: return std::string("Sparse");
                           }
                         });

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
    auto comm = dist::MakeLocalCommunicator();
    TrainRank(mc, *comm, ExchangePolicy::kAuto, 48, false, kEpochs, out);
    return 0;
  });
  ASSERT_EQ(one.Wait(120)[0], 0) << one.Output(0);
  Ranks three(dir.path(), kSize, [&](int r, std::ostream& out) {
    auto comm = dist::Connect(RankOptions(dir.path(), r, kSize, 20000));
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
