// Data-parallel training: the pieces the Trainer and the CLI use when a
// comm::Communicator joins several ranks.
//
// Every rank holds a full replica of the model and trains on its own shard
// of the data. After each batch's gradient accumulation (the Trainer's
// phase 2) and before Adam, ExchangeGradients sums every layer's gradient
// over the ranks and makes the set of touched rows the union of the ranks';
// every rank then applies the same Adam update to the same rows, so the
// replicas stay bit-identical, and the LSH indexes see the same changed
// neurons and rebuild on the same steps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "data/dataset.h"
#include "nn/model.h"

namespace frugal::nn {

// How a layer's gradient crosses the ranks.
enum class ExchangePolicy {
  kAuto,     // per layer and step, whichever form sends the fewest bytes
  kDense,    // ring allreduce of the whole gradient matrix
  kSparse,   // allgatherv of the touched rows' ids and values, scatter-add
  kFactors,  // layers >= 1: allgatherv of every sample's factors, every rank
             // accumulates all ranks' samples; layer 0 as kAuto
};

// "auto", "dense", "sparse" (or "rows") and "factors"; std::invalid_argument
// naming the choices for any other name.
ExchangePolicy ParseExchangePolicy(const std::string& name);
const char* ExchangePolicyName(ExchangePolicy policy);

// How ExchangeGradients chooses each layer's form.
struct ExchangeOptions {
  ExchangePolicy policy = ExchangePolicy::kAuto;
  // kAuto only. 0: the fewest bytes. > 0: the bytes per second a rank sends
  // (its link), and the least estimated time: bytes / bandwidth, plus for
  // factors accumulating every rank's samples, estimated as ranks x the
  // slowest rank's phase-2 seconds for the layer. The choice then depends on
  // timings: identical on every rank, but not from run to run.
  double bandwidth = 0;
  // 0: every layer. Otherwise only layers [0, num_layers) (the layers
  // above, e.g. a label-sharded output, are not replicated).
  size_t num_layers = 0;
  // Layers below are not exchanged (a sharded input layer's state:
  // train/sharded_input.h).
  size_t first_layer = 0;
};

// The form a layer's gradient took in one step.
enum class ExchangeForm { kDense, kRows, kFactors };
const char* ExchangeFormName(ExchangeForm form);  // "dense", "rows", "factors"

// One sample's gradient factors for a neuron-major layer l >= 1: the rows
// active[0 .. m) of W get delta[j] * h (h: the layer's input, W.cols floats)
// and their biases delta[j]. For the feature-major layer 0: the input's ids
// and values as active and delta, the layer's delta as h (its bias is one
// vector, added apart). The pointers are borrowed.
struct SampleFactors {
  const uint32_t* active = nullptr;
  const float* delta = nullptr;
  size_t m = 0;
  const float* h = nullptr;
};

// One thread's working memory for AccumulateFactors on one layer, reused
// from call to call (4 bytes per row it owns, plus 8 per active id it owns
// of at most max_ids active ids at a time).
struct FactorScratch {
  size_t max_ids = size_t{1} << 22;  // grouped at once (whole samples, >= 1)
  std::vector<uint32_t> slot;   // owned row r at r / T: its place in `rows`
  std::vector<uint32_t> rows;   // distinct owned rows of a call, first touch first
  std::vector<uint32_t> start;  // rows[k]'s contributions: entries[start[k] ..)
  struct Entry {
    uint32_t sample;
    float delta;
  };
  std::vector<Entry> entries;
};

// Adds samples[0 .. count)'s gradients to the rows r of W.g and B->g (row r's
// bias: B->g[r]; B null: no bias per row) with r % T == t: row r = active[j]
// gets delta[j] * h. Layer 0 (feature-major) takes a sample's input as
// active/delta and its layer-0 delta as h. Appends each row it touches for the
// first time (mark[r] == 0; then set) to `touched`, in order of first touch.
// Every row gets its samples' contributions in sample order (the same bits as
// adding sample after sample), row after row, so that a row's gradient is
// read and written once per call (per scratch.max_ids active ids) however
// many samples touch it. Threads t = 0 .. T-1 may run concurrently on the
// same W, B and mark, each with its own scratch.
void AccumulateFactors(ParamBlock& W, ParamBlock* B,
                       const SampleFactors* samples, size_t count, size_t t,
                       size_t T, std::vector<uint8_t>& mark,
                       std::vector<uint32_t>& touched, FactorScratch& scratch);

struct LayerExchange {
  ExchangeForm form = ExchangeForm::kDense;
  uint64_t touched_rows = 0;  // summed over the ranks (with repeats)
  uint64_t union_rows = 0;    // distinct rows touched by any rank
  // Factors (layers >= 1), summed over the ranks: samples and active ids.
  uint64_t samples = 0, active = 0;
  // Bytes this rank sent for the layer (ids, values, factors or the
  // allreduce, as chosen), and what each form sends per rank: a ring
  // allreduce of the whole gradient (the dense baseline, without the ids it
  // also gathers), touched rows with their ids, factors (0 for layer 0).
  uint64_t bytes = 0, dense_bytes = 0, rows_bytes = 0, factor_bytes = 0;
  // Wall seconds of packing, collectives and the rows' scatter-add; with
  // factors, of accumulating every rank's samples (not in `seconds`).
  double seconds = 0, accumulate_s = 0;
};

struct ExchangeStats {
  std::vector<LayerExchange> layers;
  uint64_t bytes() const;
  uint64_t dense_bytes() const;
  double seconds() const;
  double accumulate_seconds() const;
};

// Sums every layer's gradient (ParamBlock::g of w and b) over the ranks so
// that every rank gets the same bits. touched[l][t] lists the rows of layer l
// this rank touched, split over T threads by row % T; on return it lists the
// union over the ranks, split the same way, each list ascending. mark[l][r]
// may be nonzero only for rows listed in touched[l], on entry and on return. factors[l] (l >= 1) is
// this rank's batch for layer l in sample order, as phase 2 accumulated it
// (factors[0] is not exchanged); accumulate_s[l] the wall seconds phase 2 took for
// layer l on this rank. Layers exchanged as rows or dense sum the ranks'
// gradients in rank order; as factors, the layer's gradient is rebuilt from
// zero from every rank's samples in rank order (rank 0's, then rank 1's ...),
// as one process would accumulate the concatenated batch. Runs the factors'
// accumulation on T threads of the calling task arena. Every rank must call
// it for every batch with the same model shape, policy and thread count.
// Throws comm::CommError when a rank fails.
void ExchangeGradients(Model& model, comm::Communicator& comm,
                       const ExchangeOptions& options,
                       const std::vector<double>& accumulate_s,
                       const std::vector<std::vector<SampleFactors>>& factors,
                       std::vector<std::vector<uint8_t>>& mark,
                       std::vector<std::vector<std::vector<uint32_t>>>& touched,
                       ExchangeStats* stats);

// Rank `rank`'s shard of `data` for `size` ranks: rows rank, rank + size,
// rank + 2 size, ... With equal_sizes, only rows below size * floor(N /
// size), so that every shard has the same number of rows (training: every
// rank runs the same number of batches); else every row goes to a shard.
SparseDataset Shard(const SparseDataset& data, int rank, int size,
                    bool equal_sizes = true);

// A hash of the bits of every weight and bias of the model's layers
// [first_layer, end_layer) (not the Adam moments): equal replicas have
// equal hashes.
uint64_t WeightsHash(const Model& model, size_t first_layer = 0,
                     size_t end_layer = size_t(-1));

// Throws std::runtime_error naming the ranks whose WeightsHash differs from
// rank 0's (a label-sharded output's layer not compared). A collective:
// every rank calls it.
void CheckReplicasIdentical(const Model& model, comm::Communicator& comm);

}  // namespace frugal::nn
