#include "apps/options.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace frugal::cli {

Options::Options(const std::string& command, const Args& args,
                 const std::vector<std::string>& valued,
                 const std::vector<std::string>& flags)
    : command_(command) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool is_valued =
        std::find(valued.begin(), valued.end(), a) != valued.end();
    const bool is_flag =
        std::find(flags.begin(), flags.end(), a) != flags.end();
    if (!is_valued && !is_flag) {
      throw UsageError(command, "unknown option '" + a + "'");
    }
    if (values_.count(a)) {
      throw UsageError(command, "option '" + a + "' given twice");
    }
    if (is_valued) {
      if (i + 1 >= args.size()) {
        throw UsageError(command, "option '" + a + "' needs a value");
      }
      values_[a] = args[++i];
    } else {
      values_[a] = "";
    }
  }
}

std::string Options::Str(const std::string& name,
                         const std::string& def) const {
  auto it = values_.find(name);
  return it == values_.end() ? def : it->second;
}

std::string Options::Required(const std::string& name) const {
  if (!Has(name)) throw UsageError(command_, "missing " + name);
  return Str(name);
}

size_t Options::Size(const std::string& name, size_t def) const {
  if (!Has(name)) return def;
  const std::string v = Str(name);
  // strtoull alone would accept leading blanks, a sign ("-5" wraps to
  // 2^64 - 5) and "+5": only plain digits are a size.
  const bool digits = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  errno = 0;
  const unsigned long long x =
      digits ? std::strtoull(v.c_str(), nullptr, 10) : 0;
  if (!digits || errno != 0) {
    throw UsageError(command_,
                     name + " expects a non-negative integer, got '" + v + "'");
  }
  return size_t(x);
}

float Options::Float(const std::string& name, float def) const {
  if (!Has(name)) return def;
  const std::string v = Str(name);
  char* end = nullptr;
  const float x = std::strtof(v.c_str(), &end);
  // A value with an embedded NUL stops strtof early: refuse it too.
  if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(x)) {
    throw UsageError(command_, name + " expects a number, got '" + v + "'");
  }
  return x;
}

}  // namespace frugal::cli
