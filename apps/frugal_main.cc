// The frugal command-line tool: `frugal <command> [options]`.
//
// Each command is one function `int Run<Command>(const Args&)` that receives
// the arguments after the command name and returns the exit status, plus one
// line in kCommands. Exit status: 0 success, 1 runtime error (including an
// invalid FRUGAL_ISA), 2 malformed command line.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <sstream>
#include <thread>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <map>

#include "apps/launch_command.h"
#include "apps/options.h"
#include "apps/text_command.h"
#include "comm/communicator.h"
#include "frugal.h"
#include "data/dataset.h"
#include "nn/model.h"
#include "nn/serialize.h"
#include "data/synthetic.h"
#include "data/batch_source.h"
#include "train/fit.h"
#include "tasks/auto_xmc.h"
#include "train/settings.h"
#include "train/sharded_output.h"
#include "train/trainer.h"

#ifndef FRUGAL_VERSION
#define FRUGAL_VERSION "unknown"
#endif

namespace frugal::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

struct Command {
  const char* name;
  const char* summary;  // one line, for `frugal --help`
  const char* usage;    // `frugal <name> --help`: synopsis and options
  int (*run)(const Args& args);
};

bool IsHelp(const std::string& arg) { return arg == "-h" || arg == "--help"; }

// ---------------------------------------------------------------------------
// Output helpers.

// `s` as a JSON string literal, quotes included. Bytes >= 0x80 pass through
// (UTF-8 stays UTF-8).
std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x",
                        static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string JsonStringArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += ", ";
    out += JsonString(items[i]);
  }
  out += ']';
  return out;
}

std::vector<std::string> SplitWords(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

std::string Join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += sep;
    out += items[i];
  }
  return out;
}

std::string PadRight(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

// ---------------------------------------------------------------------------
// frugal info

// Everything `frugal info` shows, gathered before anything is printed so an
// invalid FRUGAL_ISA produces an error and no partial report.
struct InfoReport {
  const CpuInfo* cpu = nullptr;
  bool frugal_isa_set = false;  // set and non-empty
  std::string frugal_isa;
  IsaMask allowed = 0;
  std::vector<std::string> hwy_targets;
  std::vector<dispatch::KernelReport> kernels;
};

// Throws std::invalid_argument if FRUGAL_ISA is invalid for this CPU.
InfoReport GatherInfo() {
  InfoReport r;
  r.cpu = &DetectCpu();
  if (const char* env = std::getenv("FRUGAL_ISA"); env != nullptr && *env) {
    r.frugal_isa_set = true;
    r.frugal_isa = env;
  }
  r.allowed = dispatch::AllowedIsa();
  r.hwy_targets = dispatch::CompiledTargets();
  r.kernels = dispatch::Report();
  return r;
}

void PrintInfoText(const InfoReport& r, std::ostream& out) {
  const CpuInfo& cpu = *r.cpu;
  auto field = [&out](const char* name, const std::string& value) {
    out << PadRight(std::string(name) + ":", 17) << value << '\n';
  };
  out << "frugal " << FRUGAL_VERSION << '\n';
  field("cpu", cpu.name.empty() ? "(unknown)" : cpu.name);
  field("architecture", cpu.arch);
  field("cores", std::to_string(cpu.cores));
  field("features", cpu.features.empty() ? "(none)" : cpu.features);
  field("isa", IsaMaskToString(cpu.isa));
  if (cpu.sve_vector_bits != 0) {
    field("sve vector", std::to_string(cpu.sve_vector_bits) + " bits");
  }
  field("FRUGAL_ISA", r.frugal_isa_set ? r.frugal_isa : "(not set)");
  field("allowed isa", IsaMaskToString(r.allowed));
  field("highway targets", Join(r.hwy_targets, " "));

  size_t name_width = 6;    // "kernel"
  size_t chosen_width = 6;  // "chosen"
  for (const auto& k : r.kernels) {
    name_width = std::max(name_width, k.kernel.size());
    chosen_width = std::max(chosen_width, k.chosen.size());
  }
  out << '\n'
      << PadRight("kernel", name_width + 2)
      << PadRight("chosen", chosen_width + 2) << "compiled (best first)\n";
  for (const auto& k : r.kernels) {
    out << PadRight(k.kernel, name_width + 2)
        << PadRight(k.chosen, chosen_width + 2) << Join(k.compiled, " ")
        << '\n';
  }
}

void PrintInfoJson(const InfoReport& r, std::ostream& out) {
  const CpuInfo& cpu = *r.cpu;
  out << "{\n";
  out << "  \"version\": " << JsonString(FRUGAL_VERSION) << ",\n";
  out << "  \"cpu\": {\n";
  out << "    \"name\": " << JsonString(cpu.name) << ",\n";
  out << "    \"arch\": " << JsonString(cpu.arch) << ",\n";
  out << "    \"cores\": " << cpu.cores << ",\n";
  out << "    \"features\": " << JsonStringArray(SplitWords(cpu.features))
      << ",\n";
  out << "    \"isa\": " << JsonString(IsaMaskToString(cpu.isa)) << ",\n";
  out << "    \"isa_mask\": " << cpu.isa << ",\n";
  out << "    \"sve_vector_bits\": " << cpu.sve_vector_bits << "\n";
  out << "  },\n";
  out << "  \"frugal_isa\": "
      << (r.frugal_isa_set ? JsonString(r.frugal_isa) : std::string("null"))
      << ",\n";
  out << "  \"allowed_isa\": " << JsonString(IsaMaskToString(r.allowed))
      << ",\n";
  out << "  \"allowed_isa_mask\": " << r.allowed << ",\n";
  out << "  \"highway_targets\": " << JsonStringArray(r.hwy_targets) << ",\n";
  out << "  \"kernels\": [";
  for (size_t i = 0; i < r.kernels.size(); ++i) {
    const auto& k = r.kernels[i];
    out << (i == 0 ? "\n" : ",\n") << "    {\"name\": " << JsonString(k.kernel)
        << ", \"chosen\": " << JsonString(k.chosen)
        << ", \"compiled\": " << JsonStringArray(k.compiled) << "}";
  }
  out << (r.kernels.empty() ? "]\n" : "\n  ]\n");
  out << "}\n";
}

int RunInfo(const Args& args) {
  bool json = false;
  for (const std::string& arg : args) {
    if (arg == "--json") {
      json = true;
    } else {
      throw UsageError("info", "unknown option '" + arg + "'");
    }
  }
  const InfoReport report = GatherInfo();
  if (json) {
    PrintInfoJson(report, std::cout);
  } else {
    PrintInfoText(report, std::cout);
  }
  std::cout.flush();
  return std::cout ? kExitOk : kExitError;
}

nn::ReadOptions ReadOptionsFor(const Options& o, const std::string& command) {
  nn::ReadOptions r;
  const std::string format = o.Str("--format", "xc");
  if (format == "xc") {
    r.format = nn::DataFormat::kXc;
  } else if (format == "libsvm") {
    r.format = nn::DataFormat::kLibsvm;
  } else {
    throw UsageError(command, "--format must be xc or libsvm");
  }
  return r;
}

// A one-line progress display on a terminal (stderr), at most 10 updates/s.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled && ::isatty(2)) {}
  void Update(size_t epoch, size_t epochs, size_t done, size_t total,
              double loss, double seconds) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double rate = seconds > 0 ? double(done) / seconds : 0;
    const double eta = rate > 0 ? double(total - done) / rate : 0;
    const int width = 24;
    const int fill = total ? int(double(width) * double(done) / double(total)) : 0;
    std::fprintf(stderr, "\repoch %zu/%zu [%s%s] %zu/%zu %.0f samples/s loss %.4f ETA %.0fs ",
                 epoch, epochs, std::string(size_t(fill), '#').c_str(),
                 std::string(size_t(width - fill), '.').c_str(), done, total,
                 rate, loss, eta);
    if (done >= total) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  std::chrono::steady_clock::time_point last_{};
};

