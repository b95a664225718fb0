// End-to-end training on the synthetic Amazon-670K-shaped data (see
// nn/synthetic.h): training and inference samples/s (and per core), peak
// memory, and precision after a fixed number of samples. With --compare, the
// same network is also trained with a dense output layer (every label
// computed), for the sparse-vs-dense accuracy comparison.
//
//   frugal_train_bench [--labels N] [--train N] [--test N] [--epochs N]
//                      [--hidden N] [--batch N] [--threads N] [--lr F]
//                      [--sparsity F] [--padding shared|own] [--compare]
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "nn/model.h"
#include "data/synthetic.h"
#include "data/batch_source.h"
#include "train/fit.h"
#include "train/trainer.h"

namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
double PeakRssGb() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / (1024.0 * 1024.0);  // ru_maxrss is in KiB
}

struct Settings {
  size_t labels = 670091, train = 100000, test = 5000, epochs = 1;
  size_t hidden = 128, batch = 256, threads = 2;
  float lr = 1e-3f, sparsity = 0;  // 0: automatic
  bool shared_padding = true;
};

// Trains one model and prints its figures; returns exact P@1.
double Run(const Settings& st, const frugal::nn::SparseDataset& train,
           const frugal::nn::SparseDataset& test, bool dense) {
  using namespace frugal::nn;
  const ModelConfig mc = AutoConfig(train.num_features(), st.labels,
                                    st.hidden, dense ? 1.0f : st.sparsity);
  auto t0 = Clock::now();
  Model model(mc);
  const double init_s = Since(t0);
  TrainConfig tc;
  tc.batch_size = st.batch;
  tc.threads = st.threads;
  tc.lr = st.lr;
  tc.shared_padding = st.shared_padding;
  std::printf("%s output: %zu labels, %zu active per sample, hidden %zu, "
              "batch %zu, %zu threads (model init %.1f s)\n",
              dense ? "dense" : "sparse", st.labels, model.active_size(),
              st.hidden, st.batch, st.threads, init_s);
  double train_s = 0;
  size_t samples = 0;
  FitConfig fc;
  fc.epochs = st.epochs;
  fc.schedule = LrSchedule::kConstant;
  InMemorySource source(train, /*seed=*/1);
  FitCallbacks cb;
  cb.on_epoch = [&](const EpochReport& r) {
    const BatchStats& s = r.stats;
    const size_t e = r.epoch;
    const double sec = r.seconds;
    train_s += sec;
    samples += s.samples;
    std::printf("  epoch %zu: loss %.4f, %.0f samples/s (%.0f per core), "
                "mean active %.0f, output rows updated per batch %.0f; "
                "seconds: forward %.1f, accumulate %.1f, adam %.1f, lsh %.1f\n",
                e, s.loss_sum / double(s.samples), double(s.samples) / sec,
                double(s.samples) / sec / double(st.threads),
                double(s.active_sum) / double(s.samples),
                double(s.output_rows_updated) /
                    std::ceil(double(s.samples) / double(st.batch)),
                s.forward_s,
                s.accumulate_s, s.update_s, s.index_s);
  };
  Fit(model, source, tc, fc, cb);
  for (size_t factor : {1, 4}) {  // inference-time width vs the default 2x
    if (dense) break;
    const size_t saved = model.inference_active();
    model.set_inference_active(saved / 2 * factor);
    const EvalResult e = Evaluate(model, test, false, st.threads);
    std::printf("  inference (LSH, %zu candidates): %.0f samples/s; P@1 %.4f "
                "P@5 %.4f\n",
                model.inference_active(), double(e.samples) / e.seconds,
                e.p_at[1], e.p_at[5]);
    model.set_inference_active(saved);
  }
  const EvalResult lsh = Evaluate(model, test, false, st.threads);
  const EvalResult exact = Evaluate(model, test, true, st.threads);
  std::printf("  training: %.0f samples/s (%.0f per core) over %zu samples\n",
              double(samples) / train_s,
              double(samples) / train_s / double(st.threads), samples);
  std::printf("  inference (%s, %zu candidates): %.0f samples/s; P@1 %.4f "
              "P@5 %.4f\n",
              dense ? "dense" : "LSH", dense ? st.labels : model.inference_active(),
              double(lsh.samples) / lsh.seconds,
              lsh.p_at[1], lsh.p_at[5]);
  std::printf("  inference (exact): %.0f samples/s; P@1 %.4f P@5 %.4f\n",
              double(exact.samples) / exact.seconds, exact.p_at[1],
              exact.p_at[5]);
  std::printf("  peak memory (process so far): %.2f GB\n", PeakRssGb());
  return exact.p_at[1];
}

}  // namespace

int main(int argc, char** argv) {
  Settings st;
  bool compare = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--compare") {
      compare = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "option %s needs a value\n", a.c_str());
      return 2;
    }
    const char* v = argv[++i];
    if (a == "--labels") st.labels = std::strtoull(v, nullptr, 10);
    else if (a == "--train") st.train = std::strtoull(v, nullptr, 10);
    else if (a == "--test") st.test = std::strtoull(v, nullptr, 10);
    else if (a == "--epochs") st.epochs = std::strtoull(v, nullptr, 10);
    else if (a == "--hidden") st.hidden = std::strtoull(v, nullptr, 10);
    else if (a == "--batch") st.batch = std::strtoull(v, nullptr, 10);
    else if (a == "--threads") st.threads = std::strtoull(v, nullptr, 10);
    else if (a == "--lr") st.lr = std::strtof(v, nullptr);
    else if (a == "--sparsity") st.sparsity = std::strtof(v, nullptr);
    else if (a == "--padding") st.shared_padding = std::string(v) != "own";
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  frugal::nn::SyntheticConfig sc;
  sc.num_labels = st.labels;
  auto t0 = Clock::now();
  const auto train = frugal::nn::GenerateSynthetic(sc, 0, st.train);
  const auto test = frugal::nn::GenerateSynthetic(sc, st.train, st.test);
  std::printf("synthetic: %zu features, %zu labels, %zu train + %zu test "
              "samples, %.1f non-zeros/sample (generated in %.1f s)\n",
              train.num_features(), st.labels, train.size(), test.size(),
              double(train.nonzeros()) / double(train.size()), Since(t0));
  const double sparse_p1 = Run(st, train, test, false);
  if (compare) {
    const double dense_p1 = Run(st, train, test, true);
    std::printf("P@1 sparse %.4f vs dense %.4f: difference %.4f\n", sparse_p1,
                dense_p1, dense_p1 - sparse_p1);
  }
  return 0;
}
