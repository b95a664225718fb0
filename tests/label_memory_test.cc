// The label memory (nn/label_memory.h): centroids against a brute-force
// reference, truncation, Model::Predict's blend, and model files carrying it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "nn/label_memory.h"
#include "nn/model.h"
#include "nn/serialize.h"
#include "train/trainer.h"

namespace frugal::nn {
namespace {

// Rows of random features (ids < dim, values in (0, 1]) with 1-3 labels each.
SparseDataset RandomRows(size_t n, size_t dim, size_t labels, uint32_t seed) {
  std::mt19937 rng(seed);
  SparseDataset d(dim, labels);
  for (size_t i = 0; i < n; ++i) {
    std::vector<uint32_t> idx;
    for (size_t j = 0; j < 1 + rng() % 12; ++j) idx.push_back(uint32_t(rng() % dim));
    std::sort(idx.begin(), idx.end());
    idx.erase(std::unique(idx.begin(), idx.end()), idx.end());
    std::vector<float> val;
    for (size_t j = 0; j < idx.size(); ++j) val.push_back(float(1 + rng() % 100) / 100.0f);
    std::vector<uint32_t> y;
    for (size_t j = 0; j < 1 + rng() % 3; ++j) y.push_back(uint32_t(rng() % labels));
    std::sort(y.begin(), y.end());
    y.erase(std::unique(y.begin(), y.end()), y.end());
    d.Add(idx, val, y);
  }
  return d;
}

// Dense centroids as the header defines them, truncated to top_k values.
std::vector<std::vector<double>> Centroids(const SparseDataset& d, size_t top_k) {
  std::vector<std::vector<double>> c(d.num_labels(), std::vector<double>(d.num_features(), 0));
  for (size_t i = 0; i < d.size(); ++i) {
    const SparseRow x = d.row(i);
    double norm = 0;
    for (const float v : x.val) norm += double(v) * v;
    for (const uint32_t y : x.labels) {
      for (size_t j = 0; j < x.idx.size(); ++j) c[y][x.idx[j]] += x.val[j] / std::sqrt(norm);
    }
  }
  for (auto& row : c) {
    std::vector<size_t> order(row.size());
    for (size_t f = 0; f < order.size(); ++f) order[f] = f;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return row[a] > row[b]; });
    for (size_t j = top_k; j < order.size(); ++j) row[order[j]] = 0;
    double norm = 0;
    for (const double v : row) norm += v * v;
    for (double& v : row) v = norm > 0 ? v / std::sqrt(norm) : 0;
  }
  return c;
}

TEST(LabelMemory, QueryGivesTheCosineWithEachLabelsTruncatedCentroid) {
  const SparseDataset d = RandomRows(300, 40, 25, 1);
  for (const size_t top_k : {size_t{4}, size_t{64}}) {
    const LabelMemory m = LabelMemory::Build(d, 25, 40, top_k, 1000, 2);
    const auto c = Centroids(d, top_k);
    std::vector<size_t> per_label(25, 0);
    for (const uint32_t y : m.labels()) ++per_label[y];
    for (size_t y = 0; y < 25; ++y) EXPECT_LE(per_label[y], top_k);
    LabelMemory::Scratch s;
    for (size_t i = 0; i < 20; ++i) {
      const SparseRow x = d.row(i);
      std::vector<uint32_t> labels;
      std::vector<float> scores;
      m.Query(x, 25, s, labels, scores);
      double xn = 0;
      for (const float v : x.val) xn += double(v) * v;
      std::map<uint32_t, double> want;
      for (size_t y = 0; y < 25; ++y) {
        double dot = 0;
        for (size_t j = 0; j < x.idx.size(); ++j) dot += c[y][x.idx[j]] * x.val[j];
        if (dot != 0) want[uint32_t(y)] = dot / std::sqrt(xn);
      }
      ASSERT_EQ(labels.size(), want.size()) << "row " << i << " top_k " << top_k;
      for (size_t j = 0; j < labels.size(); ++j) {
        EXPECT_NEAR(scores[j], want.at(labels[j]), 1e-5);
        if (j > 0) {
          EXPECT_GE(scores[j - 1], scores[j]);
        }
      }
      EXPECT_TRUE(s.touched.empty());
    }
  }
}

