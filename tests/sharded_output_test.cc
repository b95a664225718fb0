// The label-sharded output (train/sharded_output.h): shards initialise as
// the whole model's rows; 3 ranks with a dense sharded output train as one
// process on the concatenated batch (within floating-point reassociation);
// a sampled sharded output learns, its merged evaluation matches the whole
// model's, and the union of the shards' LSH candidates recalls as well as
// one index.
//
// Training runs only in child processes (TBB's threads do not survive a
// fork).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "comm/communicator.h"
#include "data/synthetic.h"
#include "nn/model.h"
#include "tests/dist_ranks.h"
#include "train/data_parallel.h"
#include "train/settings.h"
#include "train/sharded_input.h"
#include "train/sharded_output.h"
#include "train/trainer.h"

namespace frugal::nn {
namespace {

using comm::testing::RankOptions;
using comm::testing::Ranks;
using comm::testing::TempDir;

constexpr int kRanks = 3;
// Max |difference| of any weight after kSteps steps, sharded vs one process
// (the loss normaliser and the hidden layers' gradient sums are added in
// another order).
constexpr float kTolerance = 5e-6f;
constexpr size_t kSteps = 4, kBatch = 16;

SparseDataset Data(size_t count, size_t labels) {
  SyntheticConfig c;
  c.num_features = 2000;
  c.num_labels = labels;
  c.mean_nonzeros = 20;
  c.mean_labels = 3;
  return GenerateSynthetic(c, 0, count);
}

// (Models built here have a dense output: building an LSH index starts
// TBB's threads, which must not exist when the other tests fork.)
TEST(ShardedOutput, ShardsPartitionTheOutputAndInitialiseAsItsRows) {
  const ModelConfig mc = AutoConfig(2000, 6001, 32, 0.05f);
  const ModelConfig dense = AutoConfig(2000, 6001, 32, 1.0f);
  const Model whole(dense);
  size_t next = 0;
  for (int r = 0; r < kRanks; ++r) {
    const ModelConfig sc = ShardConfig(mc, r, kRanks);
    EXPECT_EQ(sc.output_shard.first, next);
    EXPECT_EQ(sc.output_dim(), 6001u);
    EXPECT_EQ(sc.output().lsh.max_active, (mc.output().lsh.max_active + 2) / 3);
    EXPECT_EQ(sc.output().lsh.bucket_capacity, (mc.output().lsh.bucket_capacity + 2) / 3);
    next += sc.output().width;
    const Model shard(ShardConfig(dense, r, kRanks));
    EXPECT_EQ(shard.layer(0).w.w, whole.layer(0).w.w);
    const ParamBlock& w = shard.output().w;
    EXPECT_TRUE(std::equal(w.w.begin(), w.w.end(),
                           whole.output().w.w.begin() + long(sc.output_shard.first * w.stride)))
        << "rank " << r;
  }
  EXPECT_EQ(next, 6001u);
  EXPECT_THROW(ShardConfig(ShardConfig(mc, 0, 2), 0, 2), std::invalid_argument);
}

// Rows are drawn in blocks of 65,536 rows, each from its own stream: rows
// starting anywhere, across block boundaries, equal the whole block's.
TEST(ShardedOutput, RowsDeepInAHugeOutputInitialiseAsTheWholeBlocks) {
  ParamBlock whole;
  whole.Init(150001, 4, 0.1f, 7);
  for (size_t first : {size_t{1}, size_t{65535}, size_t{65536}, size_t{100000},
                       size_t{131072}, size_t{140001}}) {
    ParamBlock part;
    part.Init(std::min<size_t>(20000, whole.rows - first), 4, 0.1f, 7, first);
    EXPECT_TRUE(std::equal(part.w.begin(), part.w.end(),
                           whole.w.begin() + long(first * whole.stride)))
        << "first row " << first;
  }
}

TEST(ShardedOutput, SettingParsesAsABoolean) {
  TrainSettings s = DefaultTrainSettings();
  EXPECT_FALSE(s.train.shard_output);
  ApplyTrainSetting("shard-output", "", &s);  // the CLI's bare flag
  EXPECT_TRUE(s.train.shard_output);
  ApplyTrainSetting("shard_output", "False", &s);
  EXPECT_FALSE(s.train.shard_output);
  ApplyTrainSetting("shard_output", "True", &s);
  EXPECT_TRUE(s.train.shard_output);
  EXPECT_THROW(ApplyTrainSetting("shard-output", "maybe", &s), std::invalid_argument);
}

// The global batch of step s: rank 0's rows of the step, then rank 1's ...
SparseDataset GlobalBatch(const SparseDataset& data, size_t step) {
  SparseDataset out(data.num_features(), data.num_labels());
  for (int q = 0; q < kRanks; ++q) {
    const SparseDataset shard = Shard(data, q, kRanks);
    for (size_t i = step * kBatch; i < (step + 1) * kBatch; ++i) {
      const SparseRow x = shard.row(i);
      out.Add(x.idx, x.val, x.labels);
    }
  }
  return out;
}

SparseDataset RankBatch(const SparseDataset& data, int rank, size_t step) {
  const SparseDataset shard = Shard(data, rank, kRanks);
  SparseDataset out(data.num_features(), data.num_labels());
  for (size_t i = step * kBatch; i < (step + 1) * kBatch; ++i) {
    const SparseRow x = shard.row(i);
    out.Add(x.idx, x.val, x.labels);
  }
  return out;
}

// "word number" lines of a rank's output: the numbers of each word in order.
std::map<std::string, std::vector<double>> Numbers(const std::string& text) {
  std::map<std::string, std::vector<double>> out;
  std::istringstream in(text);
  std::string word;
  double x = 0;
  while (in >> word >> x) out[word].push_back(x);
  return out;
}

// Every weight and bias of the model, layer after layer, as raw floats.
void WriteWeights(const Model& m, const std::string& path) {
  std::ofstream f(path, std::ios::binary);
  for (size_t l = 0; l < m.num_layers(); ++l) {
    for (const std::vector<float>* v : {&m.layer(l).w.w, &m.layer(l).b.w}) {
      f.write(reinterpret_cast<const char*>(v->data()), std::streamsize(v->size() * 4));
    }
  }
}

std::vector<float> ReadFloats(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), {});
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

TrainConfig Config(comm::Communicator* comm) {
  TrainConfig tc;
  tc.lr = 3e-3f;
  tc.threads = 1;
  tc.comm = comm;
  tc.shard_output = true;
  return tc;
}

// A dense output (softmax, then sigmoid) of 601 labels, sharded over 3
// ranks, against one process on the concatenated batches: every weight
// within kTolerance after kSteps steps, and the same loss.
TEST(ShardedOutput, DenseShardsEqualOneProcessOnTheConcatenatedBatch) {
  for (const Activation act : {Activation::kSoftmax, Activation::kSigmoid}) {
    ModelConfig mc = AutoConfig(2000, 601, 32, 1.0f);
    mc.output().activation = act;
    const SparseDataset data = Data(kRanks * kSteps * kBatch, 601);
    TempDir dir;
    Ranks one(dir.path(), 1, [&](int, std::ostream& out) {
      Model model(mc);
      TrainConfig tc = Config(nullptr);
      Trainer trainer(model, tc);
      for (size_t s = 0; s < kSteps; ++s) {
        out << "loss " << trainer.TrainBatch(GlobalBatch(data, s), tc.lr).loss_sum << '\n';
      }
      WriteWeights(model, dir.path() + "/one.bin");
      // Each rank's first batch alone from the initial weights: the loss
      // that rank reports for its own samples.
      for (int r = 0; r < kRanks; ++r) {
        Model fresh(mc);
        Trainer t(fresh, tc);
        out << "first " << t.TrainBatch(RankBatch(data, r, 0), tc.lr).loss_sum << '\n';
      }
      return 0;
    });
    ASSERT_EQ(one.Wait(60)[0], 0) << one.Output(0);
    TempDir rdir;
    Ranks ranks(rdir.path(), kRanks, [&](int r, std::ostream& out) {
      auto comm = comm::Connect(RankOptions(rdir.path(), r, kRanks, 20000));
      Model model(ShardConfig(mc, r, kRanks));
      TrainConfig tc = Config(comm.get());
      Trainer trainer(model, tc);
      for (size_t s = 0; s < kSteps; ++s) {
        double loss = trainer.TrainBatch(RankBatch(data, r, s), tc.lr).loss_sum;
        if (s == 0) out << "mine " << loss << '\n';
        comm->Allreduce(&loss, 1, comm::ReduceOp::kSum);
        out << "loss " << loss << '\n';
      }
      CheckReplicasIdentical(model, *comm);
      WriteWeights(model, dir.path() + "/rank" + std::to_string(r) + ".bin");
      return 0;
    });
    const std::vector<int> status = ranks.Wait(60);
    const std::vector<float> whole = ReadFloats(dir.path() + "/one.bin");
    const Model shape(mc, false);
    const size_t L = shape.num_layers();
    float max_diff = 0;
    for (int r = 0; r < kRanks; ++r) {
      ASSERT_EQ(status[size_t(r)], 0) << ranks.Output(r);
      const std::vector<float> part = ReadFloats(dir.path() + "/rank" + std::to_string(r) + ".bin");
      // The hidden layers whole, then the shard's output rows and biases.
      const OutputShard sh = OutputShardFor(601, r, kRanks);
      const size_t width = OutputShardWidth(601, r, kRanks);
      std::vector<std::pair<size_t, size_t>> spans;  // (offset in whole, floats)
      size_t at = 0;
      for (size_t l = 0; l + 1 < L; ++l) {
        const size_t n = shape.layer(l).w.w.size() + shape.layer(l).b.w.size();
        spans.push_back({at, n});
        at += n;
      }
      const size_t stride = shape.output().w.stride;
      spans.push_back({at + sh.first * stride, width * stride});
      spans.push_back({at + shape.output().w.w.size() + sh.first, width});
      size_t got = 0;
      for (const auto& [offset, n] : spans) {
        ASSERT_LE(got + n, part.size());
        for (size_t i = 0; i < n; ++i) {
          max_diff = std::max(max_diff, std::fabs(part[got + i] - whole[offset + i]));
        }
        got += n;
      }
      EXPECT_EQ(got, part.size());
      // The loss summed over the ranks is the one process's; each rank's own
      // is its samples' (the first step, from the initial weights).
      std::map<std::string, std::vector<double>> a = Numbers(ranks.Output(r)),
                                                 b = Numbers(one.Output(0));
      ASSERT_EQ(a["loss"].size(), kSteps);
      ASSERT_EQ(b["loss"].size(), kSteps);
      for (size_t s = 0; s < kSteps; ++s) {
        EXPECT_NEAR(a["loss"][s], b["loss"][s], 1e-3 * (1 + std::fabs(b["loss"][s])));
      }
      ASSERT_EQ(a["mine"].size(), 1u);
      ASSERT_EQ(b["first"].size(), size_t(kRanks));
      EXPECT_NEAR(a["mine"][0], b["first"][size_t(r)], 1e-4 * (1 + b["first"][size_t(r)]))
          << "rank " << r;
    }
    EXPECT_LE(max_diff, kTolerance);
    std::printf("%s: max |sharded - one process| over every weight: %.3g\n",
                ActivationName(act), double(max_diff));
  }
}

// Collectives a step issued (rank 0's, the same in every step).
struct StepCollectives {
  uint64_t allreduce = 0, allgather = 0, alltoall = 0;
};

// Trains kSteps steps of kBatch on each of 3 ranks (the rows exchange for
// replicated layers) and returns each rank's WeightsHash after
// SyncShardedState, rank 0's input-layer bytes per step and (optional) its
// collectives per step.
std::vector<std::string> HashesAfterSteps(bool shard_input, bool shard_output,
                                          uint64_t* input_bytes, bool overlap = true,
                                          StepCollectives* collectives = nullptr) {
  const ModelConfig mc = AutoConfig(2000, 6000, 32, 0.05f);
  const SparseDataset data = Data(kRanks * kSteps * kBatch, 6000);
  TempDir dir;
  Ranks ranks(dir.path(), kRanks, [&](int r, std::ostream& out) {
    auto comm = comm::Connect(RankOptions(dir.path(), r, kRanks, 20000));
    Model model(shard_output ? ShardConfig(mc, r, kRanks) : mc);
    TrainConfig tc = Config(comm.get());
    tc.shard_output = shard_output;
    tc.shard_input = shard_input;
    tc.exchange = ExchangePolicy::kSparse;
    tc.overlap_exchange = overlap;
    Trainer trainer(model, tc);
    uint64_t bytes = 0;
    const comm::CommStats c0 = comm->stats();
    for (size_t s = 0; s < kSteps; ++s) {
      bytes += trainer.TrainBatch(RankBatch(data, r, s), tc.lr).input_exchange_bytes;
    }
    const comm::CommStats c1 = comm->stats();
    trainer.SyncShardedState();
    CheckReplicasIdentical(model, *comm);
    out << WeightsHash(model) << ' ' << bytes / kSteps << ' '
        << double(c1.allreduce_calls - c0.allreduce_calls) / kSteps << ' '
        << double(c1.allgather_calls - c0.allgather_calls) / kSteps << ' '
        << double(c1.alltoall_calls - c0.alltoall_calls) / kSteps << '\n';
    return 0;
  });
  const std::vector<int> status = ranks.Wait(60);
  std::vector<std::string> hashes;
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_EQ(status[size_t(r)], 0) << ranks.Output(r);
    std::istringstream in(ranks.Output(r));
    std::string h;
    uint64_t b = 0;
    double calls[3] = {0, 0, 0};
    in >> h >> b >> calls[0] >> calls[1] >> calls[2];
    hashes.push_back(h);
    if (r == 0) *input_bytes = b;
    if (r == 0 && collectives != nullptr) {
      // Whole numbers: every step issues the same collectives.
      for (double c : calls) EXPECT_EQ(c, std::floor(c));
      *collectives = {uint64_t(calls[0]), uint64_t(calls[1]), uint64_t(calls[2])};
    }
  }
  return hashes;
}

