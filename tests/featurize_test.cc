// CSV reading and featurization (nn/data/): quoting, malformed input with
// exact messages, tokenization, hashing stability, numeric buckets, labels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "data/csv.h"
#include "data/featurizer.h"

namespace frugal::nn {
namespace {

// Writes `content` to a fresh file under the test temp dir, named after the
// running test (tests run in parallel processes); returns its path.
std::string WriteFile(const std::string& name, const std::string& content) {
  const std::string path =
      ::testing::TempDir() + "featurize_" +
      ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
      name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

std::vector<std::vector<std::string>> ReadAll(CsvReader& r) {
  std::vector<std::vector<std::string>> rows;
  while (r.Next()) {
    rows.emplace_back();
    for (size_t i = 0; i < r.num_fields(); ++i) {
      rows.back().emplace_back(r.field(i));
    }
  }
  return rows;
}

std::string ErrorOf(const std::string& path, const CsvOptions& o) {
  try {
    CsvReader r(path, o);
    ReadAll(r);
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Csv, QuotingPerRfc4180) {
  const std::string path = WriteFile(
      "quoting.csv",
      "\xEF\xBB\xBFid,text,note\r\n"
      "1,\"a, b\",\"say \"\"hi\"\"\"\r\n"
      "\n"
      "2,\"two\nlines\",\r\n"
      "3,,\"\"\n");
  CsvReader r(path, CsvOptions{});
  ASSERT_EQ(r.header(), (std::vector<std::string>{"id", "text", "note"}));
  EXPECT_EQ(r.ColumnIndex("note"), 2u);
  EXPECT_EQ(r.ColumnIndex("1"), 1u);
  std::vector<size_t> lines;
  std::vector<std::vector<std::string>> rows;
  while (r.Next()) {
    lines.push_back(r.line());
    rows.emplace_back();
    for (size_t i = 0; i < r.num_fields(); ++i) rows.back().emplace_back(r.field(i));
  }
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"1", "a, b", "say \"hi\""}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"2", "two\nlines", ""}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"3", "", ""}));
  EXPECT_EQ(lines, (std::vector<size_t>{2, 4, 6}));
}

TEST(Csv, RestOfLineInLastColumnAndTsv) {
  CsvOptions o;
  o.header = false;
  o.num_columns = 2;
  o.rest_in_last_column = true;
  const std::string path =
      WriteFile("rest.csv", "3,hello, world\tand \"quotes\"\n4,\"quoted, whole\"\n");
  CsvReader r(path, o);
  const auto rows = ReadAll(r);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][1], "hello, world\tand \"quotes\"");
  EXPECT_EQ(rows[1][1], "quoted, whole");

  CsvOptions t;
  t.header = false;
  t.delimiter = '\t';
  t.quote = '\0';
  CsvReader tr(WriteFile("t.tsv", "1\t\t\"x\"\n0\t5\t\n"), t);
  const auto trows = ReadAll(tr);
  ASSERT_EQ(trows.size(), 2u);
  EXPECT_EQ(trows[0], (std::vector<std::string>{"1", "", "\"x\""}));
  EXPECT_EQ(trows[1], (std::vector<std::string>{"0", "5", ""}));
}

TEST(Csv, MalformedInputNamesFileLineAndColumn) {
  CsvOptions o;
  const std::string unterminated = WriteFile("unterminated.csv", "a,b\n1,\"open\n2,3\n");
  EXPECT_EQ(ErrorOf(unterminated, o),
            unterminated + ":2: column 2: expected a closing quote for the "
                           "field opened on line 2 (reached the end of the file)");
  const std::string after = WriteFile("after.csv", "a,b\n\"x\"y,1\n");
  EXPECT_EQ(ErrorOf(after, o),
            after + ":2: column 1: expected the delimiter ',' or the end of "
                    "the line after the closing quote");
  const std::string stray = WriteFile("stray.csv", "a,b\n1,x\"y\n");
  EXPECT_EQ(ErrorOf(stray, o),
            stray + ":2: column 2: expected no quote inside an unquoted field "
                    "(quote the whole field and double its quotes)");
  const std::string few = WriteFile("few.csv", "a,b,c\n1,2,3\n4,5\n");
  EXPECT_EQ(ErrorOf(few, o), few + ":3: column 3: expected 3 columns, found 2");
  const std::string many = WriteFile("many.csv", "a,b\n1,2,3,4\n");
  EXPECT_EQ(ErrorOf(many, o), many + ":2: column 3: expected 2 columns, found 4");
  const std::string empty = WriteFile("empty.csv", "");
  EXPECT_EQ(ErrorOf(empty, o), empty + ":1: expected a header line (empty file)");
  EXPECT_EQ(ErrorOf("/nonexistent/x.csv", o),
            "/nonexistent/x.csv: cannot open: No such file or directory");
  CsvOptions small;
  small.max_record_bytes = 8;
  const std::string longline = WriteFile("long.csv", "a,b\n123456789,1\n");
  EXPECT_EQ(ErrorOf(longline, small),
            longline + ":2: expected a record of at most 8 bytes");

  CsvReader named(few, o);
  try {
    named.ColumnIndex("d");
    ADD_FAILURE() << "no error for a missing column";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), few + ": no column 'd' (columns: a, b, c)");
  }
}

