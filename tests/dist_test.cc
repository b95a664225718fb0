// Communicator tests: the size-1 communicator in process; Gloo with 3 ranks
// as forked processes on loopback (collectives, a killed, a hung and a
// missing rank).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "comm/communicator.h"
#include "kernels/hash_id.h"
#include "tests/dist_ranks.h"

namespace frugal::comm {
namespace {

using testing::MonotonicMs;
using testing::RankOptions;
using testing::Ranks;
using testing::TempDir;

TEST(LocalCommunicator, CollectivesAreIdentities) {
  auto comm = Connect(ConnectOptions());
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  std::vector<float> f = {1.5f, -2.0f};
  comm->Allreduce(f.data(), f.size(), ReduceOp::kSum);
  EXPECT_EQ(f, (std::vector<float>{1.5f, -2.0f}));
  std::vector<size_t> counts;
  const std::vector<int> got = comm->Allgatherv(std::vector<int>{4, 5, 6}, &counts);
  EXPECT_EQ(got, (std::vector<int>{4, 5, 6}));
  EXPECT_EQ(counts, (std::vector<size_t>{3}));
  int x = 7;
  comm->Broadcast(&x, sizeof x, 0);
  EXPECT_EQ(x, 7);
  EXPECT_THROW(comm->Broadcast(&x, sizeof x, 1), std::invalid_argument);
  comm->Barrier();
  std::vector<float> lse = {-1.0f, 3.0f};
  comm->Allreduce(lse.data(), lse.size(), ReduceOp::kLogSumExp);
  EXPECT_EQ(lse, (std::vector<float>{-1.0f, 3.0f}));
  int64_t i64 = 1;
  EXPECT_THROW(comm->Allreduce(&i64, 1, ReduceOp::kLogSumExp), std::invalid_argument);
  const char in[3] = {'a', 'b', 'c'};
  char out[3] = {};
  comm->Alltoallv(in, {3}, out, {3});
  EXPECT_EQ(std::string(out, 3), "abc");
  std::vector<float> rs(2);
  comm->ReduceScatter(f.data(), {2}, rs.data());
  EXPECT_EQ(rs, f);
}

TEST(Connect, RejectsBadOptions) {
  ConnectOptions o;
  o.size = 2;
  o.rank = 2;
  EXPECT_THROW(Connect(o), std::invalid_argument);
  o.rank = 0;
  o.rendezvous = "tcp://somewhere";
  EXPECT_THROW(Connect(o), std::invalid_argument);
  o.rendezvous = "file://relative/dir";
  EXPECT_THROW(Connect(o), std::invalid_argument);
  o.rendezvous = "redis://host:notaport";
  EXPECT_THROW(Connect(o), std::invalid_argument);
  o.size = 0;
  EXPECT_THROW(Connect(o), std::invalid_argument);
}

TEST(Connect, ReadsTheEnvironment) {
  setenv("FRUGAL_RANK", "2", 1);
  setenv("FRUGAL_WORLD_SIZE", "4", 1);
  setenv("FRUGAL_RENDEZVOUS", "file:///tmp/x", 1);
  ConnectOptions o;
  ApplyEnvironment(&o);
  EXPECT_EQ(o.rank, 2);
  EXPECT_EQ(o.size, 4);
  EXPECT_EQ(o.rendezvous, "file:///tmp/x");
  setenv("FRUGAL_RANK", "two", 1);
  try {
    ApplyEnvironment(&o);
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("FRUGAL_RANK"), std::string::npos);
  }
  unsetenv("FRUGAL_RANK");
  unsetenv("FRUGAL_WORLD_SIZE");
  unsetenv("FRUGAL_RENDEZVOUS");
}

// The value rank r contributes at index i.
float Value(int r, size_t i) {
  return float(HashId(uint32_t(i), uint32_t(r) + 1) % 20001) * 1e-3f - 10.0f;
}

// A hash of a buffer's bits, to compare replicas across processes.
uint64_t HashBytes(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

// Counts failed checks, naming each in `out`.
struct Checks {
  std::ostream& out;
  int bad = 0;
  void operator()(bool ok, const char* what) {
    if (!ok) {
      out << "FAIL " << what << '\n';
      ++bad;
    }
  }
};

// Every rank exited 0 and printed the same line starting with `key`.
void ExpectSuccessAndSameLine(Ranks& ranks, int size, const std::string& key) {
  const std::vector<int> status = ranks.Wait(60);
  std::string first;
  for (int r = 0; r < size; ++r) {
    const std::string out = ranks.Output(r);
    EXPECT_EQ(status[size_t(r)], 0) << "rank " << r << ": " << out;
    const size_t at = out.find(key);
    ASSERT_NE(at, std::string::npos) << out;
    const std::string line = out.substr(at, out.find('\n', at) - at);
    if (r == 0) first = line;
    EXPECT_EQ(line, first) << "rank " << r << " has different bits";
  }
}

// Alltoallv with uneven (and empty) blocks, ReduceScatter and the
// log-sum-exp allreduce on 3 ranks.
TEST(GlooCommunicator, AlltoallvReduceScatterLogSumExp) {
  TempDir dir;
  constexpr int kSize = 3;
  Ranks ranks(dir.path(), kSize, [&](int r, std::ostream& out) {
    auto comm = Connect(RankOptions(dir.path(), r, kSize, 10000));
    Checks check{out};
    // Rank r sends r + s ints to rank s (rank 0 sends nothing to itself),
    // each the value 100 r + s.
    std::vector<int> send;
    std::vector<size_t> send_counts, recv_counts;
    for (int s = 0; s < kSize; ++s) {
      send_counts.push_back(size_t(r + s) * sizeof(int));
      recv_counts.push_back(size_t(s + r) * sizeof(int));
      for (int k = 0; k < r + s; ++k) send.push_back(100 * r + s);
    }
    std::vector<int> got(size_t(3 * r + 3));
    comm->Alltoallv(send.data(), send_counts, got.data(), recv_counts);
    std::vector<int> want;
    for (int s = 0; s < kSize; ++s)
      for (int k = 0; k < s + r; ++k) want.push_back(100 * s + r);
    check(got == want, "alltoallv");
    check(comm->stats().alltoall_bytes ==
              (3 * uint64_t(r) + 3 - 2 * uint64_t(r)) * sizeof(int),
          "alltoall bytes");

    // Blocks of 5, 0 and 1000 floats.
    const std::vector<size_t> counts = {5, 0, 1000};
    std::vector<float> data(1005);
    for (size_t i = 0; i < data.size(); ++i) data[i] = Value(r, i);
    std::vector<float> mine(counts[size_t(r)]);
    comm->ReduceScatter(data.data(), counts, mine.data());
    const size_t first = r == 0 ? 0 : 5;
    bool rs_ok = true;
    for (size_t i = 0; i < mine.size(); ++i) {
      float want_sum = Value(0, first + i);
      for (int q = 1; q < kSize; ++q) want_sum += Value(q, first + i);
      rs_ok &= mine[i] == want_sum;  // rank order: the same bits
    }
    check(rs_ok, "reduce-scatter");

    // log(sum_r exp(x_r)): x_r = r + i, one -inf column.
    std::vector<float> lf = {float(r), float(r) - 50.0f,
                             -std::numeric_limits<float>::infinity()};
    std::vector<double> ld = {double(r) * 10.0};
    comm->Allreduce(lf.data(), lf.size(), ReduceOp::kLogSumExp);
    comm->Allreduce(ld.data(), ld.size(), ReduceOp::kLogSumExp);
    const double w0 = std::log(std::exp(0.0) + std::exp(1.0) + std::exp(2.0));
    check(std::fabs(lf[0] - w0) < 1e-6, "lse float");
    check(std::fabs(lf[1] - (w0 - 50.0)) < 1e-5, "lse float shifted");
    check(lf[2] == -std::numeric_limits<float>::infinity(), "lse -inf");
    check(std::fabs(ld[0] - (20.0 + std::log1p(std::exp(-10.0) + std::exp(-20.0)))) <
              1e-12,
          "lse double");
    out << "lse-bits " << HashBytes(lf.data(), lf.size() * sizeof(float)) << '\n';
    int64_t i64 = 1;
    try {
      comm->Allreduce(&i64, 1, ReduceOp::kLogSumExp);
      check(false, "lse int64 throws");
    } catch (const std::invalid_argument&) {
    }
    return check.bad;
  });
  ExpectSuccessAndSameLine(ranks, kSize, "lse-bits ");
}

TEST(GlooCommunicator, CollectivesOnThreeRanks) {
  TempDir dir;
  constexpr int kSize = 3;
  constexpr size_t kCount = 100003;  // not a multiple of the ring's chunking
  Ranks ranks(dir.path(), kSize, [&](int r, std::ostream& out) {
    auto comm = Connect(RankOptions(dir.path(), r, kSize, 10000));
    Checks check{out};
    check(comm->rank() == r && comm->size() == kSize, "rank/size");

    std::vector<float> f(kCount);
    for (size_t i = 0; i < kCount; ++i) f[i] = Value(r, i);
    std::vector<float> fmin = f, fmax = f;
    comm->Allreduce(f.data(), kCount, ReduceOp::kSum);
    comm->Allreduce(fmin.data(), kCount, ReduceOp::kMin);
    comm->Allreduce(fmax.data(), kCount, ReduceOp::kMax);
    bool sum_ok = true, minmax_ok = true;
    for (size_t i = 0; i < kCount; ++i) {
      double want = 0;
      float lo = Value(0, i), hi = lo;
      for (int q = 0; q < kSize; ++q) {
        want += Value(q, i);
        lo = std::min(lo, Value(q, i));
        hi = std::max(hi, Value(q, i));
      }
      sum_ok &= std::fabs(f[i] - want) <= 1e-5 * (1 + std::fabs(want));
      minmax_ok &= fmin[i] == lo && fmax[i] == hi;
    }
    check(sum_ok, "float sum");
    check(minmax_ok, "float min/max");
    out << "float-sum-hash " << HashBytes(f.data(), kCount * sizeof(float)) << '\n';

    std::vector<double> d = {double(r) + 0.25, -double(r)};
    comm->Allreduce(d.data(), d.size(), ReduceOp::kSum);
    check(d[0] == 3.75 && d[1] == -3.0, "double sum");
    std::vector<int64_t> n = {int64_t(r) * 1000000000000ll, -int64_t(r)};
    comm->Allreduce(n.data(), 1, ReduceOp::kSum);
    comm->Allreduce(n.data() + 1, 1, ReduceOp::kMin);
    check(n[0] == 3000000000000ll && n[1] == -2, "int64 sum/min");
    std::vector<int64_t> m = {int64_t(r)};
    comm->Allreduce(m.data(), 1, ReduceOp::kMax);
    check(m[0] == kSize - 1, "int64 max");

    // Rank r contributes 3r ids (rank 0 nothing).
    std::vector<uint32_t> mine;
    for (int k = 0; k < 3 * r; ++k) mine.push_back(uint32_t(100 * r + k));
    std::vector<size_t> counts;
    const std::vector<uint32_t> all = comm->Allgatherv(mine, &counts);
    std::vector<uint32_t> want;
    for (int q = 0; q < kSize; ++q)
      for (int k = 0; k < 3 * q; ++k) want.push_back(uint32_t(100 * q + k));
    check(all == want, "allgatherv values");
    check(counts == (std::vector<size_t>{0, 3, 6}), "allgatherv counts");
    // Nobody contributes: an empty result.
    check(comm->Allgatherv(std::vector<uint32_t>(), &counts).empty(), "empty allgatherv");

    // Fixed-size allgather, and allgatherv with counts every rank knows.
    const int64_t pair[2] = {int64_t(r), -int64_t(r)};
    std::vector<int64_t> pairs(2 * kSize);
    comm->Allgather(pair, sizeof pair, pairs.data());
    check(pairs == (std::vector<int64_t>{0, 0, 1, -1, 2, -2}), "allgather");
    const std::vector<size_t> known = {2, 0, 1};
    const char letters[] = {char('a' + r), char('a' + r)};
    std::vector<char> got(3);
    comm->AllgathervKnown(letters, known, got.data());
    check(got == (std::vector<char>{'a', 'a', 'c'}), "allgatherv with known counts");

    std::vector<double> b(1000, r == 1 ? 42.5 : 0.0);
    comm->Broadcast(b.data(), b.size() * sizeof(double), 1);
    check(b == std::vector<double>(1000, 42.5), "broadcast");
    comm->Barrier();
    check(comm->stats().allreduce_bytes > 0 && comm->stats().calls > 0, "stats");
    return check.bad;
  });
  ExpectSuccessAndSameLine(ranks, kSize, "float-sum-hash ");
}

// Ranks loop on allreduces of 1M floats. The parent waits until every rank
// has finished one, then `signal`s rank 2. Returns each survivor's output.
struct FaultResult {
  std::vector<int> status;
  std::vector<std::string> output;
  double fault_ms = 0;  // monotonic time of the signal
};

FaultResult RunWithFault(int signal, int timeout_ms) {
  TempDir dir;
  constexpr int kSize = 3;
  Ranks ranks(dir.path(), kSize, [&](int r, std::ostream& out) {
    auto comm = Connect(RankOptions(dir.path(), r, kSize, timeout_ms));
    std::vector<float> g(1 << 20, 1.0f);
    try {
      for (int step = 0; step < 100000; ++step) {
        comm->Allreduce(g.data(), g.size(), ReduceOp::kMax);
        if (step == 0) out << "ready" << std::endl;
      }
    } catch (const CommError& e) {
      out << "error-at " << MonotonicMs() << " ranks";
      for (int q : e.ranks()) out << ' ' << q;
      out << "\nwhat " << e.what() << std::endl;
      return 0;
    }
    return 1;
  });
  // Wait for every rank to be inside its collective loop.
  const double start = MonotonicMs();
  for (int r = 0; r < kSize; ++r) {
    while (ranks.Output(r).find("ready") == std::string::npos &&
           MonotonicMs() - start < 30000) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  FaultResult result;
  result.fault_ms = MonotonicMs();
  kill(ranks.pid(2), signal);
  result.status = ranks.Wait(4.0 * timeout_ms / 1000 + 5, {0, 1});
  if (signal != SIGKILL) kill(ranks.pid(2), SIGKILL);
  result.status[2] = ranks.Wait(5, {2})[2];
  for (int r = 0; r < kSize; ++r) result.output.push_back(ranks.Output(r));
  return result;
}

void ExpectSurvivorsNameRank2(const FaultResult& f, int timeout_ms) {
  for (int r = 0; r < 2; ++r) {
    const std::string& out = f.output[size_t(r)];
    ASSERT_EQ(f.status[size_t(r)], 0) << "rank " << r << ": " << out;
    const size_t at = out.find("error-at ");
    ASSERT_NE(at, std::string::npos) << out;
    std::istringstream line(out.substr(at + 9));
    double when = 0;
    std::string word;
    line >> when >> word;
    std::vector<int> named;
    for (int q; line >> q;) named.push_back(q);
    std::printf("rank %d: error %.0f ms after the signal (timeout %d ms): %s", r,
                when - f.fault_ms, timeout_ms, out.substr(out.find("what ")).c_str());
    EXPECT_LT(when - f.fault_ms, 2.0 * timeout_ms) << out;
    // Rank 2 is named. On an overloaded machine the other survivor may
    // report after this one's window and be named too; never this rank.
    EXPECT_NE(std::find(named.begin(), named.end(), 2), named.end()) << out;
    EXPECT_EQ(std::find(named.begin(), named.end(), r), named.end()) << out;
    EXPECT_NE(out.find("rank(s) "), std::string::npos) << out;
  }
}

TEST(GlooCommunicator, KilledRankIsNamedWithinTwiceTheTimeout) {
  constexpr int kTimeoutMs = 3000;
  const FaultResult f = RunWithFault(SIGKILL, kTimeoutMs);
  EXPECT_EQ(f.status[2], 128 + SIGKILL);
  ExpectSurvivorsNameRank2(f, kTimeoutMs);
}

TEST(GlooCommunicator, HungRankIsNamedWithinTwiceTheTimeout) {
  constexpr int kTimeoutMs = 2000;
  const FaultResult f = RunWithFault(SIGSTOP, kTimeoutMs);
  ExpectSurvivorsNameRank2(f, kTimeoutMs);
}

TEST(GlooCommunicator, MissingRankIsNamedAtRendezvous) {
  TempDir dir;
  constexpr int kTimeoutMs = 1000;
  Ranks ranks(dir.path(), 2, [&](int r, std::ostream& out) {
    const double t0 = MonotonicMs();
    try {
      Connect(RankOptions(dir.path(), r, 3, kTimeoutMs));
    } catch (const CommError& e) {
      out << "after " << MonotonicMs() - t0 << " ranks";
      for (int q : e.ranks()) out << ' ' << q;
      out << "\nwhat " << e.what() << '\n';
      return 0;
    }
    return 1;
  });
  const std::vector<int> status = ranks.Wait(20);
  for (int r = 0; r < 2; ++r) {
    const std::string out = ranks.Output(r);
    ASSERT_EQ(status[size_t(r)], 0) << out;
    std::istringstream line(out.substr(6));
    double after = 0;
    std::string word;
    int named = -1;
    line >> after >> word >> named;
    EXPECT_EQ(named, 2) << out;
    EXPECT_LT(after, 2.0 * kTimeoutMs) << out;
    EXPECT_NE(out.find("did not arrive"), std::string::npos) << out;
  }
}


// A free TCP port on 127.0.0.1 (bound and released: another process could
// take it in between, which the test then reports as a failed start).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return ntohs(a.sin_port);
}

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

TEST(GlooCommunicator, RedisRendezvous) {
  const char* server = "/usr/bin/redis-server";
  if (access(server, X_OK) != 0) GTEST_SKIP() << "redis-server not installed";
  TempDir dir;
  const int port = FreePort();
  ASSERT_GT(port, 0);
  // redis-server on loopback only, no persistence, for the test's lifetime.
  Ranks redis(dir.path(), 1, [&](int, std::ostream&) {
    const std::string p = std::to_string(port);
    execl(server, server, "--port", p.c_str(), "--bind", "127.0.0.1", "--save", "",
          "--appendonly", "no", "--dir", dir.path().c_str(), nullptr);
    return 127;
  });
  const double start = MonotonicMs();
  while (!Accepts(port) && MonotonicMs() - start < 10000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(Accepts(port)) << "redis-server did not start on port " << port;
  TempDir ranks_dir;
  Ranks ranks(ranks_dir.path(), 3, [&](int r, std::ostream& out) {
    ConnectOptions o = RankOptions(ranks_dir.path(), r, 3, 10000);
    o.rendezvous = "redis://127.0.0.1:" + std::to_string(port);
    auto comm = Connect(o);
    int64_t x = r + 1;
    comm->Allreduce(&x, 1, ReduceOp::kSum);
    out << "sum " << x << '\n';
    return x == 6 ? 0 : 1;
  });
  const std::vector<int> status = ranks.Wait(30);
  for (int r = 0; r < 3; ++r) EXPECT_EQ(status[size_t(r)], 0) << ranks.Output(r);
}

}  // namespace
}  // namespace frugal::comm
