// Mini-batch training of a Model with Adam/AdamW on the rows a batch touched.
//
// A batch runs in three phases, each parallel over the worker threads:
//  1. per sample: the forward pass through every layer (a sampled layer's
//     active set from its LSH index, the labels forced into the output's),
//     the loss, and each layer's gradient over its active neurons;
//  2. per parameter row: every thread owns the rows r with r % threads ==
//     its id and adds the batch's contributions to them in sample order;
//  3. per touched row: Adam, then the LSH indexes learn which neurons moved.
// Phase 2's fixed order makes training bit-identical for any thread count.
// With a communicator of several ranks, gradients are summed over the ranks
// between phases 2 and 3 (nn/data_parallel.h); a layer exchanged as factors
// then repeats phase 2 over every rank's samples.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "data/dataset.h"
#include "nn/model.h"
#include "train/data_parallel.h"

namespace frugal::nn {

struct TrainConfig {
  size_t batch_size = 256;
  float lr = 1e-3f;  // peak rate; Fit applies the schedule
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0.0f;  // AdamW, decoupled
  size_t threads = 0;  // 0: all cores
  // Sampled layers pad every sample of a step (on every rank) with the same
  // random neurons, as sampled softmax shares its negatives: a batch then
  // touches far fewer rows (less Adam work, smaller gradient exchange).
  // false: each sample draws its own padding.
  bool shared_padding = true;
  // Data-parallel training: every batch's gradients are summed over comm's
  // ranks before Adam. nullptr or a size-1 communicator: one process.
  comm::Communicator* comm = nullptr;
  ExchangePolicy exchange = ExchangePolicy::kAuto;
  // Bytes per second of a rank's link, for kAuto (ExchangeOptions::bandwidth);
  // 0: auto picks the fewest bytes.
  double exchange_bandwidth = 0;
  // Data-parallel with a label-sharded output (train/sharded_output.h): the
  // model is rank comm->rank()'s shard (ShardConfig). Ignored on one rank.
  bool shard_output = false;
  // Data-parallel: layer 0's rows owned by rank feature % n, fetched before
  // use and updated by their owner (train/sharded_input.h); Fit calls
  // SyncShardedState before the whole model is read. Ignored on one rank.
  bool shard_input = false;
  // With shard_output: exchange the replicated layers' gradients on another
  // thread while the output shard's gradient accumulates (same results).
  bool overlap_exchange = true;
};

struct BatchStats {
  size_t samples = 0;
  double loss_sum = 0;      // over the batch's samples
  size_t active_sum = 0;    // output neurons computed, over the samples
  // A sampled output: over samples with labels, the fraction of a sample's
  // distinct labels its LSH query returned before they were forced in
  // (summed; divide by label_rows). Not counted for a sharded output.
  double label_recall_sum = 0;
  size_t label_rows = 0;
  double label_recall() const { return label_rows ? label_recall_sum / double(label_rows) : -1.0; }
  // Wall seconds per phase: forward/backward per sample, gradient
  // accumulation per row (with a layer exchanged as factors, also its
  // accumulation of every rank's samples), Adam, LSH index maintenance.
  double forward_s = 0, accumulate_s = 0, update_s = 0, index_s = 0;
  // Data-parallel: wall seconds of the gradient exchange (without the
  // factors' accumulation), bytes this rank
  // sent, and what dense allreduces of every gradient would have sent.
  double exchange_s = 0;
  uint64_t exchange_bytes = 0, exchange_dense_bytes = 0;
  // Distinct output-layer rows the step updated (summed over steps).
  size_t output_rows_updated = 0;
  // Data-parallel: bytes this rank sent for the output layer (replicated:
  // its gradient; sharded: hidden vectors, labels, normalisers and the
  // hidden vectors' gradients), and a dense allreduce of its whole gradient.
  uint64_t output_exchange_bytes = 0, output_dense_bytes = 0;
  // With TrainConfig::shard_input: bytes this rank sent for layer 0 (rows
  // fetched, gradients pushed, the bias).
  uint64_t input_exchange_bytes = 0;
  // With a sharded output: seconds of the replicated layers' exchange that
  // ran while the output shard's gradient accumulated (overlapped).
  double overlap_s = 0;