// Input-layer rows owned by rank (train/sharded_input.h): the same weights,
// bit for bit, as the replicated rows exchange, with or without a sharded
// output; and a sharded output's exchange overlapped with its accumulation
// or not, the same bits. A step of the sharded input layer issues four
// alltoallvs (ids' count, ids and rows to fetch; gradients and the bias's
// to push) and no allreduce; the hidden layers' exchange, nothing beyond
// them (no layer left to exchange with the output sharded too).
TEST(ShardedInput, EqualsTheReplicatedRowsExchangeBitForBit) {
  for (const bool shard_output : {false, true}) {
    uint64_t replicated_bytes = 0, sharded_bytes = 0;
    StepCollectives replicated, sharded;
    const std::vector<std::string> want =
        HashesAfterSteps(false, shard_output, &replicated_bytes, true, &replicated);
    const std::vector<std::string> got =
        HashesAfterSteps(true, shard_output, &sharded_bytes, true, &sharded);
    ASSERT_EQ(want.size(), size_t(kRanks));
    EXPECT_FALSE(want[0].empty());
    EXPECT_EQ(got, want) << "shard_output " << shard_output;
    EXPECT_GT(sharded_bytes, 0u);
    std::printf("shard_output %d: input layer %llu bytes per step and rank; collectives per "
                "step (allreduce, allgather, alltoallv): replicated input %llu %llu %llu, "
                "sharded %llu %llu %llu\n",
                int(shard_output), static_cast<unsigned long long>(sharded_bytes),
                static_cast<unsigned long long>(replicated.allreduce),
                static_cast<unsigned long long>(replicated.allgather),
                static_cast<unsigned long long>(replicated.alltoall),
                static_cast<unsigned long long>(sharded.allreduce),
                static_cast<unsigned long long>(sharded.allgather),
                static_cast<unsigned long long>(sharded.alltoall));
    // A sharded output: its hidden vectors' allgatherv (counts, data), the
    // normaliser's allreduce, the reduce-scatter (an alltoallv). Replicated:
    // the exchanged layers' counts (one allgather), the output's rows.
    const uint64_t out_allreduce = shard_output ? 1 : 0, out_alltoall = shard_output ? 1 : 0;
    const uint64_t out_allgather = 2;
    EXPECT_EQ(sharded.allreduce, out_allreduce);
    EXPECT_EQ(sharded.allgather, out_allgather);
    EXPECT_EQ(sharded.alltoall, 4 + out_alltoall);
    // Replicated input: layer 0's rows and bias in one allgatherv (and the
    // counts' allgather, with a sharded output).
    EXPECT_EQ(replicated.allreduce, out_allreduce);
    EXPECT_EQ(replicated.allgather, out_allgather + (shard_output ? 2 : 1));
    EXPECT_EQ(replicated.alltoall, out_alltoall);
  }
  uint64_t bytes = 0;
  EXPECT_EQ(HashesAfterSteps(true, true, &bytes, /*overlap=*/false),
            HashesAfterSteps(true, true, &bytes, /*overlap=*/true));
}

