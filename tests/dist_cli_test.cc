// `frugal launch` and data-parallel `frugal train` end to end: output
// prefixes, a failing rank stops the job, a killed rank is reported by the
// others within twice the timeout, and --resume completes the run from the
// last checkpoint with the quality of an uninterrupted run (a dense sharded
// output: its figures).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/dist_ranks.h"

namespace frugal::comm {
namespace {

using testing::MonotonicMs;
using testing::Ranks;
using testing::TempDir;

struct Result {
  int status = -1;
  std::string output;
  double seconds = 0;
};

// Runs a shell command line, stdout and stderr together.
Result Shell(const std::string& command) {
  Result r;
  const double t0 = MonotonicMs();
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.seconds = (MonotonicMs() - t0) / 1000;
  return r;
}

const std::string kFrugal = FRUGAL_CLI;
const std::string kData = FRUGAL_DATA_DIR;

TEST(Launch, PrefixesOutputAndSetsTheEnvironment) {
  const Result r = Shell(kFrugal + " launch -n 2 -- sh -c "
                       "'echo hello $FRUGAL_RANK of $FRUGAL_WORLD_SIZE; "
                       "echo err >&2; test -n \"$FRUGAL_RENDEZVOUS\"'");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("[rank 0] hello 0 of 2\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[rank 1] hello 1 of 2\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[rank 1] err\n"), std::string::npos) << r.output;
}

TEST(Launch, FailingRankStopsTheOthers) {
  const Result r = Shell(kFrugal + " launch -n 3 --grace 1 -- sh -c "
                       "'if [ $FRUGAL_RANK = 1 ]; then exit 3; fi; sleep 60'");
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_LT(r.seconds, 20) << r.output;
  EXPECT_NE(r.output.find("rank 1 exited with status 3"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("killing rank 0"), std::string::npos) << r.output;
}

TEST(Launch, RefusesAMalformedCommandLine) {
  EXPECT_EQ(Shell(kFrugal + " launch -n 0 -- true").status, 2);
  EXPECT_EQ(Shell(kFrugal + " launch -n 2").status, 2);
  EXPECT_EQ(Shell(kFrugal + " launch --bogus 1 -- true").status, 2);
}

// The ranks an error names: "...; rank(s) 0, 1 closed ..." -> {0, 1}.
std::set<int> NamedRanks(const std::string& out) {
  std::set<int> named;
  const size_t at = out.find("rank(s) ");
  if (at == std::string::npos) return named;
  std::istringstream in(out.substr(at + 8));
  for (int r; in >> r;) {
    named.insert(r);
    if (in.peek() != ',') break;
    in.get();
  }
  return named;
}

// "test: P@1 0.3769 ..." -> 0.3769; -1 when absent.
double FinalP1(const std::string& out) {
  const size_t at = out.find("test: P@1 ");
  return at == std::string::npos ? -1 : std::stod(out.substr(at + 10));
}

// Rank 1 of 3 is killed after the first checkpoint; the others report it;
// --resume completes the run with an uninterrupted run's P@1. With
// shard_output, every rank checkpoints its output shard and the manifest
// is written last.
void KilledRankThenResume(bool shard_output) {
  const std::string train = kData + "/bibtex/train.txt";
  const std::string test = kData + "/bibtex/test.txt";
  struct stat st;
  if (stat(train.c_str(), &st) != 0) GTEST_SKIP() << "bibtex data not found";
  TempDir dir;
  constexpr int kTimeoutS = 3;
  const std::vector<std::string> base = {
      "train", "--train", train, "--test", test, "--hidden", "64",
      "--epochs", "4", "--batch", "64", "--threads", "1", "--no-progress",
      "--comm-timeout", std::to_string(kTimeoutS), "--checkpoint-every", "10"};
  std::vector<std::string> common = base;
  if (shard_output) common.push_back("--shard-output");
  auto line = [&](const std::string& model, const std::string& extra) {
    std::string s = kFrugal + " launch -n 3 -- " + kFrugal;
    for (const std::string& a : common) s += " '" + a + "'";
    return s + " --model '" + model + "' " + extra;
  };

  // Uninterrupted.
  const Result ref = Shell(line(dir.path() + "/ref.model", ""));
  ASSERT_EQ(ref.status, 0) << ref.output;
  const double ref_p1 = FinalP1(ref.output);
  ASSERT_GT(ref_p1, 0.2) << ref.output;

  // Three ranks started by hand; rank 1 is killed after the first
  // checkpoint.
  const std::string model = dir.path() + "/m.model";
  Ranks ranks(dir.path(), 3, [&](int r, std::ostream&) {
    const std::string log = dir.path() + "/train" + std::to_string(r) + ".log";
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<std::string> args = common;
    for (const std::string& a :
         {std::string("--model"), model, std::string("--world-size"), std::string("3"),
          std::string("--rank"), std::to_string(r), std::string("--rendezvous"),
          "file://" + dir.path() + "/store", std::string("--run-id"),
          std::string("attempt1")}) {
      args.push_back(a);
    }
    std::vector<char*> argv = {const_cast<char*>(kFrugal.c_str())};
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(kFrugal.c_str(), argv.data());
    return 127;
  });
  // The file written last by a checkpoint.
  const std::string written = shard_output ? model + ".shards" : model;
  const double start = MonotonicMs();
  while (stat(written.c_str(), &st) != 0 && MonotonicMs() - start < 60000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(stat(written.c_str(), &st), 0) << "no checkpoint written";
  const double killed_at = MonotonicMs();
  kill(ranks.pid(1), SIGKILL);
  const std::vector<int> status = ranks.Wait(4.0 * kTimeoutS + 10, {0, 2});
  for (int r : {0, 2}) {
    const Result log = Shell("cat '" + dir.path() + "/train" + std::to_string(r) + ".log'");
    EXPECT_EQ(status[size_t(r)], 1) << log.output;
    const double after_ms = ranks.exit_ms(r) - killed_at;
    std::printf("rank %d exited %.0f ms after rank 1 was killed (timeout %d s)\n", r,
                after_ms, kTimeoutS);
    EXPECT_LT(after_ms, 2000.0 * kTimeoutS) << log.output;
    // "...; rank(s) 1 closed the connection ..." (on an overloaded machine
    // a slow survivor may be listed too: "rank(s) 0, 1 ...").
    const std::set<int> named = NamedRanks(log.output);
    EXPECT_EQ(named.count(1), 1u) << log.output;
    EXPECT_EQ(named.count(r), 0u) << log.output;
  }

  // Resume: a new attempt (launch picks a new run id) from the checkpoint.
  const Result resumed = Shell(line(model, "--resume"));
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming from"), std::string::npos) << resumed.output;
  const double p1 = FinalP1(resumed.output);
  std::printf("P@1 uninterrupted %.4f, killed and resumed %.4f\n", ref_p1, p1);
  EXPECT_NEAR(p1, ref_p1, 0.02) << resumed.output;
}

TEST(DataParallelCli, KilledRankIsReportedAndResumeCompletes) {
  KilledRankThenResume(false);
}

TEST(DataParallelCli, KilledRankWithShardedOutputResumesFromItsShards) {
  KilledRankThenResume(true);
}

// Rank 0's JSON epoch lines of `out`, each cut to its "loss" and "p@1"
// fields: {"epoch N" -> "loss ... p@1 ..."}.
std::map<std::string, std::string> EpochFigures(const std::string& out) {
  std::map<std::string, std::string> figures;
  std::istringstream in(out);
  auto field = [](const std::string& line, const std::string& key) {
    const size_t at = line.find("\"" + key + "\": ");
    if (at == std::string::npos) return std::string();
    return line.substr(at, line.find(',', at) - at);
  };
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("[rank 0] {\"epoch\": ", 0) != 0) continue;
    figures[field(line, "epoch")] = field(line, "loss") + " " + field(line, "p@1");
  }
  return figures;
}

// A resume from the shards restores everything training reads (weights,
// Adam moments, step, schedule position, data order): with a dense output
// (no LSH tables, which are rebuilt from the weights rather than saved) 2
// epochs, then --resume to 4, print an uninterrupted run's epochs 3 and 4
// digit for digit.
TEST(DataParallelCli, ShardedOutputResumedEqualsUninterrupted) {
  const std::string train = kData + "/bibtex/train.txt";
  const std::string test = kData + "/bibtex/test.txt";
  struct stat st;
  if (stat(train.c_str(), &st) != 0) GTEST_SKIP() << "bibtex data not found";
  TempDir dir;
  auto run = [&](const std::string& model, const std::string& extra) {
    return Shell(kFrugal + " launch -n 3 -- " + kFrugal + " train --train '" + train +
                 "' --test '" + test + "' --hidden 32 --loss softmax --lr 0.002 --batch 64" +
                 " --threads 1 --seed 1 --shard-output --exact-eval --json --model '" +
                 model + "' " + extra);
  };
  const Result whole = run(dir.path() + "/whole.model", "--epochs 4");
  ASSERT_EQ(whole.status, 0) << whole.output;
  const std::string split = dir.path() + "/split.model";
  const Result first = run(split, "--epochs 2 --total-epochs 4 --checkpoint-every-epoch");
  ASSERT_EQ(first.status, 0) << first.output;
  const Result rest = run(split, "--epochs 4 --resume");
  ASSERT_EQ(rest.status, 0) << rest.output;
  const auto want = EpochFigures(whole.output), got = EpochFigures(rest.output);
  ASSERT_EQ(want.size(), 4u) << whole.output;
  ASSERT_EQ(got.size(), 2u) << rest.output;
  for (const char* epoch : {"\"epoch\": 3", "\"epoch\": 4"}) {
    EXPECT_EQ(got.at(epoch), want.at(epoch)) << epoch;
  }
}

}  // namespace
}  // namespace frugal::comm
