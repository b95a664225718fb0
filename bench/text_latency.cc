// Single-row prediction latency of a `frugal text` model: every record of a
// CSV file (laid out like the training file) is featurized and classified
// one at a time on the calling thread; prints p50/p90/p99/max per call.
//
//   frugal_text_latency --model M --input test.csv [--passes N]
//
// Records are read into memory first, so the timings cover Predict alone
// (featurization + forward pass + softmax), after one warm-up pass. Run it
// pinned to one core (taskset -c 0).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/classifier.h"

int main(int argc, char** argv) {
  std::string model_path, input;
  size_t passes = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--model") {
      model_path = argv[i + 1];
    } else if (a == "--input") {
      input = argv[i + 1];
    } else if (a == "--passes") {
      passes = std::max(1, std::atoi(argv[i + 1]));
    } else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (model_path.empty() || input.empty()) {
    std::fprintf(stderr,
                 "usage: frugal_text_latency --model M --input CSV [--passes N]\n");
    return 2;
  }
  try {
    const auto c = frugal::nn::Classifier::Load(model_path);
    std::vector<std::vector<std::string>> rows;
    {
      frugal::nn::CsvReader r(input, c->csv());
      while (r.Next()) {
        rows.emplace_back();
        for (size_t i = 0; i < r.num_fields(); ++i) rows.back().emplace_back(r.field(i));
      }
    }
    std::vector<std::vector<std::string_view>> fields;
    for (const auto& r : rows) fields.emplace_back(r.begin(), r.end());
    frugal::nn::Classifier::Scratch scratch;
    uint64_t checksum = 0;
    for (const auto& f : fields) checksum += c->Predict(f.data(), f.size(), scratch).label;
    std::vector<double> us;
    us.reserve(fields.size() * passes);
    using Clock = std::chrono::steady_clock;
    for (size_t p = 0; p < passes; ++p) {
      for (const auto& f : fields) {
        const auto t0 = Clock::now();
        checksum += c->Predict(f.data(), f.size(), scratch).label;
        const auto t1 = Clock::now();
        us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
    }
    std::sort(us.begin(), us.end());
    auto q = [&](double f) { return us[std::min(us.size() - 1, size_t(f * double(us.size())))]; };
    double mean = 0;
    for (double v : us) mean += v;
    mean /= double(us.size());
    std::printf("single-row predict: %zu calls (%zu rows x %zu passes): "
                "p50 %.1f us  p90 %.1f us  p99 %.1f us  max %.1f us  mean %.1f us"
                "  (checksum %llu)\n",
                us.size(), fields.size(), passes, q(0.50), q(0.90), q(0.99),
                us.back(), mean, static_cast<unsigned long long>(checksum));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "frugal_text_latency: %s\n", e.what());
    return 1;
  }
  return 0;
}
