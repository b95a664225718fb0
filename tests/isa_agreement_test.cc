// End to end across instruction sets: a small training run on bibtex gives
// the same top-5 predictions with the best variant this CPU runs as with the
// scalar one (FRUGAL_ISA=scalar). `make test-aarch64` runs it under qemu on
// NEON, SVE_256, SVE2_128 and 512-bit SVE2; natively it compares AVX-512 (or
// AVX2) with scalar.
//
// Tolerance. The variants sum in different orders (lane-wise partial sums,
// FMA), so logits differ by float rounding, which training carries along.
// Measured: at most 3.0e-7 relative (a few float ulps) on NEON, SVE_256,
// SVE2_128, SVE2-512 and AVX-512. Scores (logits) must agree within
// kScoreTol * max(1, |score|), 1e-4 (over 300x that), and the
// top-5 lists must be the same labels in the same order, except that two
// labels whose scores are within that tolerance of each other may swap
// places (a near-tie decided by rounding). The dense output makes the
// training path independent of LSH hash codes; the sparse (LSH) run is
// held to the same bar: a sign flip of a near-zero projection would change
// an active set, which this data and seed do not hit, and would fail loudly.
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dispatch/registry.h"
#include "data/dataset.h"
#include "nn/model.h"
#include "data/batch_source.h"
#include "train/fit.h"
#include "train/trainer.h"
#include "test_util.h"

namespace frugal {
namespace {

constexpr size_t kTrainRows = 300;  // first rows of bibtex/train.txt
constexpr size_t kTestRows = 40;    // first rows of bibtex/test.txt
constexpr size_t kHidden = 32;
constexpr size_t kEpochs = 2;
constexpr size_t kBatch = 32;
constexpr size_t kTopK = 5;
constexpr double kScoreTol = 1e-4;

nn::SparseDataset ReadBibtexHead(const std::string& file, size_t rows) {
  const std::string path = std::string(FRUGAL_DATA_DIR) + "/bibtex/" + file;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    ADD_FAILURE() << path << ": not found (the data sets live in "
                  << "../shared/data beside the checkout)";
    return {};
  }
  const nn::SparseDataset all = nn::ReadSparseFile(path);
  nn::SparseDataset head(all.num_features(), all.num_labels());
  for (size_t i = 0; i < std::min(rows, all.size()); ++i) {
    const nn::SparseRow r = all.row(i);
    head.Add(r.idx, r.val, r.labels);
  }
  return head;
}

struct Predictions {
  std::string variant;  // the variant dispatch chose for every kernel
  std::vector<std::vector<uint32_t>> labels;
  std::vector<std::vector<float>> scores;
};

// Sets FRUGAL_ISA (nullptr: unset), re-chooses the kernels, trains a fresh
// model with fixed seeds on one thread and predicts the top-k of `test`.
Predictions TrainAndPredict(const char* isa, float sparsity,
                            const nn::SparseDataset& train,
                            const nn::SparseDataset& test) {
  if (isa != nullptr) {
    setenv("FRUGAL_ISA", isa, 1);
  } else {
    unsetenv("FRUGAL_ISA");
  }
  dispatch::Reinitialize();
  Predictions out;
  out.variant = dispatch::Report().front().chosen;
  nn::Model model(nn::AutoConfig(train.num_features(), train.num_labels(),
                                 kHidden, sparsity));
  nn::TrainConfig tc;
  tc.batch_size = kBatch;
  tc.threads = 1;
  nn::FitConfig fc;
  fc.epochs = kEpochs;
  nn::InMemorySource source(train, /*seed=*/7);
  nn::Fit(model, source, tc, fc);
  nn::Model::Activations scratch;
  for (size_t i = 0; i < test.size(); ++i) {
    std::vector<uint32_t> labels;
    std::vector<float> scores;
    model.Predict(test.row(i), kTopK, /*exact=*/true, scratch, labels, scores);
    out.labels.push_back(labels);
    out.scores.push_back(scores);
  }
  return out;
}

class IsaAgreement : public ::testing::TestWithParam<float> {};

TEST_P(IsaAgreement, BestVariantPredictsLikeScalar) {
  test::IsaEnvGuard restore;
  const float sparsity = GetParam();
  const nn::SparseDataset train = ReadBibtexHead("train.txt", kTrainRows);
  const nn::SparseDataset test = ReadBibtexHead("test.txt", kTestRows);
  ASSERT_EQ(train.size(), kTrainRows);
  ASSERT_EQ(test.size(), kTestRows);

  const Predictions scalar = TrainAndPredict("scalar", sparsity, train, test);
  const Predictions best = TrainAndPredict(nullptr, sparsity, train, test);
  ASSERT_TRUE(scalar.variant == "scalar" || scalar.variant == "reference")
      << scalar.variant;
  ASSERT_EQ(best.labels.size(), scalar.labels.size());

  double max_err = 0;  // largest score difference relative to max(1, |s|)
  size_t swaps = 0;    // near-tie positions where the labels differ
  for (size_t i = 0; i < test.size(); ++i) {
    const auto &lb = best.labels[i], &ls = scalar.labels[i];
    const auto &sb = best.scores[i], &ss = scalar.scores[i];
    ASSERT_EQ(lb.size(), kTopK) << "row " << i;
    ASSERT_EQ(ls.size(), kTopK) << "row " << i;
    for (size_t j = 0; j < kTopK; ++j) {
      const double scale = std::max(1.0, std::fabs(double(ss[j])));
      const double err = std::fabs(double(sb[j]) - double(ss[j])) / scale;
      max_err = std::max(max_err, err);
      EXPECT_LE(err, kScoreTol)
          << "row " << i << " rank " << j << ": " << best.variant << " "
          << sb[j] << " vs scalar " << ss[j];
      if (lb[j] == ls[j]) continue;
      ++swaps;
      // A different label at this rank: allowed only if the scalar run
      // scored it within the tolerance of the label it put here.
      const auto it = std::find(ls.begin(), ls.end(), lb[j]);
      ASSERT_NE(it, ls.end()) << "row " << i << ": " << best.variant
                              << " ranks label " << lb[j]
                              << " in its top-5, scalar does not";
      const double gap =
          std::fabs(double(ss[size_t(it - ls.begin())]) - double(ss[j]));
      EXPECT_LE(gap / scale, kScoreTol)
          << "row " << i << " rank " << j << ": labels " << lb[j] << " vs "
          << ls[j] << " are not a near-tie";
    }
  }
  std::printf(
      "isa agreement (sparsity %.2f): %s vs %s over %zu rows, top-%zu: max "
      "relative score difference %.3g (tolerance %.0e), %zu near-tie swaps\n",
      double(sparsity), best.variant.c_str(), scalar.variant.c_str(),
      test.size(), kTopK, max_err, kScoreTol, swaps);
}

// 1: dense output (every label scored in training); 0.25: LSH-sampled.
INSTANTIATE_TEST_SUITE_P(DenseAndSparse, IsaAgreement,
                         ::testing::Values(1.0f, 0.25f));

}  // namespace
}  // namespace frugal
