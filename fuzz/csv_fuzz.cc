// Fuzzes the CSV/TSV reader and the featurizer (data/csv.h,
// data/featurizer.h). The first byte picks the reader options (delimiter,
// quoting, header, rest-in-last-column, skipping bad rows, the featurizer's
// character n-grams); the rest is the file. The reader either delivers
// records of the file's column count or throws DataError; a featurizer
// fitted on it (column 0 the target, the others text, categorical and
// numeric in turn) either reads a dataset whose ids are within its
// dimensions, with metadata that round-trips, or throws DataError.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "data/csv.h"
#include "data/featurizer.h"
#include "data/dataset.h"

namespace {

using frugal::nn::CsvOptions;
using frugal::nn::CsvReader;

// Aborts, naming the broken expectation, unless `ok`.
void CheckAt(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "csv_fuzz: expected %s\n", what);
    std::abort();
  }
}
#define Check(expr) CheckAt(expr, #expr)

// A reader over data[0, size) (fmemopen refuses size 0: one "\n" instead).
struct MemReader {
  MemReader(const uint8_t* data, size_t size, const CsvOptions& o)
      : file(size ? ::fmemopen(const_cast<uint8_t*>(data), size, "rb")
                  : ::fmemopen(const_cast<char*>("\n"), 1, "rb"),
             &std::fclose) {
    Check(file != nullptr);
    reader = std::make_unique<CsvReader>(file.get(), "fuzz.csv", o);
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file;
  std::unique_ptr<CsvReader> reader;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t opt = data[0];
  ++data;
  --size;
  CsvOptions o;
  o.delimiter = "\t,;|"[opt & 3];
  o.quote = (opt & 4) ? '\0' : '"';
  o.header = (opt & 8) != 0;
  o.rest_in_last_column = (opt & 16) != 0;
  // Without a header, rest-in-last-column needs the column count.
  if (o.rest_in_last_column && !o.header) o.num_columns = 2;
  o.skip_bad_rows = (opt & 32) != 0;
  o.max_record_bytes = 1024;  // small, so the limit is reached too
  size_t columns = 0;
  try {
    MemReader m(data, size, o);
    while (m.reader->Next()) {
      Check(m.reader->num_fields() == m.reader->num_columns());
      // A quoted field spanning lines is checked against max_record_bytes
      // before each further line is read, so it may end up to one more
      // line (itself at most max_record_bytes) longer.
      for (size_t i = 0; i < m.reader->num_fields(); ++i) {
        Check(m.reader->field(i).size() <= 2 * o.max_record_bytes);
      }
    }
    columns = m.reader->num_columns();
  } catch (const frugal::nn::DataError&) {
    return 0;
  }
  if (columns == 0 || columns > 16) return 0;
  frugal::nn::FeaturizerConfig fc;
  fc.num_features = 1 << 12;
  fc.char_ngrams = (opt & 64) ? 3 : 0;
  fc.label_delimiter = (opt & 128) ? " " : "";
  const frugal::nn::ColumnType types[] = {frugal::nn::ColumnType::kText,
                                          frugal::nn::ColumnType::kCategorical,
                                          frugal::nn::ColumnType::kNumeric};
  for (size_t c = 0; c < columns; ++c) {
    fc.columns.push_back(
        {std::to_string(c),
         c == 0 ? frugal::nn::ColumnType::kTarget : types[(c - 1) % 3]});
  }
  try {
    MemReader fit(data, size, o);
    const frugal::nn::Featurizer f =
        frugal::nn::Featurizer::Fit(fc, *fit.reader);
    MemReader read(data, size, o);
    const frugal::nn::SparseDataset d = f.ReadDataset(*read.reader);
    Check(d.num_features() <= f.num_features());
    for (size_t i = 0; i < d.size(); ++i) {
      const frugal::nn::SparseRow r = d.row(i);
      for (uint32_t id : r.idx) Check(id < d.num_features());
      for (uint32_t l : r.labels) Check(l < d.num_labels());
    }
    const auto meta = f.ToMetadata();
    Check(frugal::nn::Featurizer::FromMetadata(meta).ToMetadata() == meta);
  } catch (const frugal::nn::DataError&) {
  }
  return 0;
}