void PrintEval(const char* what, const nn::EvalResult& e) {
  std::printf("%s: P@1 %.4f  P@3 %.4f  P@5 %.4f  R@5 %.4f  (%zu samples, "
              "%.0f samples/s)\n",
              what, e.p_at[1], e.p_at[3], e.p_at[5], e.recall_at5, e.samples,
              e.seconds > 0 ? double(e.samples) / e.seconds : 0.0);
  if (e.candidate_recall >= 0) {
    std::printf("  true labels among the LSH candidates: %.4f\n", e.candidate_recall);
  }
}

// "--hidden" syntax: comma-separated hidden layers, each WIDTH or
// WIDTH:SPARSITY (an LSH-sampled layer), all ReLU; "0" or "" for none.
std::vector<nn::LayerConfig> ParseHiddenLayers(const std::string& spec) {
  std::vector<nn::LayerConfig> layers;
  if (spec.empty() || spec == "0") return layers;
  size_t pos = 0;
  while (pos <= spec.size()) {
    const size_t comma = std::min(spec.find(',', pos), spec.size());
    const std::string item = spec.substr(pos, comma - pos);
    const size_t colon = item.find(':');
    char* end = nullptr;
    const std::string width_text = item.substr(0, colon);
    const unsigned long long width = std::strtoull(width_text.c_str(), &end, 10);
    if (width_text.empty() || *end != '\0' || width == 0 || width > 65536) {
      throw UsageError("train", "--hidden expects WIDTH[:SPARSITY],... with "
                                "widths in [1, 65536], got '" + item + "'");
    }
    float sparsity = 1.0f;
    if (colon != std::string::npos) {
      const std::string s_text = item.substr(colon + 1);
      sparsity = std::strtof(s_text.c_str(), &end);
      if (s_text.empty() || *end != '\0' || !(sparsity > 0 && sparsity <= 1)) {
        throw UsageError("train", "--hidden: sparsity must be in (0, 1], got '" +
                                      item + "'");
      }
    }
    if (sparsity < 1.0f && layers.empty()) {
      throw UsageError("train", "--hidden: the first hidden layer reads the "
                                "sparse input and must be dense");
    }
    if (sparsity < 1.0f) {
      layers.push_back(nn::SampledLayer(
          width, size_t(std::lround(double(sparsity) * double(width))),
          nn::Activation::kRelu));
    } else {
      layers.push_back({size_t(width), nn::Activation::kRelu, 1.0f, {}});
    }
    pos = comma + 1;
  }
  return layers;
}

// "512 relu > 670091 softmax (2000 active)".
std::string DescribeLayers(const nn::Model& model) {
  std::string out;
  for (size_t l = 0; l < model.num_layers(); ++l) {
    const nn::Layer& layer = model.layer(l);
    if (l) out += " > ";
    out += std::to_string(layer.config.width) + " " +
           nn::ActivationName(layer.config.activation);
    if (layer.sampled()) out += " (" + std::to_string(layer.active) + " active)";
  }
  return out;
}

// Data-parallel training (train/data_parallel.h): the ranks, from FRUGAL_RANK,
// FRUGAL_WORLD_SIZE, FRUGAL_RENDEZVOUS and FRUGAL_RUN_ID (as `frugal
// launch` sets them), overridden by the flags; one process without them.
struct DataParallel {
  std::unique_ptr<comm::Communicator> comm;
  bool resume = false;  // --resume and the --model file (or its shard manifest) exists
};