TEST(LabelMemory, PostingsKeepTheirLargestEntries) {
  const SparseDataset d = RandomRows(300, 40, 25, 3);
  const LabelMemory all = LabelMemory::Build(d, 25, 40, 64, 1000, 1);
  const LabelMemory capped = LabelMemory::Build(d, 25, 40, 64, 3, 1);
  size_t cut = 0;
  for (size_t f = 0; f < 40; ++f) {
    std::map<uint32_t, float> full;
    for (uint64_t e = all.ptr()[f]; e < all.ptr()[f + 1]; ++e) {
      full[all.labels()[e]] = all.weights()[e];
    }
    std::vector<float> top;
    for (const auto& [y, w] : full) top.push_back(w);
    std::sort(top.rbegin(), top.rend());
    top.resize(std::min<size_t>(3, top.size()));
    std::vector<float> kept;
    for (uint64_t e = capped.ptr()[f]; e < capped.ptr()[f + 1]; ++e) {
      EXPECT_EQ(full.at(capped.labels()[e]), capped.weights()[e]);
      if (e > capped.ptr()[f]) {
        EXPECT_LT(capped.labels()[e - 1], capped.labels()[e]);
      }
      kept.push_back(capped.weights()[e]);
    }
    std::sort(kept.rbegin(), kept.rend());
    EXPECT_EQ(kept, top) << "feature " << f;
    cut += full.size() - kept.size();
  }
  EXPECT_GT(cut, 0u);
  EXPECT_EQ(capped.entries() + cut, all.entries());
}

