#include "train/settings.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace frugal::nn {

const std::vector<SettingInfo>& TrainSettingList() {
  static const std::vector<SettingInfo> list = {
      {"epochs", "epochs", "5", "epochs of the run (counted from its start)"},
      {"total-epochs", "total_epochs", "0",
       "the schedule's horizon in epochs (0: epochs)"},
      {"batch", "batch_size", "256", "samples per step (per rank)"},
      {"lr", "lr", "0.001", "Adam's peak learning rate"},
      {"schedule", "schedule", "linear", "linear (decay to 2%) or constant"},
      {"weight-decay", "weight_decay", "0", "AdamW decoupled weight decay"},
      {"threads", "threads", "0", "worker threads (0: all cores)"},
      {"patience", "patience", "0",
       "early stopping: epochs without a better validation figure (0: off)"},
      {"exchange", "exchange", "auto",
       "data-parallel gradients: auto, dense, sparse or factors"},
      {"exchange-bandwidth", "exchange_bandwidth", "0",
       "Gbit/s of a rank's link, for auto (0: fewest bytes)"},
      {"checkpoint-every", "checkpoint_every", "0",
       "steps between checkpoints (0: none)"},
      {"shard-output", "shard_output", "false",
       "data-parallel: each rank holds 1/N of the output layer"},
      {"shard-input", "shard_input", "false",
       "data-parallel: input-layer rows owned by rank (feature mod N)"},
  };
  return list;
}

void BadSetting(const std::string& name, const std::string& expected,
                const std::string& value) {
  throw std::invalid_argument(name + ": expected " + expected + ", got '" +
                              value + "'");
}

size_t ParseSettingCount(const std::string& name, const std::string& v,
                         bool positive) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || v[0] == '-' || *end != '\0' || errno == ERANGE ||
      (positive && x == 0)) {
    BadSetting(name, positive ? "a positive integer" : "a non-negative integer", v);
  }
  return size_t(x);
}

double ParseSettingReal(const std::string& name, const std::string& v,
                        bool positive) {
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(x) ||
      (positive ? !(x > 0) : !(x >= 0))) {
    BadSetting(name, positive ? "a positive number" : "a number >= 0", v);
  }
  return x;
}

namespace {

// "" (a bare flag), true/1/on/yes or false/0/off/no, any case.
bool ParseBool(const std::string& name, const std::string& v) {
  std::string l;
  for (char c : v) l += char(std::tolower(static_cast<unsigned char>(c)));
  if (l.empty() || l == "true" || l == "1" || l == "on" || l == "yes") return true;
  if (l == "false" || l == "0" || l == "off" || l == "no") return false;
  BadSetting(name, "true or false", v);
  return false;
}

}  // namespace

void ApplyTrainSetting(const std::string& name, const std::string& value,
                       TrainSettings* s) {
  const SettingInfo* info = nullptr;
  for (const SettingInfo& i : TrainSettingList()) {
    if (name == i.cli || name == i.python) info = &i;
  }
  if (info == nullptr) throw std::invalid_argument("unknown setting '" + name + "'");
  const std::string key = info->cli;
  // Errors name the setting as the caller spelled it (Python keyword or flag).
  const std::string n = name == info->cli ? "--" + key : name;
  TrainConfig& tc = s->train;
  FitConfig& fc = s->fit;
  if (key == "epochs") {
    fc.epochs = ParseSettingCount(n, value, true);
  } else if (key == "total-epochs") {
    fc.total_epochs = ParseSettingCount(n, value, false);
  } else if (key == "batch") {
    tc.batch_size = ParseSettingCount(n, value, true);
  } else if (key == "lr") {
    tc.lr = float(ParseSettingReal(n, value, true));
  } else if (key == "schedule") {
    try {
      fc.schedule = ParseLrSchedule(value);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(n + ": " + e.what());
    }
  } else if (key == "weight-decay") {
    tc.weight_decay = float(ParseSettingReal(n, value, false));
  } else if (key == "threads") {
    tc.threads = ParseSettingCount(n, value, false);
  } else if (key == "patience") {
    fc.patience = ParseSettingCount(n, value, false);
  } else if (key == "exchange") {
    try {
      tc.exchange = ParseExchangePolicy(value);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(n + ": " + e.what());
    }
  } else if (key == "exchange-bandwidth") {
    tc.exchange_bandwidth = ParseSettingReal(n, value, false) * 1e9 / 8;  // bytes/s
  } else if (key == "checkpoint-every") {
    fc.checkpoint_every = ParseSettingCount(n, value, false);
  } else if (key == "shard-output") {
    tc.shard_output = ParseBool(n, value);
  } else if (key == "shard-input") {
    tc.shard_input = ParseBool(n, value);
  }
}

TrainSettings DefaultTrainSettings() {
  TrainSettings s;
  for (const SettingInfo& i : TrainSettingList()) {
    ApplyTrainSetting(i.cli, i.default_value, &s);
  }
  return s;
}

}  // namespace frugal::nn
