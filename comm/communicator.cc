#include "comm/communicator.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "comm/gloo_communicator.h"

namespace frugal::comm {

CommError::CommError(const std::string& message, std::vector<int> ranks)
    : std::runtime_error(message), ranks_(std::move(ranks)) {}

namespace {

// size 1: every collective leaves the data as it is.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::chrono::milliseconds timeout() const override {
    return std::chrono::milliseconds(0);
  }
  void Allreduce(float*, size_t, ReduceOp) override { CountAllreduce(); }
  void Allreduce(double*, size_t, ReduceOp) override { CountAllreduce(); }
  void Allreduce(int64_t*, size_t, ReduceOp op) override {
    if (op == ReduceOp::kLogSumExp) {
      throw std::invalid_argument("Allreduce: kLogSumExp needs float or double");
    }
    CountAllreduce();
  }
  void Allgather(const void* data, size_t bytes, void* out) override {
    ++stats_.calls;
    ++stats_.allgather_calls;
    if (bytes > 0) std::memmove(out, data, bytes);
  }
  void AllgathervKnown(const void* data, const std::vector<size_t>& counts,
                       void* out) override {
    ++stats_.calls;
    ++stats_.allgather_calls;
    if (counts.size() != 1) {
      throw std::invalid_argument("AllgathervKnown: expected 1 count");
    }
    if (counts[0] > 0) std::memmove(out, data, counts[0]);
  }
  void Alltoallv(const void* data, const std::vector<size_t>& send_counts,
                 void* out, const std::vector<size_t>& recv_counts) override {
    if (send_counts.size() != 1 || recv_counts.size() != 1 ||
        send_counts[0] != recv_counts[0]) {
      throw std::invalid_argument("Alltoallv: expected 1 matching count");
    }
    ++stats_.calls;
    ++stats_.alltoall_calls;
    if (send_counts[0] > 0) std::memmove(out, data, send_counts[0]);
  }
  void Broadcast(void*, size_t, int root) override {
    if (root != 0) throw std::invalid_argument("Broadcast: root out of range");
    ++stats_.calls;
  }
  void Barrier() override { ++stats_.calls; }

 private:
  void CountAllreduce() {
    ++stats_.calls;
    ++stats_.allreduce_calls;
  }
};

// A non-negative integer environment variable, or -1 when unset or empty.
long long EnvInt(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return -1;
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v, &end, 10);
  if (*end != '\0' || errno != 0 || x < 0 || x > (1 << 30)) {
    throw std::invalid_argument(std::string(name) +
                                " expects a non-negative integer, got '" + v +
                                "'");
  }
  return x;
}

}  // namespace

std::vector<uint8_t> Communicator::AllgathervBytes(const void* data, size_t bytes,
                                                   std::vector<size_t>* counts) {
  std::vector<int64_t> sizes(size_t(size()), 0);
  const int64_t mine = int64_t(bytes);
  Allgather(&mine, sizeof mine, sizes.data());
  std::vector<size_t> byte_counts(sizes.begin(), sizes.end());
  size_t total = 0;
  for (size_t c : byte_counts) total += c;
  std::vector<uint8_t> out(total);
  if (total > 0) AllgathervKnown(data, byte_counts, out.data());
  if (counts != nullptr) *counts = std::move(byte_counts);
  return out;
}

void Communicator::ReduceScatter(const float* data, const std::vector<size_t>& counts,
                                 float* out) {
  const size_t n = size_t(size()), me = size_t(rank());
  if (counts.size() != n) {
    throw std::invalid_argument("ReduceScatter: " + std::to_string(counts.size()) +
                                " counts for " + std::to_string(n) + " ranks");
  }
  // Every rank's block `me`, in rank order.
  std::vector<size_t> send(n), recv(n, counts[me] * sizeof(float));
  for (size_t r = 0; r < n; ++r) send[r] = counts[r] * sizeof(float);
  std::vector<float> blocks(n * counts[me]);
  Alltoallv(data, send, blocks.data(), recv);
  const size_t m = counts[me];
  if (m == 0) return;
  std::copy_n(blocks.data(), m, out);
  for (size_t r = 1; r < n; ++r) {
    const float* b = blocks.data() + r * m;
    for (size_t i = 0; i < m; ++i) out[i] += b[i];
  }
}

std::unique_ptr<Communicator> MakeLocalCommunicator() {
  return std::make_unique<LocalCommunicator>();
}

void ApplyEnvironment(ConnectOptions* options) {
  const long long rank = EnvInt("FRUGAL_RANK");
  const long long size = EnvInt("FRUGAL_WORLD_SIZE");
  if (rank >= 0) options->rank = int(rank);
  if (size >= 0) options->size = int(size);
  if (const char* v = std::getenv("FRUGAL_RENDEZVOUS"); v != nullptr && *v)
    options->rendezvous = v;
  if (const char* v = std::getenv("FRUGAL_RUN_ID"); v != nullptr && *v)
    options->run_id = v;
}

std::unique_ptr<Communicator> Connect(const ConnectOptions& options) {
  if (options.size < 1) {
    throw std::invalid_argument("world size must be at least 1, got " +
                                std::to_string(options.size));
  }
  if (options.rank < 0 || options.rank >= options.size) {
    throw std::invalid_argument("rank " + std::to_string(options.rank) +
                                " is outside [0, " +
                                std::to_string(options.size) + ")");
  }
  if (options.size == 1 &&
      (options.rendezvous.empty() || options.rendezvous == "local")) {
    return MakeLocalCommunicator();
  }
  return ConnectGloo(options);
}

}  // namespace frugal::comm
