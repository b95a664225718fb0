// Absurd sizes in outside data (a billion labels, a 2^40 feature id, a line
// of unbounded length, model headers claiming huge layers) give a clear
// error naming the file before any large allocation.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "lsh/hash_family.h"
#include "data/csv.h"
#include "data/featurizer.h"
#include "data/dataset.h"
#include "nn/model.h"
#include "nn/serialize.h"

namespace frugal::nn {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "frugal_limits_" + std::to_string(::getpid()) +
         "_" + name;
}

std::string WriteFile(const std::string& name, const std::string& bytes) {
  const std::string path = TempPath(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The DataError message ReadSparseFile(path) throws; fails if none.
std::string ReadError(const std::string& path, const ReadOptions& o) {
  try {
    ReadSparseFile(path, o);
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << path << " was accepted";
  return "";
}

void ExpectContains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos)
      << "'" << part << "' not in: " << text;
}

TEST(Limits, BillionLabelHeaderRefusedByMaxLabels) {
  const std::string path = WriteFile("labels.txt", "1 10 1000000000\n0 1:1\n");
  ReadOptions o;
  o.max_labels = 1 << 20;
  const std::string e = ReadError(path, o);
  ExpectContains(e, path + ":1:");
  ExpectContains(e, "label count L");
  ExpectContains(e, "below 1048577");
  std::remove(path.c_str());
}

TEST(Limits, DefaultLimitsRefuseHeadersBeyondTwoToThe31) {
  const std::string path = WriteFile("dims.txt", "1 2147483649 5\n0 1:1\n");
  const std::string e = ReadError(path, ReadOptions{});
  ExpectContains(e, path + ":1:");
  ExpectContains(e, "feature count D");
  std::remove(path.c_str());
}

TEST(Limits, FeatureIdOfTwoToThe40IsRefused) {
  // 2^40 = 1099511627776: the parser stops before the id overflows.
  for (const bool xc : {true, false}) {
    const std::string path =
        WriteFile("feature.txt",
                  std::string(xc ? "1 100 5\n" : "") + "0 1099511627776:1\n");
    ReadOptions o;
    o.format = xc ? DataFormat::kXc : DataFormat::kLibsvm;
    const std::string e = ReadError(path, o);
    ExpectContains(e, path + (xc ? ":2:" : ":1:"));
    ExpectContains(e, "a feature id below");
    std::remove(path.c_str());
  }
}

TEST(Limits, LabelIdBeyondHeaderIsRefused) {
  const std::string path = WriteFile("label.txt", "1 100 5\n5 1:1\n");
  const std::string e = ReadError(path, ReadOptions{});
  ExpectContains(e, path + ":2:");
  ExpectContains(e, "a label id below 5");
  std::remove(path.c_str());
}

TEST(Limits, EndlessLineStopsAtMaxLineBytes) {
  // /dev/zero is a line that never ends: the reader must stop at the limit
  // (64 MiB by default) rather than buffer it all.
  for (const DataFormat format : {DataFormat::kXc, DataFormat::kLibsvm}) {
    ReadOptions o;
    o.format = format;
    const std::string e = ReadError("/dev/zero", o);
    ExpectContains(e, "/dev/zero:1: line longer than 67108864 bytes");
  }
  const std::string path =
      WriteFile("long.txt", "1 100 5\n0 " + std::string(5000, '7') + "\n");
  ReadOptions o;
  o.max_line_bytes = 4096;
  ExpectContains(ReadError(path, o), path + ":2: line longer than 4096 bytes");
  std::remove(path.c_str());
}

// A small saved model's bytes, to corrupt.
std::string SmallModelBytes() {
  const Model model(AutoConfig(30, 20, 8));
  const std::string path = TempPath("small.bin");
  SaveModel(model, path);
  std::string bytes = ReadFile(path);
  std::remove(path.c_str());
  return bytes;
}

// Offsets in a model file (nn/serialize.h): after "FRUGALMD", the version
// and the flags, a 32-byte header starting with input_dim, then one 96-byte
// record per layer starting with its width.
constexpr size_t kInputDimAt = 8 + 4 + 4;
constexpr size_t kHiddenDimAt = kInputDimAt + 32;
constexpr size_t kOutputDimAt = kHiddenDimAt + 96;

TEST(Limits, ModelHeaderWithHugeDimensionsIsRefused) {
  const std::string good = SmallModelBytes();
  struct Case {
    size_t offset;
    uint64_t value;
  };
  const Case cases[] = {
      {kInputDimAt, uint64_t{1} << 40},   // a 2^40 input dimension
      {kInputDimAt, uint64_t{1} << 31},   // in range, file far too short
      {kHiddenDimAt, uint64_t{1} << 20},  // beyond the hidden limit
      {kHiddenDimAt, 0},
      {kOutputDimAt, 1000000000},    // a billion labels
      {kOutputDimAt, ~uint64_t{0}},  // overflows any size product
  };
  for (const Case& c : cases) {
    std::string bad = good;
    std::memcpy(&bad[c.offset], &c.value, sizeof(c.value));
    const std::string path = WriteFile("huge.bin", bad);
    try {
      LoadModel(path);
      ADD_FAILURE() << "accepted a header with " << c.value << " at offset "
                    << c.offset;
    } catch (const ModelFileError& e) {
      ExpectContains(e.what(), path);
    }
    std::remove(path.c_str());
  }
}

// `bytes` with its trailing CRC-32 recomputed, as a writer would have.
std::string WithValidChecksum(std::string bytes) {
  const uint32_t crc = uint32_t(
      crc32_z(crc32_z(0, nullptr, 0),
              reinterpret_cast<const Bytef*>(bytes.data()), bytes.size() - 4));
  std::memcpy(&bytes[bytes.size() - 4], &crc, 4);
  return bytes;
}

// A small LSH-sampled model's file, with field `index` of `fields`
// (consecutive 4-byte stored values of the output layer, found by their
// saved values) set to `value` and the checksum made valid again, written
// to a temporary file.
std::string PatchedSparseModel(const std::vector<uint32_t>& fields,
                               size_t index, uint32_t value) {
  const Model model(AutoConfig(8, 64, 8, 0.25f));  // sampled output
  const std::string path = TempPath("sparse.bin");
  SaveModel(model, path);
  std::string bytes = ReadFile(path);
  std::remove(path.c_str());
  const std::string find(reinterpret_cast<const char*>(fields.data()),
                         fields.size() * 4);
  // The output layer's record is the last one with these values (a dense
  // hidden layer stores default LSH settings too).
  const size_t at = bytes.rfind(find);
  EXPECT_NE(at, std::string::npos) << "stored fields not found";
  if (at == std::string::npos) return "";
  std::memcpy(&bytes[at + 4 * index], &value, 4);
  return WriteFile("patched.bin", WithValidChecksum(bytes));
}

// The ModelFileError LoadModel(path) throws; fails if none.
std::string LoadError(const std::string& path) {
  try {
    LoadModel(path);
  } catch (const ModelFileError& e) {
    return e.what();
  }
  ADD_FAILURE() << path << " was accepted";
  return "";
}

uint32_t AsU32(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// Found by fuzz/model_fuzz: a stored LSH configuration the index refuses
// (here rehash_every 0) escaped LoadModel as std::invalid_argument, without
// the file's name, instead of a ModelFileError.
TEST(Limits, InvalidStoredIndexConfigIsAModelFileError) {
  const lsh::IndexConfig c = AutoConfig(8, 64, 8, 0.25f).output().lsh;
  // replacement, range_bits, selection, rehash_every, stored side by side.
  const std::string path =
      PatchedSparseModel({uint32_t(c.replacement), c.range_bits,
                          uint32_t(c.selection), c.rehash_every},
                         3, 0);
  ASSERT_FALSE(path.empty());
  const std::string e = LoadError(path);
  ExpectContains(e, path);
  ExpectContains(e, "rehash_every");
  std::remove(path.c_str());
}

// Found by fuzz/model_fuzz: a 2.7 KB file whose stored LSH settings asked
// for 3.3 GB of hash tables. Now refused before anything is allocated.
TEST(Limits, AbsurdStoredIndexSizeIsRefusedBeforeAllocating) {
  const lsh::IndexConfig c = AutoConfig(8, 64, 8, 0.25f).output().lsh;
  // hash bin_size, srp_density, bucket_capacity, stored side by side.
  const std::string path = PatchedSparseModel(
      {c.hash.bin_size, AsU32(c.hash.srp_density), c.bucket_capacity}, 2,
      uint32_t{1} << 31);
  ASSERT_FALSE(path.empty());
  const std::string e = LoadError(path);
  ExpectContains(e, path);
  ExpectContains(e, "LSH settings for a");
  std::remove(path.c_str());
}

// k * log2(bin_size) is computed in 32 bits: a k of 2^31 with 4-value bins
// used to wrap to 0 code bits and pass the "at most 32 bits" check, then
// ask for k * l bins.
TEST(Limits, HashConfigWithWrappingCodeBitsIsRefused) {
  for (const lsh::HashKind kind :
       {lsh::HashKind::kDwta, lsh::HashKind::kMinHash}) {
    lsh::HashConfig c;
    c.kind = kind;
    c.k = 1u << 31;
    c.l = 1;
    c.bin_size = 4;
    EXPECT_THROW(lsh::CheckHashConfig(c, 16), std::invalid_argument);
    EXPECT_THROW(lsh::MakeHashFamily(c, 16), std::invalid_argument);
  }
}

// Found by fuzz/csv_fuzz: a numeric value beyond float's range (1e39)
// became an infinite quantile boundary, which the featurizer wrote into the
// model metadata and then refused to read back.
TEST(Limits, NumericBeyondFloatRangeRoundTripsThroughMetadata) {
  const std::string path =
      WriteFile("numeric.csv", "y,x\na,1\nb,1e39\na,-1e39\nb,2\n");
  CsvOptions o;
  FeaturizerConfig fc;
  fc.columns = {{"y", ColumnType::kTarget}, {"x", ColumnType::kNumeric}};
  fc.numeric_buckets = 4;
  CsvReader reader(path, o);
  const Featurizer f = Featurizer::Fit(fc, reader);
  const auto meta = f.ToMetadata();
  Featurizer back;
  ASSERT_NO_THROW(back = Featurizer::FromMetadata(meta));
  EXPECT_EQ(back.ToMetadata(), meta);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace frugal::nn