// The push sends the gradients of the rows the fetch read, in the fetch's
// order: on one rank the rows' gradients and the bias come back as they
// were, and rows touched but not fetched (or fetched but not touched) are a
// logic error, found before any collective.
TEST(ShardedInput, PushTakesExactlyTheRowsOfTheFetch) {
  Model model(AutoConfig(10, 4, 8));
  ParamBlock& W = model.layer(0).w;
  ParamBlock& B = model.layer(0).b;
  auto comm = comm::MakeLocalCommunicator();
  InputRowRequests requests;
  FetchInputRows(model, *comm, {2, 5}, &requests);
  ASSERT_EQ(requests.asked.size(), 1u);
  EXPECT_EQ(requests.asked[0], (std::vector<uint32_t>{2, 5}));
  EXPECT_EQ(requests.served[0], requests.asked[0]);
  std::vector<uint8_t> mark(W.rows, 0);
  std::vector<std::vector<uint32_t>> touched(2);
  for (uint32_t r : {2u, 5u}) {
    std::fill_n(W.g.data() + size_t{r} * W.stride, W.cols, 0.5f + float(r));
    mark[r] = 1;
    touched[r % 2].push_back(r);
  }
  std::fill(B.g.begin(), B.g.end(), 0.25f);
  auto wrong = touched;
  wrong[1].push_back(7);
  std::vector<uint8_t> wrong_mark = mark;
  wrong_mark[7] = 1;
  EXPECT_THROW(PushInputGradients(model, *comm, requests, wrong, wrong_mark), std::logic_error);
  wrong = touched;
  wrong[1].clear();  // 5 fetched, not touched
  EXPECT_THROW(PushInputGradients(model, *comm, requests, wrong, mark), std::logic_error);
  PushInputGradients(model, *comm, requests, touched, mark);
  EXPECT_EQ(touched, (std::vector<std::vector<uint32_t>>{{2}, {5}}));
  for (uint32_t r : {2u, 5u}) {
    EXPECT_EQ(mark[r], 1);
    EXPECT_EQ(W.g[size_t{r} * W.stride + W.cols - 1], 0.5f + float(r));
  }
  EXPECT_EQ(B.g[0], 0.25f);
}

