#include "nn/label_memory.h"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>

namespace frugal::nn {

void LabelMemory::Scratch::TopTouched(size_t k, std::vector<uint32_t>& labels,
                                      std::vector<float>& out) {
  const size_t kk = std::min(k, touched.size());
  const auto by_score = [&](uint32_t a, uint32_t b) {
    return score[a] > score[b] || (score[a] == score[b] && a < b);
  };
  std::partial_sort(touched.begin(), touched.begin() + kk, touched.end(), by_score);
  labels.assign(touched.begin(), touched.begin() + kk);
  out.resize(kk);
  for (size_t j = 0; j < kk; ++j) out[j] = score[labels[j]];
  for (const uint32_t l : touched) {
    score[l] = 0.0f;
    mark[l] = 0;
  }
  touched.clear();
}

LabelMemory LabelMemory::Build(const SparseDataset& rows, size_t num_labels,
                               size_t input_dim, size_t top_k, size_t max_postings,
                               size_t threads) {
  if (top_k == 0 || max_postings == 0) {
    throw std::invalid_argument("LabelMemory: top_k and max_postings must be at least 1");
  }
  const size_t n = rows.size();
  // Rows per label (label-major CSR of row ids).
  std::vector<uint64_t> by_label(num_labels + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    for (const uint32_t y : rows.row(i).labels) {
      if (y >= num_labels) throw std::invalid_argument("LabelMemory: label out of range");
      ++by_label[y + 1];
    }
  }
  std::partial_sum(by_label.begin(), by_label.end(), by_label.begin());
  std::vector<uint32_t> row_of(by_label.back());
  {
    std::vector<uint64_t> fill(by_label.begin(), by_label.end() - 1);
    for (size_t i = 0; i < n; ++i) {
      for (const uint32_t y : rows.row(i).labels) row_of[fill[y]++] = uint32_t(i);
    }
  }
  std::vector<float> inv_norm(n);
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (const float v : rows.row(i).val) s += double(v) * v;
    inv_norm[i] = s > 0 ? float(1.0 / std::sqrt(s)) : 0.0f;
  }

  // Each label's top_k centroid values, label-major with a fixed stride.
  std::vector<uint32_t> feat(num_labels * top_k);
  std::vector<float> value(num_labels * top_k);
  std::vector<uint32_t> count(num_labels, 0);
  struct Acc {
    std::vector<float> sum;
    std::vector<uint8_t> mark;
    std::vector<uint32_t> touched;
  };
  tbb::enumerable_thread_specific<Acc> accs;
  tbb::task_arena arena(threads ? int(threads) : tbb::task_arena::automatic);
  arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<size_t>(0, num_labels, 256),
                      [&](const tbb::blocked_range<size_t>& r) {
      Acc& a = accs.local();
      if (a.sum.size() != input_dim) {
        a.sum.assign(input_dim, 0.0f);
        a.mark.assign(input_dim, 0);
      }
      for (size_t y = r.begin(); y < r.end(); ++y) {
        for (uint64_t e = by_label[y]; e < by_label[y + 1]; ++e) {
          const SparseRow x = rows.row(row_of[e]);
          const float s = inv_norm[row_of[e]];
          for (size_t j = 0; j < x.idx.size(); ++j) {
            const uint32_t f = x.idx[j];
            if (f >= input_dim) continue;
            if (!a.mark[f]) {
              a.mark[f] = 1;
              a.touched.push_back(f);
            }
            a.sum[f] += s * x.val[j];
          }
        }
        const size_t m = std::min(top_k, a.touched.size());
        const auto larger = [&](uint32_t p, uint32_t q) {
          return a.sum[p] > a.sum[q] || (a.sum[p] == a.sum[q] && p < q);
        };
        std::partial_sort(a.touched.begin(), a.touched.begin() + m, a.touched.end(), larger);
        double norm = 0;
        for (size_t j = 0; j < m; ++j) norm += double(a.sum[a.touched[j]]) * a.sum[a.touched[j]];
        const float inv = norm > 0 ? float(1.0 / std::sqrt(norm)) : 0.0f;
        size_t kept = 0;
        for (size_t j = 0; j < m; ++j) {
          const float v = a.sum[a.touched[j]] * inv;
          if (v == 0.0f) continue;
          feat[y * top_k + kept] = a.touched[j];
          value[y * top_k + kept] = v;
          ++kept;
        }
        count[y] = uint32_t(kept);
        for (const uint32_t f : a.touched) {
          a.sum[f] = 0.0f;
          a.mark[f] = 0;
        }
        a.touched.clear();
      }
    });
  });

  // Transposed to feature-major: labels ascending within a feature.
  LabelMemory m;
  m.num_labels_ = num_labels;
  m.top_k_ = uint32_t(top_k);
  m.ptr_.assign(input_dim + 1, 0);
  for (size_t y = 0; y < num_labels; ++y) {
    for (uint32_t j = 0; j < count[y]; ++j) ++m.ptr_[feat[y * top_k + j] + 1];
  }
  std::partial_sum(m.ptr_.begin(), m.ptr_.end(), m.ptr_.begin());
  m.labels_.resize(m.ptr_.back());
  m.weights_.resize(m.ptr_.back());
  std::vector<uint64_t> fill(m.ptr_.begin(), m.ptr_.end() - 1);
  for (size_t y = 0; y < num_labels; ++y) {
    for (uint32_t j = 0; j < count[y]; ++j) {
      const uint64_t e = fill[feat[y * top_k + j]]++;
      m.labels_[e] = uint32_t(y);
      m.weights_[e] = value[y * top_k + j];
    }
  }
  // Each feature's max_postings largest entries (labels ascending), compacted
  // in place.
  uint64_t out = 0;
  std::vector<uint32_t> order;
  for (size_t f = 0; f < input_dim; ++f) {
    const uint64_t a = m.ptr_[f], b = m.ptr_[f + 1];
    m.ptr_[f] = out;
    if (b - a <= max_postings) {
      for (uint64_t e = a; e < b; ++e, ++out) {
        m.labels_[out] = m.labels_[e];
        m.weights_[out] = m.weights_[e];
      }
      continue;
    }
    order.resize(b - a);
    std::iota(order.begin(), order.end(), 0u);
    const float* w = m.weights_.data() + a;
    std::nth_element(order.begin(), order.begin() + max_postings - 1, order.end(),
                     [&](uint32_t p, uint32_t q) { return w[p] > w[q] || (w[p] == w[q] && p < q); });
    order.resize(max_postings);
    std::sort(order.begin(), order.end());
    for (const uint32_t j : order) {  // j ascending: out <= a + j, no overwrite
      m.labels_[out] = m.labels_[a + j];
      m.weights_[out] = m.weights_[a + j];
      ++out;
    }
  }
  m.ptr_[input_dim] = out;
  m.labels_.resize(out);
  m.weights_.resize(out);
  m.labels_.shrink_to_fit();
  m.weights_.shrink_to_fit();
  return m;
}