DataParallel ConnectRanks(const Options& o) {
  DataParallel dp;
  comm::ConnectOptions co;
  try {
    comm::ApplyEnvironment(&co);
  } catch (const std::invalid_argument& e) {
    throw UsageError("train", e.what());
  }
  if (o.Has("--world-size")) co.size = int(o.Size("--world-size", 1));
  if (o.Has("--rank")) co.rank = int(o.Size("--rank", 0));
  co.rendezvous = o.Str("--rendezvous", co.rendezvous);
  co.run_id = o.Str("--run-id", co.run_id);
  co.hostname = o.Str("--comm-address", co.hostname);
  co.iface = o.Str("--comm-iface", co.iface);
  const float timeout_s = o.Float("--comm-timeout", 60.0f);
  if (!(timeout_s > 0)) throw UsageError("train", "--comm-timeout must be positive");
  co.timeout = std::chrono::milliseconds(int64_t(double(timeout_s) * 1000));
  if (co.size > 1 && co.rendezvous.empty()) {
    throw UsageError("train", "--world-size above 1 needs --rendezvous");
  }
  const std::string model_path = o.Str("--model");
  if ((o.Has("--checkpoint-every") || o.Has("--resume")) && model_path.empty()) {
    throw UsageError("train", "--checkpoint-every and --resume need --model");
  }
  dp.resume = o.Has("--resume") &&
              (::access(model_path.c_str(), F_OK) == 0 ||
               ::access(nn::ShardManifestPath(model_path).c_str(), F_OK) == 0);
  try {
    dp.comm = comm::Connect(co);
  } catch (const std::invalid_argument& e) {
    throw UsageError("train", e.what());
  }
  return dp;
}

// Training input: the whole file in memory, or (--stream, or files above
// nn::kStreamAboveBytes in all) streamed with a bounded shuffle buffer, each
// rank reading only its byte range.
struct TrainInput {
  std::unique_ptr<nn::SparseDataset> data;  // in memory
  std::unique_ptr<nn::BatchSource> source;
  nn::StreamingSource* stream = nullptr;    // source, when streaming
  uint64_t file_bytes = 0;                  // of every training file
};

TrainInput OpenTrainInput(const Options& o, const nn::ReadOptions& ro,
                          uint64_t seed, const comm::Communicator& comm) {
  TrainInput in;
  const std::vector<std::string> paths = nn::ExpandPaths(o.Required("--train"));
  uint64_t bytes = 0;
  for (const std::string& p : paths) bytes += nn::LineReader::FileSize(p);
  in.file_bytes = bytes;
  const bool stream = o.Has("--stream") || bytes > nn::kStreamAboveBytes || paths.size() > 1;
  if (!stream) {
    in.data = std::make_unique<nn::SparseDataset>(nn::ReadSparseFile(paths[0], ro));
    in.source = std::make_unique<nn::InMemorySource>(*in.data, seed, true,
                                                     comm.rank(), comm.size());
    return in;
  }
  nn::StreamOptions so;
  so.read = ro;
  so.rank = comm.rank();
  so.world = comm.size();
  so.shuffle.rows = o.Size("--shuffle-buffer", so.shuffle.rows);
  so.shuffle.seed = seed;
  auto s = std::make_unique<nn::StreamingSource>(paths, so);
  in.stream = s.get();
  in.source = std::move(s);
  return in;
}

// The settings of train/settings.h from their --flags (defaults where absent).
nn::TrainSettings TrainSettingsFor(const Options& o, const std::string& command) {
  nn::TrainSettings s = nn::DefaultTrainSettings();
  for (const nn::SettingInfo& i : nn::TrainSettingList()) {
    const std::string flag = std::string("--") + i.cli;
    if (!o.Has(flag)) continue;
    try {
      nn::ApplyTrainSetting(i.cli, o.Str(flag), &s);
    } catch (const std::invalid_argument& e) {
      throw UsageError(command, e.what());
    }
  }
  return s;
}

// The boolean training settings: flags without a value on the CLI.
constexpr char kShardOutputFlag[] = "--shard-output";
constexpr char kShardInputFlag[] = "--shard-input";

std::vector<std::string> WithTrainSettings(std::vector<std::string> valued) {
  for (const nn::SettingInfo& i : nn::TrainSettingList()) {
    const std::string name = i.cli;
    if (name == kShardOutputFlag + 2 || name == kShardInputFlag + 2) continue;  // flags
    valued.push_back(std::string("--") + i.cli);
  }
  return valued;
}

