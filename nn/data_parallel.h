// Data-parallel training: the pieces the Trainer and the CLI use when a
// dist::Communicator joins several ranks.
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
#include <vector>

#include "dist/communicator.h"
#include "nn/dataset.h"
#include "nn/model.h"

namespace frugal::nn {

// How a layer's gradient rows cross the ranks.
enum class ExchangePolicy {
  kAuto,    // per layer and step, whichever moves fewer bytes
  kDense,   // ring allreduce of the whole gradient matrix
  kSparse,  // allgatherv of the touched rows' ids and values, scatter-add
};

struct LayerExchange {
  bool sparse = false;
  uint64_t touched_rows = 0;  // summed over the ranks (with repeats)
  uint64_t union_rows = 0;    // distinct rows touched by any rank
  // Bytes this rank sent for the layer (ids, values or the allreduce), and
  // what a dense ring allreduce of its gradient sends per rank.
  uint64_t bytes = 0, dense_bytes = 0;
  double seconds = 0;
};

struct ExchangeStats {
  std::vector<LayerExchange> layers;
  uint64_t bytes() const;
  uint64_t dense_bytes() const;
  double seconds() const;
};

// Sums every layer's gradient (ParamBlock::g of w and b) over the ranks,
// in rank order, so that every rank gets the same bits. touched[l][t]
// lists the rows of layer l this rank touched, split over T threads by
// row % T; on return it lists the union over the ranks, split the same way,
// ascending. Every rank must call it for every batch with the same model
// shape and thread count. Throws dist::CommError when a rank fails.
void ExchangeGradients(Model& model, dist::Communicator& comm,
                       ExchangePolicy policy,
                       std::vector<std::vector<std::vector<uint32_t>>>& touched,
                       ExchangeStats* stats);

// Rank `rank`'s shard of `data` for `size` ranks: rows rank, rank + size,
// rank + 2 size, ... With equal_sizes, only rows below size * floor(N /
// size), so that every shard has the same number of rows (training: every
// rank runs the same number of batches); else every row goes to a shard.
SparseDataset Shard(const SparseDataset& data, int rank, int size,
                    bool equal_sizes = true);

// A hash of the bits of every weight and bias of the model (not the Adam
// moments): equal replicas have equal hashes.
uint64_t WeightsHash(const Model& model);

// Throws std::runtime_error naming the ranks whose WeightsHash differs from
// rank 0's. A collective: every rank calls it.
void CheckReplicasIdentical(const Model& model, dist::Communicator& comm);

}  // namespace frugal::nn
