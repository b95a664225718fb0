#include "data/csv_source.h"

#include <vector>

namespace frugal::nn {
namespace {

class CsvRowStream : public RowStream {
 public:
  CsvRowStream(const std::string& path, const CsvOptions& csv,
               const Featurizer& featurizer)
      : path_(path),
        csv_(csv),
        featurizer_(featurizer),
        bytes_(LineReader::FileSize(path)) {}
  size_t num_features() const override { return featurizer_.num_features(); }
  size_t num_labels() const override { return featurizer_.num_labels(); }
  void Rewind() override {
    reader_ = std::make_unique<CsvReader>(path_, csv_);
    last_ = reader_->consumed_bytes();
  }
  bool Read(RowSlot* slot) override {
    while (reader_->Next()) {
      fields_.resize(reader_->num_fields());
      for (size_t i = 0; i < fields_.size(); ++i) fields_[i] = reader_->field(i);
      try {
        featurizer_.Featurize(fields_.data(), fields_.size(), true, row_);
      } catch (const FieldError& e) {
        reader_->Reject(e.column(), e.what());
        continue;
      }
      slot->idx.assign(row_.idx.begin(), row_.idx.end());
      slot->val.assign(row_.val.begin(), row_.val.end());
      slot->labels.assign(row_.labels.begin(), row_.labels.end());
      const uint64_t at = reader_->consumed_bytes();
      slot->bytes = at - last_;
      last_ = at;
      return true;
    }
    return false;
  }
  uint64_t pass_bytes() const override { return bytes_; }
  size_t bad_rows() const { return reader_ ? reader_->bad_rows() : 0; }

 private:
  std::string path_;
  CsvOptions csv_;
  const Featurizer& featurizer_;
  uint64_t bytes_;
  std::unique_ptr<CsvReader> reader_;
  uint64_t last_ = 0;
  std::vector<std::string_view> fields_;
  FeatureRow row_;
};

}  // namespace

CsvSource::CsvSource(const std::string& path, const CsvOptions& csv,
                     const Featurizer& featurizer, const ShuffleOptions& shuffle)
    : ShuffledSource(std::make_unique<CsvRowStream>(path, csv, featurizer), shuffle) {}

size_t CsvSource::bad_rows() const {
  return static_cast<const CsvRowStream&>(stream()).bad_rows();
}

}  // namespace frugal::nn