TEST(Csv, SkipsAndCountsBadRows) {
  CsvOptions o;
  o.skip_bad_rows = true;
  const std::string path =
      WriteFile("skip.csv", "a,b\n1,2\n3\n\"x\"y,1\n5,6\n7,8,9\n");
  CsvReader r(path, o);
  const auto rows = ReadAll(r);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1], (std::vector<std::string>{"5", "6"}));
  EXPECT_EQ(r.bad_rows(), 3u);
  EXPECT_EQ(r.first_bad_row_error(),
            path + ":3: column 2: expected 2 columns, found 1");
}

TEST(Csv, RecordsLongerThanTheReadBuffer) {
  // The reader refills a 64 KiB buffer: fields and lines cross it.
  const std::string big(200000, 'x');
  const std::string path = WriteFile(
      "long.csv", "a,b\n1," + big + "\n2,\"" + big + "\n" + big + "\"\n3,y");
  CsvReader r(path, CsvOptions{});
  const auto rows = ReadAll(r);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][1], big);
  EXPECT_EQ(rows[1][1], big + "\n" + big);
  EXPECT_EQ(rows[2][1], "y");  // no newline at the end of the file
}

TEST(Csv, RandomBytesNeverCrash) {
  // Garbage made of the characters that matter to the parser: every file
  // either reads or fails with a DataError naming the file and a line.
  std::mt19937 rng(7);
  const char alphabet[] = {',', '"', '\n', '\r', '\t', 'a', '1', ' ', '\0', '\xEF'};
  for (int trial = 0; trial < 150; ++trial) {
    std::string content;
    const size_t n = rng() % 200;
    for (size_t i = 0; i < n; ++i) content += alphabet[rng() % sizeof(alphabet)];
    const std::string path = WriteFile("random.csv", content);
    for (const bool skip : {false, true}) {
      CsvOptions o;
      o.header = trial % 2 == 0;
      o.skip_bad_rows = skip;
      o.rest_in_last_column = trial % 3 == 0;
      o.num_columns = o.rest_in_last_column ? 2 : 0;
      try {
        CsvReader r(path, o);
        while (r.Next()) {
          ASSERT_GT(r.num_fields(), 0u);
          if (r.num_columns()) {
            ASSERT_EQ(r.num_fields(), r.num_columns());
          }
        }
      } catch (const DataError& e) {
        ASSERT_EQ(std::string(e.what()).rfind(path + ":", 0), 0u) << e.what();
      }
    }
  }
}

// Featurizes every record of a headerless one-text-column file.
struct TextCase {
  FeaturizerConfig config;
  Featurizer f;
  explicit TextCase(const std::vector<std::string>& texts, uint32_t ngrams = 2,
                    uint32_t chars = 0) {
    config.columns = {{"0", ColumnType::kTarget}, {"1", ColumnType::kText}};
    config.num_features = 1u << 24;
    config.word_ngrams = ngrams;
    config.char_ngrams = chars;
    std::string content;
    for (const auto& t : texts) content += "x," + t + "\n";
    CsvOptions o;
    o.header = false;
    o.num_columns = 2;
    o.rest_in_last_column = true;
    CsvReader r(WriteFile("text.csv", content), o);
    f = Featurizer::Fit(config, r);
  }
  std::vector<uint32_t> Ids(const std::string& text) const {
    const std::string_view fields[2] = {"x", text};
    FeatureRow row;
    f.Featurize(fields, 2, false, row);
    return row.idx;
  }
};

