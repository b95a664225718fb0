// Fuzzes the XC / libsvm reader (data/dataset.h): any input either reads into
// a dataset whose every id is within its dimensions, or throws DataError.
// The first byte picks the format and whether libsvm dimensions are given;
// the rest is the file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz/mem_file.h"
#include "data/dataset.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static frugal::fuzz::MemFile file;
  file.Set(data + 1, size - 1);
  frugal::nn::ReadOptions o;
  o.format = (data[0] & 1) ? frugal::nn::DataFormat::kLibsvm
                           : frugal::nn::DataFormat::kXc;
  if (data[0] & 2) {  // libsvm with given dimensions (ignored by XC)
    o.num_features = 1 + (data[0] >> 4);
    o.num_labels = 1 + ((data[0] >> 2) & 3);
  }
  // Small limits, so the limit paths are reached too.
  o.max_features = size_t{1} << 20;
  o.max_labels = size_t{1} << 20;
  o.max_line_bytes = 256;
  try {
    const frugal::nn::SparseDataset d =
        frugal::nn::ReadSparseFile(file.path(), o);
    Check(d.num_features() <= o.max_features && d.num_labels() <= o.max_labels);
    for (size_t i = 0; i < d.size(); ++i) {
      const frugal::nn::SparseRow r = d.row(i);
      Check(r.idx.size() == r.val.size());
      for (uint32_t f : r.idx) Check(f < d.num_features());
      for (uint32_t l : r.labels) Check(l < d.num_labels());
    }
  } catch (const frugal::nn::DataError&) {
  }
  return 0;
}