// `frugal train` with settings chosen on validation rows (tasks/auto_xmc.h):
// one process, the training file in memory, one dense hidden layer.
int RunTrainAuto(const Options& o, const nn::SparseDataset& train,
                 const nn::SparseDataset* valid, const nn::SparseDataset* test) {
  TrainSettingsFor(o, "train");  // validates the settings not used here too
  nn::XmcAutoOptions ao;
  try {
    for (const char* name : {"hidden", "loss", "lr", "batch", "epochs", "threads",
                             "sparsity", "budget", "seed", "memory-blend"}) {
      const std::string flag = std::string("--") + name;
      if (o.Has(flag)) nn::ApplyXmcAutoSetting(name, o.Str(flag), true, &ao);
    }
  } catch (const std::invalid_argument& e) {
    throw UsageError("train", e.what());
  }
  const bool json = o.Has("--json");
  const bool exact_eval = o.Has("--exact-eval");
  if (!json) {
    std::printf("training: %zu samples, %zu features, %zu labels; choosing settings on %s\n",
                train.size(), train.num_features(), train.num_labels(),
                valid ? "--valid" : "held-out training rows");
  }
  nn::XmcAutoReport r;
  std::unique_ptr<nn::Model> model = nn::TrainXmcAuto(train, valid, ao, &r);
  if (json) {
    for (const nn::CandidateReport& c : r.candidates) {
      std::printf("{\"candidate\": {\"loss\": \"%s\", \"lr\": %g, \"hidden\": %zu, "
                  "\"batch\": %zu}, \"epochs\": %zu, \"best_epoch\": %zu, "
                  "\"valid_p@1\": %.6f, \"seconds\": %.2f, \"survived\": %s, "
                  "\"train_label_recall\": %.6f}\n",
                  c.loss.c_str(), double(c.lr), c.hidden, c.batch, c.epochs_run,
                  c.best_epoch, c.valid_p1, c.seconds, c.survived ? "true" : "false",
                  c.label_recall);
    }
  } else {
    std::printf("candidate             epochs  best  valid P@1  seconds\n");
    for (const nn::CandidateReport& c : r.candidates) {
      std::printf("%-7s lr %-8g %6zu %5zu %10.4f %8.1f%s\n", c.loss.c_str(),
                  double(c.lr), c.epochs_run, c.best_epoch, c.valid_p1, c.seconds,
                  c.survived ? "" : "  (dropped after round 1)");
      if (c.label_recall >= 0) {
        std::printf("        true labels found by the output's LSH in training: %.4f\n",
                    c.label_recall);
      }
    }
    for (const auto& [blend, p1] : r.memory.valid_p1) {
      std::printf("label memory blend %-5g valid P@1 %.4f\n", double(blend), p1);
    }
    std::printf("chose %s\n", r.reason.c_str());
    if (r.memory.blend > 0) {
      std::printf("label memory: blend %g, %zu entries (%.1f MB), %.1f s\n",
                  double(r.memory.blend), r.memory.entries, double(r.memory.bytes) / 1e6,
                  r.memory.seconds);
    }
  }
  nn::EvalResult e;
  if (test) e = nn::Evaluate(*model, *test, exact_eval, ao.threads);
  if (json) {
    std::printf("{\"chosen\": {\"loss\": \"%s\", \"lr\": %g, \"hidden\": %zu, "
                "\"batch\": %zu, \"epochs\": %zu}, \"valid_p@1\": %.6f, "
                "\"retrained\": %s, \"seconds\": %.2f",
                r.chosen.loss.c_str(), double(r.chosen.lr), r.chosen.hidden,
                r.chosen.batch, r.final_epochs, r.chosen.valid_p1,
                r.retrained ? "true" : "false", r.seconds);
    std::printf(", \"memory\": {\"blend\": %g, \"entries\": %zu, \"seconds\": %.2f, "
                "\"valid_p@1\": {",
                double(r.memory.blend), r.memory.entries, r.memory.seconds);
    for (size_t i = 0; i < r.memory.valid_p1.size(); ++i) {
      std::printf("%s\"%g\": %.6f", i ? ", " : "", double(r.memory.valid_p1[i].first),
                  r.memory.valid_p1[i].second);
    }
    std::printf("}}");
    if (test) {
      std::printf(", \"p@1\": %.6f, \"p@3\": %.6f, \"p@5\": %.6f, \"r@5\": %.6f",
                  e.p_at[1], e.p_at[3], e.p_at[5], e.recall_at5);
      if (e.candidate_recall >= 0) {
        std::printf(", \"candidate_recall\": %.6f", e.candidate_recall);
      }
    }
    std::printf("}\n");
  } else {
    std::printf("trained in %.2f s (search included)\n", r.seconds);
    if (test) PrintEval(exact_eval ? "test (exact)" : "test", e);
  }
  const std::string model_path = o.Str("--model");
  if (!model_path.empty()) {
    nn::SaveModel(*model, model_path, nn::kWithOptimizerState);
    if (!json) std::printf("saved %s\n", model_path.c_str());
  }
  return kExitOk;
}

