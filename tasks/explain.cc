#include "tasks/explain.h"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <utility>

namespace frugal::nn {
namespace {

bool IsWordByte(uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || c >= 0x80;
}

bool IsSpaceByte(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string Lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
  return out;
}

// (position, type) of every feature column, from the featurizer's metadata
// ("featurizer.columns": "index:type,...").
std::vector<std::pair<size_t, ColumnType>> FeatureColumns(const Featurizer& f) {
  const std::map<std::string, std::string> m = f.ToMetadata();
  const auto it = m.find("featurizer.columns");
  std::vector<std::pair<size_t, ColumnType>> out;
  if (it == m.end()) return out;
  size_t start = 0;
  const std::string& list = it->second;
  while (start < list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    const std::string item = list.substr(start, end - start);
    const size_t colon = item.find(':');
    if (colon != std::string::npos) {
      out.emplace_back(std::stoul(item.substr(0, colon)),
                       ParseColumnType(item.substr(colon + 1)));
    }
    start = end + 1;
  }
  return out;
}

}  // namespace

std::vector<std::string_view> TextTokens(std::string_view text) {
  std::vector<std::string_view> out;
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  for (size_t i = 0; i < text.size();) {
    if (IsSpaceByte(p[i])) {
      ++i;
    } else if (!IsWordByte(p[i])) {
      out.push_back(text.substr(i++, 1));
    } else {
      const size_t start = i;
      while (i < text.size() && IsWordByte(p[i])) ++i;
      out.push_back(text.substr(start, i - start));
    }
  }
  return out;
}

Explanation Explain(const Classifier& classifier, const std::string_view* fields,
                    size_t num_fields) {
  Classifier::Scratch scratch;
  const Prediction p = classifier.Predict(fields, num_fields, scratch);
  Explanation e;
  e.label = p.label;
  e.probability = p.score;
  const bool lower = classifier.featurizer().config().lowercase;
  std::vector<std::string_view> occluded(fields, fields + num_fields);
  auto weight_without = [&](size_t column, std::string_view replacement) {
    occluded[column] = replacement;
    const float q = classifier.LabelProbability(occluded.data(), num_fields,
                                                p.label, scratch);
    occluded[column] = fields[column];
    return p.score - q;
  };
  for (const auto& [column, type] : FeatureColumns(classifier.featurizer())) {
    if (column >= num_fields || fields[column].empty()) continue;
    if (type != ColumnType::kText) {
      e.features.push_back({column, type, std::string(fields[column]),
                            weight_without(column, std::string_view())});
      continue;
    }
    const std::vector<std::string_view> tokens = TextTokens(fields[column]);
    std::vector<std::string> units;
    for (const std::string_view t : tokens) {
      std::string u = lower ? Lowered(t) : std::string(t);
      if (std::find(units.begin(), units.end(), u) == units.end()) {
        units.push_back(std::move(u));
      }
    }
    std::string rest;
    for (const std::string& unit : units) {
      rest.clear();
      for (const std::string_view t : tokens) {
        if ((lower ? Lowered(t) : std::string(t)) == unit) continue;
        if (!rest.empty()) rest += ' ';
        rest += t;
      }
      e.features.push_back({column, type, unit, weight_without(column, rest)});
    }
  }
  std::stable_sort(e.features.begin(), e.features.end(),
                   [](const FeatureWeight& a, const FeatureWeight& b) {
                     return a.weight > b.weight;
                   });
  return e;
}

}  // namespace frugal::nn