TEST(Featurizer, TokenizesWordsAndPunctuationCaseInsensitively) {
  const TextCase t({"a"});
  const auto ids = t.Ids("Hello, World!");
  EXPECT_EQ(ids, t.Ids("hello ,world   !"));
  // 4 unigrams (hello , world !) and 3 bigrams.
  EXPECT_EQ(ids.size(), 7u);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_NE(ids, t.Ids("helloworld"));
  // Same unigrams, different bigrams.
  const TextCase u({"a"}, 1);
  EXPECT_EQ(u.Ids("red fox"), u.Ids("fox red"));
  EXPECT_NE(t.Ids("red fox"), t.Ids("fox red"));
  EXPECT_EQ(u.Ids("red fox").size(), 2u);
  // Character 3-grams of "<ab>": "<ab", "ab>", plus the word.
  const TextCase c({"a"}, 1, 3);
  EXPECT_EQ(c.Ids("ab").size(), 3u);
  EXPECT_EQ(c.Ids("AB"), c.Ids("ab"));
  // UTF-8 bytes belong to words: "café" is one token.
  EXPECT_EQ(u.Ids("caf\xC3\xA9").size(), 1u);
}

TEST(Featurizer, RepeatedTokensMergeWithSummedValues) {
  const TextCase t({"a"}, 1);
  EXPECT_EQ(t.f.num_columns(), 2u);
  const std::string_view fields[2] = {"x", "the cat the the"};
  FeatureRow row;
  t.f.Featurize(fields, 2, false, row);
  ASSERT_EQ(row.idx.size(), 2u);
  std::vector<float> vals = row.val;
  std::sort(vals.begin(), vals.end());
  EXPECT_EQ(vals, (std::vector<float>{1.0f, 3.0f}));
}

TEST(Featurizer, HashingIsStable) {
  // Model files depend on these values: a change here breaks saved models.
  EXPECT_EQ(HashString("frugal", 1), HashString("FRUGAL", 1, true));
  EXPECT_NE(HashString("frugal", 1), HashString("frugal", 2));
  EXPECT_NE(HashString("a", 7), HashString(std::string_view("a\0", 2), 7));
  EXPECT_EQ(HashString("frugal", 1), 3617648369u);
  const TextCase t({"a"});
  EXPECT_EQ(t.Ids("stable ids"),
            (std::vector<uint32_t>{4959806, 11533021, 14032102}));
}

// A header "y,n,c1,c2" file: target, numeric, two categoricals.
FeaturizerConfig TabularConfig() {
  FeaturizerConfig c;
  c.columns = {{"y", ColumnType::kTarget},
               {"n", ColumnType::kNumeric},
               {"c1", ColumnType::kCategorical},
               {"c2", ColumnType::kCategorical}};
  c.num_features = 1u << 24;
  c.numeric_buckets = 4;
  return c;
}

std::string TabularFile() {
  std::string content = "y,n,c1,c2\n";
  for (int i = 1; i <= 100; ++i) {
    content += (i % 3 ? "yes," : "no,") + std::to_string(i) + ",a" +
               std::to_string(i % 5) + ",b\n";
  }
  return WriteFile("tabular.csv", content);
}

std::vector<uint32_t> Ids(const Featurizer& f, std::vector<std::string_view> fields,
                          std::vector<uint32_t>* labels = nullptr) {
  FeatureRow row;
  f.Featurize(fields.data(), fields.size(), labels != nullptr, row);
  if (labels) *labels = row.labels;
  return row.idx;
}

