#include "tasks/classifier_settings.h"

#include <algorithm>
#include <stdexcept>

#include "train/settings.h"

namespace frugal::nn {

const std::vector<ClassifierSettingInfo>& ClassifierSettingList() {
  // cli, python, switch, negated, default, help
  static const std::vector<ClassifierSettingInfo> list = {
      {"columns", "columns", false, false, "",
       "C:TYPE,... (TYPE: target, text, categorical, numeric, ignore; C a "
       "header name or 0-based index, A-B a range); exactly one target"},
      {"text-col", "text_col", false, false, "",
       "shorthand: these text columns (C[,C...]) and..."},
      {"label-col", "label_col", false, false, "", "...this target"},
      {"delimiter", "delimiter", false, false, ",",
       "',' (default), 'tab', or another single character"},
      {"no-header", "header", true, true, "1",
       "the first line is data; name columns by index"},
      {"no-quotes", "quotes", true, true, "1",
       "quotes are ordinary characters (no RFC 4180)"},
      {"last-column-rest", "rest_in_last_column", true, false, "0",
       "the last column takes the rest of the line, delimiters included"},
      {"num-columns", "num_columns", false, false, "0",
       "fields per record (0: from the header, or the columns named)"},
      {"skip-bad-rows", "skip_bad_rows", true, false, "0",
       "skip and count malformed rows instead of failing"},
      {"no-search", "search", true, true, "1",
       "the rules alone: do not choose the batch size, learning rate, hidden "
       "layer or none and word and character n-grams on a held-out tenth of "
       "the training rows"},
      {"stream", "stream", true, false, "0",
       "featurize the training file anew each epoch instead of holding it "
       "(automatic above 1 GiB)"},
      {"label-delimiter", "label_delimiter", false, false, "",
       "several labels per row, separated by this character"},
      {"features", "num_features", false, false, "auto",
       "hashed feature space, in [1, 2^31]; auto: 2^18, doubled up to 2^20 "
       "while the training rows have more distinct features"},
      {"ngrams", "word_ngrams", false, false, "auto",
       "word n-grams up to N, in [1, 8]; auto: 2, or 1 when unigrams alone do "
       "better on held-out rows of a text column"},
      {"char-ngrams", "char_ngrams", false, false, "auto",
       "also character N-grams of each word, N in [0, 16] (0: off); auto: 0, "
       "or 3 when they do better on held-out rows of a text column"},
      {"buckets", "numeric_buckets", false, false, "32",
       "quantile buckets per numeric column, in [1, 65536]"},
      {"binning", "binning", false, false, "quantile", "quantile or log"},
      {"no-numeric-values", "numeric_values", true, true, "1",
       "numeric columns give only their bucket, not also their scaled log value"},
      {"min-count", "min_count", false, false, "1",
       "categorical values seen fewer than N times in training share one "
       "feature (1: off)"},
      {"cross", "crosses", false, false, "", "crosses of pairs of categorical "
       "columns, A*B,..."},
      {"weighting", "weighting", false, false, "auto",
       "auto, none or tfidf: feature values as counted (none), or sublinear tf "
       "x idf scaled to a common row length (tfidf); auto: tfidf when a column "
       "is text"},
      {"hidden", "hidden", false, false, "0", "hidden width (0: automatic)"},
      {"linear", "linear", true, false, "0", "no hidden layer"},
      {"members", "members", false, false, "0",
       "an ensemble of N networks (seeds seed, seed + 7919, ...) whose logits "
       "are averaged, N in [1, 64] (0: automatic, 1)"},
      {"epochs", "epochs", false, false, "0", "epochs (0: automatic)"},
      {"batch", "batch_size", false, false, "0", "samples per step (0: automatic)"},
      {"lr", "lr", false, false, "0", "Adam's peak learning rate (0: automatic)"},
      {"budget", "budget_seconds", false, false, "0",
       "wall seconds for choosing settings on held-out rows: no candidate starts "
       "that would end past it (0: automatic, max(60, 10 x the first "
       "candidate's))"},
      {"threads", "threads", false, false, "0", "worker threads (0: all cores)"},
      {"seed", "seed", false, false, "1", "random seed"},
  };
  return list;
}

namespace {

bool IsIndex(const std::string& s) {
  return !s.empty() && s.size() < 10 &&
         s.find_first_not_of("0123456789") == std::string::npos;
}

std::vector<std::string> SplitList(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

char ParseDelimiter(const std::string& n, const std::string& d) {
  if (d == "tab" || d == "\\t" || d == "\t") return '\t';
  if (d.size() != 1 || d == "\n" || d == "\r") {
    BadSetting(n, "one character or 'tab'", d);
  }
  return d[0];
}

bool ParseBool(const std::string& n, const std::string& v) {
  if (v == "1" || v == "true" || v == "True") return true;
  if (v == "0" || v == "false" || v == "False") return false;
  BadSetting(n, "a boolean (1, 0, true, false)", v);
}

size_t InRange(const std::string& n, const std::string& v, size_t lo, size_t hi) {
  const size_t x = ParseSettingCount(n, v, false);
  if (x < lo || x > hi) {
    BadSetting(n, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", v);
  }
  return x;
}

}  // namespace

std::vector<ColumnSpec> ParseColumnList(const std::string& list) {
  std::vector<ColumnSpec> out;
  for (const std::string& item : SplitList(list, ',')) {
    const size_t colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      throw std::invalid_argument("--columns expects C:TYPE items, got '" + item + "'");
    }
    const std::string name = item.substr(0, colon);
    ColumnType type;
    try {
      type = ParseColumnType(item.substr(colon + 1));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("--columns: ") + e.what());
    }
    const size_t dash = name.find('-');
    if (dash != std::string::npos && IsIndex(name.substr(0, dash)) &&
        IsIndex(name.substr(dash + 1))) {
      const size_t a = std::stoul(name.substr(0, dash));
      const size_t b = std::stoul(name.substr(dash + 1));
      if (a > b || b - a > 100000) {
        throw std::invalid_argument("--columns: bad range '" + name + "'");
      }
      for (size_t i = a; i <= b; ++i) out.push_back({std::to_string(i), type});
    } else {
      out.push_back({name, type});
    }
  }
  return out;
}

void ApplyClassifierSetting(const std::string& name, const std::string& value,
                            bool cli, ClassifierSettings* s) {
  const ClassifierSettingInfo* info = nullptr;
  for (const ClassifierSettingInfo& i : ClassifierSettingList()) {
    if (name == (cli ? i.cli : i.python)) info = &i;
  }
  if (info == nullptr) throw std::invalid_argument("unknown setting '" + name + "'");
  const std::string key = info->cli;
  // Errors name the setting as the caller spelled it (Python keyword or flag).
  const std::string n = cli ? "--" + key : name;
  // A switch: on when given on the command line; a boolean from Python
  // (the keyword's sense: `header=False` is `--no-header`).
  bool on = false;
  if (info->is_switch) on = cli ? true : ParseBool(n, value) != info->negated;
  ClassifierOptions& o = s->options;
  FeaturizerConfig& f = o.features;
  if (key == "columns") {
    s->columns_given = !value.empty();
    f.columns = value.empty() ? std::vector<ColumnSpec>() : ParseColumnList(value);
  } else if (key == "text-col") {
    s->text_cols = value.empty() ? std::vector<std::string>() : SplitList(value, ',');
  } else if (key == "label-col") {
    s->label_col = value;
  } else if (key == "delimiter") {
    o.csv.delimiter = ParseDelimiter(n, value);
  } else if (key == "no-header") {
    o.csv.header = !on;
  } else if (key == "no-quotes") {
    o.csv.quote = on ? '\0' : '"';
  } else if (key == "last-column-rest") {
    o.csv.rest_in_last_column = on;
  } else if (key == "num-columns") {
    o.csv.num_columns = ParseSettingCount(n, value, false);
  } else if (key == "skip-bad-rows") {
    o.csv.skip_bad_rows = on;
  } else if (key == "no-search") {
    o.search = !on;
  } else if (key == "stream") {
    o.stream = on;
  } else if (key == "label-delimiter") {
    if (value.size() > 1) BadSetting(n, "one character", value);
    f.label_delimiter = value;
  } else if (key == "features") {
    o.auto_features = value == "auto";
    if (!o.auto_features) f.num_features = uint32_t(InRange(n, value, 1, size_t{1} << 31));
  } else if (key == "ngrams") {
    o.auto_word_ngrams = value == "auto";
    if (!o.auto_word_ngrams) f.word_ngrams = uint32_t(InRange(n, value, 1, 8));
  } else if (key == "char-ngrams") {
    o.auto_char_ngrams = value == "auto";
    f.char_ngrams = o.auto_char_ngrams ? 0 : uint32_t(InRange(n, value, 0, 16));
  } else if (key == "buckets") {
    f.numeric_buckets = uint32_t(InRange(n, value, 1, 65536));
  } else if (key == "binning") {
    if (value != "quantile" && value != "log") BadSetting(n, "quantile or log", value);
    f.binning = value == "log" ? NumericBinning::kLog : NumericBinning::kQuantile;
  } else if (key == "weighting") {
    try {
      f.weighting = ParseFeatureWeighting(value);
    } catch (const std::invalid_argument&) {
      BadSetting(n, "auto, none or tfidf", value);
    }
  } else if (key == "no-numeric-values") {
    f.numeric_values = !on;
  } else if (key == "min-count") {
    f.min_category_count =
        uint32_t(std::min<size_t>(ParseSettingCount(n, value, false), 1u << 30));
  } else if (key == "cross") {
    f.crosses.clear();
    if (value.empty()) return;
    for (const std::string& pair : SplitList(value, ',')) {
      const size_t star = pair.find('*');
      if (star == std::string::npos || star == 0 || star + 1 == pair.size()) {
        BadSetting(n, "A*B items", pair);
      }
      f.crosses.emplace_back(pair.substr(0, star), pair.substr(star + 1));
    }
  } else if (key == "hidden") {
    o.hidden = ParseSettingCount(n, value, false);
    s->hidden_given = o.hidden != 0;
  } else if (key == "linear") {
    o.linear = on;
  } else if (key == "members") {
    o.members = InRange(n, value, 0, 64);
    if (cli && o.members == 0) BadSetting(n, "an integer in [1, 64]", value);
  } else if (key == "epochs") {
    o.epochs = ParseSettingCount(n, value, false);
  } else if (key == "batch") {
    o.batch = ParseSettingCount(n, value, false);
  } else if (key == "lr") {
    o.lr = float(ParseSettingReal(n, value, cli));
  } else if (key == "budget") {
    o.budget_seconds = ParseSettingReal(n, value, cli);
  } else if (key == "threads") {
    o.threads = ParseSettingCount(n, value, false);
  } else if (key == "seed") {
    o.seed = ParseSettingCount(n, value, false);
  }
}

ClassifierSettings DefaultClassifierSettings() {
  ClassifierSettings s;
  for (const ClassifierSettingInfo& i : ClassifierSettingList()) {
    ApplyClassifierSetting(i.python, i.default_value, false, &s);
  }
  return s;
}

ClassifierOptions FinishClassifierSettings(const ClassifierSettings& s) {
  ClassifierOptions o = s.options;
  const bool shorthand = !s.label_col.empty() || !s.text_cols.empty();
  if (s.columns_given == shorthand) {
    throw std::invalid_argument(
        "give either --columns or --text-col and --label-col");
  }
  if (shorthand) {
    if (s.label_col.empty() || s.text_cols.empty()) {
      throw std::invalid_argument("--text-col and --label-col go together");
    }
    o.features.columns.clear();
    o.features.columns.push_back({s.label_col, ColumnType::kTarget});
    for (const std::string& c : s.text_cols) {
      o.features.columns.push_back({c, ColumnType::kText});
    }
  }
  if (o.linear && s.hidden_given) {
    throw std::invalid_argument("--linear and --hidden exclude each other");
  }
  if (!o.csv.header) {
    // Columns are indices; the rest-of-line column is the highest one named.
    size_t max_index = 0;
    for (const ColumnSpec& c : o.features.columns) {
      if (!IsIndex(c.name)) {
        throw std::invalid_argument("with --no-header, name columns by 0-based "
                                    "index, not '" + c.name + "'");
      }
      max_index = std::max<size_t>(max_index, std::stoul(c.name));
    }
    if (o.csv.rest_in_last_column && o.csv.num_columns == 0) {
      o.csv.num_columns = max_index + 1;
    }
  }
  return o;
}

}  // namespace frugal::nn
