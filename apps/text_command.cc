#include "apps/text_command.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/options.h"
#include "tasks/classifier.h"

namespace frugal::cli {

const char kTextUsage[] =
    "frugal text train --train FILE (--text-col C --label-col C |\n"
    "                  --columns C:TYPE,...) [options]\n"
    "frugal text evaluate --model FILE --test FILE [--skip-bad-rows] [--json]\n"
    "frugal text predict --model FILE [--input FILE] [--no-target] [--header]\n"
    "\n"
    "A classifier from raw CSV: text columns become hashed word n-grams,\n"
    "categorical columns hashed values, numeric columns quantile buckets; a\n"
    "ReLU hidden layer (or none, --linear) and a softmax output are trained\n"
    "with Adam, width, epochs, batch and learning rate chosen from the data.\n"
    "\n"
    "columns (C: a header name, or a 0-based index; A-B: a range of indices):\n"
    "  --columns C:TYPE,...  TYPE is target, text, categorical, numeric or\n"
    "                        ignore; exactly one target\n"
    "  --text-col C[,C...]   shorthand: these text columns and...\n"
    "  --label-col C         ...this target\n"
    "\n"
    "input:\n"
    "  --train FILE, --test FILE  (--test: accuracy, and ROC-AUC for two labels)\n"
    "  --delimiter D         ',' (default), 'tab', or another single character\n"
    "  --no-header           the first line is data; name columns by index\n"
    "  --no-quotes           quotes are ordinary characters (no RFC 4180)\n"
    "  --last-column-rest    the last column takes the rest of the line,\n"
    "                        delimiters included (unquoted free text)\n"
    "  --skip-bad-rows       skip and count malformed rows instead of failing\n"
    "  --search              choose linear vs hidden and the epochs on a\n"
    "                        held-out tenth of the training rows\n"
    "  --stream              featurize the training file anew each epoch\n"
    "                        instead of holding it (automatic above 1 GiB)\n"
    "  --label-delimiter D   several labels per row, separated by D\n"
    "\n"
    "features:\n"
    "  --features N          hashed feature space (default 262144)\n"
    "  --ngrams N            word n-grams up to N (default 2)\n"
    "  --char-ngrams N       also character N-grams of each word (default off)\n"
    "  --buckets N           quantile buckets per numeric column (default 32)\n"
    "  --binning quantile|log\n"
    "  --no-numeric-values   numeric columns give only their bucket, not also\n"
    "                        their scaled log value\n"
    "  --min-count N         categorical values seen fewer than N times in\n"
    "                        training share one feature (default 1: off)\n"
    "  --cross A*B,...       crosses of pairs of categorical columns\n"
    "  --weighting auto|none|tfidf  feature values as counted (none), or\n"
    "                        sublinear tf x idf scaled to a common row length\n"
    "                        (tfidf); auto: tfidf when a column is text\n"
    "\n"
    "model and training (default: automatic):\n"
    "  --hidden N | --linear  hidden width, or no hidden layer\n"
    "  --members N           an ensemble: N networks (seeds seed, seed + 7919,\n"
    "                        ...) whose logits are averaged (default 1)\n"
    "  --epochs N  --batch N  --lr F  --threads N  --seed N\n"
    "  --model FILE          save the model (featurization settings included)\n"
    "  --json                one JSON object with the results on stdout\n"
    "\n"
    "predict reads rows laid out like the training file (the target field is\n"
    "ignored; --no-target: rows without it) and prints 'label<TAB>probability'\n"
    "per row.\n";

namespace {

// The options after the subcommand (args[0]) of `frugal text`.
Options TextOptions(const std::vector<std::string>& args,
                    const std::vector<std::string>& valued,
                    const std::vector<std::string>& flags) {
  return Options("text", Args(args.begin() + 1, args.end()), valued, flags);
}

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

// "C:TYPE,A-B:TYPE,..." (names may contain ':'; the last one separates).
std::vector<nn::ColumnSpec> ParseColumns(const std::string& list) {
  std::vector<nn::ColumnSpec> out;
  for (const std::string& item : SplitList(list, ',')) {
    const size_t colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      throw UsageError("text", "--columns expects C:TYPE items, got '" + item + "'");
    }
    const std::string name = item.substr(0, colon);
    nn::ColumnType type;
    try {
      type = nn::ParseColumnType(item.substr(colon + 1));
    } catch (const std::invalid_argument& e) {
      throw UsageError("text", std::string("--columns: ") + e.what());
    }
    const size_t dash = name.find('-');
    if (dash != std::string::npos && IsIndex(name.substr(0, dash)) &&
        IsIndex(name.substr(dash + 1))) {
      const size_t a = std::stoul(name.substr(0, dash));
      const size_t b = std::stoul(name.substr(dash + 1));
      if (a > b || b - a > 100000) {
        throw UsageError("text", "--columns: bad range '" + name + "'");
      }
      for (size_t i = a; i <= b; ++i) out.push_back({std::to_string(i), type});
    } else {
      out.push_back({name, type});
    }
  }
  return out;
}

char ParseDelimiter(const std::string& d) {
  if (d == "tab" || d == "\\t" || d == "\t") return '\t';
  if (d.size() != 1 || d == "\n" || d == "\r") {
    throw UsageError("text", "--delimiter expects one character or 'tab', got '" +
                         d + "'");
  }
  return d[0];
}

void PrintMetrics(const char* what, const nn::ClassifierMetrics& m) {
  std::printf("%s: accuracy %.4f", what, m.accuracy);
  if (m.roc_auc >= 0) std::printf("  roc_auc %.4f", m.roc_auc);
  std::printf("  (%zu rows", m.samples);
  if (m.bad_rows) std::printf(", %zu bad rows skipped", m.bad_rows);
  std::printf(", %.0f rows/s)\n", double(m.samples) / std::max(m.seconds, 1e-9));
}

std::string MetricsJson(const nn::ClassifierMetrics& m) {
  char buf[160];
  std::snprintf(buf, sizeof(buf),
                "\"rows\": %zu, \"bad_rows\": %zu, \"accuracy\": %.6f%s",
                m.samples, m.bad_rows, m.accuracy,
                m.roc_auc >= 0 ? ", \"roc_auc\": " : "");
  std::string out = buf;
  if (m.roc_auc >= 0) {
    std::snprintf(buf, sizeof(buf), "%.6f", m.roc_auc);
    out += buf;
  }
  return out;
}

int Train(const std::vector<std::string>& args) {
  const Options f = TextOptions(args, {"--train", "--test", "--model", "--columns", "--text-col",
                 "--label-col", "--delimiter", "--label-delimiter", "--features",
                 "--ngrams", "--char-ngrams", "--buckets", "--binning", "--cross",
                 "--min-count", "--weighting",
                 "--hidden", "--members", "--epochs", "--batch", "--lr",
                 "--threads", "--seed"},
                {"--no-header", "--no-quotes", "--last-column-rest",
                 "--skip-bad-rows", "--linear", "--json", "--no-numeric-values",
                 "--stream", "--search"});
  nn::ClassifierOptions o;
  if (f.Has("--columns") == (f.Has("--text-col") || f.Has("--label-col"))) {
    throw UsageError("text", "give either --columns or --text-col and --label-col");
  }
  if (f.Has("--columns")) {
    o.features.columns = ParseColumns(f.Str("--columns"));
  } else {
    o.features.columns.push_back(
        {f.Required("--label-col"), nn::ColumnType::kTarget});
    for (const std::string& c : SplitList(f.Required("--text-col"), ',')) {
      o.features.columns.push_back({c, nn::ColumnType::kText});
    }
  }
  o.csv.delimiter = ParseDelimiter(f.Str("--delimiter", ","));
  o.csv.header = !f.Has("--no-header");
  if (f.Has("--no-quotes")) o.csv.quote = '\0';
  o.csv.rest_in_last_column = f.Has("--last-column-rest");
  o.csv.skip_bad_rows = f.Has("--skip-bad-rows");
  if (!o.csv.header) {
    // Columns are indices; the rest-of-line column is the highest one named.
    size_t max_index = 0;
    for (const nn::ColumnSpec& c : o.features.columns) {
      if (!IsIndex(c.name)) {
        throw UsageError("text", "with --no-header, name columns by 0-based "
                             "index, not '" + c.name + "'");
      }
      max_index = std::max<size_t>(max_index, std::stoul(c.name));
    }
    if (o.csv.rest_in_last_column) o.csv.num_columns = max_index + 1;
  }
  o.features.label_delimiter = f.Str("--label-delimiter");
  if (o.features.label_delimiter.size() > 1) {
    throw UsageError("text", "--label-delimiter expects one character");
  }
  const size_t features = f.Size("--features", o.features.num_features);
  if (features == 0 || features > (size_t{1} << 31)) {
    throw UsageError("text", "--features must be in [1, 2^31]");
  }
  o.features.num_features = uint32_t(features);
  o.features.word_ngrams = uint32_t(f.Size("--ngrams", 2));
  o.features.char_ngrams = uint32_t(f.Size("--char-ngrams", 0));
  o.features.numeric_buckets = uint32_t(f.Size("--buckets", 32));
  o.features.min_category_count =
      uint32_t(std::min<size_t>(f.Size("--min-count", 1), 1u << 30));
  if (o.features.word_ngrams < 1 || o.features.word_ngrams > 8 ||
      o.features.char_ngrams > 16 || o.features.numeric_buckets < 1 ||
      o.features.numeric_buckets > 65536) {
    throw UsageError("text", "--ngrams in [1, 8], --char-ngrams in [0, 16], "
                         "--buckets in [1, 65536]");
  }
  o.features.numeric_values = !f.Has("--no-numeric-values");
  const std::string binning = f.Str("--binning", "quantile");
  if (binning != "quantile" && binning != "log") {
    throw UsageError("text", "--binning must be quantile or log");
  }
  o.features.binning =
      binning == "log" ? nn::NumericBinning::kLog : nn::NumericBinning::kQuantile;
  try {
    o.features.weighting = nn::ParseFeatureWeighting(f.Str("--weighting", "auto"));
  } catch (const std::invalid_argument& e) {
    throw UsageError("text", std::string("--") + e.what());
  }
  if (f.Has("--cross")) {
    for (const std::string& pair : SplitList(f.Str("--cross"), ',')) {
      const size_t star = pair.find('*');
      if (star == std::string::npos || star == 0 || star + 1 == pair.size()) {
        throw UsageError("text", "--cross expects A*B items, got '" + pair + "'");
      }
      o.features.crosses.emplace_back(pair.substr(0, star), pair.substr(star + 1));
    }
  }
  if (f.Has("--linear") && f.Has("--hidden")) {
    throw UsageError("text", "--linear and --hidden exclude each other");
  }
  o.linear = f.Has("--linear");
  o.stream = f.Has("--stream");
  o.search = f.Has("--search");
  o.hidden = f.Size("--hidden", 0);
  o.members = f.Size("--members", 0);
  if (f.Has("--members") && (o.members < 1 || o.members > 64)) {
    throw UsageError("text", "--members must be in [1, 64]");
  }
  o.epochs = f.Size("--epochs", 0);
  o.batch = f.Size("--batch", 0);
  o.lr = f.Float("--lr", 0.0f);
  if (f.Has("--lr") && !(o.lr > 0)) {
    throw UsageError("text", "--lr expects a positive number, got '" +
                                 f.Str("--lr") + "'");
  }
  o.threads = f.Size("--threads", 0);
  o.seed = f.Size("--seed", 1);
  const bool json = f.Has("--json");

  const auto start = std::chrono::steady_clock::now();
  nn::TrainReport r;
  const auto classifier = nn::Classifier::Train(
      f.Required("--train"), o, &r, [&](size_t epoch, double loss) {
        if (epoch == 1 && !json) {
          for (const nn::CandidateAccuracy& c : r.candidates) {
            std::printf("candidate %-18s held-out %s %.4f at epoch %zu\n",
                        c.linear ? "linear" : ("hidden " + std::to_string(c.hidden)).c_str(),
                        r.labels == 2 ? "ROC-AUC" : "accuracy", c.accuracy, c.best_epoch);
          }
          if (!r.candidates.empty()) {
            std::printf("chose the best of %zu candidates on %zu held-out training rows\n",
                        r.candidates.size(), r.valid_rows);
          }
          std::printf("featurized %zu rows in %.2f s: %zu hashed features, "
                      "%zu labels, %zu bad rows skipped\n"
                      "model: %s x %zu, %zu epochs, batch %zu, lr %g\n",
                      r.samples, r.featurize_seconds, r.features, r.labels,
                      r.bad_rows,
                      r.hidden ? ("hidden " + std::to_string(r.hidden)).c_str()
                               : "linear (no hidden layer)",
                      r.members, r.epochs, r.batch, double(r.lr));
        }
        if (!json) std::printf("epoch %zu loss %.4f\n", epoch, loss);
        std::fflush(stdout);
      });
  if (f.Has("--model")) classifier->Save(f.Str("--model"));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  nn::ClassifierMetrics m;
  if (f.Has("--test")) m = classifier->Evaluate(f.Str("--test"), o.csv);
  if (json) {
    std::printf("{\"rows\": %zu, \"bad_rows\": %zu, \"features\": %zu, "
                "\"labels\": %zu, \"hidden\": %zu, \"members\": %zu, "
                "\"epochs\": %zu, "
                "\"batch\": %zu, \"lr\": %g, \"loss\": %.6f, "
                "\"featurize_s\": %.3f, \"train_s\": %.3f, \"total_s\": %.3f",
                r.samples, r.bad_rows, r.features, r.labels, r.hidden, r.members,
                r.epochs,
                r.batch, double(r.lr), r.final_loss, r.featurize_seconds,
                r.train_seconds, seconds);
    std::printf(", \"valid_rows\": %zu, \"candidates\": [", r.valid_rows);
    for (size_t i = 0; i < r.candidates.size(); ++i) {
      const nn::CandidateAccuracy& c = r.candidates[i];
      std::printf("%s{\"hidden\": %zu, \"lr\": %g, \"best_epoch\": %zu, "
                  "\"valid_accuracy\": %.6f}",
                  i ? ", " : "", c.hidden, double(c.lr), c.best_epoch, c.accuracy);
    }
    std::printf("]");
    if (f.Has("--test")) std::printf(", \"test\": {%s}", MetricsJson(m).c_str());
    std::printf("}\n");
  } else {
    std::printf("trained in %.2f s (featurize %.2f s, train %.2f s)\n", seconds,
                r.featurize_seconds, r.train_seconds);
    if (f.Has("--test")) PrintMetrics("test", m);
  }
  return 0;
}

int Evaluate(const std::vector<std::string>& args) {
  const Options f = TextOptions(args, {"--model", "--test"}, {"--skip-bad-rows", "--json"});
  const auto classifier = nn::Classifier::Load(f.Required("--model"));
  nn::CsvOptions csv = classifier->csv();
  csv.skip_bad_rows = f.Has("--skip-bad-rows");
  const nn::ClassifierMetrics m = classifier->Evaluate(f.Required("--test"), csv);
  if (f.Has("--json")) {
    std::printf("{%s}\n", MetricsJson(m).c_str());
  } else {
    PrintMetrics("test", m);
  }
  return 0;
}

int Predict(const std::vector<std::string>& args) {
  const Options f = TextOptions(args, {"--model", "--input"},
                {"--no-target", "--header", "--skip-bad-rows"});
  const auto classifier = nn::Classifier::Load(f.Required("--model"));
  const nn::Featurizer& fz = classifier->featurizer();
  const bool no_target = f.Has("--no-target");
  nn::CsvOptions csv = classifier->csv();
  csv.header = f.Has("--header");
  csv.skip_bad_rows = f.Has("--skip-bad-rows");
  csv.num_columns = fz.num_columns() - (no_target ? 1 : 0);
  if (csv.num_columns == 0) throw UsageError("text", "--no-target leaves no columns");
  std::FILE* in = stdin;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> owned(nullptr, &std::fclose);
  const std::string name = f.Str("--input", "<stdin>");
  if (f.Has("--input")) {
    owned.reset(std::fopen(name.c_str(), "rb"));
    if (!owned) {
      throw nn::DataError(name + ": cannot open: " + std::strerror(errno));
    }
    in = owned.get();
  }
  nn::CsvReader reader(in, name, csv);
  nn::Classifier::Scratch scratch;
  std::vector<std::string_view> fields(fz.num_columns());
  while (reader.Next()) {
    for (size_t i = 0, j = 0; i < fields.size(); ++i) {
      fields[i] = (no_target && i == fz.target_column()) ? std::string_view()
                                                         : reader.field(j++);
    }
    nn::Prediction p;
    try {
      p = classifier->Predict(fields.data(), fields.size(), scratch);
    } catch (const nn::FieldError& e) {
      size_t column = e.column();
      if (no_target && column > fz.target_column()) --column;
      reader.Reject(column, e.what());
      continue;
    }
    std::printf("%s\t%.6f\n", classifier->label_name(p.label).c_str(),
                double(p.score));
  }
  if (reader.bad_rows()) {
    std::fprintf(stderr, "frugal text predict: %zu bad rows skipped (first: %s)\n",
                 reader.bad_rows(), reader.first_bad_row_error().c_str());
  }
  return 0;
}

}  // namespace

int RunText(const std::vector<std::string>& args) {
  try {
    const std::string sub = args.empty() ? "" : args[0];
    if (sub == "train") return Train(args);
    if (sub == "evaluate") return Evaluate(args);
    if (sub == "predict") return Predict(args);
    throw UsageError("text", sub.empty() ? "missing subcommand"
                                     : "unknown subcommand '" + sub + "'");
  } catch (const UsageError& e) {
    std::cerr << "frugal text: " << e.what() << "\n\nusage: " << kTextUsage;
    return 2;
  }
}

}  // namespace frugal::cli
