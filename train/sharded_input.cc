#include "train/sharded_input.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

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
                        const std::vector<uint32_t>& rows, InputRowRequests* requests) {
  const size_t n = size_t(comm.size()), me = size_t(comm.rank());
  const uint64_t sent0 = comm.stats().total_bytes();
  ParamBlock& W = model.layer(0).w;
  const size_t cols = W.cols, row_bytes = cols * sizeof(float);
  std::vector<std::vector<uint32_t>>& asked = requests->asked;
  std::vector<std::vector<uint32_t>>& served = requests->served;
  asked.assign(n, {});
  served.assign(n, {});
  for (uint32_t r : rows) asked[r % n].push_back(r);
  // The ids wanted from each owner (none from this rank).
  std::vector<std::vector<uint8_t>> want(n);
  for (size_t q = 0; q < n; ++q) {
    if (q != me) Append(want[q], asked[q].data(), asked[q].size());
  }
  std::vector<size_t> sizes;
  const std::vector<uint8_t> ids = Exchange(comm, want, &sizes);
  std::vector<size_t> send_counts(n), recv_counts(n);
  for (size_t q = 0, at = 0; q < n; at += sizes[q], ++q) {
    served[q].resize(sizes[q] / sizeof(uint32_t));
    if (sizes[q] > 0) std::memcpy(served[q].data(), ids.data() + at, sizes[q]);
    send_counts[q] = served[q].size() * row_bytes;
    recv_counts[q] = q == me ? 0 : asked[q].size() * row_bytes;
  }
  served[me] = asked[me];
  // Reply: the requested rows' current values, in the order asked; the
  // sizes are known on both sides.
  std::vector<uint8_t> reply;
  for (size_t q = 0; q < n; ++q) {
    if (q == me) continue;
    for (uint32_t r : served[q]) Append(reply, W.w.data() + size_t{r} * W.stride, cols);
  }
  size_t total = 0;
  for (size_t c : recv_counts) total += c;
  std::vector<uint8_t> values(total);
  comm.Alltoallv(reply.data(), send_counts, values.data(), recv_counts);
  for (size_t q = 0, at = 0; q < n; at += recv_counts[q], ++q) {
    if (q == me) continue;
    for (size_t i = 0; i < asked[q].size(); ++i) {
      std::memcpy(W.w.data() + size_t{asked[q][i]} * W.stride,
                  values.data() + at + i * row_bytes, row_bytes);
    }
  }
  return comm.stats().total_bytes() - sent0;
}

uint64_t PushInputGradients(Model& model, comm::Communicator& comm,
                            const InputRowRequests& requests,
                            std::vector<std::vector<uint32_t>>& touched,
                            std::vector<uint8_t>& mark) {
  const size_t n = size_t(comm.size());
  const uint64_t sent0 = comm.stats().total_bytes();
  ParamBlock& W = model.layer(0).w;
  ParamBlock& B = model.layer(0).b;
  const size_t cols = W.cols, bias = B.g.size();
  const auto& asked = requests.asked;
  const auto& served = requests.served;
  if (asked.size() != n || served.size() != n) {
    throw std::logic_error("PushInputGradients: no fetch for this communicator");
  }
  // The rows touched must be the rows fetched: as many, each of them marked.
  size_t touched_rows = 0, fetched_rows = 0;
  bool all_marked = true;
  for (const auto& list : touched) touched_rows += list.size();
  for (const auto& list : asked) {
    fetched_rows += list.size();
    for (uint32_t r : list) all_marked = all_marked && mark[r];
  }
  if (touched_rows != fetched_rows || !all_marked) {
    throw std::logic_error("PushInputGradients: the rows touched are not the rows fetched");
  }
  // To each owner (this rank too): the gradient rows of the rows it served,
  // in the order asked, then this rank's bias gradient.
  std::vector<size_t> send_counts(n), recv_counts(n);
  std::vector<uint8_t> send;
  for (size_t q = 0; q < n; ++q) {
    send_counts[q] = (asked[q].size() * cols + bias) * sizeof(float);
    recv_counts[q] = (served[q].size() * cols + bias) * sizeof(float);
    for (uint32_t r : asked[q]) Append(send, W.g.data() + size_t{r} * W.stride, cols);
    Append(send, B.g.data(), bias);
  }
  size_t total = 0;
  for (size_t c : recv_counts) total += c;
  std::vector<uint8_t> got(total);
  comm.Alltoallv(send.data(), send_counts, got.data(), recv_counts);
  // Every touched row's gradient is rebuilt: zero, then the ranks' in rank
  // order (owned rows) or nothing (the others); the bias likewise.
  for (const auto& list : asked) {
    for (uint32_t r : list) {
      std::fill_n(W.g.data() + size_t{r} * W.stride, cols, 0.0f);
      mark[r] = 0;
    }
  }
  std::fill(B.g.begin(), B.g.end(), 0.0f);
  auto add = [](float* g, const uint8_t* from, size_t count) {
    for (size_t c = 0; c < count; ++c) {
      float x;
      std::memcpy(&x, from + c * sizeof x, sizeof x);
      g[c] += x;
    }
  };
  std::vector<uint32_t> owned;
  for (size_t q = 0, at = 0; q < n; at += recv_counts[q], ++q) {
    const size_t k = served[q].size();
    for (size_t i = 0; i < k; ++i) {
      const uint32_t r = served[q][i];
      add(W.g.data() + size_t{r} * W.stride, got.data() + at + i * cols * sizeof(float),
          cols);
      if (!mark[r]) {
        mark[r] = 1;
        owned.push_back(r);
      }
    }
    add(B.g.data(), got.data() + at + k * cols * sizeof(float), bias);
  }
  std::sort(owned.begin(), owned.end());
  const size_t T = touched.size();
  for (auto& list : touched) list.clear();
  for (uint32_t r : owned) touched[r % T].push_back(r);
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