int RunTrain(const Args& args) {
  const Options o("train", args,
                  WithTrainSettings(
                      {"--train", "--test", "--valid", "--format", "--hidden", "--sparsity",
                       "--loss", "--model", "--seed", "--world-size", "--rank",
                       "--rendezvous", "--run-id", "--comm-timeout",
                       "--comm-address", "--comm-iface", "--shuffle-buffer",
                       "--budget", "--memory-blend"}),
                  {"--json", "--no-progress", "--exact-eval",
                   "--checkpoint-every-epoch", "--resume", "--stream", kShardOutputFlag,
                   kShardInputFlag});
  const nn::ReadOptions ro = ReadOptionsFor(o, "train");
  const DataParallel dp = ConnectRanks(o);
  const bool leader = dp.comm->rank() == 0;
  const uint64_t seed = o.Size("--seed", 1);
  TrainInput input = OpenTrainInput(o, ro, seed, *dp.comm);
  nn::BatchSource& train = *input.source;
  std::unique_ptr<nn::SparseDataset> test;
  if (o.Has("--test")) {
    test = std::make_unique<nn::SparseDataset>(
        nn::ReadSparseFile(o.Str("--test"), ro));
  }
  // Settings chosen on validation rows unless given, the run is resumed,
  // streamed or data-parallel, or the hidden layers are not one dense one.
  const bool all_given = o.Has("--hidden") && o.Has("--loss") && o.Has("--lr") &&
                         o.Has("--batch") && o.Has("--epochs");
  const std::string hidden_spec = o.Str("--hidden", "512");
  const bool one_dense = hidden_spec.find_first_of(",:") == std::string::npos &&
                         hidden_spec != "0";
  if (!all_given && input.data && dp.comm->size() == 1 && !dp.resume && one_dense &&
      !o.Has("--checkpoint-every") && !o.Has("--patience")) {
    std::unique_ptr<nn::SparseDataset> valid;
    if (o.Has("--valid")) {
      valid = std::make_unique<nn::SparseDataset>(nn::ReadSparseFile(o.Str("--valid"), ro));
    }
    return RunTrainAuto(o, *input.data, valid.get(), test.get());
  }
  const size_t labels = std::max(train.num_labels(),
                                 test ? test->num_labels() : size_t{0});
  const size_t features = std::max(train.num_features(),
                                   test ? test->num_features() : size_t{0});
  const float sparsity = o.Float("--sparsity", 0.0f);
  if (o.Has("--sparsity") && !(sparsity > 0 && sparsity <= 1)) {
    throw UsageError("train", "--sparsity must be in (0, 1]");
  }
  const std::vector<nn::LayerConfig> hidden =
      ParseHiddenLayers(o.Str("--hidden", "128"));
  nn::ModelConfig mc = nn::AutoConfig(
      features, labels, hidden.empty() ? 0 : hidden.back().width, sparsity);
  mc.layers.erase(mc.layers.begin(), mc.layers.end() - 1);
  mc.layers.insert(mc.layers.begin(), hidden.begin(), hidden.end());
  mc.seed = seed;
  const std::string loss = o.Str("--loss", "softmax");
  if (loss != "softmax" && loss != "sigmoid") {
    throw UsageError("train", "--loss must be softmax or sigmoid");
  }
  mc.output().activation = nn::ParseActivation(loss);
  nn::TrainSettings settings = TrainSettingsFor(o, "train");
  nn::TrainConfig& tc = settings.train;
  nn::FitConfig& fc = settings.fit;
  tc.comm = dp.comm.get();
  std::unique_ptr<nn::SparseDataset> valid;
  if (o.Has("--valid")) {
    valid = std::make_unique<nn::SparseDataset>(nn::ReadSparseFile(o.Str("--valid"), ro));
    fc.metric = "valid p@1";
    fc.validate = [&](const nn::Model& m) {
      return nn::EvaluateRanks(m, *valid, false, tc.threads, *dp.comm).p_at[1];
    };
  } else if (fc.patience) {
    throw UsageError("train", "--patience needs --valid");
  }
  const bool json = o.Has("--json");
  const bool exact_eval = o.Has("--exact-eval");
  const std::string model_path = o.Str("--model");
  fc.checkpoint_path = model_path;
  fc.checkpoint_each_epoch = !model_path.empty() && o.Has("--checkpoint-every-epoch");

  // A sharded output: this rank's shard (train/sharded_output.h).
  const bool sharded = tc.shard_output && dp.comm->size() > 1;
  const int rank = dp.comm->rank(), ranks = dp.comm->size();
  const std::unique_ptr<nn::Model> model_ptr =
      dp.resume ? (sharded ? nn::LoadShardedModel(model_path, rank, ranks)
                           : nn::LoadModel(model_path))
                : std::make_unique<nn::Model>(sharded ? nn::ShardConfig(mc, rank, ranks) : mc);
  nn::Model& model = *model_ptr;
  nn::CheckReplicasIdentical(model, *dp.comm);
  const size_t threads = tc.threads ? tc.threads : size_t(std::thread::hardware_concurrency());
  if (!json && leader) {
    std::printf("training: %s%zu features, %zu labels; layers %s; %zu threads\n",
                input.data ? (std::to_string(input.data->size()) + " samples, ").c_str()
                           : "streamed, ",
                features, labels, DescribeLayers(model).c_str(), threads);
  }
  const nn::FitState start = nn::FitState::Of(model);
  if (dp.resume && leader && !json) {
    std::printf("resuming from %s at step %llu (epoch %llu)\n", model_path.c_str(),
                static_cast<unsigned long long>(model.step()),
                static_cast<unsigned long long>(start.epochs_done + 1));
  }
  Progress progress(!o.Has("--no-progress") && !json && leader);
  nn::FitCallbacks callbacks;
  callbacks.on_batch = [&](const nn::BatchProgress& b) {
    const size_t total = b.size_hint ? b.size_hint : 1000;
    const size_t done = b.size_hint ? std::min(b.samples, total)
                                    : size_t(b.progress * double(total));
    progress.Update(b.epoch, b.epochs, done, total, b.loss, b.seconds);
  };
  nn::BatchStats run;
  double train_seconds = 0;
  size_t trained = 0;
  callbacks.on_epoch = [&](const nn::EpochReport& r) {
    train_seconds += r.seconds;
    trained += r.stats.samples;
    nn::EvalResult e;
    if (test) e = nn::EvaluateRanks(model, *test, exact_eval, tc.threads, *dp.comm);
    if (!leader) return;
    const double rate = double(r.stats.samples) / std::max(r.seconds, 1e-9);
    if (json) {
      std::printf("{\"epoch\": %zu, \"samples\": %zu, \"loss\": %.6f, "
                  "\"seconds\": %.3f, \"samples_per_s\": %.1f, \"lr\": %.6g",
                  r.epoch, r.stats.samples, r.mean_loss(), r.seconds, rate,
                  double(r.lr));
      if (r.validated) std::printf(", \"valid_p@1\": %.6f", r.metric);
      if (r.stats.label_rows > 0) {
        std::printf(", \"train_label_recall\": %.6f", r.stats.label_recall());
      }
      if (input.stream) {
        std::printf(", \"bytes_read\": %llu",
                    static_cast<unsigned long long>(input.stream->bytes_read()));
      }
      if (test) {
        std::printf(", \"p@1\": %.6f, \"p@3\": %.6f, \"p@5\": %.6f, "
                    "\"r@5\": %.6f, \"eval_samples_per_s\": %.1f",
                    e.p_at[1], e.p_at[3], e.p_at[5], e.recall_at5,
                    double(e.samples) / std::max(e.seconds, 1e-9));
        if (e.candidate_recall >= 0) {
          std::printf(", \"candidate_recall\": %.6f", e.candidate_recall);
        }
      }
      std::printf("}\n");
      std::fflush(stdout);
    } else if (test || r.validated) {
      std::printf("epoch %zu: loss %.4f, %.0f samples/s", r.epoch, r.mean_loss(), rate);
      if (r.validated) std::printf("; valid P@1 %.4f%s", r.metric, r.best ? " (best)" : "");
      if (test) std::printf("; test P@1 %.4f P@5 %.4f", e.p_at[1], e.p_at[5]);
      std::printf("\n");
    }
  };
  const nn::FitResult fit = nn::Fit(model, train, tc, fc, callbacks);
  run = fit.stats;
  if (!json && leader && fit.stopped_early) {
    std::printf("stopped early after epoch %zu; kept epoch %zu's weights "
                "(valid P@1 %.4f)\n",
                size_t(nn::FitState::Of(model).epochs_done), fit.best_epoch,
                fit.best_metric);
  }
  nn::CheckReplicasIdentical(model, *dp.comm);
  if (!json && leader && dp.comm->size() > 1) {
    std::printf("%d ranks; gradient exchange %.2f s, %.1f MB sent by rank 0 "
                "(dense allreduces: %.1f MB)\n",
                dp.comm->size(), run.exchange_s, double(run.exchange_bytes) / 1e6,
                double(run.exchange_dense_bytes) / 1e6);
  }
  if (!json && input.stream && fit.epochs_run > 0) {
    const double per_epoch = double(input.stream->bytes_read()) / double(fit.epochs_run);
    std::printf("streamed: rank %d read %.1f MB per epoch, %.1f%% of the "
                "files' %.1f MB (its range: %.1f MB)\n",
                dp.comm->rank(), per_epoch / 1e6,
                100.0 * per_epoch / double(std::max<uint64_t>(1, input.file_bytes)),
                double(input.file_bytes) / 1e6,
                double(input.stream->range_bytes()) / 1e6);
  }
  nn::EvalResult final_eval;
  if (!json && test) {
    final_eval = nn::EvaluateRanks(model, *test, exact_eval, tc.threads, *dp.comm);
  }
  if (!json && leader && train_seconds > 0) {
    std::printf("trained %zu samples in %.2f s: %.0f samples/s (%.0f per core)\n",
                trained, train_seconds, double(trained) / train_seconds,
                double(trained) / train_seconds / double(threads));
  }
  if (!json && leader && test) PrintEval(exact_eval ? "test (exact)" : "test", final_eval);
  if (!model_path.empty() && sharded) {
    nn::SaveShardedModel(model, model_path, nn::kWithOptimizerState, *dp.comm);
    if (!json && leader) {
      std::printf("saved %s (%d shards)\n", nn::ShardManifestPath(model_path).c_str(), ranks);
    }
  } else if (!model_path.empty() && leader) {
    nn::SaveModel(model, model_path, nn::kWithOptimizerState);
    if (!json) std::printf("saved %s\n", model_path.c_str());
  }
  return kExitOk;
}

