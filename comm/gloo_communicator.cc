#include "comm/gloo_communicator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <filesystem>
#include <functional>
#include <iterator>
#include <thread>
#include <type_traits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <signal.h>

#include <gloo/allgatherv.h>
#include <gloo/allreduce.h>
#include <gloo/alltoallv.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/common/error.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/redis_store.h>
#include <gloo/transport/tcp/device.h>

namespace frugal::comm {
namespace {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;
using gloo::rendezvous::Store;

// FileStore with its key check public (FileStore::wait polls once a
// second; we poll every 5 ms).
class PollableFileStore final : public gloo::rendezvous::FileStore {
 public:
  using FileStore::FileStore;
  using FileStore::check;
};

// The keys of one attempt: every key is prefixed with "<run_id>/" (as
// gloo::rendezvous::PrefixStore does), and every wait, including the ones
// Gloo's rendezvous makes without a timeout (which would default to 30 s),
// is bounded by `timeout` and polls the base store every 5 ms.
class AttemptStore final : public Store {
 public:
  using CheckFn = std::function<bool(const std::vector<std::string>&)>;
  AttemptStore(std::unique_ptr<Store> base, CheckFn check, std::string prefix,
               Millis timeout)
      : base_(std::move(base)),
        check_(std::move(check)),
        prefix_(std::move(prefix)),
        timeout_(timeout) {}
  void set(const std::string& key, const std::vector<char>& data) override {
    base_->set(Join(key), data);
  }
  std::vector<char> get(const std::string& key) override {
    wait({key}, timeout_);
    return base_->get(Join(key));
  }
  void wait(const std::vector<std::string>& keys) override {
    wait(keys, timeout_);
  }
  void wait(const std::vector<std::string>& keys, const Millis& timeout) override {
    if (!WaitFor(keys, timeout)) {
      throw std::runtime_error("rendezvous: timed out after " +
                               std::to_string(timeout.count()) +
                               " ms waiting for " + keys.front());
    }
  }
  // Whether every key appears within `timeout`.
  bool WaitFor(const std::vector<std::string>& keys, Millis timeout) {
    std::vector<std::string> joined;
    for (const std::string& k : keys) joined.push_back(Join(k));
    const auto deadline = Clock::now() + timeout;
    while (!check_(joined)) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(Millis(5));
    }
    return true;
  }

