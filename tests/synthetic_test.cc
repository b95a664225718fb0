// The synthetic generators: statistics of the realistic model, determinism
// per row index, and the streaming XC writer (same bytes as WriteXcFile,
// read back by ReadSparseFile).
#include "data/synthetic.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace frugal::nn {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "frugal_synthetic_" +
         std::to_string(::getpid()) + "_" + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A small shape with Amazon-670K's ratios: as many rows as labels
// (490K rows, 670K labels there).
RealisticConfig SmallShape() {
  RealisticConfig c;
  c.num_labels = 20000;
  c.num_features = 8000;
  return c;
}

void ExpectSameRows(const SparseDataset& a, size_t a_first,
                    const SparseDataset& b, size_t b_first, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    const SparseRow x = a.row(a_first + i), y = b.row(b_first + i);
    ASSERT_TRUE(std::equal(x.labels.begin(), x.labels.end(), y.labels.begin(),
                           y.labels.end()))
        << "row " << i;
    ASSERT_TRUE(
        std::equal(x.idx.begin(), x.idx.end(), y.idx.begin(), y.idx.end()))
        << "row " << i;
    ASSERT_TRUE(
        std::equal(x.val.begin(), x.val.end(), y.val.begin(), y.val.end()))
        << "row " << i;
  }
}

TEST(RealisticGenerator, StatisticsMatchTheModel) {
  const RealisticConfig c = SmallShape();
  const RealisticGenerator gen(c);
  const size_t n = 20000;
  const SparseDataset data = gen.Generate(0, n);
  ASSERT_EQ(data.size(), n);
  EXPECT_EQ(data.num_features(), c.num_features);
  EXPECT_EQ(data.num_labels(), c.num_labels);

  std::vector<size_t> per_label(c.num_labels, 0);
  size_t label_total = 0;
  for (size_t i = 0; i < n; ++i) {
    const SparseRow r = data.row(i);
    ASSERT_GE(r.labels.size(), 1u);
    ASSERT_GE(r.idx.size(), 1u);
    // Distinct labels; ascending, distinct features; unit L2 norm.
    std::set<uint32_t> distinct(r.labels.begin(), r.labels.end());
    ASSERT_EQ(distinct.size(), r.labels.size());
    ASSERT_TRUE(std::adjacent_find(r.idx.begin(), r.idx.end(),
                                   [](uint32_t a, uint32_t b) {
                                     return a >= b;
                                   }) == r.idx.end());
    double norm = 0;
    for (float v : r.val) {
      ASSERT_GT(v, 0.0f);
      norm += double(v) * v;
    }
    ASSERT_NEAR(norm, 1.0, 1e-4);
    for (uint32_t l : r.labels) ++per_label[l];
    label_total += r.labels.size();
  }
  // 5.45 labels and 75.7 non-zeros per row on average.
  EXPECT_NEAR(double(label_total) / n, 5.45, 0.1);
  EXPECT_NEAR(double(data.nonzeros()) / n, 75.7, 2.0);

  // Rows per label: a long tail. Most labels that occur do so 1-5 times,
  // while the head label is in over 20 times the mean number of rows.
  size_t seen = 0, rare = 0, max_rows = 0;
  for (size_t k : per_label) {
    seen += k > 0;
    rare += k >= 1 && k <= 5;
    max_rows = std::max(max_rows, k);
  }
  const double mean_rows = double(label_total) / double(c.num_labels);
  EXPECT_NEAR(mean_rows, 5.45, 0.1);  // as many rows as labels
  EXPECT_GT(double(rare), 0.6 * double(seen));
  EXPECT_GT(double(max_rows), 20 * mean_rows);
}

TEST(RealisticGenerator, RowsDependOnlyOnSeedAndIndex) {
  RealisticConfig c = SmallShape();
  const SparseDataset big = RealisticGenerator(c).Generate(0, 600);
  // A range made alone, by another generator object, equals the same rows
  // inside the bigger range.
  const SparseDataset part = RealisticGenerator(c).Generate(250, 100);
  ExpectSameRows(big, 250, part, 0, 100);
  // Another seed, another stream.
  c.seed = 2;
  const SparseDataset other = RealisticGenerator(c).Generate(0, 20);
  size_t same = 0;
  for (size_t i = 0; i < 20; ++i) {
    const SparseRow x = big.row(i), y = other.row(i);
    same += std::equal(x.idx.begin(), x.idx.end(), y.idx.begin(), y.idx.end());
  }
  EXPECT_EQ(same, 0u);
}