TEST(Featurizer, NumericQuantileBucketsCategoricalsAndLabels) {
  CsvReader r(TabularFile(), CsvOptions{});
  const Featurizer f = Featurizer::Fit(TabularConfig(), r);
  ASSERT_EQ(f.num_labels(), 2u);
  EXPECT_EQ(f.label_name(0), "no");
  EXPECT_EQ(f.label_name(1), "yes");
  // Quantile cut points of 1..100 in 4 buckets: 26, 51, 76.
  auto numeric = [&](std::string_view v) { return Ids(f, {"", v, "a0", "b"}); };
  EXPECT_EQ(numeric("10"), numeric("25.9"));
  EXPECT_NE(numeric("10"), numeric("26"));
  EXPECT_EQ(numeric("80"), numeric("1e6"));
  EXPECT_NE(numeric(""), numeric("10"));
  EXPECT_NE(numeric(""), numeric("80"));
  EXPECT_EQ(numeric(" 10 "), numeric("10"));
  EXPECT_EQ(numeric("1").size(), 4u);  // bucket, value, c1, c2
  EXPECT_NE(Ids(f, {"", "1", "a0", "b"}), Ids(f, {"", "1", "a1", "b"}));
  std::vector<uint32_t> labels;
  Ids(f, {"yes", "1", "a0", "b"}, &labels);
  EXPECT_EQ(labels, (std::vector<uint32_t>{1}));
  Ids(f, {"maybe", "1", "a0", "b"}, &labels);
  EXPECT_TRUE(labels.empty());
  try {
    Ids(f, {"yes", "ten", "a0", "b"});
    ADD_FAILURE() << "no error for a non-number";
  } catch (const FieldError& e) {
    EXPECT_EQ(e.column(), 1u);
    EXPECT_EQ(std::string(e.what()), "a number, got 'ten'");
  }
}

// The features of one record as id -> value.
std::map<uint32_t, float> Features(const Featurizer& f,
                                   std::vector<std::string_view> fields) {
  FeatureRow row;
  f.Featurize(fields.data(), fields.size(), false, row);
  std::map<uint32_t, float> out;
  for (size_t i = 0; i < row.idx.size(); ++i) out[row.idx[i]] = row.val[i];
  return out;
}

TEST(Featurizer, NumericValuesAreScaledSignedLogs) {
  CsvReader r(TabularFile(), CsvOptions{});
  const Featurizer f = Featurizer::Fit(TabularConfig(), r);
  // The value feature: the one id of "1" whose value is not 1, also in "99"
  // (their buckets differ).
  const auto one = Features(f, {"", "1", "a0", "b"});
  const auto high = Features(f, {"", "99", "a0", "b"});
  std::vector<uint32_t> shared;
  for (const auto& [id, v] : one) {
    if (v != 1.0f && high.count(id)) shared.push_back(id);
  }
  ASSERT_EQ(shared.size(), 1u);
  const uint32_t value_id = shared[0];
  const double scale = std::log1p(100.0);  // largest value in training: 100
  auto value = [&](std::string_view v) -> double {
    const auto m = Features(f, {"", v, "a0", "b"});
    const auto it = m.find(value_id);
    return it == m.end() ? 0.0 : it->second;
  };
  EXPECT_NEAR(value("10"), std::log1p(10.0) / scale, 1e-6);
  EXPECT_NEAR(value("100"), 1.0, 1e-6);
  EXPECT_NEAR(value("-4"), -std::log1p(4.0) / scale, 1e-6);
  EXPECT_NEAR(value("1e30"), 4.0, 1e-6);  // clamped
  EXPECT_EQ(Features(f, {"", "0", "a0", "b"}).size(), 3u);  // value 0: none
  EXPECT_EQ(Features(f, {"", "", "a0", "b"}).size(), 3u);   // empty: none
  EXPECT_EQ(f.ToMetadata().count("featurizer.value_scale.1"), 1u);

  // Off, and models saved before the option (no value_scale keys): buckets
  // only.
  FeaturizerConfig c = TabularConfig();
  c.numeric_values = false;
  CsvReader r2(TabularFile(), CsvOptions{});
  const Featurizer g = Featurizer::Fit(c, r2);
  EXPECT_EQ(g.ToMetadata().count("featurizer.value_scale.1"), 0u);
  EXPECT_EQ(Features(g, {"", "10", "a0", "b"}).size(), 3u);
  auto m = f.ToMetadata();
  m.erase("featurizer.value_scale.1");
  const Featurizer old = Featurizer::FromMetadata(m);
  EXPECT_FALSE(old.config().numeric_values);
  EXPECT_EQ(Features(old, {"", "10", "a0", "b"}), Features(g, {"", "10", "a0", "b"}));
  m = f.ToMetadata();
  m["featurizer.value_scale.1"] = "-1";
  EXPECT_THROW(Featurizer::FromMetadata(m), std::invalid_argument);
}

