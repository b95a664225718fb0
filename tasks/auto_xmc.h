// Automatic settings for the extreme-classification network, chosen on
// validation rows, never on a test file: the rows given as validation data,
// or else a held-out tenth of the training rows. Candidates (hidden width,
// loss, learning rate) race by successive halving, each stopping early on
// validation P@1; the winner is then retrained on every training row, under a
// schedule that decays over its own end, for as many epochs as move the
// weights as far as its best epoch did (EquivalentEpochs) when the time
// budget allows. Settings given explicitly
// are not searched; with all of them given there is no search at all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset.h"
#include "nn/model.h"
#include "train/fit.h"
#include "train/trainer.h"

namespace frugal::nn {

struct XmcAutoOptions {
  // 0 / empty: chosen automatically; anything else is used as given.
  size_t hidden = 0;      // width of the one ReLU hidden layer
  std::string loss;       // "softmax" or "sigmoid"
  float lr = 0;
  size_t batch = 0;
  size_t epochs = 0;      // with none given: early stopping on validation
  float sparsity = 0;     // output sparsity (0: AutoConfig's rule)
  // The label memory's weight in predictions (nn/label_memory.h): < 0
  // chosen on validation rows among kMemoryBlends, 0 none.
  float memory_blend = -1;
  size_t memory_top_k = 64;  // centroid values kept per label
  size_t memory_postings = 2048;  // labels kept per feature (bounds a query's cost)
  // Search budget in wall seconds (0: max(15, the data's size rule)).
  double budget_seconds = 0;
  double valid_fraction = 0.1;  // held out when no validation data is given
  size_t threads = 0;
  uint64_t seed = 1;
};

// Sets one of XmcAutoOptions by name, for every front end (`frugal train
// --budget 30`, Python's `budget_seconds=30`): hidden, loss, lr,
// batch/batch_size, epochs, sparsity, budget/budget_seconds, valid_fraction,
// memory-blend/memory_blend ("auto" or a weight in [0, 1], 0: no memory),
// threads, seed. "0" (or "" for loss) leaves the others automatic. Throws
// std::invalid_argument "<name>: expected <what>, got '<value>'" (the CLI
// name as "--name" when `cli`) or naming an unknown setting.
void ApplyXmcAutoSetting(const std::string& name, const std::string& value,
                         bool cli, XmcAutoOptions* options);

// One candidate's run on the validation split.
struct CandidateReport {
  size_t hidden = 0;
  std::string loss;
  float lr = 0;
  size_t batch = 0;
  size_t epochs_run = 0, best_epoch = 0;
  double valid_p1 = 0;
  // Sampled output: the last epoch's share of the true labels its LSH
  // queries returned before forcing them in (-1: dense output).
  double label_recall = -1;
  double seconds = 0;
  bool survived = false;  // kept after the first round
};

// The label memory's blends tried on validation rows, and their P@1.
struct MemoryReport {
  std::vector<std::pair<float, double>> valid_p1;  // (blend, P@1)
  float blend = 0;          // chosen (0: no memory)
  size_t entries = 0;       // of the final memory
  size_t bytes = 0;
  double seconds = 0;       // building and choosing
};

struct XmcAutoReport {
  std::vector<CandidateReport> candidates;
  MemoryReport memory;
  CandidateReport chosen;
  size_t train_rows = 0, valid_rows = 0;
  bool searched = false;       // false: every setting was given
  bool retrained = false;      // the final model saw every training row
  size_t final_epochs = 0;
  double seconds = 0;
  std::string reason;          // one line: why these settings
};

// Trains a model on `train` with settings chosen as above (valid: optional
// validation rows). `on_epoch` sees every epoch of every run (candidate
// index, report). The model's metadata records the choice ("auto.*").
std::unique_ptr<Model> TrainXmcAuto(
    const SparseDataset& train, const SparseDataset* valid,
    const XmcAutoOptions& options, XmcAutoReport* report,
    const std::function<void(size_t, const EpochReport&)>& on_epoch = nullptr);

}  // namespace frugal::nn
