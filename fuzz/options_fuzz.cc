// Fuzzes the command-line option parser (apps/options.h): the input is the
// argument list, NUL-separated. Parsing and every accessor either succeed
// with a value that honours its contract or throw UsageError.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "apps/options.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using frugal::cli::Options;
  using frugal::cli::UsageError;
  frugal::cli::Args args;
  std::string cur;
  for (size_t i = 0; i < size && args.size() < 64; ++i) {
    if (data[i] == 0) {
      args.push_back(cur);
      cur.clear();
    } else {
      cur += char(data[i]);
    }
  }
  if (!cur.empty()) args.push_back(cur);
  const std::vector<std::string> valued = {"--train", "--epochs", "--lr",
                                           "--model"};
  const std::vector<std::string> flags = {"--json", "--exact"};
  try {
    const Options o("train", args, valued, flags);
    for (const std::string& name : valued) {
      try {
        const size_t n = o.Size(name, 7);
        // A size is plain digits: it prints back to what was given, up to
        // leading zeros.
        if (o.Has(name)) {
          const std::string v = o.Str(name);
          Check(std::to_string(n) ==
                v.substr(std::min(v.find_first_not_of('0'), v.size() - 1)));
        } else {
          Check(n == 7);
        }
      } catch (const UsageError&) {
      }
      try {
        Check(std::isfinite(o.Float(name, 0.5f)));
      } catch (const UsageError&) {
      }
      try {
        Check(o.Required(name) == o.Str(name));
      } catch (const UsageError&) {
        Check(!o.Has(name));
      }
    }
    for (const std::string& name : flags) {
      Check(!o.Has(name) || o.Str(name, "x").empty());
    }
  } catch (const UsageError&) {
  }
  return 0;
}