TEST(Featurizer, RandomFieldsGiveValidIdsOrAFieldError) {
  FeaturizerConfig c = TabularConfig();
  c.columns.push_back({"3", ColumnType::kText});  // c2 again, as text
  c.columns.erase(c.columns.begin() + 3);         // (not also categorical)
  c.char_ngrams = 3;
  c.num_features = 1000;
  CsvReader r(TabularFile(), CsvOptions{});
  const Featurizer f = Featurizer::Fit(c, r);
  std::mt19937 rng(11);
  const char alphabet[] = {'1', '.', 'e', '-', ' ', 'a', 'Z', ',', '\xC3', '\0'};
  FeatureRow row;
  size_t errors = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string s[4];
    for (std::string& field : s) {
      const size_t n = rng() % 12;
      for (size_t i = 0; i < n; ++i) field += alphabet[rng() % sizeof(alphabet)];
    }
    const std::string_view fields[4] = {s[0], s[1], s[2], s[3]};
    try {
      f.Featurize(fields, 4, true, row);
    } catch (const FieldError& e) {
      ASSERT_EQ(e.column(), 1u);  // only the numeric column can be bad
      ++errors;
      continue;
    }
    ASSERT_EQ(row.idx.size(), row.val.size());
    for (const uint32_t id : row.idx) ASSERT_LT(id, 1000u);
    ASSERT_TRUE(std::is_sorted(row.idx.begin(), row.idx.end()));
    ASSERT_LE(row.labels.size(), 1u);
  }
  EXPECT_GT(errors, 0u);
  EXPECT_LT(errors, 2000u);
}

TEST(Featurizer, CrossesAddOneFeaturePerPair) {
  FeaturizerConfig c = TabularConfig();
  c.crosses = {{"c1", "c2"}};
  CsvReader r(TabularFile(), CsvOptions{});
  const Featurizer f = Featurizer::Fit(c, r);
  EXPECT_EQ(Ids(f, {"", "1", "a0", "b"}).size(), 5u);  // n twice, c1, c2, c1*c2
  c.crosses = {{"c1", "n"}};
  CsvReader r2(TabularFile(), CsvOptions{});
  EXPECT_THROW(Featurizer::Fit(c, r2), DataError);
}

TEST(Featurizer, RareCategoriesShareOneFeature) {
  FeaturizerConfig c = TabularConfig();
  c.min_category_count = 21;  // c1 = a0..a4, 20 times each: all rare
  CsvReader r(TabularFile(), CsvOptions{});
  const Featurizer f = Featurizer::Fit(c, r);
  EXPECT_EQ(Ids(f, {"", "1", "a0", "b"}), Ids(f, {"", "1", "a1", "b"}));
  EXPECT_EQ(Ids(f, {"", "1", "a0", "b"}), Ids(f, {"", "1", "never seen", "b"}));
  // c2 = "b" 100 times: kept, unlike an unseen value.
  EXPECT_NE(Ids(f, {"", "1", "a0", "b"}), Ids(f, {"", "1", "a0", "z"}));
  const Featurizer g = Featurizer::FromMetadata(f.ToMetadata());
  EXPECT_EQ(Ids(g, {"", "1", "a3", "b"}), Ids(f, {"", "1", "a3", "b"}));
  EXPECT_EQ(Ids(g, {"", "1", "a3", "z"}), Ids(f, {"", "1", "a3", "z"}));
  c.min_category_count = 20;  // now a0..a4 are kept
  CsvReader r2(TabularFile(), CsvOptions{});
  const Featurizer h = Featurizer::Fit(c, r2);
  EXPECT_NE(Ids(h, {"", "1", "a0", "b"}), Ids(h, {"", "1", "a1", "b"}));
}

TEST(Featurizer, NonNumberInNumericColumnNamesLineAndColumn) {
  const std::string path = WriteFile("badnum.csv", "y,n,c1,c2\n1,2,a,b\n0,x7,a,b\n");
  CsvReader r(path, CsvOptions{});
  try {
    Featurizer::Fit(TabularConfig(), r);
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), path + ":3: column 2: expected a number, got 'x7'");
  }
  CsvOptions skip;
  skip.skip_bad_rows = true;
  CsvReader fit(path, skip);
  const Featurizer f = Featurizer::Fit(TabularConfig(), fit);
  CsvReader read(path, skip);
  const SparseDataset d = f.ReadDataset(read);
  EXPECT_EQ(d.size(), 1u);
  EXPECT_EQ(read.bad_rows(), 1u);
}

