// Collective communication between the ranks of a data-parallel job.
//
// A Communicator connects `size()` processes, each with a distinct `rank()`
// in [0, size). Every collective is called by every rank in the same order
// with matching arguments (same count and type for Allreduce, same root for
// Broadcast); results are bit-identical on every rank. Each call returns
// within the communicator's timeout or throws CommError: a peer that died, a
// cut link, or a peer that stopped answering never makes a call hang. After a
// CommError the communicator is unusable; connect a new one (a new attempt).
//
// comm/ sits below data/ and nn/: it knows nothing about models.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace frugal::comm {

// A collective or the rendezvous failed. ranks() names the peers involved
// when they are known (a closed connection, a peer that did not arrive);
// it is empty when they are not.
class CommError : public std::runtime_error {
 public:
  CommError(const std::string& message, std::vector<int> ranks);
  const std::vector<int>& ranks() const { return ranks_; }

 private:
  std::vector<int> ranks_;
};

// kLogSumExp: log(sum over the ranks of exp(x)), for float and double only
// (e.g. a softmax's normaliser over logits split between the ranks); -inf
// counts as exp(-inf) = 0.
enum class ReduceOp { kSum, kMin, kMax, kLogSumExp };

// Bytes this rank has put on the wire, by collective, counted from the
// schedules of Gloo's ring allreduce (2 (n-1)/n of the buffer) and ring
// allgatherv (every chunk but the right neighbour's); a broadcast is
// counted at the root as its payload times the receivers; an alltoallv (and
// the reduce-scatter built on it) as the blocks sent to other ranks.
// Headers excluded.
struct CommStats {
  uint64_t allreduce_bytes = 0;
  uint64_t allgather_bytes = 0;
  uint64_t broadcast_bytes = 0;
  uint64_t alltoall_bytes = 0;
  uint64_t calls = 0;  // collectives of every kind, barriers included
  // Collectives by kind (an allgather of any form; an alltoallv, the
  // reduce-scatter's included): a scaling model charges each its hops.
  uint64_t allreduce_calls = 0;
  uint64_t allgather_calls = 0;
  uint64_t alltoall_calls = 0;
  double seconds = 0;  // wall time inside collectives
  uint64_t total_bytes() const {
    return allreduce_bytes + allgather_bytes + broadcast_bytes + alltoall_bytes;
  }
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Upper bound on the wall time of one collective.
  virtual std::chrono::milliseconds timeout() const = 0;

  // In place: data[i] becomes op over every rank's data[i]. `count` in
  // elements, equal on every rank. A sum of floats is reduced in the same
  // order for every rank, so all ranks get the same bits. kLogSumExp on
  // int64_t throws std::invalid_argument.
  virtual void Allreduce(float* data, size_t count, ReduceOp op) = 0;
  virtual void Allreduce(double* data, size_t count, ReduceOp op) = 0;
  virtual void Allreduce(int64_t* data, size_t count, ReduceOp op) = 0;

  // Every rank contributes `bytes` bytes, the same on every rank; `out`
  // (size() * bytes) receives them in rank order.
  virtual void Allgather(const void* data, size_t bytes, void* out) = 0;

  // Rank r contributes counts[r] bytes (every rank passes the same counts;
  // data holds counts[rank()] bytes); `out` (their sum) receives them in
  // rank order. One collective.
  virtual void AllgathervKnown(const void* data, const std::vector<size_t>& counts,
                               void* out) = 0;

  // Every rank contributes `bytes` bytes (may differ per rank, may be 0);
  // returns the concatenation in rank order and, in `counts` (resized to
  // size()), each rank's byte count. Two collectives (counts, then data).
  std::vector<uint8_t> AllgathervBytes(const void* data, size_t bytes,
                                       std::vector<size_t>* counts);

  // Personalised exchange: this rank sends send_counts[s] bytes to rank s
  // (data holds the blocks for ranks 0, 1, ... back to back) and receives
  // recv_counts[s] bytes from rank s into `out` (blocks in rank order). Rank
  // s's send_counts[r] must equal rank r's recv_counts[s]; counts may be 0.
  // Both vectors have size() entries. One collective.
  virtual void Alltoallv(const void* data, const std::vector<size_t>& send_counts,
                         void* out, const std::vector<size_t>& recv_counts) = 0;

  // Sum and scatter: every rank passes the same `counts` (size() entries)
  // and `data` of their sum floats, block r (counts[r] floats) meant for
  // rank r; `out` (counts[rank()] floats) receives the sum over the ranks of
  // their block rank(), added in rank order (deterministic bits). One
  // alltoallv: a rank sends every block but its own.
  void ReduceScatter(const float* data, const std::vector<size_t>& counts,
                     float* out);

  // `bytes` from `root`'s buffer into every rank's `data`.
  virtual void Broadcast(void* data, size_t bytes, int root) = 0;

  virtual void Barrier() = 0;

  const CommStats& stats() const { return stats_; }
  void ResetStats() { stats_ = CommStats(); }

  // Typed allgatherv: the concatenation of every rank's `local` in rank
  // order; `counts` (optional) gets each rank's element count.
  template <typename T>
  std::vector<T> Allgatherv(const std::vector<T>& local,
                            std::vector<size_t>* counts = nullptr) {
    static_assert(std::is_trivially_copyable<T>::value,
                  "Allgatherv moves raw bytes");
    std::vector<size_t> byte_counts;
    const std::vector<uint8_t> all =
        AllgathervBytes(local.data(), local.size() * sizeof(T), &byte_counts);
    std::vector<T> out(all.size() / sizeof(T));
    if (!all.empty()) std::memcpy(out.data(), all.data(), all.size());
    if (counts != nullptr) {
      counts->resize(byte_counts.size());
      for (size_t r = 0; r < byte_counts.size(); ++r)
        (*counts)[r] = byte_counts[r] / sizeof(T);
    }
    return out;
  }

 protected:
  CommStats stats_;
};

// How to reach the other ranks.
struct ConnectOptions {
  int rank = 0;
  int size = 1;
  // "file:///shared/dir" (FileStore: a directory every rank can write),
  // "redis://host[:port]" (RedisStore; no password support: private
  // networks only), or "" / "local" when size is 1.
  std::string rendezvous;
  // Namespace of this attempt's keys in the store; every rank of one
  // attempt passes the same id, and a new attempt (a restart after a
  // failure) a new one. Keys of another id are never read.
  std::string run_id = "frugal";
  // Address to listen on and advertise ("127.0.0.1", a host name), or a
  // network interface ("eth0") in `iface`. Default: loopback.
  std::string hostname = "127.0.0.1";
  std::string iface;
  // Rendezvous and per-collective timeout.
  std::chrono::milliseconds timeout{30000};
};

// A connected communicator: the single-process one when size is 1 and the
// rendezvous is empty or "local", otherwise Gloo over TCP. Throws
// std::invalid_argument for bad options (rank out of range, unknown
// rendezvous scheme) and CommError when the rendezvous fails (a rank that
// does not arrive within the timeout). A Gloo communicator sets SIGPIPE to
// ignored when it has its default action.
std::unique_ptr<Communicator> Connect(const ConnectOptions& options);

// The size-1 communicator: every collective is a copy or nothing.
std::unique_ptr<Communicator> MakeLocalCommunicator();

// Reads FRUGAL_RANK, FRUGAL_WORLD_SIZE, FRUGAL_RENDEZVOUS and FRUGAL_RUN_ID
// into `options` where they are set (non-empty). Throws
// std::invalid_argument naming the variable when one is malformed.
void ApplyEnvironment(ConnectOptions* options);

}  // namespace frugal::comm
