// Sharded state for the input layer (TrainConfig::shard_input): the rows of
// layer 0 (one per input feature) are owned by rank feature % n. Every rank
// keeps a full-size copy of the weights, but only the rows its batch touches
// are current on it when used: before a step's forward pass it fetches them
// from their owners; after the step's gradient accumulation it sends the
// gradients of the rows it touched to their owners, and each owner sums
// them in rank order (from zero, as the replicated "rows" exchange does) and
// applies Adam to its own rows only. Bytes per rank and step are then about
// 2 (n-1)/n x the rows it touches (ids, values, gradients), whatever n,
// instead of (n-1) x with a replicated allgather of touched rows. The
// weights equal the replicated rows exchange's bit for bit.
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

// Rank comm.rank()'s current copies of the layer-0 rows `rows` (distinct
// feature ids, any order) from their owners. A collective (three
// alltoallvs). Returns the bytes this rank sent.
uint64_t FetchInputRows(Model& model, comm::Communicator& comm,
                        const std::vector<uint32_t>& rows);

// The gradients of the layer-0 rows this rank touched (touched[t], split
// over T lists by row % T; mark[r] set for them) to their owners, summed
// there in rank order into W.g; on return touched lists the rows this rank
// owns that any rank touched (split the same way, ascending), mark is set
// exactly for them, and the other rows' gradients are zero. Layer 0's bias
// gradient is summed over the ranks (allreduce). A collective. Returns the
// bytes this rank sent.
uint64_t PushInputGradients(Model& model, comm::Communicator& comm,
                            std::vector<std::vector<uint32_t>>& touched,
                            std::vector<uint8_t>& mark);

// Every rank's owned rows of layer 0 (weights and Adam moments) to every
// rank: afterwards the copies are identical. A collective.
void SyncInputLayer(Model& model, comm::Communicator& comm);

}  // namespace frugal::nn
