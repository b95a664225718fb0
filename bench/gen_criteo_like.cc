// Writes a Criteo-shaped click log (the Kaggle DAC layout: label, 13 integer
// and 26 categorical hex columns, tab-separated) of a requested size, for the
// streaming benchmarks of `frugal text train` (bench/RESULTS.md).
//
//   frugal_gen_criteo OUT.tsv GIGABYTES [SEED]
//
// Labels follow a logistic model: every categorical value and each integer
// column's log carries a fixed pseudo-random weight, so the data is learnable
// and a large file is not copies of one block. Categorical values are
// Zipf-like over vocabularies of 10 to 10^6 values; 3% of fields are empty.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

uint64_t Mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A value's weight in the label's logit: N(0, ~0.6) from its hash.
double Weight(uint64_t h) {
  const double u1 = (double(Mix(h) >> 11) + 0.5) / 9007199254740992.0;
  const double u2 = (double(Mix(h + 1) >> 11) + 0.5) / 9007199254740992.0;
  return 0.6 * std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUT.tsv GIGABYTES [SEED]\n", argv[0]);
    return 2;
  }
  const double target = std::atof(argv[2]) * 1e9;
  const uint64_t seed = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1;
  std::FILE* f = std::fopen(argv[1], "wb");
  if (f == nullptr) {
    std::perror(argv[1]);
    return 1;
  }
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  std::lognormal_distribution<double> count(1.5, 1.6);
  double num_w[13];
  for (int j = 0; j < 13; ++j) num_w[j] = 0.25 * Weight(seed * 131 + uint64_t(j));
  double vocab[26];
  for (int c = 0; c < 26; ++c) vocab[c] = std::pow(10.0, 1.0 + 5.0 * c / 25.0);
  std::string line, buf;
  buf.reserve(size_t{1} << 22);
  double written = 0;
  uint64_t rows = 0;
  char tmp[32];
  while (written < target) {
    line.clear();
    double logit = -1.6;
    std::string rest;
    for (int j = 0; j < 13; ++j) {
      rest += '\t';
      if (unit(rng) < 0.03) continue;
      const long v = long(std::floor(count(rng)));
      logit += 0.3 * num_w[j] * std::log1p(double(v));
      rest += std::to_string(v);
    }
    for (int c = 0; c < 26; ++c) {
      rest += '\t';
      // Zipf-like rank: floor(vocab^u) - 1 puts most mass on small ranks.
      const uint64_t id = uint64_t(std::pow(vocab[c], unit(rng))) - 1;
      if (unit(rng) < 0.03) continue;
      const uint64_t h = Mix(seed * 1000003 + uint64_t(c) * 0x100000000ull + id);
      logit += Weight(h);
      std::snprintf(tmp, sizeof(tmp), "%08x", unsigned(h));
      rest += tmp;
    }
    line += unit(rng) < 1 / (1 + std::exp(-logit)) ? '1' : '0';
    line += rest;
    line += '\n';
    buf += line;
    written += double(line.size());
    ++rows;
    if (buf.size() > (size_t{1} << 22)) {
      std::fwrite(buf.data(), 1, buf.size(), f);
      buf.clear();
    }
  }
  std::fwrite(buf.data(), 1, buf.size(), f);
  if (std::fclose(f) != 0) {
    std::perror(argv[1]);
    return 1;
  }
  std::printf("wrote %s: %llu rows, %.2f GB\n", argv[1],
              static_cast<unsigned long long>(rows), written / 1e9);
  return 0;
}