TEST(Featurizer, IntegerLabelsSortNumericallyAndMultiLabelSplits) {
  FeaturizerConfig c;
  c.columns = {{"0", ColumnType::kTarget}, {"1", ColumnType::kText}};
  c.label_delimiter = "|";
  CsvOptions o;
  o.header = false;
  CsvReader r(WriteFile("labels.csv", "10|9,a\n2,b\n9 | 2,c\n"), o);
  const Featurizer f = Featurizer::Fit(c, r);
  ASSERT_EQ(f.num_labels(), 3u);
  EXPECT_EQ(f.label_name(0), "2");
  EXPECT_EQ(f.label_name(1), "9");
  EXPECT_EQ(f.label_name(2), "10");
  EXPECT_EQ(f.num_columns(), 2u);  // known from the first record
  std::vector<uint32_t> labels;
  Ids(f, {"10|2|10", "x"}, &labels);
  EXPECT_EQ(labels, (std::vector<uint32_t>{2, 0}));

  c.columns = {{"0", ColumnType::kTarget}, {"5", ColumnType::kText}};
  const std::string path = WriteFile("narrow.csv", "1,a\n2,b\n");
  CsvReader narrow(path, o);
  try {
    Featurizer::Fit(c, narrow);
    ADD_FAILURE() << "no error for a missing column";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": expected 6 columns or more, found 2");
  }
}

TEST(Featurizer, MetadataRoundTripGivesTheSameFeatures) {
  FeaturizerConfig c = TabularConfig();
  c.crosses = {{"c1", "c2"}};
  CsvReader r(TabularFile(), CsvOptions{});
  const Featurizer f = Featurizer::Fit(c, r);
  const Featurizer g = Featurizer::FromMetadata(f.ToMetadata());
  EXPECT_EQ(g.ToMetadata(), f.ToMetadata());
  for (const char* v : {"", "3", "30", "99", "-4"}) {
    EXPECT_EQ(Features(f, {"", v, "a3", "b"}), Features(g, {"", v, "a3", "b"}))
        << v;
  }
  EXPECT_EQ(g.label_name(1), "yes");
  auto m = f.ToMetadata();
  m.erase("featurizer.labels");
  EXPECT_THROW(Featurizer::FromMetadata(m), std::invalid_argument);
  m = f.ToMetadata();
  m["featurizer.columns"] = "1:numeric,9:text";
  EXPECT_THROW(Featurizer::FromMetadata(m), std::invalid_argument);
}

// Values of `text`'s features by id, featurized by `f`.
std::map<uint32_t, float> Values(const Featurizer& f, const std::string& text) {
  const std::string_view fields[2] = {"x", text};
  FeatureRow row;
  f.Featurize(fields, 2, false, row);
  std::map<uint32_t, float> m;
  for (size_t j = 0; j < row.idx.size(); ++j) m[row.idx[j]] = row.val[j];
  return m;
}

TEST(Featurizer, TfIdfWeightsRareWordsUpAndNormalizesRows) {
  const std::vector<std::string> texts = {"the cat", "the dog", "the fox", "the cat cat"};
  TextCase t(texts, 1);
  t.config.weighting = FeatureWeighting::kTfIdf;
  CsvOptions o;
  o.header = false;
  o.num_columns = 2;
  o.rest_in_last_column = true;
  std::string content;
  for (const auto& x : texts) content += "x," + x + "\n";
  {
    CsvReader r(WriteFile("tfidf.csv", content), o);
    t.f = Featurizer::Fit(t.config, r);
  }
  EXPECT_FALSE(t.f.weighted());
  // Before FitWeights: counted values.
  const auto counted = Values(t.f, "the cat cat");
  ASSERT_EQ(counted.size(), 2u);
  SparseDataset rows;
  {
    CsvReader r(WriteFile("tfidf.csv", content), o);
    rows = t.f.ReadDataset(r);
  }
  ASSERT_EQ(rows.size(), 4u);
  t.f.FitWeights(rows, true);
  ASSERT_TRUE(t.f.weighted());

  // "the" is in every row (idf 1 + ln(5/5) = 1), "fox" in one (1 + ln(5/2)),
  // "cat" in two (1 + ln(5/3)); within a row, the ratio of two values is the
  // ratio of their tf x idf, quantized to 1/16 per idf.
  const uint32_t the = t.Ids("the")[0], fox = t.Ids("fox")[0], cat = t.Ids("cat")[0];
  const auto a = Values(t.f, "the fox");
  EXPECT_NEAR(a.at(fox) / a.at(the), 1.0 + std::log(5.0 / 2.0), 1.0 / 16);
  const auto b = Values(t.f, "the cat cat");
  EXPECT_NEAR(b.at(cat) / b.at(the), (1.0 + std::log(2.0)) * (1.0 + std::log(5.0 / 3.0)),
              2.0 / 16);
  // Every weighted row has L2 norm sqrt(mean features per row) = sqrt(2).
  for (const auto& m : {a, b}) {
    double norm = 0;
    for (const auto& [id, v] : m) norm += double(v) * v;
    EXPECT_NEAR(std::sqrt(norm), std::sqrt(2.0), 1e-5);
  }
  // A word no training row had weighs 0 (its idf was fitted on every row).
  const auto c = Values(t.f, "the zebra");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c.at(t.Ids("zebra")[0]), 0.0f);
  EXPECT_NEAR(c.at(the), std::sqrt(2.0), 1e-5);
  // Rows read before FitWeights get the same values from Weight.
  t.f.Weight(&rows);
  std::map<uint32_t, float> last;
  for (size_t j = 0; j < rows.row(3).idx.size(); ++j) {
    last[rows.row(3).idx[j]] = rows.row(3).val[j];
  }
  EXPECT_EQ(last, b);
}

