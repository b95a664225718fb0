#include "tasks/auto_xmc.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <stdexcept>

#include "data/batch_source.h"
#include "train/settings.h"

namespace frugal::nn {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Largest power of two <= x (x >= 1).
size_t FloorPow2(double x) {
  size_t p = 1;
  while (double(p * 2) <= x) p *= 2;
  return p;
}

// Label-memory blends tried on validation rows, the cheaper predictions
// first (0: the network alone, 1: the memory alone), so that ties keep
// them; and the validation rows they are scored on at most.
constexpr float kMemoryBlends[] = {0.0f, 1.0f, 0.1f, 0.25f, 0.5f, 0.75f, 0.9f};
constexpr size_t kMemoryProbeRows = 5000;

struct Candidate {
  CandidateReport report;
  std::unique_ptr<Model> model;
  double epoch_seconds = 0;  // the last epoch's
};

ModelConfig ConfigFor(const CandidateReport& c, size_t features, size_t labels,
                      float sparsity, uint64_t seed) {
  ModelConfig mc = AutoConfig(features, labels, c.hidden, sparsity);
  mc.output().activation = ParseActivation(c.loss);
  mc.seed = seed;
  return mc;
}

}  // namespace

std::unique_ptr<Model> TrainXmcAuto(
    const SparseDataset& train, const SparseDataset* valid,
    const XmcAutoOptions& o, XmcAutoReport* report_out,
    const std::function<void(size_t, const EpochReport&)>& on_epoch) {
  const auto start = Clock::now();
  XmcAutoReport report;
  if (train.size() == 0) throw std::invalid_argument("no training rows");
  const size_t features = std::max(train.num_features(), valid ? valid->num_features() : 0);
  const size_t labels = std::max(train.num_labels(), valid ? valid->num_labels() : 0);
  const size_t n = train.size();
  size_t label_count = 0;
  for (size_t i = 0; i < n; ++i) label_count += train.row(i).labels.size();
  const double labels_per_row = double(label_count) / double(n);

  // Rules from the data's shape (not searched).
  // Hidden width: at least twice the labels (a power of two in [128, 512]),
  // so the layer feeding the output is no bottleneck and few labels are not
  // charged a 512-wide layer; narrower when the output layer's weights,
  // moments and gradient (16 bytes a weight) would pass ~1.5 GB.
  const size_t hidden =
      o.hidden ? o.hidden
               : std::clamp<size_t>(
                     std::min(std::max<size_t>(
                                  128, 2 * FloorPow2(std::max(1.0, 2.0 * double(labels) - 1.0))),
                              FloorPow2(1.5e9 / (16.0 * double(labels)))),
                     64, 512);
  // Batch: about n / 75 rows, a power of two in [32, 256]: small sets take
  // many small steps.
  const size_t batch = o.batch ? o.batch
                               : std::clamp<size_t>(FloorPow2(double(n) / 75.0), 32, 256);
  // Epochs: early stopping on validation within max(5, 400K rows seen) and
  // 60; as given when given.
  const size_t max_epochs = o.epochs ? o.epochs
                                     : std::clamp<size_t>((400000 + n - 1) / n, 5, 60);
  const double budget = o.budget_seconds > 0
                            ? o.budget_seconds
                            : std::max(15.0, 2e-4 * double(n) * double(max_epochs));

  // The search space: what was not given.
  std::vector<std::string> losses;
  if (!o.loss.empty()) {
    losses = {o.loss};
  } else if (labels_per_row > 1.2) {
    losses = {"softmax", "sigmoid"};  // multi-label: measure both
  } else {
    losses = {"softmax"};
  }
  std::vector<float> rates = o.lr > 0 ? std::vector<float>{o.lr}
                                      : std::vector<float>{1e-3f, 3e-3f};
  // Searching needs room for several models: only modest output layers.
  const double params = double(labels) * double(hidden) + double(features) * double(hidden);
  const bool small = params <= 40e6;
  if (!small) {
    losses.resize(1);
    rates.resize(1);
  }
  std::vector<Candidate> cands;
  for (const std::string& loss : losses) {
    for (const float lr : rates) {
      Candidate c;
      c.report.hidden = hidden;
      c.report.loss = loss;
      c.report.lr = lr;
      c.report.batch = batch;
      cands.push_back(std::move(c));
    }
  }
  report.searched = cands.size() > 1 || o.epochs == 0 || o.memory_blend < 0;

  // Validation rows: given, or a held-out fraction of the training rows.
  SparseDataset fit_rows, held;
  const SparseDataset* fit_data = &train;
  const SparseDataset* valid_data = valid;
  if (valid_data == nullptr && report.searched) {
    const size_t v = std::clamp<size_t>(size_t(o.valid_fraction * double(n)), 1,
                                        std::max<size_t>(1, n / 2));
    HoldOut(train, v, o.seed, &fit_rows, &held);
    fit_data = &fit_rows;
    valid_data = &held;
  }
  report.train_rows = fit_data->size();
  report.valid_rows = valid_data ? valid_data->size() : 0;

  TrainConfig tc;
  tc.batch_size = batch;
  tc.threads = o.threads;
  FitConfig fc;
  fc.total_epochs = max_epochs;
  fc.schedule = LrSchedule::kLinearDecay;
  if (valid_data != nullptr) {
    fc.validate = [&](const Model& m) {
      return Evaluate(m, *valid_data, false, o.threads).p_at[1];
    };
    fc.metric = "valid p@1";
  }
  InMemorySource source(*fit_data, o.seed);

  // Runs candidate i up to `epochs` epochs of its run.
  auto run = [&](size_t i, size_t epochs, size_t patience) {
    Candidate& c = cands[i];
    if (!c.model) {
      c.model = std::make_unique<Model>(
          ConfigFor(c.report, features, labels, o.sparsity, o.seed));
    }
    TrainConfig t = tc;
    t.lr = c.report.lr;
    FitConfig f = fc;
    f.epochs = epochs;
    f.patience = patience;
    // The budget bounds a search; a single candidate with its epochs given
    // runs them all.
    if (o.epochs == 0 || cands.size() > 1) f.stop = [&] { return Since(start) > budget; };
    FitCallbacks cb;
    cb.on_epoch = [&](const EpochReport& r) {
      c.epoch_seconds = r.seconds;
      c.report.label_recall = r.stats.label_recall();
      if (on_epoch) on_epoch(i, r);
    };
    const auto t0 = Clock::now();
    Fit(*c.model, source, t, f, cb);
    c.report.seconds += Since(t0);
    const FitState s = FitState::Of(*c.model);
    c.report.epochs_run = size_t(s.epochs_done);
    c.report.best_epoch = size_t(s.best_epoch ? s.best_epoch : s.epochs_done);
    c.report.valid_p1 = s.best_epoch ? s.best_metric : 0.0;
  };
  auto better = [](const Candidate& a, const Candidate& b) {
    return a.report.valid_p1 > b.report.valid_p1;
  };

  size_t winner = 0;
  if (cands.size() == 1) {
    cands[0].report.survived = true;
    run(0, max_epochs, o.epochs ? 0 : 3);
  } else {
    // Round 1: every candidate a few epochs; round 2: the better half on to
    // early stopping.
    const size_t first = std::min<size_t>(max_epochs, std::max<size_t>(2, max_epochs / 8));
    for (size_t i = 0; i < cands.size(); ++i) run(i, first, 0);
    std::vector<size_t> idx(cands.size());
    std::iota(idx.begin(), idx.end(), size_t{0});
    std::stable_sort(idx.begin(), idx.end(),
                     [&](size_t a, size_t b) { return better(cands[a], cands[b]); });
    const size_t keep = std::max<size_t>(1, cands.size() / 2);
    for (size_t k = 0; k < idx.size(); ++k) {
      if (k < keep) {
        cands[idx[k]].report.survived = true;
      } else {
        cands[idx[k]].model.reset();  // frees its memory
      }
    }
    for (size_t k = 0; k < keep; ++k) run(idx[k], max_epochs, o.epochs ? 0 : 3);
    winner = idx[0];
    for (size_t k = 1; k < keep; ++k) {
      if (better(cands[idx[k]], cands[winner])) winner = idx[k];
    }
  }
  Candidate& best = cands[winner];
  report.chosen = best.report;
  for (const Candidate& c : cands) report.candidates.push_back(c.report);
  std::unique_ptr<Model> model = std::move(best.model);
  report.final_epochs = best.report.best_epoch;

  // The label memory's blend: chosen on validation rows with a memory of
  // the rows the model was trained on.
  MemoryReport& mem = report.memory;
  const auto mem_start = Clock::now();
  mem.blend = std::max(0.0f, o.memory_blend);
  if (o.memory_blend < 0 && valid_data != nullptr) {
    model->set_label_memory(
        LabelMemory::Build(*fit_data, labels, features, o.memory_top_k,
                           o.memory_postings, o.threads));
    SparseDataset probe;  // at most kMemoryProbeRows validation rows
    const SparseDataset* rows = valid_data;
    if (valid_data->size() > kMemoryProbeRows) {
      SparseDataset rest;
      HoldOut(*valid_data, kMemoryProbeRows, o.seed, &rest, &probe);
      rows = &probe;
    }
    double best_p1 = -1;
    for (const float b : kMemoryBlends) {
      model->label_memory().set_blend(b);
      const double p1 = Evaluate(*model, *rows, false, o.threads).p_at[1];
      mem.valid_p1.emplace_back(b, p1);
      if (p1 > best_p1) {
        best_p1 = p1;
        mem.blend = b;
      }
    }
    if (fit_data == &train && mem.blend > 0) {
      model->label_memory().set_blend(mem.blend);  // already of every training row
    } else {
      model->set_label_memory(LabelMemory());
    }
  }
  mem.seconds = Since(mem_start);

  // Retrain on every training row when the held-out rows came from the
  // training rows and the budget allows. The candidate's best epoch came
  // early in a schedule over the epoch cap, at a rate barely decayed; the
  // retrain decays over its own end and runs as many epochs as move the
  // weights as far (about twice the best epoch when that is << the cap).
  const size_t retrain_epochs =
      EquivalentEpochs(fc.schedule, report.final_epochs, max_epochs);
  const double retrain_s = best.epoch_seconds * double(retrain_epochs) *
                           double(n) / double(std::max<size_t>(1, fit_data->size()));
  if (fit_data != &train && Since(start) + retrain_s <= budget) {
    auto full = std::make_unique<Model>(
        ConfigFor(best.report, features, labels, o.sparsity, o.seed));
    TrainConfig t = tc;
    t.lr = best.report.lr;
    report.final_epochs = retrain_epochs;
    FitConfig f;
    f.epochs = retrain_epochs;
    f.total_epochs = retrain_epochs;
    f.schedule = fc.schedule;
    InMemorySource all(train, o.seed);
    FitCallbacks cb;
    if (on_epoch) cb.on_epoch = [&](const EpochReport& r) { on_epoch(cands.size(), r); };
    Fit(*full, all, t, f, cb);
    model = std::move(full);
    report.retrained = true;
  }
  if (mem.blend > 0 && model->label_memory().empty()) {
    const auto t0 = Clock::now();
    LabelMemory m = LabelMemory::Build(train, labels, features, o.memory_top_k,
                                       o.memory_postings, o.threads);
    m.set_blend(mem.blend);
    model->set_label_memory(std::move(m));
    mem.seconds += Since(t0);
  }
  mem.entries = model->label_memory().entries();
  mem.bytes = model->label_memory().bytes();
  char reason[384];
  std::snprintf(reason, sizeof(reason),
                "%s loss, lr %g, hidden %zu, batch %zu, %zu epochs: best valid P@1 "
                "%.4f of %zu candidates on %zu held-out rows%s; label memory blend %g",
                best.report.loss.c_str(), double(best.report.lr), best.report.hidden,
                best.report.batch, report.final_epochs, best.report.valid_p1,
                cands.size(), report.valid_rows,
                report.retrained ? "; retrained on every training row" : "",
                double(mem.blend));
  report.reason = reason;
  auto& meta = model->metadata();
  meta["auto.loss"] = best.report.loss;
  meta["auto.lr"] = std::to_string(best.report.lr);
  meta["auto.hidden"] = std::to_string(best.report.hidden);
  meta["auto.batch"] = std::to_string(best.report.batch);
  meta["auto.epochs"] = std::to_string(report.final_epochs);
  meta["auto.valid_p@1"] = std::to_string(best.report.valid_p1);
  meta["auto.memory_blend"] = std::to_string(mem.blend);
  report.seconds = Since(start);
  if (report_out) *report_out = report;
  return model;
}

