// train/Fit and data/batch_source: one loop, deterministic orders, split and
// resumed runs equal to whole ones, streaming shards by byte range.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "data/batch_source.h"
#include "data/dataset.h"
#include "data/synthetic.h"
#include "gtest/gtest.h"
#include "nn/model.h"
#include "nn/serialize.h"
#include "train/data_parallel.h"
#include "train/fit.h"
#include "train/settings.h"

namespace frugal::nn {
namespace {

std::string Temp(const std::string& name) {
  return ::testing::TempDir() + "frugal_fit_" + std::to_string(::getpid()) + "_" +
         name;
}

SparseDataset Clustered(size_t n) {
  SyntheticConfig sc;
  sc.num_features = 500;
  sc.num_labels = 40;
  sc.seed = 3;
  return GenerateSynthetic(sc, 0, n);
}

ModelConfig SmallModel(const SparseDataset& d) {
  ModelConfig mc = AutoConfig(d.num_features(), d.num_labels(), 32);
  mc.seed = 5;
  return mc;
}

// A row's identity: its first feature id and its label list.
std::string Key(const SparseRow& r) {
  std::string k;
  for (uint32_t f : r.idx) k += std::to_string(f) + ",";
  k += "|";
  for (uint32_t l : r.labels) k += std::to_string(l) + ",";
  return k;
}

std::vector<std::string> Pass(BatchSource& s, uint64_t epoch, size_t batch) {
  std::vector<std::string> keys;
  SparseDataset b;
  s.Start(epoch);
  double last = s.Progress();
  EXPECT_EQ(last, 0.0);
  while (s.Next(batch, &b)) {
    EXPECT_LE(b.size(), batch);
    for (size_t i = 0; i < b.size(); ++i) keys.push_back(Key(b.row(i)));
    EXPECT_GE(s.Progress(), last);
    last = s.Progress();
  }
  EXPECT_EQ(b.size(), 0u);
  EXPECT_DOUBLE_EQ(s.Progress(), 1.0);
  return keys;
}

TEST(InMemorySource, EveryEpochIsAPermutationOfItsOwn) {
  const SparseDataset d = Clustered(300);
  InMemorySource s(d, 9);
  const auto e0 = Pass(s, 0, 64), e1 = Pass(s, 1, 64), again = Pass(s, 0, 64);
  EXPECT_EQ(e0.size(), 300u);
  EXPECT_NE(e0, e1);      // consecutive epochs differ
  EXPECT_EQ(e0, again);   // an epoch's order is a function of (seed, epoch)
  auto a = e0, b = e1;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
  InMemorySource other_seed(d, 10);
  EXPECT_NE(Pass(other_seed, 0, 64), e0);
}

TEST(InMemorySource, RanksSplitTheRowsEqually) {
  const SparseDataset d = Clustered(301);
  std::multiset<std::string> all;
  for (int r = 0; r < 3; ++r) {
    InMemorySource s(d, 1, true, r, 3);
    const auto keys = Pass(s, 0, 32);
    EXPECT_EQ(keys.size(), 100u);
    all.insert(keys.begin(), keys.end());
  }
  EXPECT_EQ(all.size(), 300u);
}

// Fit over 4 epochs in one call equals 4 calls of 1 epoch with
// total_epochs = 4, bit for bit, and a checkpoint written mid-epoch then
// resumed reaches the same weights (a dense model: the index is not
// involved).
TEST(Fit, SplitAndResumedRunsEqualOneRun) {
  const SparseDataset d = Clustered(600);
  TrainSettings s = DefaultTrainSettings();
  s.train.batch_size = 50;
  s.train.threads = 2;
  s.train.lr = 0.01f;
  s.fit.epochs = 4;

  Model whole(SmallModel(d));
  InMemorySource src(d, 7);
  std::vector<float> lrs;
  FitCallbacks cb;
  cb.on_epoch = [&](const EpochReport& r) { lrs.push_back(r.lr); };
  const FitResult full = Fit(whole, src, s.train, s.fit, cb);
  EXPECT_EQ(full.epochs_run, 4u);
  EXPECT_EQ(FitState::Of(whole).epochs_done, 4u);
  ASSERT_EQ(lrs.size(), 4u);
  EXPECT_GT(lrs[0], lrs[3]);  // linear decay over the run

  Model split(SmallModel(d));
  for (size_t e = 1; e <= 4; ++e) {
    FitConfig fc = s.fit;
    fc.epochs = e;
    fc.total_epochs = 4;
    EXPECT_EQ(Fit(split, src, s.train, fc).epochs_run, 1u);
  }
  EXPECT_EQ(WeightsHash(split), WeightsHash(whole));
  EXPECT_EQ(split.step(), whole.step());

  // Checkpoint every 5 steps; a run that stops (an exception from the
  // callback) after step 17, mid-epoch 2, resumes from step 15.
  const std::string path = Temp("resume.model");
  FitConfig fc = s.fit;
  fc.checkpoint_path = path;
  fc.checkpoint_every = 5;
  {
    Model broken(SmallModel(d));
    FitCallbacks stop;
    stop.on_batch = [&](const BatchProgress&) {
      if (broken.step() == 17) throw std::runtime_error("killed");
    };
    EXPECT_THROW(Fit(broken, src, s.train, fc, stop), std::runtime_error);
  }
  auto resumed = LoadModel(path);
  EXPECT_EQ(resumed->step(), 15u);
  EXPECT_EQ(FitState::Of(*resumed).epochs_done, 1u);
  EXPECT_EQ(FitState::Of(*resumed).batches_done, 3u);  // 12 batches an epoch
  Fit(*resumed, src, s.train, fc);
  std::remove(path.c_str());
  EXPECT_EQ(WeightsHash(*resumed), WeightsHash(whole));
}

// Early stopping keeps the best epoch's weights: a validation figure that
// peaks at epoch 2 stops the run at epoch 2 + patience and restores epoch 2.
TEST(Fit, EarlyStoppingRestoresTheBestEpoch) {
  const SparseDataset d = Clustered(200);
  Model model(SmallModel(d));
  InMemorySource src(d, 1);
  TrainConfig tc;
  tc.batch_size = 50;
  tc.threads = 1;
  FitConfig fc;
  fc.epochs = 10;
  fc.patience = 2;
  std::vector<uint64_t> hashes;
  const double figures[] = {0.1, 0.5, 0.4, 0.45, 0.9, 0.9};
  size_t calls = 0;
  fc.validate = [&](const Model& m) {
    hashes.push_back(WeightsHash(m));
    return figures[calls++];
  };
  const FitResult r = Fit(model, src, tc, fc);
  EXPECT_TRUE(r.stopped_early);
  EXPECT_EQ(r.epochs_run, 4u);
  EXPECT_EQ(r.best_epoch, 2u);
  EXPECT_DOUBLE_EQ(r.best_metric, 0.5);
  EXPECT_EQ(WeightsHash(model), hashes[1]);
}

// ScheduledDistance is the integral of ScheduledRate; EquivalentEpochs is the
// shortest self-decaying run that moves at least as far: twice as many epochs
// for an early stop far from the horizon, the same count at the horizon.
TEST(Fit, EquivalentEpochsMoveAsFarAsAnEarlyStop) {
  for (const double total : {3.0, 60.0}) {
    for (const double epochs : {1.0, 2.5, total}) {
      double sum = 0;
      const int steps = 100000;
      for (int i = 0; i < steps; ++i) {
        const double p = (i + 0.5) * epochs / steps;
        sum += ScheduledRate(LrSchedule::kLinearDecay, 1.0f, p, total) * epochs / steps;
      }
      EXPECT_NEAR(ScheduledDistance(LrSchedule::kLinearDecay, epochs, total), sum, 1e-4)
          << epochs << " of " << total;
    }
  }
  EXPECT_DOUBLE_EQ(ScheduledDistance(LrSchedule::kConstant, 7, 60), 7);
  EXPECT_EQ(EquivalentEpochs(LrSchedule::kConstant, 6, 60), 6u);
  EXPECT_EQ(EquivalentEpochs(LrSchedule::kLinearDecay, 6, 60), 12u);  // 5.7 -> 12 - 6
  EXPECT_EQ(EquivalentEpochs(LrSchedule::kLinearDecay, 2, 4), 3u);    // 1.5 -> 3 - 1.5
  EXPECT_EQ(EquivalentEpochs(LrSchedule::kLinearDecay, 60, 60), 60u);
  EXPECT_EQ(EquivalentEpochs(LrSchedule::kLinearDecay, 0, 60), 1u);
  for (size_t e = 1; e <= 40; ++e) {
    const size_t q = EquivalentEpochs(LrSchedule::kLinearDecay, e, 40);
    EXPECT_GE(ScheduledDistance(LrSchedule::kLinearDecay, double(q), double(q)),
              ScheduledDistance(LrSchedule::kLinearDecay, double(e), 40.0) - 1e-9);
    EXPECT_LT(ScheduledDistance(LrSchedule::kLinearDecay, double(q - 1), double(q - 1)),
              ScheduledDistance(LrSchedule::kLinearDecay, double(e), 40.0));
    EXPECT_LE(q, 2 * e);
  }
}

// Evaluate reports the share of true labels among the LSH candidates of a
// sampled output, in (0, 1]; -1 for exact scoring and dense outputs.
TEST(Evaluate, CandidateRecallOfASampledOutput) {
  SyntheticConfig sc;
  sc.num_features = 2000;
  sc.num_labels = 6000;
  sc.seed = 4;
  const SparseDataset d = GenerateSynthetic(sc, 0, 1500);
  ModelConfig mc = AutoConfig(d.num_features(), d.num_labels(), 32, 0.05f);
  Model model(mc);
  ASSERT_TRUE(model.sparse_output());
  TrainConfig tc;
  tc.threads = 2;
  tc.batch_size = 64;
  FitConfig fc;
  fc.epochs = 2;
  InMemorySource src(d, 1);
  Fit(model, src, tc, fc);
  const EvalResult lsh = Evaluate(model, d, false, 2);
  EXPECT_GE(lsh.candidate_recall, 0.0);
  EXPECT_LE(lsh.candidate_recall, 1.0);
  EXPECT_GT(lsh.candidate_recall, 0.0);
  EXPECT_EQ(Evaluate(model, d, true, 2).candidate_recall, -1.0);
  Model dense(AutoConfig(d.num_features(), 50, 16));
  SyntheticConfig small = sc;
  small.num_labels = 50;
  EXPECT_EQ(Evaluate(dense, GenerateSynthetic(small, 0, 50), false, 2).candidate_recall, -1.0);
}

TEST(Settings, OneMappingWithNamedErrors) {
  TrainSettings s = DefaultTrainSettings();
  EXPECT_EQ(s.fit.epochs, 5u);
  EXPECT_EQ(s.train.batch_size, 256u);
  ApplyTrainSetting("batch", "64", &s);
  ApplyTrainSetting("batch_size", "32", &s);
  EXPECT_EQ(s.train.batch_size, 32u);
  ApplyTrainSetting("schedule", "constant", &s);
  EXPECT_EQ(s.fit.schedule, LrSchedule::kConstant);
  ApplyTrainSetting("exchange_bandwidth", "8", &s);
  EXPECT_DOUBLE_EQ(s.train.exchange_bandwidth, 1e9);
  auto message = [&](const char* name, const char* value) {
    try {
      ApplyTrainSetting(name, value, &s);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(message("batch", "0"), "--batch: expected a positive integer, got '0'");
  EXPECT_EQ(message("batch_size", "x"),
            "batch_size: expected a positive integer, got 'x'");
  EXPECT_EQ(message("lr", "-1"), "--lr: expected a positive number, got '-1'");
  EXPECT_NE(message("schedule", "cosine").find("linear, constant"), std::string::npos);
  EXPECT_EQ(message("bogus", "1"), "unknown setting 'bogus'");
}

// --- StreamingSource ---

std::string WriteXc(const std::string& name, const SparseDataset& d) {
  const std::string path = Temp(name);
  WriteXcFile(path, d);
  return path;
}

TEST(StreamingSource, ShardsByByteRangeCoverEveryRowOnce) {
  const SparseDataset d = Clustered(1000);
  const std::string a = WriteXc("a.txt", SelectRows(d, [] {
                                   static std::vector<uint32_t> r(600);
                                   for (uint32_t i = 0; i < 600; ++i) r[i] = i;
                                   return Span<const uint32_t>(r.data(), r.size());
                                 }()));
  std::vector<uint32_t> rest(400);
  for (uint32_t i = 0; i < 400; ++i) rest[i] = 600 + i;
  const std::string b = WriteXc("b.txt", SelectRows(d, Span<const uint32_t>(rest.data(), 400)));
  std::multiset<std::string> expected;
  for (size_t i = 0; i < d.size(); ++i) expected.insert(Key(d.row(i)));
  const uint64_t bytes = LineReader::FileSize(a) + LineReader::FileSize(b);
  for (int world : {1, 2, 3, 7}) {
    std::multiset<std::string> got;
    for (int r = 0; r < world; ++r) {
      StreamOptions o;
      o.rank = r;
      o.world = world;
      o.shuffle.rows = 128;
      StreamingSource s({a, b}, o);
      EXPECT_EQ(s.num_features(), d.num_features());
      EXPECT_EQ(s.num_labels(), d.num_labels());
      const auto keys = Pass(s, 0, 100);
      got.insert(keys.begin(), keys.end());
      // A rank reads its share plus at most a few KiB around its ends.
      EXPECT_LE(s.bytes_read(), bytes / uint64_t(world) + 3 * 4096 + 200)
          << "rank " << r << " of " << world;
    }
    EXPECT_EQ(got, expected) << world << " ranks";
  }
  std::remove(a.c_str());
  std::remove(b.c_str());
}

TEST(StreamingSource, ShuffleBufferOrdersPerEpochAndOneRowKeepsFileOrder) {
  const SparseDataset d = Clustered(500);
  const std::string path = WriteXc("order.txt", d);
  StreamOptions o;
  o.shuffle.rows = 64;
  StreamingSource s({path}, o);
  const auto e0 = Pass(s, 0, 50), e1 = Pass(s, 1, 50), again = Pass(s, 0, 50);
  EXPECT_NE(e0, e1);
  EXPECT_EQ(e0, again);
  o.shuffle.rows = 1;
  StreamingSource in_order({path}, o);
  const auto file = Pass(in_order, 0, 50);
  ASSERT_EQ(file.size(), d.size());
  for (size_t i = 0; i < d.size(); ++i) EXPECT_EQ(file[i], Key(d.row(i)));
  std::remove(path.c_str());
}

// Whole-file readers do not seek: a pipe (e.g. `frugal predict` on stdin)
// streams.
TEST(LineReader, ReadsAPipe) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const std::string text = "1 3:1 4:0.5\n0 5:2\n";
  ASSERT_EQ(::write(fds[1], text.data(), text.size()), ssize_t(text.size()));
  ::close(fds[1]);
  ReadOptions o;
  o.format = DataFormat::kLibsvm;
  o.num_features = 10;
  o.num_labels = 2;
  std::vector<size_t> sizes;
  const size_t rows = StreamSparseFile("/dev/fd/" + std::to_string(fds[0]), o, nullptr,
                                       nullptr, [&](const SparseRow& r) {
                                         sizes.push_back(r.idx.size());
                                       });
  ::close(fds[0]);
  EXPECT_EQ(rows, 2u);
  EXPECT_EQ(sizes, (std::vector<size_t>{2, 1}));
}

TEST(StreamingSource, MalformedLineNamesFileAndLineOrByte) {
  const std::string path = Temp("bad.txt");
  {
    std::ofstream f(path);
    f << "3 10 4\n1 2:1\n2 5:1\n0,1 3:1 4:x\n";  // the bad line at byte 19
  }
  try {
    StreamingSource s({path}, StreamOptions{});
    Pass(s, 0, 10);
    ADD_FAILURE() << "accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":4: column"), std::string::npos)
        << e.what();
  }
  // The second of two ranks starts inside the file: the byte offset names it.
  StreamOptions o;
  o.rank = 1;
  o.world = 2;
  try {
    StreamingSource s({path}, o);
    Pass(s, 0, 10);
    ADD_FAILURE() << "accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": the line at byte 19"), std::string::npos)
        << e.what();
  }
  std::remove(path.c_str());
  EXPECT_THROW(ExpandPaths(Temp("nothing*.txt")), DataError);
}

// Training from a stream equals training from memory when the stream keeps
// file order and the in-memory source does not shuffle (constant rate: a
// stream's position is in bytes, the in-memory one's in rows).
TEST(StreamingSource, FitFromAStreamMatchesFitFromMemory) {
  const SparseDataset d = Clustered(400);
  const std::string path = WriteXc("fit.txt", d);
  TrainConfig tc;
  tc.batch_size = 40;
  tc.threads = 2;
  FitConfig fc;
  fc.epochs = 2;
  fc.schedule = LrSchedule::kConstant;
  Model a(SmallModel(d)), b(SmallModel(d));
  InMemorySource mem(d, 1, /*shuffle=*/false);
  Fit(a, mem, tc, fc);
  StreamOptions o;
  o.shuffle.rows = 1;
  StreamingSource stream({path}, o);
  Fit(b, stream, tc, fc);
  EXPECT_EQ(WeightsHash(a), WeightsHash(b));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace frugal::nn