// A sampled output of 6,000 labels sharded over 3 ranks learns (training
// P@1 rises well above the start), the hidden replicas stay identical, and
// the merged top-5 of exact scoring equals the whole model's (the shards'
// rows gathered into one model).
TEST(ShardedOutput, SampledShardsLearnAndMergeTheirTopK) {
  const ModelConfig mc = AutoConfig(2000, 6000, 32, 0.05f);
  const SparseDataset data = Data(1536, 6000);
  const SparseDataset test = Shard(data, 0, 8, false);
  TempDir dir;
  Ranks ranks(dir.path(), kRanks, [&](int r, std::ostream& out) {
    auto comm = comm::Connect(RankOptions(dir.path(), r, kRanks, 20000));
    Model model(ShardConfig(mc, r, kRanks));
    const double before = EvaluateRanks(model, test, false, 1, *comm).p_at[1];
    TrainConfig tc = Config(comm.get());
    Trainer trainer(model, tc);
    const SparseDataset mine = Shard(data, r, kRanks);
    for (size_t epoch = 0; epoch < 6; ++epoch) {
      for (size_t s = 0; s + kBatch <= mine.size(); s += kBatch) {
        SparseDataset b(data.num_features(), data.num_labels());
        for (size_t i = s; i < s + kBatch; ++i) {
          const SparseRow x = mine.row(i);
          b.Add(x.idx, x.val, x.labels);
        }
        trainer.TrainBatch(b, tc.lr);
      }
    }
    CheckReplicasIdentical(model, *comm);
    const EvalResult lsh = EvaluateRanks(model, test, false, 1, *comm);
    const EvalResult exact = EvaluateRanks(model, test, true, 1, *comm);
    out << "p1 " << before << ' ' << lsh.p_at[1] << ' ' << exact.p_at[1] << " recall "
        << lsh.candidate_recall << '\n';
    WriteWeights(model, dir.path() + "/rank" + std::to_string(r) + ".bin");
    // The whole model from the shards, on rank 0: the same exact top 5.
    comm->Barrier();
    if (r == 0) {
      Model whole(mc, false);
      std::vector<float> all;
      for (int q = 0; q < kRanks; ++q) {
        const std::vector<float> part = ReadFloats(dir.path() + "/rank" + std::to_string(q) + ".bin");
        all.insert(all.end(), part.begin(), part.end());
      }
      // Layout per rank: hidden w, b, output rows, output biases.
      size_t at = 0;
      const size_t hidden = whole.layer(0).w.w.size() + whole.layer(0).b.w.size();
      std::copy_n(all.begin(), whole.layer(0).w.w.size(), whole.layer(0).w.w.begin());
      std::copy_n(all.begin() + long(whole.layer(0).w.w.size()), whole.layer(0).b.w.size(),
                  whole.layer(0).b.w.begin());
      const size_t stride = whole.output().w.stride;
      for (int q = 0; q < kRanks; ++q) {
        const OutputShard sh = OutputShardFor(6000, q, kRanks);
        const size_t width = OutputShardWidth(6000, q, kRanks);
        at += hidden;
        std::copy_n(all.begin() + long(at), width * stride,
                    whole.output().w.w.begin() + long(sh.first * stride));
        at += width * stride;
        std::copy_n(all.begin() + long(at), width, whole.output().b.w.begin() + long(sh.first));
        at += width;
      }
      const EvalResult e = Evaluate(whole, test, true, 1);
      out << "whole " << e.p_at[1] << ' ' << e.p_at[5] << " sharded " << exact.p_at[1] << ' '
          << exact.p_at[5] << '\n';
    }
    return 0;
  });
  const std::vector<int> status = ranks.Wait(120);
  for (int r = 0; r < kRanks; ++r) ASSERT_EQ(status[size_t(r)], 0) << ranks.Output(r);
  std::istringstream in(ranks.Output(0));
  std::string word;
  double before = 0, lsh = 0, exact = 0, recall = 0, w1 = 0, w5 = 0, s1 = 0, s5 = 0;
  in >> word >> before >> lsh >> exact >> word >> recall >> word >> w1 >> w5 >> word >> s1 >> s5;
  std::printf("P@1 before %.4f, after (LSH) %.4f, exact %.4f; union candidate recall %.4f\n",
              before, lsh, exact, recall);
  EXPECT_GT(lsh, before + 0.1);
  EXPECT_GT(recall, 0.0);
  EXPECT_EQ(w1, s1);
  EXPECT_EQ(w5, s5);
  for (int r = 1; r < kRanks; ++r) {
    std::istringstream o(ranks.Output(r));
    double b2 = 0, l2 = 0, e2 = 0;
    o >> word >> b2 >> l2 >> e2;
    EXPECT_EQ(l2, lsh) << "rank " << r << " evaluated differently";
  }
}

