// frugal: sparse (LSH-sampled) neural networks on CPUs. Umbrella header.
#pragma once

#include "dispatch/cpu.h"       // IWYU pragma: export
#include "dispatch/isa.h"       // IWYU pragma: export
#include "dispatch/ops.h"       // IWYU pragma: export
#include "dispatch/registry.h"  // IWYU pragma: export
#include "kernels/types.h"      // IWYU pragma: export
#include "lsh/neuron_index.h"   // IWYU pragma: export
#include "nn/dataset.h"         // IWYU pragma: export
#include "nn/model.h"           // IWYU pragma: export
#include "nn/serialize.h"       // IWYU pragma: export
#include "nn/synthetic.h"       // IWYU pragma: export
#include "nn/trainer.h"         // IWYU pragma: export
