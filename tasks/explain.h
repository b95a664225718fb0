// Explanations of the CSV classifier's predictions by occlusion: for one
// record, each input unit (a distinct word of a text column, the value of a
// categorical or numeric column) is removed in turn and the drop of the
// predicted label's probability is its weight. A removed word takes all its
// occurrences (and so the n-grams it was part of) out of its field; a
// removed categorical or numeric value leaves the field empty (the
// featurizer's "missing" feature).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/featurizer.h"
#include "tasks/classifier.h"

namespace frugal::nn {

struct FeatureWeight {
  size_t column = 0;  // 0-based position in the record
  ColumnType type = ColumnType::kIgnore;
  std::string unit;   // the word (lower-cased when the model lower-cases),
                      // or the field's value
  // P(label | record) - P(label | record without the unit): positive when
  // the unit pushed the prediction towards its label.
  float weight = 0;
};

struct Explanation {
  uint32_t label = 0;      // the predicted label
  float probability = 0;   // its probability
  std::vector<FeatureWeight> features;  // largest weight first
};

// Explains the prediction for one record (num_fields fields laid out like
// the training file; the target field is not read). Costs one prediction
// per unit. Throws FieldError on a bad field, as Predict does.
Explanation Explain(const Classifier& classifier, const std::string_view* fields,
                    size_t num_fields);

// The tokens the featurizer reads from a text field: runs of letters, digits
// and bytes >= 0x80, and each other non-space byte alone.
std::vector<std::string_view> TextTokens(std::string_view text);

}  // namespace frugal::nn