LabelMemory LabelMemory::FromArrays(size_t num_labels, uint32_t top_k, float blend,
                                    std::vector<uint64_t> ptr, std::vector<uint32_t> labels,
                                    std::vector<float> weights) {
  auto bad = [](const std::string& what) {
    return std::invalid_argument("label memory: " + what);
  };
  if (ptr.empty() || ptr.front() != 0 || ptr.back() != labels.size() ||
      labels.size() != weights.size()) {
    throw bad("inconsistent sizes");
  }
  for (size_t f = 1; f < ptr.size(); ++f) {
    if (ptr[f] < ptr[f - 1]) throw bad("offsets not ascending");
  }
  if (top_k == 0 || !(blend >= 0.0f && blend <= 1.0f)) throw bad("bad top_k or blend");
  for (size_t e = 0; e < labels.size(); ++e) {
    if (labels[e] >= num_labels || !std::isfinite(weights[e])) {
      throw bad("label or weight out of range");
    }
  }
  LabelMemory m;
  m.num_labels_ = num_labels;
  m.top_k_ = top_k;
  m.blend_ = blend;
  m.ptr_ = std::move(ptr);
  m.labels_ = std::move(labels);
  m.weights_ = std::move(weights);
  return m;
}

void LabelMemory::Accumulate(const SparseRow& x, float scale, Scratch& s) const {
  double norm = 0;
  for (const float v : x.val) norm += double(v) * v;
  if (norm <= 0 || empty()) return;
  s.Reserve(num_labels_);
  const float k = scale * float(1.0 / std::sqrt(norm));
  const size_t dim = input_dim();
  for (size_t j = 0; j < x.idx.size(); ++j) {
    const uint32_t f = x.idx[j];
    if (f >= dim) continue;
    const float v = k * x.val[j];
    for (uint64_t e = ptr_[f]; e < ptr_[f + 1]; ++e) s.Add(labels_[e], v * weights_[e]);
  }
}

void LabelMemory::Query(const SparseRow& x, size_t k, Scratch& s, std::vector<uint32_t>& labels,
                        std::vector<float>& scores) const {
  Accumulate(x, 1.0f, s);
  s.TopTouched(k, labels, scores);
}

}  // namespace frugal::nn
