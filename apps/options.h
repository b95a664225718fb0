// Command-line option parsing shared by the frugal commands: `--name value`
// pairs and `--flag` switches, each allowed at most once.
#pragma once

#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace frugal::cli {

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

class Options {
 public:
  // Parses `args` against the option names of `command`: `valued` take the
  // next argument as their value, `flags` take none. Throws UsageError on an
  // unknown option, one given twice, or a valued option at the end.
  Options(const std::string& command, const Args& args,
          const std::vector<std::string>& valued,
          const std::vector<std::string>& flags);

  bool Has(const std::string& name) const { return values_.count(name) != 0; }
  std::string Str(const std::string& name, const std::string& def = "") const;
  // The value of `name`; throws UsageError when it was not given.
  std::string Required(const std::string& name) const;
  // A decimal integer (digits only, at most 2^64 - 1), or `def` when absent;
  // throws UsageError otherwise.
  size_t Size(const std::string& name, size_t def) const;
  // A finite number as strtof reads it, or `def` when absent; throws
  // UsageError otherwise.
  float Float(const std::string& name, float def) const;

 private:
  std::string command_;
  std::map<std::string, std::string> values_;
};

}  // namespace frugal::cli
