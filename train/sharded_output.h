// A label-sharded (model-parallel) output layer for data-parallel jobs
// (TrainConfig::shard_output).
//
// Each of n ranks holds a contiguous 1/n of the output neurons (rank r:
// OutputShardFor(total, r, n)), their Adam moments and an LSH index of its
// own, built on its rows only; the hidden layers stay replicated. A step
// (Trainer::TrainBatch):
//  1. every rank runs the hidden layers on its own samples; one allgatherv
//     gives every rank every sample's last hidden vector and labels;
//  2. every rank computes its shard's logits for every sample of the global
//     batch (its own LSH query: the sample's labels inside the shard forced
//     in, about 1/n of the sampled layer's active neurons);
//  3. softmax: the normaliser crosses the ranks as one allreduce of one
//     float per sample (ReduceOp::kLogSumExp); a sigmoid output needs none;
//  4. every rank back-propagates its shard into a hidden-vector gradient per
//     sample; one reduce-scatter returns each rank the sum for its samples;
//  5. the output shard's gradient is accumulated from every sample of the
//     global batch in global order (rank 0's samples, then rank 1's, ...),
//     as one process would; the hidden layers' gradients are exchanged as in
//     replicated training (train/data_parallel.h), the output's not at all.
// Bytes per step grow with batch x hidden, not with the output's size.
// With a dense output, training equals one process on the concatenated
// batch up to floating-point reassociation (tests/sharded_output_test.cc).
// With a sampled output, a sample's candidates are the union of the shards'
// (each shard samples active/n of its own rows).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "comm/communicator.h"
#include "data/dataset.h"
#include "nn/model.h"
#include "train/trainer.h"

namespace frugal::nn {

// Rank `rank` of `ranks`'s neurons of an output of `total`: contiguous,
// the first total % ranks shards one neuron larger.
OutputShard OutputShardFor(size_t total, int rank, int ranks);
// Its number of neurons.
size_t OutputShardWidth(size_t total, int rank, int ranks);

// The configuration of rank `rank`'s shard of a model of `config` (which
// must not be sharded): the output's width is the shard's, a sampled
// output's active and candidate counts and its LSH buckets' capacity
// divided by `ranks` (rounded up; the same hash functions and tables).
// Initialising it gives the rows of the whole model's initialisation.
ModelConfig ShardConfig(const ModelConfig& config, int rank, int ranks);

// Rank `rank`'s shard of a whole model: its hidden layers, the shard's
// output rows with their Adam moments, the step; the shard's LSH index
// built from its rows.
std::unique_ptr<Model> ExtractShard(const Model& whole, int rank, int ranks);

// Top-5 evaluation of a sharded model (a collective over the ranks holding
// its shards): every rank ranks every row of `data` with its shard, the
// ranks' top 5 are merged by score. candidate_recall (LSH scoring) is the
// recall of the union of the shards' candidates.
EvalResult EvaluateSharded(const Model& shard, const SparseDataset& data,
                           bool exact, size_t threads, comm::Communicator& comm);

// Sharded model files. A sharded model saved under `path` is one model file
// per rank, "<path>.shard-<r>-of-<n>.step-<s>" (SaveModel's format, the
// shard's place inside), and the manifest "<path>.shards", naming the step
// and every rank's file, written last and atomically: a rank killed while
// saving leaves the previous manifest and its files intact.
std::string ShardManifestPath(const std::string& path);

// A collective: every rank writes its shard in parallel, then rank 0 the
// manifest, then every rank removes its files of other steps. Throws
// ModelFileError on every rank when any rank's write failed (the previous
// manifest still stands).
void SaveShardedModel(const Model& shard, const std::string& path, uint32_t flags,
                      comm::Communicator& comm);

// Rank `rank`'s shard of the model whose manifest is ShardManifestPath(path).
// Throws ModelFileError for a missing or malformed manifest, a manifest of
// another number of ranks, or a bad shard file.
std::unique_ptr<Model> LoadShardedModel(const std::string& path, int rank, int ranks);

// The whole model from every shard of the manifest (for evaluation or
// prediction in one process).
std::unique_ptr<Model> LoadShardsAsWhole(const std::string& path);

}  // namespace frugal::nn
