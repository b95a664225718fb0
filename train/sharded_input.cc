#include "train/sharded_input.h"

#include <algorithm>
#include <cstring>

namespace frugal::nn {

namespace {

// Sends to every rank q the bytes blocks[q], and returns what every rank
// sent this one, concatenated in rank order, with each rank's size in
// `sizes`: an alltoallv of the sizes, then of the blocks.
std::vector<uint8_t> Exchange(comm::Communicator& comm,
                              const std::vector<std::vector<uint8_t>>& blocks,
                              std::vector<size_t>* sizes) {
  const size_t n = size_t(comm.size());
  std::vector<uint64_t> send_sizes(n), recv_sizes(n);
  for (size_t q = 0; q < n; ++q) send_sizes[q] = blocks[q].size();
  comm.Alltoallv(send_sizes.data(), std::vector<size_t>(n, sizeof(uint64_t)),
                 recv_sizes.data(), std::vector<size_t>(n, sizeof(uint64_t)));
  std::vector<uint8_t> send;
  std::vector<size_t> send_counts(n);
  for (size_t q = 0; q < n; ++q) {
    send.insert(send.end(), blocks[q].begin(), blocks[q].end());
    send_counts[q] = blocks[q].size();
  }
  sizes->assign(recv_sizes.begin(), recv_sizes.end());
  size_t total = 0;
  for (size_t s : *sizes) total += s;
  std::vector<uint8_t> recv(total);
  comm.Alltoallv(send.data(), send_counts, recv.data(), *sizes);
  return recv;
}

template <typename T>
void Append(std::vector<uint8_t>& out, const T* p, size_t count) {
  const auto* b = reinterpret_cast<const uint8_t*>(p);
  out.insert(out.end(), b, b + count * sizeof(T));
}

}  // namespace

uint64_t FetchInputRows(Model& model, comm::Communicator& comm,
                        const std::vector<uint32_t>& rows) {
  const size_t n = size_t(comm.size()), me = size_t(comm.rank());
  const uint64_t sent0 = comm.stats().total_bytes();
  ParamBlock& W = model.layer(0).w;
  const size_t cols = W.cols;
  // The ids wanted from each owner.
  std::vector<std::vector<uint8_t>> want(n);
  std::vector<std::vector<uint32_t>> asked(n);
  for (uint32_t r : rows) {
    if (r % n != me) asked[r % n].push_back(r);
  }
  for (size_t q = 0; q < n; ++q) Append(want[q], asked[q].data(), asked[q].size());
  std::vector<size_t> sizes;
  const std::vector<uint8_t> requests = Exchange(comm, want, &sizes);
  // Reply: the requested rows' current values, in the order asked.
  std::vector<std::vector<uint8_t>> reply(n);
  for (size_t q = 0, at = 0; q < n; at += sizes[q], ++q) {
    const size_t k = sizes[q] / sizeof(uint32_t);
    reply[q].reserve(k * cols * sizeof(float));
    for (size_t i = 0; i < k; ++i) {
      uint32_t r;
      std::memcpy(&r, requests.data() + at + i * sizeof(uint32_t), sizeof r);
      Append(reply[q], W.w.data() + size_t{r} * W.stride, cols);
    }
  }
  const std::vector<uint8_t> values = Exchange(comm, reply, &sizes);
  for (size_t q = 0, at = 0; q < n; at += sizes[q], ++q) {
    for (size_t i = 0; i < asked[q].size(); ++i) {
      std::memcpy(W.w.data() + size_t{asked[q][i]} * W.stride,
                  values.data() + at + i * cols * sizeof(float), cols * sizeof(float));
    }
  }
  return comm.stats().total_bytes() - sent0;
}

uint64_t PushInputGradients(Model& model, comm::Communicator& comm,
                            std::vector<std::vector<uint32_t>>& touched,
                            std::vector<uint8_t>& mark) {
  const size_t n = size_t(comm.size());
  const uint64_t sent0 = comm.stats().total_bytes();
  ParamBlock& W = model.layer(0).w;
  ParamBlock& B = model.layer(0).b;
  const size_t cols = W.cols;
  std::vector<uint32_t> mine;
  for (const auto& list : touched) mine.insert(mine.end(), list.begin(), list.end());
  std::sort(mine.begin(), mine.end());
  // To each owner (this rank too): [count][ids][gradient rows].
  std::vector<std::vector<uint32_t>> ids(n);
  for (uint32_t r : mine) ids[r % n].push_back(r);
  std::vector<std::vector<uint8_t>> blocks(n);
  for (size_t q = 0; q < n; ++q) {
    const uint32_t k = uint32_t(ids[q].size());
    Append(blocks[q], &k, 1);
    Append(blocks[q], ids[q].data(), k);
    for (uint32_t r : ids[q]) Append(blocks[q], W.g.data() + size_t{r} * W.stride, cols);
  }
  std::vector<size_t> sizes;
  const std::vector<uint8_t> got = Exchange(comm, blocks, &sizes);
  // Every touched row's gradient is rebuilt: zero, then the ranks' in rank
  // order (owned rows) or nothing (the others).
  for (uint32_t r : mine) {
    std::fill_n(W.g.data() + size_t{r} * W.stride, cols, 0.0f);
    mark[r] = 0;
  }
  std::vector<uint32_t> owned;
  for (size_t q = 0, at = 0; q < n; at += sizes[q], ++q) {
    uint32_t k = 0;
    std::memcpy(&k, got.data() + at, sizeof k);
    const uint8_t* id_at = got.data() + at + sizeof k;
    const uint8_t* val_at = id_at + size_t{k} * sizeof(uint32_t);
    for (size_t i = 0; i < k; ++i) {
      uint32_t r;
      std::memcpy(&r, id_at + i * sizeof r, sizeof r);
      float* g = W.g.data() + size_t{r} * W.stride;
      const auto* v = reinterpret_cast<const float*>(val_at + i * cols * sizeof(float));
      for (size_t c = 0; c < cols; ++c) {
        float x;
        std::memcpy(&x, v + c, sizeof x);
        g[c] += x;
      }
      if (!mark[r]) {
        mark[r] = 1;
        owned.push_back(r);
      }
    }
  }
  std::sort(owned.begin(), owned.end());
  const size_t T = touched.size();
  for (auto& list : touched) list.clear();
  for (uint32_t r : owned) touched[r % T].push_back(r);
  comm.Allreduce(B.g.data(), B.g.size(), comm::ReduceOp::kSum);
  return comm.stats().total_bytes() - sent0;
}

void SyncInputLayer(Model& model, comm::Communicator& comm) {
  const size_t n = size_t(comm.size()), me = size_t(comm.rank());
  ParamBlock& W = model.layer(0).w;
  const size_t cols = W.cols, rows = W.rows;
  // Round k holds rows k n .. k n + n - 1, row k n + q owned by rank q; a
  // collective moves kRounds rounds at a time (bounded buffers).
  constexpr size_t kRounds = 256;
  const size_t rounds = (rows + n - 1) / n;
  std::vector<float> send, all;
  std::vector<size_t> counts(n);
  for (size_t k0 = 0; k0 < rounds; k0 += kRounds) {
    const size_t k1 = std::min(rounds, k0 + kRounds);
    // Rank q's rows in rounds [k0, k1).
    auto owned = [&](size_t q) {
      size_t c = 0;
      for (size_t k = k0; k < k1; ++k) c += k * n + q < rows;
      return c;
    };
    for (size_t q = 0; q < n; ++q) counts[q] = owned(q) * cols * sizeof(float);
    for (std::vector<float>* v : {&W.w, &W.m, &W.v}) {
      send.clear();
      for (size_t k = k0; k < k1 && k * n + me < rows; ++k) {
        const size_t r = k * n + me;
        send.insert(send.end(), v->begin() + long(r * W.stride),
                    v->begin() + long(r * W.stride + cols));
      }
      all.resize((k1 - k0) * n * cols);
      comm.AllgathervKnown(send.data(), counts, all.data());
      size_t at = 0;
      for (size_t q = 0; q < n; ++q) {
        for (size_t k = k0; k < k1 && k * n + q < rows; ++k, at += cols) {
          std::copy_n(all.data() + at, cols, v->data() + (k * n + q) * W.stride);
        }
      }
    }
  }
}

}  // namespace frugal::nn