 private:
  std::string Join(const std::string& key) const { return prefix_ + "/" + key; }
  std::unique_ptr<Store> base_;
  CheckFn check_;
  std::string prefix_;
  Millis timeout_;
};

std::string RankList(const std::vector<int>& ranks) {
  std::string s;
  for (size_t i = 0; i < ranks.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(ranks[i]);
  }
  return s;
}

// The store named by a rendezvous string, keys under `run_id`.
std::unique_ptr<AttemptStore> OpenStore(const std::string& rendezvous,
                                        const std::string& run_id,
                                        Millis timeout) {
  const std::string file = "file://", redis = "redis://";
  if (rendezvous.compare(0, file.size(), file) == 0) {
    const std::string dir = rendezvous.substr(file.size());
    if (dir.empty() || dir[0] != '/') {
      throw std::invalid_argument("rendezvous '" + rendezvous +
                                  "': expected file:///absolute/dir");
    }
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (!std::filesystem::is_directory(dir)) {
      throw std::invalid_argument("rendezvous '" + rendezvous +
                                  "': cannot create directory " + dir);
    }
    auto store = std::make_unique<PollableFileStore>(dir);
    PollableFileStore* raw = store.get();
    return std::make_unique<AttemptStore>(
        std::move(store),
        [raw](const std::vector<std::string>& keys) { return raw->check(keys); },
        run_id, timeout);
  }
  if (rendezvous.compare(0, redis.size(), redis) == 0) {
    std::string host = rendezvous.substr(redis.size());
    int port = 6379;
    if (const size_t colon = host.rfind(':'); colon != std::string::npos) {
      const std::string p = host.substr(colon + 1);
      char* end = nullptr;
      const long v = std::strtol(p.c_str(), &end, 10);
      if (p.empty() || *end != '\0' || v < 1 || v > 65535) {
        throw std::invalid_argument("rendezvous '" + rendezvous +
                                    "': expected redis://host[:port]");
      }
      port = int(v);
      host.resize(colon);
    }
    if (host.empty()) {
      throw std::invalid_argument("rendezvous '" + rendezvous +
                                  "': expected redis://host[:port]");
    }
    try {
      auto store = std::make_unique<gloo::rendezvous::RedisStore>(host, port);
      gloo::rendezvous::RedisStore* raw = store.get();
      return std::make_unique<AttemptStore>(
          std::move(store),
          [raw](const std::vector<std::string>& keys) { return raw->check(keys); },
          run_id, timeout);
    } catch (const std::exception& e) {
      throw CommError("rendezvous '" + rendezvous + "': " + e.what(), {});
    }
  }
  throw std::invalid_argument("rendezvous '" + rendezvous +
                              "': expected file:///dir or redis://host[:port]");
}

class GlooCommunicator final : public Communicator {
 public:
  explicit GlooCommunicator(const ConnectOptions& o)
      : rank_(o.rank), size_(o.size), timeout_(o.timeout) {
    store_ = OpenStore(o.rendezvous, o.run_id, timeout_);
    const std::string where = "rendezvous '" + o.rendezvous + "' (run '" +
                              o.run_id + "')";

    // Arrival: every rank announces itself, so that a rank that never
    // comes is named.
    store_->set("arrived." + std::to_string(rank_), {'1'});
    std::vector<std::string> keys;
    for (int r = 0; r < size_; ++r) keys.push_back("arrived." + std::to_string(r));
    if (!store_->WaitFor(keys, timeout_)) {
      std::vector<int> missing;
      for (int r = 0; r < size_; ++r)
        if (!store_->WaitFor({keys[size_t(r)]}, Millis(0))) missing.push_back(r);
      throw CommError(where + ": rank " + std::to_string(rank_) +
                          " waited " + std::to_string(timeout_.count()) +
                          " ms; rank(s) " + RankList(missing) +
                          " did not arrive",
                      missing);
    }

    try {
      gloo::transport::tcp::attr attr;
      if (!o.iface.empty()) {
        attr.iface = o.iface;
      } else {
        attr.hostname = o.hostname;
      }
      device_ = gloo::transport::tcp::CreateDevice(attr);
      context_ = std::make_shared<gloo::rendezvous::Context>(rank_, size_);
      context_->setTimeout(timeout_);
      context_->connectFullMesh(*store_, device_);
    } catch (const std::exception& e) {
      throw CommError(where + ": rank " + std::to_string(rank_) +
                          " could not connect: " + e.what(),
                      {});
    }

    // Each rank's listening address, to name the peer in transport errors.
    std::string mine;
    for (int r = 0; r < size_ && mine.empty(); ++r) {
      if (r == rank_) continue;
      mine = context_->getPair(r)->address().str();
      mine = mine.substr(0, mine.find('$'));
    }
    std::vector<size_t> counts;
    const std::vector<uint8_t> all = AllgathervBytes(mine.data(), mine.size(), &counts);
    size_t at = 0;
    for (int r = 0; r < size_; ++r) {
      peer_addresses_.emplace_back(reinterpret_cast<const char*>(all.data()) + at,
                                   counts[size_t(r)]);
      at += counts[size_t(r)];
    }
    ResetStats();
  }

