// Sharded state for the input layer (TrainConfig::shard_input): the rows of
// layer 0 (one per input feature) are owned by rank feature % n. Every rank
// keeps a full-size copy of the weights, but only the rows its batch touches
// are current on it when used: before a step's forward pass it fetches them
// from their owners; after the step's gradient accumulation it sends the
// gradients of the rows it touched to their owners, and each owner sums
// them in rank order (from zero, as the replicated "rows" exchange does) and
// applies Adam to its own rows only. Per step four alltoallvs: how many ids,
// the ids and the rows' values to fetch, the gradients (and the bias's) to
// push. Bytes per rank and step are then about (n-1)/n x the rows it
// touches x (an id, the values, the gradient), whatever n, instead of
// (n-1) x (an id, the gradient) with a replicated allgather of touched
// rows. The weights equal the replicated rows exchange's bit for bit.
//
// Other rows of a rank's copy (and the Adam moments of rows it does not
// own) are stale until SyncInputLayer, which every rank calls before the
// whole model is read (evaluation, checkpoints, the end of training).
#pragma once

#include <cstdint>
#include <vector>

#include "comm/communicator.h"
#include "nn/model.h"

namespace frugal::nn {

// What a step's FetchInputRows leaves for its PushInputGradients: the rows
// this rank read, by owner (asked[q]: the rows it fetched from rank q in the
// order it asked; asked[rank()]: the rows it owns, ascending), and the rows
// every rank asked this one for (served[q], in rank q's order; served[rank()]
// equals asked[rank()]).
struct InputRowRequests {
  std::vector<std::vector<uint32_t>> asked;
  std::vector<std::vector<uint32_t>> served;
};

// Rank comm.rank()'s current copies of the layer-0 rows `rows` (distinct
// feature ids, ascending) from their owners; `requests` records who asked
// whom for what. A collective: three alltoallvs (how many ids, the ids, the
// rows' values). Returns the bytes this rank sent.
uint64_t FetchInputRows(Model& model, comm::Communicator& comm,
                        const std::vector<uint32_t>& rows, InputRowRequests* requests);

// The gradients of the layer-0 rows this rank touched to their owners,
// summed there in rank order (from zero) into W.g, and layer 0's bias
// gradient summed over the ranks in rank order (from zero) on every rank:
// one alltoallv, each block the gradient rows of the rows the owner served
// this rank in the step's fetch (`requests`: the owner knows the ids and
// their order already) and this rank's bias gradient. The rows touched
// (touched[t], split over T lists by row % T; mark[r] set for them) must be
// exactly the rows fetched (std::logic_error otherwise). On return touched
// lists the rows this rank owns that any rank touched (split the same way,
// ascending), mark is set exactly for them, and the other rows' gradients
// are zero. A collective. Returns the bytes this rank sent.
uint64_t PushInputGradients(Model& model, comm::Communicator& comm,
                            const InputRowRequests& requests,
                            std::vector<std::vector<uint32_t>>& touched,
                            std::vector<uint8_t>& mark);

// Every rank's owned rows of layer 0 (weights and Adam moments) to every
// rank: afterwards the copies are identical. A collective.
void SyncInputLayer(Model& model, comm::Communicator& comm);

}  // namespace frugal::nn
