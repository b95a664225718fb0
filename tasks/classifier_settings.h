// The text classifier's named settings, in one place for every front end:
// `frugal text train --batch 64` and Python's `batch_size=64` both go
// through ApplyClassifierSetting, so names, defaults, validation and error
// messages are written once (as train/settings.h does for `frugal train`).
#pragma once

#include <string>
#include <vector>

#include "tasks/classifier.h"

namespace frugal::nn {

struct ClassifierSettingInfo {
  const char* cli;     // the CLI flag without "--", e.g. "batch"
  const char* python;  // the Python keyword, e.g. "batch_size"
  // CLI switches take no value: `--no-header` sets the Python keyword
  // `header` to false (`negated`), `--linear` sets `linear` to true.
  bool is_switch;
  bool negated;
  const char* default_value;  // as the Python keyword's value
  const char* help;
};

// Every setting ApplyClassifierSetting knows, in help order. "0" for hidden,
// members, epochs, batch and lr means automatic (ChooseSettings).
const std::vector<ClassifierSettingInfo>& ClassifierSettingList();

// The settings as given, before the checks that involve several of them.
struct ClassifierSettings {
  ClassifierOptions options;
  bool columns_given = false;      // columns
  std::string label_col;           // label-col (shorthand with text-col)
  std::vector<std::string> text_cols;
  bool hidden_given = false;
};

// Every default of ClassifierSettingList applied.
ClassifierSettings DefaultClassifierSettings();

// Sets the setting named `name` from `value`: from the command line (`cli`:
// its CLI name; a switch's value is ignored; --lr and --members must be
// positive) or from Python (its Python name; a switch's value is a boolean,
// 1/0/true/false; 0 for lr and members is automatic). Throws
// std::invalid_argument "<name>: expected <what>, got '<value>'" (the CLI
// name as "--name") for a bad value, or naming an unknown setting.
void ApplyClassifierSetting(const std::string& name, const std::string& value,
                            bool cli, ClassifierSettings* s);

// The options for Classifier::Train: columns from `columns` or from the
// label-col/text-col shorthand (exactly one of the two), linear excludes
// hidden; without a header, columns are indices and a rest-of-line last
// column sets num_columns (unless given). Throws std::invalid_argument.
ClassifierOptions FinishClassifierSettings(const ClassifierSettings& s);

// "C:TYPE,A-B:TYPE,..." (names may contain ':'; the last one separates).
std::vector<ColumnSpec> ParseColumnList(const std::string& list);

}  // namespace frugal::nn
