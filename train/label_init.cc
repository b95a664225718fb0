#include "train/label_init.h"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace frugal::nn {

LabelInitReport InitOutputFromLabels(Model& model, BatchSource& source,
                                     float logit_scale, size_t threads,
                                     comm::Communicator* comm) {
  const auto start = std::chrono::steady_clock::now();
  if (model.num_layers() < 2) {
    throw std::invalid_argument("InitOutputFromLabels: the model has no hidden layer");
  }
  Layer& out = model.output();
  const size_t width = out.input_dim;  // the last hidden layer's width
  const size_t labels = model.output_dim();
  const size_t stride = out.w.stride;
  // Sums of hidden vectors per label (in place of the weights of labels
  // seen), the number of rows per label, and the sum over all rows.
  std::vector<float> sums(labels * width, 0.0f);
  std::vector<double> counts(labels, 0.0);
  std::vector<double> total(width + 2, 0.0);  // sum of h, norm sum, rows
  const int nthreads = threads ? int(threads) : tbb::info::default_concurrency();
  tbb::task_arena arena(nthreads);
  tbb::enumerable_thread_specific<Model::Activations> acts;
  SparseDataset batch;
  std::vector<float> hidden;
  source.Start(0);
  while (source.Next(4096, &batch)) {
    const size_t n = batch.size();
    hidden.resize(n * width);
    arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<size_t>(0, n, 64),
                        [&](const tbb::blocked_range<size_t>& r) {
                          Model::Activations& a = acts.local();
                          for (size_t i = r.begin(); i < r.end(); ++i) {
                            model.ForwardHidden(batch.row(i), a);
                            const std::vector<float>& h = a.layers[model.num_layers() - 2].out;
                            std::copy_n(h.data(), width, hidden.data() + i * width);
                          }
                        });
    });
    for (size_t i = 0; i < n; ++i) {
      const float* h = hidden.data() + i * width;
      double norm = 0;
      for (size_t c = 0; c < width; ++c) {
        total[c] += h[c];
        norm += double(h[c]) * h[c];
      }
      total[width] += std::sqrt(norm);
      total[width + 1] += 1;
      for (const uint32_t y : batch.row(i).labels) {
        float* s = sums.data() + size_t(y) * width;
        for (size_t c = 0; c < width; ++c) s[c] += h[c];
        counts[y] += 1;
      }
    }
  }
  if (comm != nullptr && comm->size() > 1) {
    comm->Allreduce(sums.data(), sums.size(), comm::ReduceOp::kSum);
    comm->Allreduce(counts.data(), counts.size(), comm::ReduceOp::kSum);
    comm->Allreduce(total.data(), total.size(), comm::ReduceOp::kSum);
  }
  LabelInitReport report;
  const double rows = total[width + 1];
  report.rows = size_t(rows);
  if (rows > 0) {
    report.hidden_norm = total[width] / rows;
    std::vector<float> mean(width);
    for (size_t c = 0; c < width; ++c) mean[c] = float(total[c] / rows);
    // |w| * mean |h| = logit_scale.
    const double length = double(logit_scale) / std::max(report.hidden_norm, 1e-12);
    for (size_t y = 0; y < labels; ++y) {
      if (counts[y] == 0) continue;
      float* s = sums.data() + y * width;
      const float inv = float(1.0 / counts[y]);
      double norm = 0;
      for (size_t c = 0; c < width; ++c) {
        s[c] = s[c] * inv - mean[c];
        norm += double(s[c]) * s[c];
      }
      if (norm <= 0) continue;
      const float k = float(length / std::sqrt(norm));
      float* w = out.w.w.data() + y * stride;
      for (size_t c = 0; c < width; ++c) w[c] = k * s[c];
      out.b.w[y] = 0.0f;
      ++report.labels_set;
    }
  }
  model.RebuildIndex();
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace frugal::nn
