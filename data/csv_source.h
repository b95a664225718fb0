// Featurized CSV rows as a batch source, streamed: the file is never held in
// memory (a 1 MiB read buffer, one record, and the shuffle buffer).
#pragma once

#include <memory>
#include <string>

#include "data/batch_source.h"
#include "data/csv.h"
#include "data/featurizer.h"

namespace frugal::nn {

// Rows of `path` through `featurizer` (not owned; it must outlive the
// source). Malformed records throw DataError, or with csv.skip_bad_rows are
// skipped and counted (bad_rows(), per pass). Ranks: one stream (a CSV
// record may span lines, so byte ranges cannot split it safely).
class CsvSource : public ShuffledSource {
 public:
  CsvSource(const std::string& path, const CsvOptions& csv,
            const Featurizer& featurizer, const ShuffleOptions& shuffle);
  // Records skipped as malformed in the pass so far.
  size_t bad_rows() const;
};

}  // namespace frugal::nn
