#include "comm/communicator.h"

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
  void Allreduce(float*, size_t, ReduceOp) override { ++stats_.calls; }
  void Allreduce(double*, size_t, ReduceOp) override { ++stats_.calls; }
  void Allreduce(int64_t*, size_t, ReduceOp) override { ++stats_.calls; }
  void Allgather(const void* data, size_t bytes, void* out) override {
    ++stats_.calls;
    if (bytes > 0) std::memmove(out, data, bytes);
  }
  void AllgathervKnown(const void* data, const std::vector<size_t>& counts,
                       void* out) override {
    ++stats_.calls;
    if (counts.size() != 1) {
      throw std::invalid_argument("AllgathervKnown: expected 1 count");
    }
    if (counts[0] > 0) std::memmove(out, data, counts[0]);
  }
  void Broadcast(void*, size_t, int root) override {
    if (root != 0) throw std::invalid_argument("Broadcast: root out of range");
    ++stats_.calls;
  }
  void Barrier() override { ++stats_.calls; }
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
