// Fuzzes the model / checkpoint loader (nn/serialize.h LoadModelFromMemory,
// the same reader as LoadModel): any input either loads into a model that
// predicts, or throws ModelFileError. About half the inputs (chosen by a bit of
// their checksum) first get their last four bytes replaced by the CRC-32 of the
// rest, so mutations also get past the checksum to the code that builds a model
// from the stored configuration; the others exercise the checks as they are.
#include <tbb/global_control.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "nn/model.h"
#include "nn/serialize.h"

namespace {

using frugal::Span;

void LoadAndPredict(const uint8_t* data, size_t size) {
  std::unique_ptr<frugal::nn::Model> model;
  try {
    model = frugal::nn::LoadModelFromMemory(data, size, "fuzz input");
  } catch (const frugal::nn::ModelFileError&) {
    return;
  }
  const uint32_t idx[] = {0};
  const float val[] = {1.0f};
  const frugal::nn::SparseRow row{Span<const uint32_t>(idx, 1),
                                  Span<const float>(val, 1),
                                  Span<const uint32_t>()};
  frugal::nn::Model::Activations scratch;
  std::vector<uint32_t> labels;
  std::vector<float> scores;
  for (bool exact : {true, false}) {
    model->Predict(row, 5, exact, scratch, labels, scores);
    if (labels.size() != scores.size() || labels.size() > 5) std::abort();
    for (uint32_t l : labels) {
      if (l >= model->output_dim()) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // One thread: building an index would otherwise wake TBB's workers for
  // every input, which costs more than the rest of the load.
  static tbb::global_control one_thread(
      tbb::global_control::max_allowed_parallelism, 1);
  if (size < 4) {
    LoadAndPredict(data, size);
    return 0;
  }
  const uint32_t crc =
      uint32_t(crc32_z(crc32_z(0, nullptr, 0), data, size - 4));
  if ((crc & 0x100) == 0) {
    LoadAndPredict(data, size);
    return 0;
  }
  std::vector<uint8_t> fixed(data, data + size);
  std::memcpy(fixed.data() + size - 4, &crc, 4);
  LoadAndPredict(fixed.data(), size);
  return 0;
}
