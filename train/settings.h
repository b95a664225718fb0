// The named training settings, in one place for every front end: the CLI's
// `--batch 64` and Python's `batch_size=64` both go through
// ApplyTrainSetting, so names, defaults, validation and error messages are
// written once.
#pragma once

#include <string>
#include <vector>

#include "train/fit.h"
#include "train/trainer.h"

namespace frugal::nn {

struct TrainSettings {
  TrainConfig train;
  FitConfig fit;
};

struct SettingInfo {
  const char* cli;     // the CLI flag without "--", e.g. "batch"
  const char* python;  // the Python keyword, e.g. "batch_size"
  const char* default_value;
  const char* help;
};

// Every setting ApplyTrainSetting knows, in help order.
const std::vector<SettingInfo>& TrainSettingList();

// TrainSettings with every default of TrainSettingList applied.
TrainSettings DefaultTrainSettings();

// Sets the setting named `name` (its CLI or Python name) from `value`.
// Throws std::invalid_argument "<name>: expected <what>, got '<value>'" (the
// CLI name as "--name") for a bad value, or naming an unknown setting.
void ApplyTrainSetting(const std::string& name, const std::string& value,
                       TrainSettings* s);

// The value parsers behind ApplyTrainSetting (for other settings lists):
// a decimal count (positive: above 0) and a finite number (positive: above
// 0, else >= 0). Throw (as BadSetting does) std::invalid_argument "<name>:
// expected <what>, got '<value>'".
[[noreturn]] void BadSetting(const std::string& name, const std::string& expected,
                             const std::string& value);
size_t ParseSettingCount(const std::string& name, const std::string& value,
                         bool positive);
double ParseSettingReal(const std::string& name, const std::string& value,
                        bool positive);

}  // namespace frugal::nn
