#include "apps/text_command.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/options.h"
#include "tasks/classifier.h"
#include "tasks/classifier_settings.h"
#include "tasks/explain.h"

namespace frugal::cli {

const char kTextUsage[] =
    "frugal text train --train FILE (--text-col C --label-col C |\n"
    "                  --columns C:TYPE,...) [options]\n"
    "frugal text evaluate --model FILE --test FILE [--skip-bad-rows] [--json]\n"
    "frugal text predict --model FILE [--input FILE] [--no-target] [--header]\n"
    "frugal text explain --model FILE [--input FILE] [--no-target] [--header]\n"
    "                    [--top N] [--json]\n"
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
    "  --num-columns N       fields per record (default: from the header, or\n"
    "                        the columns named)\n"
    "  --skip-bad-rows       skip and count malformed rows instead of failing\n"
    "  --no-search           the rules alone: do not choose the batch, the\n"
    "                        learning rate, the hidden layer or none and the\n"
    "                        n-grams on a held-out tenth of the training rows\n"
    "                        (the default for a file in memory)\n"
    "  --budget S            wall seconds for that search: no candidate starts\n"
    "                        that would end past it (default: max(60, 10 x\n"
    "                        the first candidate's))\n"
    "  --stream              featurize the training file anew each epoch\n"
    "                        instead of holding it (automatic above 1 GiB)\n"
    "  --label-delimiter D   several labels per row, separated by D\n"
    "\n"
    "features:\n"
    "  --features N|auto     hashed feature space (default auto: 2^18, doubled\n"
    "                        up to 2^20 while the training rows in memory\n"
    "                        have more distinct features)\n"
    "  --ngrams N|auto       word n-grams up to N (default auto: 2, or 1 if\n"
    "                        better on held-out rows of text)\n"
    "  --char-ngrams N|auto  also character N-grams of each word (0: off;\n"
    "                        default auto: 3 if better on held-out rows of\n"
    "                        text, else 0)\n"
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
    "  --epochs N  --batch N  --lr F  --threads N  --seed N  (0: automatic)\n"
    "  --model FILE          save the model (featurization settings included)\n"
    "  --json                one JSON object with the results on stdout\n"
    "\n"
    "predict reads rows laid out like the training file (the target field is\n"
    "ignored; --no-target: rows without it) and prints 'label<TAB>probability'\n"
    "per row.\n"
    "\n"
    "explain reads rows as predict does and prints, per row, the label, its\n"
    "probability and the --top N (default 10) input units that pushed it most\n"
    "towards that label: 'column:unit=weight', the weight being the drop of\n"
    "the label's probability when the unit (a word of a text column, the value\n"
    "of a categorical or numeric column) is removed (tasks/explain.h).\n";

namespace {

// The options after the subcommand (args[0]) of `frugal text`.
Options TextOptions(const std::vector<std::string>& args,
                    const std::vector<std::string>& valued,
                    const std::vector<std::string>& flags) {
  return Options("text", Args(args.begin() + 1, args.end()), valued, flags);
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
  std::vector<std::string> valued = {"--train", "--test", "--model"};
  std::vector<std::string> flags = {"--json"};
  for (const nn::ClassifierSettingInfo& i : nn::ClassifierSettingList()) {
    (i.is_switch ? flags : valued).push_back(std::string("--") + i.cli);
  }
  const Options f = TextOptions(args, valued, flags);
  nn::ClassifierSettings settings = nn::DefaultClassifierSettings();
  nn::ClassifierOptions o;
  try {
    for (const nn::ClassifierSettingInfo& i : nn::ClassifierSettingList()) {
      const std::string flag = std::string("--") + i.cli;
      if (f.Has(flag)) nn::ApplyClassifierSetting(i.cli, f.Str(flag), true, &settings);
    }
    o = nn::FinishClassifierSettings(settings);
  } catch (const std::invalid_argument& e) {
    throw UsageError("text", e.what());
  }
  const bool json = f.Has("--json");

  const auto start = std::chrono::steady_clock::now();
  nn::TrainReport r;
  const auto classifier = nn::Classifier::Train(
      f.Required("--train"), o, &r, [&](size_t epoch, double loss) {
        if (epoch == 1 && !json) {
          for (const nn::CandidateAccuracy& c : r.candidates) {
            std::printf("candidate word n-grams %u, char n-grams %u, hidden %3zu, batch %4zu: "
                        "held-out %s %.4f after %zu epochs\n",
                        c.word_ngrams, c.char_ngrams, c.hidden, c.batch,
                        r.labels == 2 ? "ROC-AUC" : "accuracy", c.accuracy, c.epochs);
          }
          if (!r.candidates.empty()) {
            std::printf("chose word n-grams %u, char n-grams %u, hidden %zu, batch %zu: the "
                        "best of %zu candidates on %zu held-out training rows (%.1f s)\n",
                        r.word_ngrams, r.char_ngrams, r.hidden, r.batch, r.candidates.size(),
                        r.valid_rows, r.search_seconds);
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
    std::printf(", \"word_ngrams\": %u, \"char_ngrams\": %u, \"search_s\": %.3f, "
                "\"valid_rows\": %zu, \"candidates\": [",
                r.word_ngrams, r.char_ngrams, r.search_seconds, r.valid_rows);
    for (size_t i = 0; i < r.candidates.size(); ++i) {
      const nn::CandidateAccuracy& c = r.candidates[i];
      std::printf("%s{\"word_ngrams\": %u, \"char_ngrams\": %u, \"batch\": %zu, "
                  "\"hidden\": %zu, \"lr\": %g, \"epochs\": %zu, \"valid_accuracy\": %.6f}",
                  i ? ", " : "", c.word_ngrams, c.char_ngrams, c.batch, c.hidden, double(c.lr),
                  c.epochs, c.accuracy);
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

// Reads the records of `frugal text predict|explain` (stdin or --input,
// laid out like the training file; --no-target: without the target field)
// and calls `row(fields)` for each with the target field empty. Rows whose
// fields the featurizer refuses are skipped with --skip-bad-rows.
void ForEachRecord(
    const Options& f, const nn::Classifier& classifier,
    const std::function<void(const std::vector<std::string_view>&)>& row) {
  const nn::Featurizer& fz = classifier.featurizer();
  const bool no_target = f.Has("--no-target");
  nn::CsvOptions csv = classifier.csv();
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
  std::vector<std::string_view> fields(fz.num_columns());
  while (reader.Next()) {
    for (size_t i = 0, j = 0; i < fields.size(); ++i) {
      fields[i] = (no_target && i == fz.target_column()) ? std::string_view()
                                                         : reader.field(j++);
    }
    try {
      row(fields);
    } catch (const nn::FieldError& e) {
      size_t column = e.column();
      if (no_target && column > fz.target_column()) --column;
      reader.Reject(column, e.what());
    }
  }
  if (reader.bad_rows()) {
    std::fprintf(stderr, "frugal text: %zu bad rows skipped (first: %s)\n",
                 reader.bad_rows(), reader.first_bad_row_error().c_str());
  }
}

int Predict(const std::vector<std::string>& args) {
  const Options f = TextOptions(args, {"--model", "--input"},
                {"--no-target", "--header", "--skip-bad-rows"});
  const auto classifier = nn::Classifier::Load(f.Required("--model"));
  nn::Classifier::Scratch scratch;
  ForEachRecord(f, *classifier, [&](const std::vector<std::string_view>& fields) {
    const nn::Prediction p = classifier->Predict(fields.data(), fields.size(), scratch);
    std::printf("%s\t%.6f\n", classifier->label_name(p.label).c_str(),
                double(p.score));
  });
  return 0;
}

// A JSON string literal of `s` (quotes, backslashes and control bytes
// escaped).
std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (uint8_t(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", unsigned(uint8_t(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

int Explain(const std::vector<std::string>& args) {
  const Options f = TextOptions(args, {"--model", "--input", "--top"},
                {"--no-target", "--header", "--skip-bad-rows", "--json"});
  const auto classifier = nn::Classifier::Load(f.Required("--model"));
  const size_t top = f.Size("--top", 10);
  const bool json = f.Has("--json");
  ForEachRecord(f, *classifier, [&](const std::vector<std::string_view>& fields) {
    const nn::Explanation e = nn::Explain(*classifier, fields.data(), fields.size());
    const std::string& label = classifier->label_name(e.label);
    const size_t n = std::min(top, e.features.size());
    if (json) {
      std::printf("{\"label\": %s, \"probability\": %.6f, \"features\": [",
                  JsonString(label).c_str(), double(e.probability));
      for (size_t i = 0; i < n; ++i) {
        const nn::FeatureWeight& w = e.features[i];
        std::printf("%s{\"column\": %zu, \"type\": \"%s\", \"unit\": %s, "
                    "\"weight\": %.6f}",
                    i ? ", " : "", w.column, nn::ColumnTypeName(w.type),
                    JsonString(w.unit).c_str(), double(w.weight));
      }
      std::printf("]}\n");
      return;
    }
    std::printf("%s\t%.6f", label.c_str(), double(e.probability));
    for (size_t i = 0; i < n; ++i) {
      const nn::FeatureWeight& w = e.features[i];
      std::printf("\t%zu:%s=%+.4f", w.column, w.unit.c_str(), double(w.weight));
    }
    std::printf("\n");
  });
  return 0;
}

}  // namespace

int RunText(const std::vector<std::string>& args) {
  try {
    const std::string sub = args.empty() ? "" : args[0];
    if (sub == "train") return Train(args);
    if (sub == "evaluate") return Evaluate(args);
    if (sub == "predict") return Predict(args);
    if (sub == "explain") return Explain(args);
    throw UsageError("text", sub.empty() ? "missing subcommand"
                                     : "unknown subcommand '" + sub + "'");
  } catch (const UsageError& e) {
    std::cerr << "frugal text: " << e.what() << "\n\nusage: " << kTextUsage;
    return 2;
  }
}

}  // namespace frugal::cli
