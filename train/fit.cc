#include "train/fit.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "nn/serialize.h"
#include "train/sharded_output.h"

namespace frugal::nn {

LrSchedule ParseLrSchedule(const std::string& name) {
  if (name == "constant") return LrSchedule::kConstant;
  if (name == "linear") return LrSchedule::kLinearDecay;
  throw std::invalid_argument("unknown learning-rate schedule '" + name +
                              "' (linear, constant)");
}

const char* LrScheduleName(LrSchedule s) {
  return s == LrSchedule::kConstant ? "constant" : "linear";
}

float ScheduledRate(LrSchedule s, float lr, double position,
                    double total_epochs) {
  if (s == LrSchedule::kConstant || !(total_epochs > 0)) return lr;
  return lr * std::max(0.02f, float(1.0 - position / total_epochs));
}

double ScheduledDistance(LrSchedule s, double epochs, double total_epochs) {
  if (s == LrSchedule::kConstant || !(total_epochs > 0)) return epochs;
  // The factor 1 - p / T until it meets the floor at p = 0.98 T, then 0.02.
  const double knee = 0.98 * total_epochs;
  const double p = std::min(epochs, knee);
  return p - p * p / (2.0 * total_epochs) + 0.02 * std::max(0.0, epochs - knee);
}

size_t EquivalentEpochs(LrSchedule s, size_t epochs, size_t total_epochs) {
  const double target = ScheduledDistance(s, double(epochs), double(total_epochs));
  size_t e = std::max<size_t>(1, epochs);
  while (ScheduledDistance(s, double(e), double(e)) < target - 1e-9) ++e;
  return e;
}

namespace {

constexpr const char* kEpochsKey = "fit.epochs_done";
constexpr const char* kBatchesKey = "fit.batches_done";
constexpr const char* kBestMetricKey = "fit.best_metric";
constexpr const char* kBestEpochKey = "fit.best_epoch";

uint64_t GetU64(const std::map<std::string, std::string>& m, const char* key) {
  const auto it = m.find(key);
  if (it == m.end()) return 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0') {
    throw std::invalid_argument(std::string("model metadata: bad ") + key +
                                " '" + it->second + "'");
  }
  return v;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

// Every layer's weights and biases (what early stopping restores).
struct Snapshot {
  std::vector<std::vector<float>> blocks;
  void Take(const Model& model) {
    blocks.resize(2 * model.num_layers());
    for (size_t l = 0; l < model.num_layers(); ++l) {
      blocks[2 * l] = model.layer(l).w.w;
      blocks[2 * l + 1] = model.layer(l).b.w;
    }
  }
  void Restore(Model& model) const {
    for (size_t l = 0; l < model.num_layers(); ++l) {
      model.layer(l).w.w = blocks[2 * l];
      model.layer(l).b.w = blocks[2 * l + 1];
    }
    model.RebuildIndex();
  }
};

}  // namespace

FitState FitState::Of(const Model& model) {
  const auto& m = model.config().metadata;
  FitState s;
  s.epochs_done = GetU64(m, kEpochsKey);
  s.batches_done = GetU64(m, kBatchesKey);
  s.best_epoch = GetU64(m, kBestEpochKey);
  if (const auto it = m.find(kBestMetricKey); it != m.end() && s.best_epoch) {
    s.best_metric = std::strtod(it->second.c_str(), nullptr);
  }
  return s;
}

void FitState::SaveTo(Model& model) const {
  auto& m = model.metadata();
  m[kEpochsKey] = std::to_string(epochs_done);
  m[kBatchesKey] = std::to_string(batches_done);
  m[kBestEpochKey] = std::to_string(best_epoch);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", best_epoch ? best_metric : 0.0);
  m[kBestMetricKey] = buf;
}

FitResult Fit(Model& model, BatchSource& source, const TrainConfig& tc,
              const FitConfig& fc, const FitCallbacks& callbacks) {
  CheckDataFits(model, source.num_features(), source.num_labels(), "Fit");
  if (fc.checkpoint_path.empty() &&
      (fc.checkpoint_every || fc.checkpoint_each_epoch)) {
    throw std::invalid_argument("Fit: checkpoints need a checkpoint path");
  }
  const auto run_start = std::chrono::steady_clock::now();
  FitResult result;
  FitState state = FitState::Of(model);
  if (state.epochs_done >= fc.epochs) return result;
  const double horizon = double(fc.total_epochs ? fc.total_epochs : fc.epochs);
  comm::Communicator* comm = tc.comm != nullptr && tc.comm->size() > 1 ? tc.comm : nullptr;
  const bool leader = comm == nullptr || comm->rank() == 0;
  const bool keep_best = fc.validate && fc.patience > 0 && fc.restore_best;
  Trainer trainer(model, tc);
  SparseDataset batch;
  Snapshot best;
  // A run continued from its best epoch so far keeps those weights too.
  if (keep_best && state.best_epoch != 0 && state.best_epoch == state.epochs_done &&
      state.batches_done == 0) {
    best.Take(model);
  }
  // A sharded output: every rank saves its shard (train/sharded_output.h).
  const bool sharded = comm != nullptr && tc.shard_output;
  auto checkpoint = [&] {
    trainer.SyncShardedState();
    if (sharded) {
      state.SaveTo(model);
      SaveShardedModel(model, fc.checkpoint_path, kWithOptimizerState, *comm);
      return;
    }
    if (!leader) return;
    state.SaveTo(model);
    SaveModel(model, fc.checkpoint_path, kWithOptimizerState);
  };

  for (uint64_t epoch = state.epochs_done; epoch < fc.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    source.Start(epoch);
    // Resuming mid-epoch: the batches already trained are drawn again and
    // dropped, so the rest of the epoch sees the same batches.
    for (uint64_t b = 0; b < state.batches_done; ++b) {
      if (!source.Next(tc.batch_size, &batch)) break;
    }
    EpochReport report;
    report.epoch = size_t(epoch + 1);
    report.epochs = fc.epochs;
    BatchProgress progress;
    progress.epoch = report.epoch;
    progress.epochs = fc.epochs;
    progress.size_hint = source.size_hint();
    for (;;) {
      double position = source.Progress();
      const bool have = source.Next(tc.batch_size, &batch);
      if (comm != nullptr) {
        // A step needs every rank; the schedule's position is the ranks'
        // mean, so every replica applies the same rate.
        double v[2] = {have ? 1.0 : 0.0, position};
        comm->Allreduce(v, 2, comm::ReduceOp::kSum);
        if (v[0] < double(comm->size())) break;
        position = v[1] / double(comm->size());
      } else if (!have) {
        break;
      }
      report.lr = ScheduledRate(fc.schedule, tc.lr, double(epoch) + position, horizon);
      const BatchStats s = trainer.TrainBatch(batch, report.lr);
      report.stats.Add(s);
      ++state.batches_done;
      if (callbacks.on_batch) {
        progress.samples = report.stats.samples;
        progress.loss = report.stats.loss_sum /
                        double(std::max<size_t>(1, report.stats.samples));
        progress.progress = source.Progress();
        progress.seconds = Seconds(start);
        callbacks.on_batch(progress);
      }
      if (fc.checkpoint_every && model.step() % fc.checkpoint_every == 0) {
        checkpoint();
      }
    }
    state.epochs_done = epoch + 1;
    state.batches_done = 0;
    result.stats.Add(report.stats);
    ++result.epochs_run;
    report.seconds = Seconds(start);
    if (comm != nullptr) {
      double v[2] = {double(report.stats.samples), report.stats.loss_sum};
      comm->Allreduce(v, 2, comm::ReduceOp::kSum);
      report.stats.samples = size_t(v[0]);
      report.stats.loss_sum = v[1];
    }
    if (fc.validate) {
      report.validated = true;
      trainer.SyncShardedState();
      report.metric = fc.validate(model);
      if (report.metric > state.best_metric || state.best_epoch == 0) {
        state.best_metric = report.metric;
        state.best_epoch = epoch + 1;
        report.best = true;
        if (keep_best) best.Take(model);
      }
    }
    state.SaveTo(model);
    if (fc.checkpoint_each_epoch) checkpoint();
    if (callbacks.on_epoch) {
      trainer.SyncShardedState();
      callbacks.on_epoch(report);
    }
    if (epoch + 1 < fc.epochs &&
        ((fc.validate && fc.patience > 0 &&
          epoch + 1 - state.best_epoch >= fc.patience) ||
         (fc.stop && fc.stop()))) {
      result.stopped_early = true;
      break;
    }
  }
  trainer.SyncShardedState();
  if (keep_best && !best.blocks.empty() && state.best_epoch != state.epochs_done) {
    best.Restore(model);
  }
  state.SaveTo(model);
  result.best_epoch = size_t(state.best_epoch);
  result.best_metric = state.best_epoch ? state.best_metric : 0.0;
  result.seconds = Seconds(run_start);
  return result;
}

}  // namespace frugal::nn