TEST(Featurizer, TfIdfRoundTripsThroughMetadataAndCorruptionIsRefused) {
  TextCase t({"a b", "a c", "a d d"}, 1);
  t.config.weighting = FeatureWeighting::kTfIdf;
  t.config.num_features = 1u << 12;
  CsvOptions o;
  o.header = false;
  o.num_columns = 2;
  o.rest_in_last_column = true;
  SparseDataset rows;
  {
    CsvReader r(WriteFile("rt.csv", "x,a b\nx,a c\nx,a d d\n"), o);
    t.f = Featurizer::Fit(t.config, r);
  }
  {
    CsvReader r(WriteFile("rt.csv", "x,a b\nx,a c\nx,a d d\n"), o);
    rows = t.f.ReadDataset(r);
  }
  t.f.FitWeights(rows, true);
  const auto m = t.f.ToMetadata();
  ASSERT_EQ(m.at("featurizer.weighting"), "tfidf");
  const Featurizer g = Featurizer::FromMetadata(m);
  EXPECT_TRUE(g.weighted());
  EXPECT_EQ(g.ToMetadata(), m);
  for (const char* text : {"a b", "d d d b", "new words"}) {
    EXPECT_EQ(Values(g, text), Values(t.f, text)) << text;
  }
  // Unweighted featurizers write no weighting keys.
  TextCase plain({"a b"}, 1);
  EXPECT_EQ(plain.f.ToMetadata().count("featurizer.idf"), 0u);
  // kAuto (the default): tf-idf with a text column, counts without one.
  EXPECT_EQ(plain.f.config().weighting, FeatureWeighting::kTfIdf);
  {
    CsvReader r(TabularFile(), CsvOptions{});
    EXPECT_EQ(Featurizer::Fit(TabularConfig(), r).config().weighting, FeatureWeighting::kNone);
  }

  const std::string idf = m.at("featurizer.idf");
  for (const std::string& bad :
       {idf.substr(0, idf.size() - 4), idf.substr(0, idf.size() - 1), "!" + idf.substr(1),
        std::string("AAAA")}) {
    auto c = m;
    c["featurizer.idf"] = bad;
    EXPECT_THROW(Featurizer::FromMetadata(c), std::invalid_argument);
  }
  for (const char* bad : {"0", "-1", "nan", "x"}) {
    auto c = m;
    c["featurizer.row_norm"] = bad;
    EXPECT_THROW(Featurizer::FromMetadata(c), std::invalid_argument);
  }
  auto c = m;
  c["featurizer.weighting"] = "bm25";
  EXPECT_THROW(Featurizer::FromMetadata(c), std::invalid_argument);
  EXPECT_THROW(ParseFeatureWeighting("TFIDF"), std::invalid_argument);
  EXPECT_EQ(ParseFeatureWeighting("none"), FeatureWeighting::kNone);
}

}  // namespace
}  // namespace frugal::nn
