// Fit: the one epoch loop. Every way frugal trains (the CLI's `train` and
// `text train`, the CSV classifier, the Python package, Ray Train workers)
// runs its epochs here: the learning-rate schedule over the whole run, a
// new sample order every epoch (the source's), validation after each epoch
// with early stopping, checkpoints and resume, and callbacks for everything
// else (progress, JSON lines, Ray's report).
//
// A run's position (epochs done, batches done in the current epoch, the best
// validation figure) is part of the model (FitState, saved with it), so a run
// split over several Fit calls, or resumed from a checkpoint written with the
// optimizer state, continues where the last call stopped: with the same
// FitConfig::total_epochs it trains exactly as one call would, bit for bit
// (for LSH-sampled layers, a checkpoint's index is rebuilt from the weights
// on load, so a resumed run's sampling may differ from an unbroken one's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include "data/batch_source.h"
#include "nn/model.h"
#include "train/trainer.h"

namespace frugal::nn {

// The learning rate over a run, as a function of its position in epochs
// (epochs done + the fraction of the current one).
enum class LrSchedule {
  kConstant,
  kLinearDecay,  // lr * max(0.02, 1 - position / total_epochs)
};
// "constant" or "linear"; std::invalid_argument naming the choices for any
// other name.
LrSchedule ParseLrSchedule(const std::string& name);
const char* LrScheduleName(LrSchedule s);
// The rate at `position` epochs of a run of `total_epochs`.
float ScheduledRate(LrSchedule s, float lr, double position, double total_epochs);
// The rate's integral over the first `epochs` epochs of a run of
// `total_epochs`, in epochs at the full rate (how far the run has moved).
double ScheduledDistance(LrSchedule s, double epochs, double total_epochs);
// The length of a run that decays over its own end and moves as far as
// `epochs` epochs of a run of `total_epochs` (>= 1; e.g. about twice as
// many epochs under linear decay when epochs << total_epochs).
size_t EquivalentEpochs(LrSchedule s, size_t epochs, size_t total_epochs);

// Where a run is; saved in the model's metadata (keys "fit.*").
struct FitState {
  uint64_t epochs_done = 0;
  uint64_t batches_done = 0;  // in epoch epochs_done (0-based)
  double best_metric = -std::numeric_limits<double>::infinity();
  uint64_t best_epoch = 0;    // 1-based; 0: none yet
  static FitState Of(const Model& model);
  void SaveTo(Model& model) const;
};

struct FitConfig {
  // The run ends after this many epochs, counted from its start (the
  // model's FitState): a model that has done 3 epochs and a FitConfig of
  // epochs = 5 trains 2 more.
  size_t epochs = 5;
  // The schedule's horizon: the run's full length in epochs. 0: `epochs`
  // (each call then decays over its own end; a run split into calls that
  // should decay once over all of them must say its total here).
  size_t total_epochs = 0;
  LrSchedule schedule = LrSchedule::kLinearDecay;
  // Validation after each epoch: a figure where higher is better (e.g. P@1
  // or accuracy on held-out rows). In data-parallel runs it is called on
  // every rank and must return the same value on each (a collective).
  std::function<double(const Model&)> validate;
  std::string metric = "valid";  // the figure's name in reports
  // Early stopping: stop when the figure has not improved for `patience`
  // epochs (0: never stop early), and at the end restore the weights of
  // the best epoch (keeps a copy of the weights while training).
  size_t patience = 0;
  bool restore_best = true;
  // Asked after every epoch (validation done): true ends the run there, as
  // early stopping does (e.g. a time budget). A collective in data-parallel
  // runs: every rank must answer the same.
  std::function<bool()> stop;
  // Checkpoints (rank 0 writes, atomically, with the optimizer state):
  // every `checkpoint_every` steps and/or at the end of every epoch.
  std::string checkpoint_path;
  size_t checkpoint_every = 0;
  bool checkpoint_each_epoch = false;
};

// After each batch: the epoch (1-based), this rank's samples and mean loss so
// far in the epoch, the epoch's progress in [0, 1] and its wall seconds.
struct BatchProgress {
  size_t epoch = 0, epochs = 0;
  size_t samples = 0;
  double loss = 0;
  double progress = 0;
  double seconds = 0;
  size_t size_hint = 0;  // rows in an epoch when known
};

// After each epoch (validation and checkpoint done).
struct EpochReport {
  size_t epoch = 0, epochs = 0;
  BatchStats stats;  // samples and loss summed over the ranks
  double seconds = 0;
  float lr = 0;      // the rate at the epoch's last step
  bool validated = false;
  double metric = 0;
  bool best = false;  // the best figure so far
  double mean_loss() const {
    return stats.samples ? stats.loss_sum / double(stats.samples) : 0.0;
  }
};

struct FitCallbacks {
  std::function<void(const BatchProgress&)> on_batch;
  std::function<void(const EpochReport&)> on_epoch;
};

struct FitResult {
  size_t epochs_run = 0;      // in this call
  bool stopped_early = false;
  size_t best_epoch = 0;      // 0: no validation
  double best_metric = 0;
  BatchStats stats;           // this rank's, over the call
  double seconds = 0;
};

// Trains `model` on `source` until FitConfig::epochs epochs of the run are
// done (or early stopping ends it). Throws what the source, the trainer and
// the checkpoint writer throw; a failed run leaves the last checkpoint
// intact. With TrainConfig::comm every rank calls Fit with its own source; a
// step runs while every rank has a batch (an epoch ends for all when one
// rank's shard is exhausted).
FitResult Fit(Model& model, BatchSource& source, const TrainConfig& tc,
              const FitConfig& fc, const FitCallbacks& callbacks = {});

}  // namespace frugal::nn