// A model file, or the shards of a model trained with --shard-output
// (its manifest "<path>.shards") assembled into the whole model.
std::unique_ptr<nn::Model> LoadAnyModel(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0 &&
      ::access(nn::ShardManifestPath(path).c_str(), F_OK) == 0) {
    return nn::LoadShardsAsWhole(path);
  }
  return nn::LoadModel(path);
}

int RunEval(const Args& args) {
  const Options o("eval", args,
                  {"--model", "--test", "--format", "--threads", "--candidates"},
                  {"--exact", "--json"});
  const auto model = LoadAnyModel(o.Required("--model"));
  model->set_inference_active(
      o.Size("--candidates", model->inference_active()));
  nn::ReadOptions ro = ReadOptionsFor(o, "eval");
  ro.num_features = model->input_dim();
  ro.num_labels = model->output_dim();
  const nn::SparseDataset test = nn::ReadSparseFile(o.Required("--test"), ro);
  if (test.num_features() > model->input_dim() ||
      test.num_labels() > model->output_dim()) {
    throw std::runtime_error("the test data has more features or labels than "
                             "the model");
  }
  const nn::EvalResult e =
      nn::Evaluate(*model, test, o.Has("--exact"), o.Size("--threads", 0));
  if (o.Has("--json")) {
    if (e.candidate_recall >= 0) {
      std::printf("{\"candidate_recall\": %.6f, ", e.candidate_recall);
    } else {
      std::printf("{");
    }
    std::printf("\"samples\": %zu, \"p@1\": %.6f, \"p@3\": %.6f, "
                "\"p@5\": %.6f, \"r@5\": %.6f, \"samples_per_s\": %.1f}\n",
                e.samples, e.p_at[1], e.p_at[3], e.p_at[5], e.recall_at5,
                double(e.samples) / std::max(e.seconds, 1e-9));
  } else {
    PrintEval(o.Has("--exact") ? "exact" : "lsh", e);
  }
  return kExitOk;
}

int RunPredict(const Args& args) {
  const Options o("predict", args, {"--model", "--k", "--input", "--candidates"},
                  {"--exact"});
  const auto model = LoadAnyModel(o.Required("--model"));
  model->set_inference_active(
      o.Size("--candidates", model->inference_active()));
  const size_t k = o.Size("--k", 5);
  nn::ReadOptions ro;
  ro.format = nn::DataFormat::kLibsvm;
  ro.num_features = model->input_dim();
  ro.num_labels = model->output_dim();
  nn::Model::Activations scratch;
  std::vector<uint32_t> labels;
  std::vector<float> scores;
  const bool exact = o.Has("--exact");
  nn::StreamSparseFile(o.Str("--input", "/dev/stdin"), ro, nullptr, nullptr,
                       [&](const nn::SparseRow& x) {
                         model->Predict(x, k, exact, scratch, labels, scores);
                         for (size_t i = 0; i < labels.size(); ++i) {
                           std::printf(i ? " %u:%.6g" : "%u:%.6g", labels[i],
                                       double(scores[i]));
                         }
                         std::printf("\n");
                       });
  return kExitOk;
}