void ApplyXmcAutoSetting(const std::string& name, const std::string& value,
                         bool cli, XmcAutoOptions* o) {
  const std::string n = cli ? "--" + name : name;
  if (name == "hidden") {
    o->hidden = ParseSettingCount(n, value, false);
  } else if (name == "loss") {
    if (!value.empty() && value != "softmax" && value != "sigmoid") {
      BadSetting(n, "softmax or sigmoid", value);
    }
    o->loss = value;
  } else if (name == "lr") {
    o->lr = float(ParseSettingReal(n, value, cli));
  } else if (name == "batch" || name == "batch_size") {
    o->batch = ParseSettingCount(n, value, cli);
  } else if (name == "epochs") {
    o->epochs = ParseSettingCount(n, value, cli);
  } else if (name == "sparsity") {
    const double x = ParseSettingReal(n, value, false);
    if (x > 1) {
      BadSetting(n, "a number in (0, 1]", value);
    }
    o->sparsity = float(x);
  } else if (name == "budget" || name == "budget_seconds") {
    o->budget_seconds = ParseSettingReal(n, value, false);
  } else if (name == "valid_fraction" || name == "valid-fraction") {
    o->valid_fraction = ParseSettingReal(n, value, true);
    if (o->valid_fraction >= 1) {
      BadSetting(n, "a number in (0, 1)", value);
    }
  } else if (name == "memory-blend" || name == "memory_blend") {
    if (value == "auto") {
      o->memory_blend = -1;
    } else {
      const double x = ParseSettingReal(n, value, false);
      if (x > 1) BadSetting(n, "auto or a number in [0, 1]", value);
      o->memory_blend = float(x);
    }
  } else if (name == "threads") {
    o->threads = ParseSettingCount(n, value, false);
  } else if (name == "seed") {
    o->seed = ParseSettingCount(n, value, false);
  } else {
    throw std::invalid_argument("unknown setting '" + name + "'");
  }
}

}  // namespace frugal::nn