  void Add(const BatchStats& b) {
    samples += b.samples;
    loss_sum += b.loss_sum;
    active_sum += b.active_sum;
    label_recall_sum += b.label_recall_sum;
    label_rows += b.label_rows;
    forward_s += b.forward_s;
    accumulate_s += b.accumulate_s;
    update_s += b.update_s;
    index_s += b.index_s;
    exchange_s += b.exchange_s;
    exchange_bytes += b.exchange_bytes;
    exchange_dense_bytes += b.exchange_dense_bytes;
    output_rows_updated += b.output_rows_updated;
    output_exchange_bytes += b.output_exchange_bytes;
    output_dense_bytes += b.output_dense_bytes;
    input_exchange_bytes += b.input_exchange_bytes;
    overlap_s += b.overlap_s;
  }
};

// Throws std::invalid_argument "<who>: data has F features and L labels; the
// model takes ..." when data of those dimensions does not fit `model`.
void CheckDataFits(const Model& model, size_t features, size_t labels,
                   const char* who);

class Trainer {
 public:
  Trainer(Model& model, const TrainConfig& config);
  ~Trainer();

  // One optimizer step on the rows of `batch` (every row of it), at
  // learning rate `lr` (the schedule is the caller's: train/fit.h). Throws
  // std::invalid_argument if batch's dimensions exceed the model's. With a
  // communicator every rank calls it once per step (a collective).
  BatchStats TrainBatch(const SparseDataset& batch, float lr);

  // With TrainConfig::shard_input: makes every rank's copy of the input
  // layer current (a collective); otherwise nothing. Call before reading the
  // whole model (evaluation, saving).
  void SyncShardedState();

  // Per layer, how the last batch's gradients crossed the ranks.
  const ExchangeStats& last_exchange() const;

  // Loss and gradients of one sample with every parameter's gradient
  // accumulated into the model's g buffers (dense output: every neuron is
  // active). For gradient checks; does not update weights.
  double SampleGradient(const SparseRow& x);

  // Adam steps taken by the model (continues across a resumed checkpoint).
  uint64_t steps() const;
  size_t threads() const { return threads_; }

 private:
  struct Impl;
  // TrainBatch's phase 1 with a sharded output; returns the seconds spent
  // in collectives.
  double ShardedForwardBackward(const SparseDataset& batch, uint64_t step,
                                BatchStats& stats);
  Model& model_;
  TrainConfig config_;
  size_t threads_;
  std::unique_ptr<Impl> impl_;
};

// Ranking quality of top-k predictions.
struct EvalResult {
  size_t samples = 0;
  double p_at[6] = {0, 0, 0, 0, 0, 0};  // p_at[k] = precision@k, k = 1..5
  double recall_at5 = 0;
  // LSH-scored sampled output: the mean fraction of a row's labels among
  // the candidates it scored (precision can never exceed it); -1 otherwise.
  double candidate_recall = -1;
  double seconds = 0;
};

// PredictBatch's label for a slot with no candidate.
constexpr uint32_t kNoLabel = 0xFFFFFFFFu;

// Top-k labels and scores of rows row(0) .. row(n - 1) (ids valid for the
// model), best first, into labels[i * k, (i + 1) * k) and the same slots of
// scores; slots beyond a row's candidates get kNoLabel and -inf. Exact scores
// every output neuron, otherwise the LSH-selected ones. Parallel over
// `threads` (0: all cores); row() is called concurrently. With
// `candidate_recall` (LSH scoring of a sampled output), *candidate_recall
// gets the mean over rows with labels of the fraction of row(i).labels
// among the network's scored candidates (-1 when nothing was sampled, as
// for a model predicting with its label memory alone; a blend's memory
// candidates are not counted).
void PredictBatch(const Model& model, size_t n,
                  const std::function<SparseRow(size_t)>& row, size_t k,
                  bool exact, size_t threads, uint32_t* labels, float* scores,
                  double* candidate_recall = nullptr);

// PredictBatch's top 5 of every row of `data` (5 slots per row).
void PredictTop5(const Model& model, const SparseDataset& data, bool exact,
                 size_t threads, std::vector<uint32_t>* labels,
                 std::vector<float>* scores, double* candidate_recall);

// P@1..5 and R@5 of top-5 predictions: top[i * 5, (i + 1) * 5) for row i of
// `data`, best first (kNoLabel: none). seconds and candidate_recall unset.
EvalResult ScoreTop5(const SparseDataset& data, const uint32_t* top);

// Evaluates top-5 predictions of `model` on `data` (exact: every output
// neuron scored; otherwise LSH-selected), parallel over `threads`.
EvalResult Evaluate(const Model& model, const SparseDataset& data, bool exact,
                    size_t threads = 0);

// The same over the ranks of `comm` (nn/data_parallel.cc): each rank
// evaluates its shard of `data`, the figures are combined; every rank gets
// the result. A collective.
EvalResult EvaluateRanks(const Model& model, const SparseDataset& data,
                         bool exact, size_t threads, comm::Communicator& comm);

}  // namespace frugal::nn