int RunGenerate(const Args& args) {
  const Options o("generate", args,
                  {"--train", "--test", "--train-samples", "--test-samples",
                   "--labels", "--features", "--noise", "--seed", "--tail"},
                  {});
  const std::string tail = o.Str("--tail", "steep");
  if (tail != "steep" && tail != "realistic") {
    throw std::invalid_argument("--tail: expected steep or realistic, got '" +
                                tail + "'");
  }
  const size_t n_train = o.Size("--train-samples", 100000);
  const size_t n_test = o.Size("--test-samples", 10000);
  const std::string train_path = o.Required("--train");
  size_t num_features, num_labels;
  std::function<void(size_t, nn::GeneratedRow&)> row_fn;
  nn::SyntheticConfig sc;
  std::unique_ptr<nn::RealisticGenerator> realistic;
  if (tail == "steep") {
    sc.num_labels = o.Size("--labels", sc.num_labels);
    sc.num_features = o.Size("--features", sc.num_features);
    sc.noise = o.Float("--noise", float(sc.noise));
    sc.seed = o.Size("--seed", sc.seed);
    num_features = sc.num_features;
    num_labels = sc.num_labels;
    row_fn = [&sc](size_t i, nn::GeneratedRow& row) {
      nn::SteepRow(sc, i, row);
    };
  } else {
    nn::RealisticConfig rc;
    rc.num_labels = o.Size("--labels", rc.num_labels);
    rc.num_features = o.Size("--features", rc.num_features);
    // --noise: the background share of a row's non-zeros; the label and
    // cluster shares keep their ratio.
    if (o.Has("--noise")) {
      const double noise = o.Float("--noise", 0);
      const double topical = rc.label_share + rc.cluster_share;
      if (!(noise >= 0 && noise <= 1)) {
        throw std::invalid_argument("--noise: expected a share in [0, 1]");
      }
      rc.label_share *= (1 - noise) / topical;
      rc.cluster_share *= (1 - noise) / topical;
    }
    rc.seed = o.Size("--seed", rc.seed);
    realistic = std::make_unique<nn::RealisticGenerator>(rc);
    num_features = rc.num_features;
    num_labels = rc.num_labels;
    const nn::RealisticGenerator* gen = realistic.get();
    row_fn = [gen](size_t i, nn::GeneratedRow& row) { gen->Row(i, row); };
  }
  auto write = [&](const std::string& path, size_t first, size_t count) {
    const nn::WriteStats s = nn::WriteGeneratedXc(
        path, num_features, num_labels, first, count, row_fn);
    std::printf(
        "wrote %s: %zu samples, %zu features, %zu labels (%s tail), "
        "%.1f MB in %.2f s, %.1f MB/s\n",
        path.c_str(), count, num_features, num_labels, tail.c_str(),
        double(s.bytes) / 1e6, s.seconds,
        double(s.bytes) / 1e6 / std::max(s.seconds, 1e-9));
    std::fflush(stdout);
  };
  write(train_path, 0, n_train);
  if (o.Has("--test")) write(o.Str("--test"), n_train, n_test);
  return kExitOk;
}

// ---------------------------------------------------------------------------
// The command table. Later commands (train, eval, predict, generate) are one
// Run<Command> function each and one line here.

constexpr Command kCommands[] = {
    {"info", "show the CPU, the instruction sets and each kernel's variant",
     "frugal info [--json]\n"
     "\n"
     "Shows the CPU, its detected features and ISA mask, the FRUGAL_ISA cap,\n"
     "the Highway targets compiled in, and for every kernel the variant\n"
     "chosen on this machine and the variants compiled.\n"
     "\n"
     "options:\n"
     "  --json   print the same as one JSON object\n"
     "\n"
     "environment:\n"
     "  FRUGAL_ISA=scalar|sse4|avx2|avx512|neon|sve|sve2\n"
     "           cap the instruction set kernels may use; an error if this\n"
     "           CPU lacks the named level\n",
     RunInfo},
    {"train", "train a model on sparse multi-label data",
     "frugal train --train FILE [options]\n"
     "\n"
     "Trains the extreme-classification network (sparse input, ReLU hidden\n"
     "layers, output layer LSH-sampled above 4,096 labels) with Adam.\n"
     "Settings not given (hidden width, loss, learning rate, batch, epochs)\n"
     "are chosen on validation rows (--valid, or a held-out tenth of the\n"
     "training rows), never on --test; the run prints every candidate.\n"
     "\n"
     "options:\n"
     "  --train FILES       training data (XC format: 'N D L' header, then\n"
     "                      'l1,l2 f:v f:v' rows); a comma-separated list\n"
     "                      and globs read as one stream\n"
     "  --stream            stream the training files instead of loading\n"
     "                      them (automatic above 1 GiB or for several\n"
     "                      files); each rank reads only its byte range\n"
     "  --shuffle-buffer N  rows held for shuffling a stream (default 65536)\n"
     "  --test FILE         evaluate P@1/3/5 after every epoch\n"
     "  --valid FILE        validation rows (default: a held-out tenth of\n"
     "                      the training rows): P@1 after every epoch\n"
     "  --budget S          seconds for choosing settings (default: 15 s or\n"
     "                      more for larger data)\n"
     "  --memory-blend F    weight in [0, 1] of the label memory (each label's\n"
     "                      centroid of training rows) in predictions: score\n"
     "                      = (1 - F) network probability + F cosine (default:\n"
     "                      chosen on validation rows; 0: none)\n"
     "  --patience N        with --valid: stop after N epochs without a\n"
     "                      better P@1 and keep the best epoch's weights\n"
     "  --format xc|libsvm  input format (default xc)\n"
     "  --hidden W[:S],...  hidden layers: widths, each optionally "
     "LSH-sampled\n"
     "                      with sparsity S in (0, 1) (not the first); 0 for\n"
     "                      none (a linear model) (default: automatic,\n"
     "                      twice the labels within [128, 512], narrower\n"
     "                      for huge outputs; 128 when streamed, resumed\n"
     "                      or data-parallel)\n"
     "  --epochs N          passes over the data (default: early stopping on\n"
     "                      validation; 5 without a search); with --resume,\n"
     "                      the run's total\n"
     "  --total-epochs N    the schedule's horizon when a run is split over\n"
     "                      calls (default: --epochs)\n"
     "  --batch N           samples per batch (default: automatic; 256)\n"
     "  --lr F              Adam learning rate (default: 0.001 or 0.003 by\n"
     "                      validation; 0.001)\n"
     "  --schedule S        linear (decay to 2%) or constant (default linear)\n"
     "  --weight-decay F    AdamW decoupled weight decay (default 0)\n"
     "  --sparsity F        fraction of output neurons per sample (default\n"
     "                      automatic from the label count)\n"
     "  --loss softmax|sigmoid  (default: by validation for multi-label data)\n"
     "  --threads N         worker threads (default: all cores)\n"
     "  --seed N            initialization and order seed (default 1)\n"
     "  --model FILE        save the trained model (atomically)\n"
     "  --checkpoint-every-epoch  also save after every epoch\n"
     "  --exact-eval        score every output neuron when evaluating\n"
     "  --json              one JSON object per epoch on stdout\n"
     "  --no-progress       no progress bar on a terminal\n"
     "\n"
     "data-parallel (see `frugal launch`; FRUGAL_RANK, FRUGAL_WORLD_SIZE,\n"
     "FRUGAL_RENDEZVOUS, FRUGAL_RUN_ID set the first four):\n"
     "  --world-size N      ranks in the job (default 1)\n"
     "  --rank R            this process's rank in [0, N)\n"
     "  --rendezvous URL    file:///shared/dir or redis://host[:port]\n"
     "  --run-id ID         rendezvous namespace; new for every attempt\n"
     "  --comm-timeout S    collective timeout, seconds (default 60); must\n"
     "                      exceed a checkpoint's write time\n"
     "  --comm-address A    address this rank listens on (default 127.0.0.1;\n"
     "                      one the other hosts reach when they are remote)\n"
     "  --comm-iface NAME   or the network interface to listen on\n"
     "  --exchange M        gradient exchange per layer: auto (fewest bytes),\n"
     "                      dense, sparse (touched rows) or factors (every\n"
     "                      sample's factors; hidden layers after the first\n"
     "                      and the output) (default auto)\n"
     "  --exchange-bandwidth G  auto: a rank's link in Gbit/s; weighs bytes\n"
     "                      against the factors' extra accumulation (default\n"
     "                      0: the fewest bytes)\n"
     "  --checkpoint-every K  rank 0 saves --model every K steps (atomic)\n"
     "  --resume            continue from --model when it exists\n"
     "  --shard-output      data-parallel: each rank holds 1/N of the output\n"
     "                      layer (its rows, Adam moments, LSH index); saves\n"
     "                      --model as per-rank shard files and the manifest\n"
     "                      --model.shards (eval and predict read it)\n"
     "  --shard-input       data-parallel: input-layer rows owned by rank\n"
     "                      (feature mod N), fetched before use and updated\n"
     "                      by their owner: bytes per rank stop growing with N\n",
     RunTrain},
    {"launch", "run N ranks of a data-parallel job on this machine",
     kLaunchUsage, RunLaunch},
    {"eval", "evaluate a saved model: precision@1/3/5",
     "frugal eval --model FILE --test FILE [--format xc|libsvm] [--exact]\n"
     "            [--candidates N] [--threads N] [--json]\n"
     "\n"
     "  --exact          score every output neuron (default: LSH-selected)\n"
     "  --candidates N   LSH candidates scored per sample (default: twice the\n"
     "                   training active set)\n",
     RunEval},
    {"predict", "print the top-k labels of rows read from stdin",
     "frugal predict --model FILE [--k N] [--exact] [--candidates N]\n"
     "               [--input FILE]\n"
     "\n"
     "Reads libsvm-style rows ('f:v f:v ...', labels optional) and prints\n"
     "'label:score' pairs, best first, one line per row.\n",
     RunPredict},
    {"generate", "write synthetic Amazon-670K-shaped data (XC format)",
     "frugal generate --train FILE [--test FILE] [--train-samples N]\n"
     "                [--test-samples N] [--labels N] [--features N]\n"
     "                [--noise F] [--seed N] [--tail steep|realistic]\n"
     "\n"
     "Defaults: 135,909 features, 670,091 labels, 100,000 train and 10,000\n"
     "test samples (the test rows follow the training rows in one stream).\n"
     "--tail steep (default): a steep power-law head, every value 1.\n"
     "--tail realistic: Amazon-670K's statistics (5.45 labels per row, most\n"
     "labels in 1-5 rows of 490K, 75.7 tf-idf non-zeros per row), labels in\n"
     "clusters that share vocabulary; --noise is then the background share\n"
     "of the non-zeros (default 0.7). Rows are written as they are made, in\n"
     "bounded memory. See data/synthetic.h for both models.\n",
     RunGenerate},
    {"text", "train, evaluate or predict with a classifier from raw CSV",
     kTextUsage, RunText},
};