// The union of the shards' LSH candidates (each shard's index over its own
// rows, a third of the candidates each) recalls the labels as well as one
// index over every row, on a trained model split into shards.
TEST(ShardedOutput, UnionOfShardCandidatesRecallsAsOneIndex) {
  TempDir dir;
  Ranks one(dir.path(), 1, [&](int, std::ostream& out) {
    const ModelConfig mc = AutoConfig(2000, 6000, 32, 0.05f);
    const SparseDataset data = Data(3072, 6000);
    const SparseDataset test = Shard(data, 0, 6, false);
    Model whole(mc);
    TrainConfig tc;
    tc.lr = 3e-3f;
    tc.threads = 1;
    Trainer trainer(whole, tc);
    for (size_t epoch = 0; epoch < 3; ++epoch) {
      for (size_t s = 0; s + 64 <= data.size(); s += 64) {
        std::vector<uint32_t> rows(64);
        for (size_t i = 0; i < 64; ++i) rows[i] = uint32_t(s + i);
        trainer.TrainBatch(SelectRows(data, Span<const uint32_t>(rows.data(), 64)), tc.lr);
      }
    }
    whole.RebuildIndex();
    // Candidates per row: the index's default (every bucket hit fits), then
    // a limit that binds (the most frequent of them; a third per shard).
    for (const size_t limit : {whole.inference_active(), size_t{90}}) {
      whole.set_inference_active(limit);
      const double one_index = Evaluate(whole, test, false, 1).candidate_recall;
      double shards = 0;
      for (int r = 0; r < kRanks; ++r) {
        const std::unique_ptr<Model> shard = ExtractShard(whole, r, kRanks);
        shard->set_inference_active((limit + kRanks - 1) / kRanks);
        shards += Evaluate(*shard, test, false, 1).candidate_recall;
      }
      out << limit << ' ' << one_index << ' ' << shards << '\n';
    }
    return 0;
  });
  ASSERT_EQ(one.Wait(120)[0], 0) << one.Output(0);
  std::istringstream in(one.Output(0));
  size_t limit = 0;
  double one_index = 0, shards = 0;
  for (int i = 0; i < 2 && in >> limit >> one_index >> shards; ++i) {
    std::printf("candidate recall at %zu candidates: one index %.4f, union of %d shards %.4f\n",
                limit, one_index, kRanks, shards);
    EXPECT_GT(one_index, 0.05);
    EXPECT_NEAR(shards, one_index, 0.03);
  }
  EXPECT_EQ(limit, 90u) << one.Output(0);
}

}  // namespace
}  // namespace frugal::nn