TEST(RealisticGenerator, RejectsInvalidSettings) {
  RealisticConfig c = SmallShape();
  c.label_share = 0.7;
  c.cluster_share = 0.5;
  EXPECT_THROW(RealisticGenerator{c}, std::invalid_argument);
  c = SmallShape();
  c.cluster_max = c.cluster_min - 1;
  EXPECT_THROW(RealisticGenerator{c}, std::invalid_argument);
  c = SmallShape();
  c.mean_labels = 0.5;
  EXPECT_THROW(RealisticGenerator{c}, std::invalid_argument);
}

TEST(SteepGenerator, RowsMatchGenerateSynthetic) {
  SyntheticConfig c;
  c.num_labels = 5000;
  c.num_features = 3000;
  const SparseDataset data = GenerateSynthetic(c, 40, 30);
  SparseDataset rows(c.num_features, c.num_labels);
  GeneratedRow row;
  for (size_t i = 40; i < 70; ++i) {
    SteepRow(c, i, row);
    rows.Add(row.idx, row.val, row.labels);
  }
  ExpectSameRows(data, 0, rows, 0, 30);
}

// More rows than one block of the writer (16 x 1,024), so blocks and chunks
// are joined in order.
TEST(WriteGeneratedXc, EqualsInMemoryWriterAndReadsBack) {
  RealisticConfig c = SmallShape();
  c.mean_nonzeros = 12;  // keeps the test fast
  const RealisticGenerator gen(c);
  const size_t first = 1000, count = 17000;
  const std::string streamed = TempPath("streamed.txt");
  const std::string in_memory = TempPath("in_memory.txt");
  const WriteStats stats = WriteGeneratedXc(
      streamed, c.num_features, c.num_labels, first, count,
      [&gen](size_t i, GeneratedRow& row) { gen.Row(i, row); });
  const SparseDataset data = gen.Generate(first, count);
  WriteXcFile(in_memory, data);
  const std::string bytes = ReadFile(streamed);
  EXPECT_EQ(stats.rows, count);
  EXPECT_EQ(stats.bytes, bytes.size());
  EXPECT_GT(stats.seconds, 0.0);
  EXPECT_TRUE(bytes == ReadFile(in_memory)) << "streamed file differs";

  const SparseDataset back = ReadSparseFile(streamed);
  ASSERT_EQ(back.size(), count);
  EXPECT_EQ(back.num_features(), c.num_features);
  EXPECT_EQ(back.num_labels(), c.num_labels);
  for (size_t i = 0; i < count; ++i) {
    const SparseRow x = data.row(i), y = back.row(i);
    ASSERT_TRUE(std::equal(x.labels.begin(), x.labels.end(), y.labels.begin(),
                           y.labels.end()));
    ASSERT_TRUE(
        std::equal(x.idx.begin(), x.idx.end(), y.idx.begin(), y.idx.end()));
    for (size_t j = 0; j < x.val.size(); ++j) {
      ASSERT_NEAR(x.val[j], y.val[j], 1e-5f * x.val[j]);  // 6 digits
    }
  }
  std::remove(streamed.c_str());
  std::remove(in_memory.c_str());
}

TEST(WriteGeneratedXc, SteepRowsEqualInMemoryWriter) {
  SyntheticConfig c;
  c.num_labels = 5000;
  c.num_features = 3000;
  const std::string streamed = TempPath("steep_streamed.txt");
  const std::string in_memory = TempPath("steep_in_memory.txt");
  WriteGeneratedXc(streamed, c.num_features, c.num_labels, 0, 500,
                   [&c](size_t i, GeneratedRow& row) { SteepRow(c, i, row); });
  WriteXcFile(in_memory, GenerateSynthetic(c, 0, 500));
  EXPECT_TRUE(ReadFile(streamed) == ReadFile(in_memory));
  std::remove(streamed.c_str());
  std::remove(in_memory.c_str());
}

TEST(WriteGeneratedXc, UnwritablePathThrows) {
  EXPECT_THROW(WriteGeneratedXc("/nonexistent-dir/x.txt", 10, 10, 0, 1,
                                [](size_t, GeneratedRow& row) {
                                  row.labels = {1};
                                  row.idx = {2};
                                  row.val = {1.0f};
                                }),
               DataError);
}

}  // namespace
}  // namespace frugal::nn