const Command* FindCommand(const std::string& name) {
  for (const Command& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

void PrintUsage(std::ostream& out) {
  out << "usage: frugal <command> [options]\n"
         "       frugal <command> --help\n"
         "       frugal --version\n"
         "\n"
         "commands:\n";
  for (const Command& c : kCommands) {
    out << "  " << PadRight(c.name, 10) << c.summary << '\n';
  }
}

void PrintCommandUsage(const Command& c, std::ostream& out) {
  out << "usage: " << c.usage;
}

int Main(const Args& args) {
  if (args.empty()) {
    PrintUsage(std::cerr);
    return kExitUsage;
  }
  const std::string& name = args[0];
  if (IsHelp(name) || name == "help") {
    if (name == "help" && args.size() > 1) {
      const Command* c = FindCommand(args[1]);
      if (c == nullptr)
        throw UsageError("", "unknown command '" + args[1] + "'");
      PrintCommandUsage(*c, std::cout);
      return kExitOk;
    }
    PrintUsage(std::cout);
    return kExitOk;
  }
  if (name == "--version") {
    std::cout << "frugal " << FRUGAL_VERSION << '\n';
    return kExitOk;
  }
  const Command* command = FindCommand(name);
  if (command == nullptr) {
    throw UsageError("", "unknown command '" + name + "'");
  }
  const Args rest(args.begin() + 1, args.end());
  for (const std::string& arg : rest) {
    if (IsHelp(arg)) {
      PrintCommandUsage(*command, std::cout);
      return kExitOk;
    }
  }
  return command->run(rest);
}

}  // namespace
}  // namespace frugal::cli

int main(int argc, char** argv) {
  using frugal::cli::kExitError;
  using frugal::cli::kExitUsage;
  try {
    return frugal::cli::Main(frugal::cli::Args(argv + 1, argv + argc));
  } catch (const frugal::cli::UsageError& e) {
    std::cerr << "frugal: " << e.what() << "\n\n";
    const frugal::cli::Command* c = frugal::cli::FindCommand(e.command());
    if (c != nullptr) {
      frugal::cli::PrintCommandUsage(*c, std::cerr);
    } else {
      frugal::cli::PrintUsage(std::cerr);
    }
    return kExitUsage;
  } catch (const std::exception& e) {
    // std::invalid_argument from dispatch (bad FRUGAL_ISA) lands here too.
    std::cerr << "frugal: error: " << e.what() << '\n';
    return kExitError;
  }
}
