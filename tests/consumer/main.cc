// Uses an installed frugal through its public header only: checks a dot
// product and a row-gather dot against plain loops, that the checked API
// reports mismatched sizes, and that a small network built with the nn API
// learns a separable problem. Exits nonzero on any wrong result.
#include <frugal/frugal.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

int failures = 0;

void Expect(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAIL: %s\n", what.c_str());
    ++failures;
  }
}

bool Near(float got, double want) {
  return std::fabs(double(got) - want) <= 1e-5 * (1.0 + std::fabs(want));
}

}  // namespace

int main() {
  // Dot over 19 elements (not a multiple of any vector width).
  std::vector<float> a(19), b(19);
  double want_dot = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = float(i + 1);
    b[i] = 0.5f * float(i % 4) - 0.25f;
    want_dot += double(a[i]) * double(b[i]);
  }
  const float dot = frugal::ops::Dot(a, b);
  Expect(Near(dot, want_dot),
         "Dot = " + std::to_string(dot) + ", want " + std::to_string(want_dot));

  // RowGatherDot over a 6 x 11 matrix stored with stride 16.
  const size_t rows = 6, cols = 11, stride = 16;
  std::vector<float> w(rows * stride, -1000.0f);  // padding must be ignored
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c)
      w[r * stride + c] = float(r) - float(c) / 4;
  }
  std::vector<float> h(cols);
  for (size_t c = 0; c < cols; ++c) h[c] = float(c % 3) - 1.0f;
  const std::vector<uint32_t> picked = {5, 0, 3, 5};
  std::vector<float> out(picked.size());
  frugal::ops::RowGatherDot(
      frugal::MatrixView<const float>(w.data(), rows, cols, stride), picked, h,
      out);
  for (size_t j = 0; j < picked.size(); ++j) {
    double want = 0;
    for (size_t c = 0; c < cols; ++c) {
      want += double(w[picked[j] * stride + c]) * double(h[c]);
    }
    Expect(Near(out[j], want), "RowGatherDot out[" + std::to_string(j) +
                                   "] = " + std::to_string(out[j]) + ", want " +
                                   std::to_string(want));
  }

  // The checked API refuses mismatched lengths.
  bool threw = false;
  try {
    frugal::ops::Dot(frugal::Span<const float>(a.data(), 3),
                     frugal::Span<const float>(b.data(), 4));
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  Expect(threw, "Dot of lengths 3 and 4 did not throw std::invalid_argument");

  // A network in a few lines: 40 sparse features -> 32 ReLU -> 16 ReLU ->
  // 4 classes (softmax); class c owns features c, c + 4, c + 8, ...
  frugal::nn::SparseDataset data(40, 4);
  for (uint32_t i = 0; i < 400; ++i) {
    const uint32_t c = i % 4;
    const std::vector<uint32_t> idx = {c + 4 * (i % 10), (i * 7) % 40};
    const std::vector<float> val = {1.0f, 0.5f};
    data.Add(idx, val, frugal::Span<const uint32_t>(&c, 1));
  }
  frugal::nn::ModelConfig config;
  config.input_dim = 40;
  config.layers = {{32, frugal::nn::Activation::kRelu, 1.0f, {}},
                   {16, frugal::nn::Activation::kRelu, 1.0f, {}},
                   {4, frugal::nn::Activation::kSoftmax, 1.0f, {}}};
  frugal::nn::Model model(config);
  frugal::nn::TrainConfig train;
  train.batch_size = 32;
  train.lr = 0.01f;
  frugal::nn::FitConfig fit;
  fit.epochs = 20;
  frugal::nn::InMemorySource source(data, /*seed=*/1);
  frugal::nn::Fit(model, source, train, fit);
  const double p1 =
      frugal::nn::Evaluate(model, data, /*exact=*/true).p_at[1];
  Expect(p1 > 0.95, "network P@1 = " + std::to_string(p1) + ", want > 0.95");

  std::string chosen = "(none)";
  for (const auto& k : frugal::dispatch::Report()) {
    if (k.kernel == "Dot") chosen = k.chosen;
  }
  std::printf("frugal consumer: Dot = %g (variant %s), network P@1 %.3f, %s\n",
              double(dot), chosen.c_str(), p1, failures == 0 ? "OK" : "FAILED");
  return failures == 0 ? 0 : 1;
}
