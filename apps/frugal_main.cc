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
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "frugal.h"

#ifndef FRUGAL_VERSION
#define FRUGAL_VERSION "unknown"
#endif

namespace frugal::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

using Args = std::vector<std::string>;

// A malformed command line. main() prints the message and the usage of
// `command` (or the general usage when it is empty) to stderr, exits 2.
class UsageError : public std::runtime_error {
 public:
  UsageError(std::string command, const std::string& message)
      : std::runtime_error(message), command_(std::move(command)) {}
  const std::string& command() const { return command_; }

 private:
  std::string command_;
};

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