  ~GlooCommunicator() override {
    try {
      if (context_) context_->closeConnections();
    } catch (const std::exception&) {
      // Peers already gone: nothing left to close.
    }
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Millis timeout() const override { return timeout_; }

  void Allreduce(float* data, size_t count, ReduceOp op) override {
    AllreduceT(data, count, op);
  }
  void Allreduce(double* data, size_t count, ReduceOp op) override {
    AllreduceT(data, count, op);
  }
  void Allreduce(int64_t* data, size_t count, ReduceOp op) override {
    AllreduceT(data, count, op);
  }

  void Allgather(const void* data, size_t bytes, void* out) override {
    AllgathervKnown(data, std::vector<size_t>(size_t(size_), bytes), out);
  }

  void AllgathervKnown(const void* data, const std::vector<size_t>& counts,
                       void* out) override {
    if (counts.size() != size_t(size_)) {
      throw std::invalid_argument("AllgathervKnown: " + std::to_string(counts.size()) +
                                  " counts for " + std::to_string(size_) + " ranks");
    }
    size_t total = 0;
    for (size_t c : counts) total += c;
    if (total == 0) return;
    // Gloo needs a valid pointer even for an empty contribution.
    uint8_t dummy = 0;
    void* in = counts[size_t(rank_)] > 0 ? const_cast<void*>(data) : &dummy;
    Run("allgatherv", [&] {
      gloo::AllgathervOptions opts(context_);
      opts.setInput(static_cast<uint8_t*>(in), counts[size_t(rank_)]);
      opts.setOutput(static_cast<uint8_t*>(out), counts);
      opts.setTag(NextTag());
      gloo::allgatherv(opts);
    });
    // Ring: a rank forwards every chunk but its right neighbour's.
    stats_.allgather_bytes += total - counts[size_t((rank_ + 1) % size_)];
    ++stats_.allgather_calls;
  }

  void Alltoallv(const void* data, const std::vector<size_t>& send_counts,
                 void* out, const std::vector<size_t>& recv_counts) override {
    if (send_counts.size() != size_t(size_) || recv_counts.size() != size_t(size_)) {
      throw std::invalid_argument("Alltoallv: counts for " + std::to_string(size_) +
                                  " ranks expected");
    }
    std::vector<int64_t> send(send_counts.begin(), send_counts.end());
    std::vector<int64_t> recv(recv_counts.begin(), recv_counts.end());
    size_t send_total = 0, recv_total = 0;
    for (size_t c : send_counts) send_total += c;
    for (size_t c : recv_counts) recv_total += c;
    // Gloo needs valid pointers even for empty buffers.
    uint8_t dummy_in = 0, dummy_out = 0;
    auto* in = send_total > 0 ? static_cast<uint8_t*>(const_cast<void*>(data)) : &dummy_in;
    auto* o = recv_total > 0 ? static_cast<uint8_t*>(out) : &dummy_out;
    Run("alltoallv", [&] {
      gloo::AlltoallvOptions opts(context_);
      opts.setInput(in, send);
      opts.setOutput(o, recv);
      opts.setTag(NextTag());
      gloo::alltoallv(opts);
    });
    stats_.alltoall_bytes += send_total - send_counts[size_t(rank_)];
    ++stats_.alltoall_calls;
  }

  void Broadcast(void* data, size_t bytes, int root) override {
    if (root < 0 || root >= size_) {
      throw std::invalid_argument("Broadcast: root " + std::to_string(root) +
                                  " is outside [0, " + std::to_string(size_) + ")");
    }
    if (bytes == 0) return;
    Run("broadcast", [&] {
      gloo::BroadcastOptions opts(context_);
      auto* p = static_cast<uint8_t*>(data);
      if (rank_ == root) opts.setInput(p, bytes);
      opts.setOutput(p, bytes);
      opts.setRoot(root);
      opts.setTag(NextTag());
      gloo::broadcast(opts);
    });
    if (rank_ == root) stats_.broadcast_bytes += uint64_t(size_ - 1) * bytes;
  }

  void Barrier() override {
    Run("barrier", [&] {
      gloo::BarrierOptions opts(context_);
      opts.setTag(NextTag());
      gloo::barrier(opts);
    });
  }

 private:
  // c[i] = log(exp(a[i]) + exp(b[i])), stable; c may alias a or b.
  template <typename T>
  static void LogSumExp(void* c, const void* a, const void* b, size_t n) {
    auto* out = static_cast<T*>(c);
    const auto* x = static_cast<const T*>(a);
    const auto* y = static_cast<const T*>(b);
    for (size_t i = 0; i < n; ++i) {
      const T hi = std::max(x[i], y[i]), lo = std::min(x[i], y[i]);
      out[i] = lo == -std::numeric_limits<T>::infinity()
                   ? hi
                   : hi + std::log1p(std::exp(lo - hi));
    }
  }

  template <typename T>
  void AllreduceT(T* data, size_t count, ReduceOp op) {
    if constexpr (!std::is_floating_point_v<T>) {
      if (op == ReduceOp::kLogSumExp) {
        throw std::invalid_argument("Allreduce: kLogSumExp needs float or double");
      }
    }
    if (count == 0) return;
    Run("allreduce", [&] {
      gloo::AllreduceOptions opts(context_);
      opts.setOutput(data, count);
      switch (op) {
        case ReduceOp::kSum:
          opts.setReduceFunction(
              static_cast<void (*)(void*, const void*, const void*, size_t)>(
                  &gloo::sum<T>));
          break;
        case ReduceOp::kMin:
          opts.setReduceFunction(
              static_cast<void (*)(void*, const void*, const void*, size_t)>(
                  &gloo::min<T>));
          break;
        case ReduceOp::kMax:
          opts.setReduceFunction(
              static_cast<void (*)(void*, const void*, const void*, size_t)>(
                  &gloo::max<T>));
          break;
        case ReduceOp::kLogSumExp:
          if constexpr (std::is_floating_point_v<T>) {
            opts.setReduceFunction(
                static_cast<void (*)(void*, const void*, const void*, size_t)>(
                    &LogSumExp<T>));
          }
          break;
      }
      opts.setTag(NextTag());
      gloo::allreduce(opts);
    });
    // Ring: reduce-scatter then allgather, each (size-1)/size of the buffer.
    stats_.allreduce_bytes +=
        2 * uint64_t(size_ - 1) * count * sizeof(T) / uint64_t(size_);
    ++stats_.allreduce_calls;
  }

  uint32_t NextTag() { return tag_++; }

  // Runs one collective; any failure becomes a CommError naming the ranks
  // that did not report in after it.
  template <typename F>
  void Run(const char* what, F&& f) {
    if (broken_) {
      throw CommError("communicator of rank " + std::to_string(rank_) +
                          " is unusable after an earlier error",
                      {});
    }
    const auto t0 = Clock::now();
    try {
      f();
    } catch (const std::exception& e) {
      Fail(what, e.what());
    }
    stats_.seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    ++stats_.calls;
  }

  // After a failed collective: close every connection (so that peers blocked
  // on this rank fail now rather than at their timeout), report "failed"
  // in the store, and wait up to min(timeout / 2, 2 s) for the other ranks
  // to report too. Named: the silent ranks whose connection closed (dead);
  // else the silent ones (dead or hung); else the ones whose connection
  // closed.
  [[noreturn]] void Fail(const char* what, const std::string& detail) {
    broken_ = true;
    try {
      context_->closeConnections();
    } catch (const std::exception&) {
    }
    std::vector<int> silent;
    try {
      store_->set("failed." + std::to_string(rank_), {'1'});
      const auto deadline =
          Clock::now() + std::min<Millis>(timeout_ / 2, Millis(2000));
      for (int r = 0; r < size_; ++r) {
        if (r == rank_) continue;
        const std::string key = "failed." + std::to_string(r);
        const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
        if (!store_->WaitFor({key}, std::max(left, Millis(0)))) silent.push_back(r);
      }
    } catch (const std::exception&) {
      // The store itself failed: fall back to the transport's message.
    }
    // The peers the transport error names (a closed or reset connection).
    std::vector<int> closed;
    for (int r = 0; r < size_; ++r) {
      if (r != rank_ && !peer_addresses_.empty() && !peer_addresses_[size_t(r)].empty() &&
          detail.find(peer_addresses_[size_t(r)]) != std::string::npos) {
        closed.push_back(r);
      }
    }
    // A silent peer whose connection closed is dead; other silent peers are
    // dead, hung, or busy outside a collective for the whole window; a peer
    // that reported closed its connections because it failed too.
    std::vector<int> named;
    std::set_intersection(closed.begin(), closed.end(), silent.begin(), silent.end(),
                          std::back_inserter(named));
    std::string why = " closed the connection and did not report back (dead)";
    if (named.empty() && !silent.empty()) {
      named = silent;
      why = " did not report back (dead or hung)";
    } else if (named.empty() && !closed.empty()) {
      named = closed;
      why = " closed the connection";
    }
    std::string message = std::string(what) + " failed on rank " +
                          std::to_string(rank_) + " of " + std::to_string(size_);
    if (!named.empty()) message += "; rank(s) " + RankList(named) + why;
    message += " (" + detail + ")";
    throw CommError(message, named);
  }

  int rank_, size_;
  Millis timeout_;
  std::unique_ptr<AttemptStore> store_;
  std::shared_ptr<gloo::transport::Device> device_;
  std::shared_ptr<gloo::rendezvous::Context> context_;
  std::vector<std::string> peer_addresses_;  // rank -> "[ip]:port"
  uint32_t tag_ = 0;
  bool broken_ = false;
};

}  // namespace

std::unique_ptr<Communicator> ConnectGloo(const ConnectOptions& options) {
  // Gloo writes to sockets without MSG_NOSIGNAL: a write to a dead peer
  // would kill this process with SIGPIPE instead of raising an error.
  struct sigaction current;
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    signal(SIGPIPE, SIG_IGN);
  }
  return std::make_unique<GlooCommunicator>(options);
}

}  // namespace frugal::comm
