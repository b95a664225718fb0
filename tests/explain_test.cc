// The text classifier's settings (tasks/classifier_settings.h: one mapping
// for the CLI and Python) and occlusion explanations (tasks/explain.h).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tasks/auto_xmc.h"
#include "tasks/classifier_settings.h"
#include "tasks/explain.h"

namespace frugal::nn {
namespace {

// The message of the std::invalid_argument that `f` throws ("" if none).
template <class F>
std::string Error(F f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(ClassifierSettings, CliAndPythonNamesSetTheSameOptions) {
  ClassifierSettings cli = DefaultClassifierSettings();
  ClassifierSettings py = DefaultClassifierSettings();
  for (const auto& [flag, keyword, value, py_value] :
       std::vector<std::array<std::string, 4>>{
           {"columns", "columns", "0:target,1-3:text", "0:target,1-3:text"},
           {"no-header", "header", "", "false"},
           {"last-column-rest", "rest_in_last_column", "", "true"},
           {"batch", "batch_size", "64", "64"},
           {"lr", "lr", "0.01", "0.01"},
           {"no-numeric-values", "numeric_values", "", "0"},
           {"delimiter", "delimiter", "tab", "tab"},
           {"cross", "crosses", "a*b", "a*b"},
           {"members", "members", "3", "3"}}) {
    ApplyClassifierSetting(flag, value, true, &cli);
    ApplyClassifierSetting(keyword, py_value, false, &py);
  }
  const ClassifierOptions a = FinishClassifierSettings(cli);
  const ClassifierOptions b = FinishClassifierSettings(py);
  ASSERT_EQ(a.features.columns.size(), 4u);
  EXPECT_EQ(a.features.columns[3].name, "3");
  EXPECT_EQ(a.features.columns[3].type, ColumnType::kText);
  EXPECT_EQ(b.features.columns.size(), 4u);
  for (const ClassifierOptions* o : {&a, &b}) {
    EXPECT_FALSE(o->csv.header);
    EXPECT_TRUE(o->csv.rest_in_last_column);
    EXPECT_EQ(o->csv.num_columns, 4u);  // the highest index named + 1
    EXPECT_EQ(o->csv.delimiter, '\t');
    EXPECT_EQ(o->batch, 64u);
    EXPECT_FLOAT_EQ(o->lr, 0.01f);
    EXPECT_FALSE(o->features.numeric_values);
    EXPECT_EQ(o->features.crosses.size(), 1u);
    EXPECT_EQ(o->members, 3u);
  }
  // The defaults are the automatic settings.
  const ClassifierSettings d = DefaultClassifierSettings();
  EXPECT_EQ(d.options.hidden, 0u);
  EXPECT_EQ(d.options.epochs, 0u);
  EXPECT_EQ(d.options.lr, 0.0f);
  EXPECT_TRUE(d.options.csv.header);
  EXPECT_EQ(d.options.features.num_features, 1u << 18);
}

TEST(ClassifierSettings, ErrorsNameTheSettingAsSpelled) {
  ClassifierSettings s = DefaultClassifierSettings();
  EXPECT_EQ(Error([&] { ApplyClassifierSetting("lr", "-1", false, &s); }),
            "lr: expected a number >= 0, got '-1'");
  EXPECT_EQ(Error([&] { ApplyClassifierSetting("lr", "0", false, &s); }), "");  // automatic
  EXPECT_EQ(Error([&] { ApplyClassifierSetting("batch", "x", true, &s); }),
            "--batch: expected a non-negative integer, got 'x'");
  EXPECT_EQ(Error([&] { ApplyClassifierSetting("word_ngrams", "9", false, &s); }),
            "word_ngrams: expected an integer in [1, 8], got '9'");
  EXPECT_EQ(Error([&] { ApplyClassifierSetting("header", "maybe", false, &s); }),
            "header: expected a boolean (1, 0, true, false), got 'maybe'");
  EXPECT_EQ(Error([&] { ApplyClassifierSetting("members", "0", true, &s); }),
            "--members: expected an integer in [1, 64], got '0'");
  EXPECT_EQ(Error([&] { ApplyClassifierSetting("nope", "1", false, &s); }),
            "unknown setting 'nope'");
  EXPECT_EQ(Error([&] { ApplyClassifierSetting("batch_size", "1", true, &s); }),
            "unknown setting 'batch_size'");  // a CLI name is not a keyword
  EXPECT_EQ(Error([&] { ApplyClassifierSetting("columns", "a:number", true, &s); }),
            "--columns: unknown column type 'number' (text, categorical, numeric, "
            "target, ignore)");
  ClassifierSettings t = DefaultClassifierSettings();
  EXPECT_EQ(Error([&] { FinishClassifierSettings(t); }),
            "give either --columns or --text-col and --label-col");
  ApplyClassifierSetting("text_col", "body", false, &t);
  ApplyClassifierSetting("label_col", "y", false, &t);
  ApplyClassifierSetting("hidden", "64", false, &t);
  ApplyClassifierSetting("linear", "true", false, &t);
  EXPECT_EQ(Error([&] { FinishClassifierSettings(t); }),
            "--linear and --hidden exclude each other");
}

TEST(XmcAutoSettings, OneMappingForCliAndPython) {
  XmcAutoOptions a, b;
  ApplyXmcAutoSetting("batch", "64", true, &a);
  ApplyXmcAutoSetting("batch_size", "64", false, &b);
  ApplyXmcAutoSetting("budget", "30", true, &a);
  ApplyXmcAutoSetting("budget_seconds", "30", false, &b);
  EXPECT_EQ(a.batch, 64u);
  EXPECT_EQ(b.batch, 64u);
  EXPECT_EQ(a.budget_seconds, 30.0);
  EXPECT_EQ(b.budget_seconds, 30.0);
  EXPECT_EQ(Error([&] { ApplyXmcAutoSetting("loss", "hinge", true, &a); }),
            "--loss: expected softmax or sigmoid, got 'hinge'");
  EXPECT_EQ(Error([&] { ApplyXmcAutoSetting("lr", "0", true, &a); }),
            "--lr: expected a positive number, got '0'");
  ApplyXmcAutoSetting("lr", "0", false, &b);  // Python: 0 is automatic
  EXPECT_EQ(b.lr, 0.0f);
}

TEST(Explain, OcclusionRanksTheDecisiveUnits) {
  const std::string path = ::testing::TempDir() + "explain.csv";
  {
    std::ofstream out(path);
    out << "kind,legs,sound,description\n";
    for (int i = 0; i < 200; ++i) {
      out << (i % 2 ? "cat,4,meow,\"a small furry pet\"\n"
                    : "bird,2,tweet,\"a small pet that flies\"\n");
    }
  }
  ClassifierOptions o;
  o.features.columns = {{"kind", ColumnType::kTarget},
                        {"legs", ColumnType::kNumeric},
                        {"sound", ColumnType::kCategorical},
                        {"description", ColumnType::kText}};
  o.threads = 1;
  const auto c = Classifier::Train(path, o);
  // Only the words tell the classes apart here: legs and sound are empty.
  const std::string_view cat[] = {"", "", "", "A small, FURRY pet"};
  const Explanation e = Explain(*c, cat, 4);
  EXPECT_EQ(c->label_name(e.label), "cat");
  ASSERT_EQ(e.features.size(), 5u);  // a, small, ",", furry, pet
  EXPECT_EQ(e.features[0].unit, "furry");
  EXPECT_EQ(e.features[0].column, 3u);
  EXPECT_EQ(e.features[0].type, ColumnType::kText);
  EXPECT_GT(e.features[0].weight, 0.05f);
  for (size_t i = 1; i < e.features.size(); ++i) {
    EXPECT_LE(e.features[i].weight, e.features[i - 1].weight);
  }
  // Every column's unit is weighed; the weight is the probability's drop.
  const std::string_view bird[] = {"", "2", "tweet", "flies"};
  const Explanation b = Explain(*c, bird, 4);
  EXPECT_EQ(c->label_name(b.label), "bird");
  ASSERT_EQ(b.features.size(), 3u);
  Classifier::Scratch s;
  for (const FeatureWeight& w : b.features) {
    std::string_view occluded[] = {"", "2", "tweet", "flies"};
    occluded[w.column] = w.type == ColumnType::kText ? "" : std::string_view();
    EXPECT_FLOAT_EQ(w.weight, b.probability - c->LabelProbability(occluded, 4, b.label, s));
  }
  EXPECT_EQ(TextTokens("It's a dog-friendly  café!").size(), 9u);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace frugal::nn
