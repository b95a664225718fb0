// Label centroids as the output layer's starting point (as PECOS's PIFA
// label embeddings): each output neuron starts as the mean of the last
// hidden layer's vectors of the training rows carrying its label, centred on
// the mean over all rows and scaled to a common length. A label seen a
// handful of times then scores its rows' neighbourhood from the first step
// instead of noise, and the LSH index of a sampled output groups labels
// whose rows look alike.
#pragma once

#include <cstddef>

#include "comm/communicator.h"
#include "data/batch_source.h"
#include "nn/model.h"

namespace frugal::nn {

struct LabelInitReport {
  size_t rows = 0;         // rows read (summed over ranks)
  size_t labels_set = 0;   // output neurons given a centroid
  double hidden_norm = 0;  // mean L2 norm of a row's last hidden vector
  double seconds = 0;
};

// Sets the output weights of every label that occurs in one pass over
// `source` (pass 0) to its centroid as above, scaled so that a row's
// hidden vector of mean norm and a centroid of cosine 1 give the logit
// `logit_scale`; the biases of those labels to 0. Labels not seen keep
// their weights. With a communicator of several ranks the sums cross the
// ranks (an allreduce of the output layer's size), so every replica ends
// equal. Rebuilds the LSH indexes. Precondition: the model has a hidden
// layer and the source's labels fit its output.
LabelInitReport InitOutputFromLabels(Model& model, BatchSource& source,
                                     float logit_scale, size_t threads,
                                     comm::Communicator* comm = nullptr);

}  // namespace frugal::nn
