// frugal: sparse (LSH-sampled) neural networks on CPUs. Umbrella header.
#pragma once

#include "dispatch/cpu.h"       // IWYU pragma: export
#include "dispatch/isa.h"       // IWYU pragma: export
#include "dispatch/ops.h"       // IWYU pragma: export
#include "dispatch/registry.h"  // IWYU pragma: export
#include "kernels/types.h"      // IWYU pragma: export
#include "lsh/neuron_index.h"   // IWYU pragma: export
#include "comm/communicator.h"  // IWYU pragma: export
#include "data/batch_source.h"  // IWYU pragma: export
#include "data/dataset.h"       // IWYU pragma: export
#include "data/synthetic.h"     // IWYU pragma: export
#include "nn/model.h"           // IWYU pragma: export
#include "nn/serialize.h"       // IWYU pragma: export
#include "tasks/classifier.h"   // IWYU pragma: export
#include "tasks/classifier_settings.h"  // IWYU pragma: export
#include "tasks/explain.h"      // IWYU pragma: export
#include "train/fit.h"          // IWYU pragma: export
#include "train/sharded_output.h"  // IWYU pragma: export
#include "train/trainer.h"      // IWYU pragma: export