TEST(LabelMemory, BadArraysAreRefused) {
  EXPECT_THROW(LabelMemory::FromArrays(3, 1, 0.5f, {0, 2}, {0}, {1.0f}), std::invalid_argument);
  EXPECT_THROW(LabelMemory::FromArrays(3, 1, 0.5f, {0, 1}, {3}, {1.0f}), std::invalid_argument);
  EXPECT_THROW(LabelMemory::FromArrays(3, 1, 1.5f, {0, 1}, {0}, {1.0f}), std::invalid_argument);
  EXPECT_THROW(LabelMemory::FromArrays(3, 1, 0.5f, {0, 1}, {0}, {NAN}), std::invalid_argument);
  EXPECT_THROW(LabelMemory::FromArrays(3, 1, 0.5f, {1, 0, 1}, {0}, {1.0f}),
               std::invalid_argument);
  EXPECT_NO_THROW(LabelMemory::FromArrays(3, 1, 0.5f, {0, 0, 1}, {2}, {1.0f}));
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(LabelMemory, PredictBlendsItAndModelFilesKeepIt) {
  const SparseDataset d = RandomRows(2000, 50, 6000, 2);
  ModelConfig mc = AutoConfig(50, 6000, 16);  // sampled output (> 4096)
  Model model(mc);
  EXPECT_THROW(model.set_label_memory(LabelMemory::Build(d, 6000, 49, 8, 1000, 1)),
               std::invalid_argument);
  model.set_label_memory(LabelMemory::Build(d, 6000, 50, 8, 1000, 1));
  const LabelMemory& m = model.label_memory();
  for (size_t i = 0; i < 10; ++i) {
    const SparseRow x = d.row(i);
    Model::Activations a;
    std::vector<uint32_t> net, blended, memory;
    std::vector<float> net_s, blended_s, memory_s;
    LabelMemory::Scratch s;
    model.label_memory().set_blend(0.0f);
    model.Predict(x, 5, true, a, net, net_s);
    model.label_memory().set_blend(1.0f);
    model.Predict(x, 5, true, a, blended, blended_s);
    m.Query(x, 5, s, memory, memory_s);
    EXPECT_EQ(blended, memory);  // blend 1: the memory alone
    for (size_t j = 0; j < memory_s.size(); ++j) EXPECT_NEAR(blended_s[j], memory_s[j], 1e-6);
    // blend 0.5 over the union: half the softmax probability plus half the
    // cosine, for the best label recomputed from both parts.
    model.label_memory().set_blend(0.5f);
    model.Predict(x, 1, true, a, blended, blended_s);
    model.label_memory().set_blend(0.0f);
    std::vector<uint32_t> all;
    std::vector<float> logits;
    model.Predict(x, 6000, true, a, all, logits);
    double z = 0;
    for (const float v : logits) z += std::exp(double(v - logits[0]));
    std::vector<uint32_t> ml;
    std::vector<float> ms;
    m.Query(x, 6000, s, ml, ms);
    std::map<uint32_t, double> want;
    for (size_t j = 0; j < all.size(); ++j) {
      want[all[j]] += 0.5 * std::exp(double(logits[j] - logits[0])) / z;
    }
    for (size_t j = 0; j < ml.size(); ++j) want[ml[j]] += 0.5 * ms[j];
    double best = -1;
    for (const auto& [y, v] : want) best = std::max(best, v);
    ASSERT_EQ(blended.size(), 1u);
    EXPECT_NEAR(blended_s[0], best, 1e-5);
    EXPECT_NEAR(want.at(blended[0]), best, 1e-5);
  }

  // Evaluation through PredictBatch: the memory alone computes no layer
  // (no LSH candidates to count), a blend counts the network's.
  for (const float b : {1.0f, 0.5f, 0.0f}) {
    model.label_memory().set_blend(b);
    const EvalResult e = Evaluate(model, d, false, 2);
    EXPECT_EQ(e.samples, d.size());
    if (b >= 1.0f) {
      EXPECT_EQ(e.candidate_recall, -1.0);
      EXPECT_GT(e.p_at[1], 0.5);  // the training rows' own labels
    } else {
      EXPECT_GE(e.candidate_recall, 0.0);
    }
  }

  model.label_memory().set_blend(0.25f);
  const std::string path = ::testing::TempDir() + "label_memory_model.bin";
  SaveModel(model, path);
  const auto loaded = LoadModel(path);
  EXPECT_EQ(loaded->label_memory().blend(), 0.25f);
  EXPECT_EQ(loaded->label_memory().ptr(), m.ptr());
  EXPECT_EQ(loaded->label_memory().labels(), m.labels());
  EXPECT_EQ(loaded->label_memory().weights(), m.weights());
  for (const bool exact : {true, false}) {
    Model::Activations a1, a2;
    std::vector<uint32_t> l1, l2;
    std::vector<float> s1, s2;
    model.Predict(d.row(3), 5, exact, a1, l1, s1);
    loaded->Predict(d.row(3), 5, exact, a2, l2, s2);
    EXPECT_EQ(l1, l2);
    EXPECT_EQ(s1, s2);
  }
  // A flipped byte in the memory, or a file cut inside it, is refused.
  const std::string bytes = ReadBytes(path);
  std::string bad = bytes;
  bad[bad.size() - 12] ^= 0x40;
  EXPECT_THROW(LoadModelFromMemory(bad.data(), bad.size(), "flipped"), ModelFileError);
  bad = bytes.substr(0, bytes.size() - 100);
  EXPECT_THROW(LoadModelFromMemory(bad.data(), bad.size(), "cut"), ModelFileError);
  // Without a memory the file has none.
  model.set_label_memory(LabelMemory());
  SaveModel(model, path);
  EXPECT_TRUE(LoadModel(path)->label_memory().empty());
  EXPECT_LT(ReadBytes(path).size(), bytes.size());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace frugal::nn
