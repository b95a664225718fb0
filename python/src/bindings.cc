// frugal._frugal: the C++ core for Python. The Python layer (frugal/
// __init__.py) turns scipy/numpy inputs into the exact dtypes these entry
// points take (CSR as uint64 indptr, uint32 indices, float32 values), so
// prediction reads caller memory without copying. Training, evaluation and
// prediction release the GIL. C++ errors arrive as Python exceptions with
// the same messages: std::invalid_argument -> ValueError, DataError ->
// frugal.DataError, FieldError -> frugal.FieldError (both ValueErrors),
// ModelFileError -> frugal.ModelFileError (an OSError), CommError ->
// frugal.CommError, anything else -> RuntimeError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "comm/communicator.h"
#include "tasks/auto_xmc.h"
#include "tasks/classifier.h"
#include "tasks/classifier_settings.h"
#include "tasks/explain.h"
#include "train/data_parallel.h"
#include "data/dataset.h"
#include "nn/model.h"
#include "nn/serialize.h"
#include "data/batch_source.h"
#include "train/fit.h"
#include "train/settings.h"
#include "train/sharded_output.h"
#include "train/trainer.h"

namespace py = pybind11;

namespace frugal::python {
namespace {

template <class T>
using Array = py::array_t<T, py::array::c_style>;

// A CSR matrix in caller memory, validated for a model of `num_features`
// inputs: indptr[0] == 0, non-decreasing, indptr[rows] == nnz, every index
// below num_features. Throws std::invalid_argument otherwise.
struct CsrView {
  const uint64_t* indptr = nullptr;
  const uint32_t* indices = nullptr;
  const float* values = nullptr;
  size_t rows = 0;

  CsrView(const Array<uint64_t>& p, const Array<uint32_t>& i,
          const Array<float>& v, size_t num_features, const char* what) {
    if (p.ndim() != 1 || i.ndim() != 1 || v.ndim() != 1 || p.size() < 1 ||
        i.size() != v.size()) {
      throw std::invalid_argument(
          std::string(what) +
          ": CSR needs 1-D indptr (rows + 1), indices and values of equal "
          "length");
    }
    indptr = p.data();
    indices = i.data();
    values = v.data();
    rows = size_t(p.size()) - 1;
    const uint64_t nnz = uint64_t(i.size());
    if (indptr[0] != 0 || indptr[rows] != nnz) {
      throw std::invalid_argument(std::string(what) +
                                  ": indptr must start at 0 and end at nnz " +
                                  std::to_string(nnz));
    }
    for (size_t r = 0; r < rows; ++r) {
      if (indptr[r + 1] < indptr[r]) {
        throw std::invalid_argument(std::string(what) +
                                    ": indptr decreases at row " +
                                    std::to_string(r));
      }
    }
    for (uint64_t j = 0; j < nnz; ++j) {
      if (indices[j] >= num_features) {
        throw std::invalid_argument(
            std::string(what) + ": feature index " +
            std::to_string(indices[j]) + " >= the model's input dimension " +
            std::to_string(num_features));
      }
    }
  }

  nn::SparseRow Row(size_t r) const {
    const uint64_t a = indptr[r], b = indptr[r + 1];
    return {Span<const uint32_t>(indices + a, b - a),
            Span<const float>(values + a, b - a), {}};
  }
};

// A dataset copied from CSR features and CSR labels (label_ptr rows + 1,
// label_ids).
nn::SparseDataset MakeDataset(const Array<uint64_t>& indptr,
                              const Array<uint32_t>& indices,
                              const Array<float>& values,
                              const Array<uint64_t>& label_ptr,
                              const Array<uint32_t>& label_ids,
                              size_t num_features, size_t num_labels) {
  const CsrView x(indptr, indices, values, num_features, "features");
  const CsrView y(label_ptr, label_ids,
                  Array<float>(py::ssize_t(label_ids.size())), num_labels,
                  "labels");
  if (x.rows != y.rows) {
    throw std::invalid_argument("features have " + std::to_string(x.rows) +
                                " rows, labels " + std::to_string(y.rows));
  }
  nn::SparseDataset d(num_features, num_labels);
  for (size_t r = 0; r < x.rows; ++r) {
    const nn::SparseRow f = x.Row(r), l = y.Row(r);
    d.Add(f.idx, f.val, l.idx);
  }
  return d;
}

py::dict LayerDict(const nn::Layer& layer) {
  py::dict d;
  d["width"] = layer.config.width;
  d["activation"] = nn::ActivationName(layer.config.activation);
  d["sparsity"] = layer.config.sparsity;
  d["active"] = layer.active;
  return d;
}

py::dict EvalDict(const nn::EvalResult& e) {
  py::dict d;
  d["samples"] = e.samples;
  d["p@1"] = e.p_at[1];
  d["p@3"] = e.p_at[3];
  d["p@5"] = e.p_at[5];
  d["r@5"] = e.recall_at5;
  if (e.candidate_recall >= 0) d["candidate_recall"] = e.candidate_recall;
  d["seconds"] = e.seconds;
  return d;
}

// The Python-visible model: owns the C++ Model.
class PyModel {
 public:
  explicit PyModel(std::unique_ptr<nn::Model> m) : model_(std::move(m)) {}

  // layers: list of dicts {width, activation, sparsity}.
  static PyModel Create(size_t input_dim, const py::list& layers,
                        uint64_t seed,
                        const std::map<std::string, std::string>& metadata) {
    nn::ModelConfig mc;
    mc.input_dim = input_dim;
    mc.seed = seed;
    mc.metadata = metadata;
    for (const py::handle& h : layers) {
      const py::dict d = py::reinterpret_borrow<py::dict>(h);
      const size_t width = d["width"].cast<size_t>();
      const nn::Activation act =
          nn::ParseActivation(d["activation"].cast<std::string>());
      const float sparsity = d["sparsity"].cast<float>();
      if (sparsity < 1.0f && sparsity > 0.0f) {
        mc.layers.push_back(nn::SampledLayer(
            width, std::max<size_t>(1, size_t(double(sparsity) * double(width))),
            act));
      } else {
        mc.layers.push_back({width, act, sparsity, {}});
      }
    }
    return PyModel(std::make_unique<nn::Model>(mc));
  }

  static PyModel Auto(size_t input_dim, size_t num_labels, size_t hidden,
                      float sparsity, uint64_t seed) {
    nn::ModelConfig mc = nn::AutoConfig(input_dim, num_labels, hidden, sparsity);
    mc.seed = seed;
    return PyModel(std::make_unique<nn::Model>(mc));
  }

  // `frugal train`'s automatic settings (tasks/auto_xmc.h) on `train`, chosen
  // on `valid` (None: a held-out tenth); `settings` (Python names of
  // ApplyXmcAutoSetting, values as text) fix some. Returns (model, report).
  static py::tuple TrainAuto(const nn::SparseDataset& train,
                             const nn::SparseDataset* valid,
                             const std::map<std::string, std::string>& settings) {
    nn::XmcAutoOptions o;
    for (const auto& [name, value] : settings) {
      nn::ApplyXmcAutoSetting(name, value, false, &o);
    }
    nn::XmcAutoReport r;
    std::unique_ptr<nn::Model> m;
    {
      py::gil_scoped_release release;
      m = nn::TrainXmcAuto(train, valid, o, &r);
    }
    py::dict report;
    report["hidden"] = r.chosen.hidden;
    report["loss"] = r.chosen.loss;
    report["lr"] = r.chosen.lr;
    report["batch"] = r.chosen.batch;
    report["epochs"] = r.final_epochs;
    report["valid_p@1"] = r.chosen.valid_p1;
    report["searched"] = r.searched;
    report["retrained"] = r.retrained;
    report["seconds"] = r.seconds;
    report["reason"] = r.reason;
    return py::make_tuple(PyModel(std::move(m)), report);
  }

  // A model file; or, when `path` is not a file but a label-sharded model's
  // manifest "<path>.shards" exists (train/sharded_output.h): with `comm`
  // of more than one rank, this rank's shard (to continue training); else
  // every shard assembled into the whole model (to evaluate or predict in
  // one process).
  static PyModel Load(const std::string& path, comm::Communicator* comm) {
    py::gil_scoped_release release;
    if (::access(path.c_str(), F_OK) != 0 &&
        ::access(nn::ShardManifestPath(path).c_str(), F_OK) == 0) {
      if (comm != nullptr && comm->size() > 1) {
        return PyModel(nn::LoadShardedModel(path, comm->rank(), comm->size()));
      }
      return PyModel(nn::LoadShardsAsWhole(path));
    }
    return PyModel(nn::LoadModel(path));
  }

  // A label-sharded model is saved by every rank of `comm` (a collective):
  // its shard file, then rank 0's manifest "<path>.shards".
  void Save(const std::string& path, bool optimizer_state,
            comm::Communicator* comm) const {
    const uint32_t flags =
        optimizer_state ? nn::kWithOptimizerState : nn::kWeightsOnly;
    if (sharded()) {
      if (comm == nullptr || comm->size() < 2) {
        throw std::invalid_argument(
            "a label-sharded model is saved by every rank: pass comm= (its "
            "ranks' communicator)");
      }
      py::gil_scoped_release release;
      nn::SaveShardedModel(*model_, path, flags, *comm);
      return;
    }
    py::gil_scoped_release release;
    nn::SaveModel(*model_, path, flags);
  }

  // `settings` (Python names of train/settings.h, values as text) more
  // epochs over `data` through nn::Fit, continuing the model's run:
  // "epochs" counts this call's epochs, "total_epochs" the whole run's (the
  // schedule's horizon; absent: this call's end). `seed` orders the rows.
  // `comm` (optional) sums gradients over its ranks (every rank passes its
  // own shard). Returns one dict per epoch.
  // `on_epoch` (None or a callable) gets each epoch's dict as it ends, with
  // the GIL held; an exception it raises ends training and reaches the
  // caller.
  py::list Train(const nn::SparseDataset& data,
                 const std::map<std::string, std::string>& settings,
                 uint64_t seed, comm::Communicator* comm, py::object on_epoch) {
    nn::TrainSettings s = nn::DefaultTrainSettings();
    for (const auto& [name, value] : settings) nn::ApplyTrainSetting(name, value, &s);
    s.train.comm = comm;
    const bool shard = s.train.shard_output && comm != nullptr && comm->size() > 1;
    if (sharded() && !shard) {
      throw std::invalid_argument(
          "a label-sharded model trains with shard_output=True and comm= of "
          "its ranks");
    }
    if (shard && !sharded()) {
      // Every rank holds the same whole model: keep this rank's shard.
      py::gil_scoped_release release;
      nn::CheckReplicasIdentical(*model_, *comm);
      model_ = nn::ExtractShard(*model_, comm->rank(), comm->size());
    }
    s.fit.epochs += size_t(nn::FitState::Of(*model_).epochs_done);
    py::list epochs_out;
    {
      py::gil_scoped_release release;
      nn::InMemorySource source(data, seed);
      nn::FitCallbacks cb;
      cb.on_epoch = [&](const nn::EpochReport& r) {
        py::gil_scoped_acquire acquire;
        py::dict d;
        d["epoch"] = r.epoch;
        d["samples"] = r.stats.samples;
        d["loss"] = r.mean_loss();
        d["seconds"] = r.seconds;
        d["samples_per_s"] = r.seconds > 0 ? double(r.stats.samples) / r.seconds : 0.0;
        d["lr"] = r.lr;
        if (r.stats.label_rows > 0) d["train_label_recall"] = r.stats.label_recall();
        epochs_out.append(d);
        if (!on_epoch.is_none()) on_epoch(d);
      };
      nn::Fit(*model_, source, s.train, s.fit, cb);
    }
    return epochs_out;
  }

  // With `comm`, a collective over its ranks (nn::EvaluateRanks): each
  // ranks its rows, or, a label-sharded model, every rank scores every row
  // with its shard and the shards' top 5 are merged.
  py::dict Evaluate(const nn::SparseDataset& data, bool exact, size_t threads,
                    comm::Communicator* comm) const {
    CheckShape(data);
    if (sharded() && comm == nullptr) {
      throw std::invalid_argument(
          "a label-sharded model evaluates with comm= (every rank), or "
          "loaded whole: Model.load(path) of its saved manifest");
    }
    nn::EvalResult e;
    {
      py::gil_scoped_release release;
      e = comm != nullptr ? nn::EvaluateRanks(*model_, data, exact, threads, *comm)
                          : nn::Evaluate(*model_, data, exact, threads);
    }
    return EvalDict(e);
  }

  // Top-k of every CSR row: (labels int64 [rows, k], -1 where a row has
  // fewer candidates; scores float32 [rows, k]).
  py::tuple Predict(const Array<uint64_t>& indptr,
                    const Array<uint32_t>& indices, const Array<float>& values,
                    size_t k, bool exact, size_t threads) const {
    if (k == 0) throw std::invalid_argument("k must be positive");
    if (sharded()) {
      throw std::invalid_argument(
          "a label-sharded model holds only some labels: save it (every "
          "rank, comm=) and predict with Model.load(path), the whole model");
    }
    const CsrView x(indptr, indices, values, model_->input_dim(), "features");
    std::vector<uint32_t> labels(x.rows * k);
    Array<float> scores({py::ssize_t(x.rows), py::ssize_t(k)});
    float* s = scores.mutable_data();
    {
      py::gil_scoped_release release;
      nn::PredictBatch(
          *model_, x.rows, [&](size_t i) { return x.Row(i); }, k, exact,
          threads, labels.data(), s);
    }
    Array<int64_t> out({py::ssize_t(x.rows), py::ssize_t(k)});
    int64_t* o = out.mutable_data();
    for (size_t i = 0; i < labels.size(); ++i) {
      o[i] = labels[i] == nn::kNoLabel ? -1 : int64_t(labels[i]);
    }
    return py::make_tuple(out, scores);
  }

  size_t input_dim() const { return model_->input_dim(); }
  size_t output_dim() const { return model_->output_dim(); }
  // None, or the label-sharded output's (first label, labels held, total).
  py::object output_shard() const {
    if (!sharded()) return py::none();
    const nn::OutputShard& o = model_->config().output_shard;
    return py::make_tuple(o.first, model_->output().config.width, o.total);
  }
  uint64_t step() const { return model_->step(); }
  // The user's metadata: without the run's position (FitState, "fit.*").
  std::map<std::string, std::string> metadata() const {
    std::map<std::string, std::string> m = model_->config().metadata;
    for (auto it = m.begin(); it != m.end();) {
      it = it->first.rfind("fit.", 0) == 0 ? m.erase(it) : std::next(it);
    }
    return m;
  }
  uint64_t epochs_done() const { return nn::FitState::Of(*model_).epochs_done; }
  py::list layers() const {
    py::list l;
    for (size_t i = 0; i < model_->num_layers(); ++i) {
      l.append(LayerDict(model_->layer(i)));
    }
    return l;
  }
  uint64_t weights_hash() const { return nn::WeightsHash(*model_); }
  size_t inference_active() const { return model_->inference_active(); }
  void set_inference_active(size_t n) { model_->set_inference_active(n); }

 private:
  void CheckShape(const nn::SparseDataset& data) const {
    if (data.num_features() > model_->input_dim() ||
        data.num_labels() > model_->output_dim()) {
      throw std::invalid_argument(
          "data has " + std::to_string(data.num_features()) + " features and " +
          std::to_string(data.num_labels()) + " labels; the model takes " +
          std::to_string(model_->input_dim()) + " and " +
          std::to_string(model_->output_dim()));
    }
  }

  bool sharded() const { return model_->config().output_shard.sharded(); }

  std::unique_ptr<nn::Model> model_;
};

// The CSV classifier.
class PyClassifier {
 public:
  explicit PyClassifier(std::unique_ptr<nn::Classifier> c) : c_(std::move(c)) {}

  // `settings`: names and values (as text) of tasks/classifier_settings.h
  // (Python names); the rest stay at their defaults (automatic).
  static py::tuple Train(const std::string& path,
                         const std::map<std::string, std::string>& settings) {
    nn::ClassifierSettings given = nn::DefaultClassifierSettings();
    for (const auto& [name, value] : settings) {
      nn::ApplyClassifierSetting(name, value, false, &given);
    }
    const nn::ClassifierOptions o = nn::FinishClassifierSettings(given);
    nn::TrainReport r;
    std::unique_ptr<nn::Classifier> c;
    {
      py::gil_scoped_release release;
      c = nn::Classifier::Train(path, o, &r);
    }
    py::dict report;
    report["samples"] = r.samples;
    report["features"] = r.features;
    report["labels"] = r.labels;
    report["bad_rows"] = r.bad_rows;
    report["hidden"] = r.hidden;
    report["members"] = r.members;
    report["epochs"] = r.epochs;
    report["batch"] = r.batch;
    report["lr"] = r.lr;
    report["featurize_seconds"] = r.featurize_seconds;
    report["train_seconds"] = r.train_seconds;
    report["final_loss"] = r.final_loss;
    report["word_ngrams"] = r.word_ngrams;
    report["char_ngrams"] = r.char_ngrams;
    report["search_seconds"] = r.search_seconds;
    report["valid_rows"] = r.valid_rows;
    report["valid_accuracy"] = r.valid_accuracy;
    py::list candidates;  // the search's, in the order tried
    for (const nn::CandidateAccuracy& k : r.candidates) {
      py::dict d;
      d["word_ngrams"] = k.word_ngrams;
      d["char_ngrams"] = k.char_ngrams;
      d["hidden"] = k.hidden;
      d["batch"] = k.batch;
      d["lr"] = k.lr;
      d["epochs"] = k.epochs;
      d["valid_accuracy"] = k.accuracy;
      candidates.append(d);
    }
    report["candidates"] = candidates;
    return py::make_tuple(PyClassifier(std::move(c)), report);
  }

  py::dict Evaluate(const std::string& path, bool skip_bad_rows) const {
    nn::CsvOptions csv = c_->csv();
    csv.skip_bad_rows = skip_bad_rows;
    nn::ClassifierMetrics m;
    {
      py::gil_scoped_release release;
      m = c_->Evaluate(path, csv);
    }
    py::dict d;
    d["samples"] = m.samples;
    d["bad_rows"] = m.bad_rows;
    d["accuracy"] = m.accuracy;
    if (m.roc_auc >= 0) d["roc_auc"] = m.roc_auc;
    d["seconds"] = m.seconds;
    return d;
  }

  // One record's (label, probability); fields laid out like the training
  // file (the target field is not read).
  py::tuple Predict(const std::vector<std::string>& fields) {
    views_.assign(fields.begin(), fields.end());
    const nn::Prediction p = c_->Predict(views_.data(), views_.size(), scratch_);
    return py::make_tuple(c_->label_name(p.label), p.score);
  }

  // Many records: (label ids int64 [rows], probabilities float32 [rows]), or
  // with `all_labels` every label's probability float32 [rows, labels].
  py::object PredictMany(const std::vector<std::vector<std::string>>& rows,
                         bool all_labels) const {
    const size_t n = rows.size(), labels = c_->featurizer().num_labels();
    Array<int64_t> ids({py::ssize_t(all_labels ? 0 : n)});
    Array<float> p = all_labels ? Array<float>({py::ssize_t(n), py::ssize_t(labels)})
                                : Array<float>({py::ssize_t(n)});
    int64_t* id = ids.mutable_data();
    float* out = p.mutable_data();
    {
      py::gil_scoped_release release;
      nn::Classifier::Scratch scratch;
      std::vector<std::string_view> views;
      for (size_t i = 0; i < n; ++i) {
        views.assign(rows[i].begin(), rows[i].end());
        if (all_labels) {
          c_->Probabilities(views.data(), views.size(), scratch, out + i * labels);
        } else {
          const nn::Prediction pr = c_->Predict(views.data(), views.size(), scratch);
          id[i] = pr.label;
          out[i] = pr.score;
        }
      }
    }
    if (all_labels) return std::move(p);
    return py::make_tuple(ids, p);
  }

  // The occlusion explanation of one record (tasks/explain.h): (label,
  // probability, [(column, type, unit, weight), ...] by weight).
  py::tuple Explain(const std::vector<std::string>& fields) const {
    std::vector<std::string_view> views(fields.begin(), fields.end());
    nn::Explanation e;
    {
      py::gil_scoped_release release;
      e = nn::Explain(*c_, views.data(), views.size());
    }
    py::list features;
    for (const nn::FeatureWeight& w : e.features) {
      features.append(py::make_tuple(w.column, nn::ColumnTypeName(w.type), w.unit,
                                     w.weight));
    }
    return py::make_tuple(c_->label_name(e.label), e.probability, features);
  }

  size_t num_columns() const { return c_->featurizer().num_columns(); }
  size_t target_column() const { return c_->featurizer().target_column(); }
  std::vector<std::string> labels() const {
    std::vector<std::string> out;
    for (size_t i = 0; i < c_->featurizer().num_labels(); ++i) {
      out.push_back(c_->label_name(uint32_t(i)));
    }
    return out;
  }
  void Save(const std::string& path) const { c_->Save(path); }
  static PyClassifier Load(const std::string& path) {
    return PyClassifier(nn::Classifier::Load(path));
  }

 private:
  std::unique_ptr<nn::Classifier> c_;
  nn::Classifier::Scratch scratch_;
  std::vector<std::string_view> views_;
};

}  // namespace
}  // namespace frugal::python

PYBIND11_MODULE(_frugal, m) {
  using namespace frugal;
  using namespace frugal::python;
  m.doc() = "frugal's C++ core: sparse (LSH-sampled) networks on CPUs";

  py::register_exception<nn::DataError>(m, "DataError", PyExc_ValueError);
  py::register_exception<nn::FieldError>(m, "FieldError", PyExc_ValueError);
  py::register_exception<nn::ModelFileError>(m, "ModelFileError",
                                             PyExc_OSError);
  py::register_exception<comm::CommError>(m, "CommError", PyExc_RuntimeError);

  py::class_<nn::SparseDataset>(m, "Dataset")
      .def_property_readonly("size", &nn::SparseDataset::size)
      .def_property_readonly("num_features", &nn::SparseDataset::num_features)
      .def_property_readonly("num_labels", &nn::SparseDataset::num_labels)
      .def_property_readonly("nonzeros", &nn::SparseDataset::nonzeros)
      .def("__len__", &nn::SparseDataset::size)
      .def(
          "shard",
          [](const nn::SparseDataset& d, int rank, int size) {
            return nn::Shard(d, rank, size);
          },
          py::arg("rank"), py::arg("size"),
          "The rows of rank `rank` of `size` (a copy).");

  m.def(
      "read_file",
      [](const std::string& path, const std::string& format,
         size_t num_features, size_t num_labels) {
        nn::ReadOptions o;
        if (format == "xc") {
          o.format = nn::DataFormat::kXc;
        } else if (format == "libsvm") {
          o.format = nn::DataFormat::kLibsvm;
        } else {
          throw std::invalid_argument("format must be 'xc' or 'libsvm'");
        }
        o.num_features = num_features;
        o.num_labels = num_labels;
        py::gil_scoped_release release;
        return nn::ReadSparseFile(path, o);
      },
      py::arg("path"), py::arg("format") = "xc", py::arg("num_features") = 0,
      py::arg("num_labels") = 0);
  m.def("make_dataset", &MakeDataset, py::arg("indptr"), py::arg("indices"),
        py::arg("values"), py::arg("label_ptr"), py::arg("label_ids"),
        py::arg("num_features"), py::arg("num_labels"));

  py::class_<comm::Communicator>(m, "Communicator")
      .def_property_readonly("rank", &comm::Communicator::rank)
      .def_property_readonly("size", &comm::Communicator::size)
      .def("barrier",
           [](comm::Communicator& c) {
             py::gil_scoped_release release;
             c.Barrier();
           })
      .def("allreduce_sum", [](comm::Communicator& c, Array<double> a) {
        {
          py::gil_scoped_release release;
          c.Allreduce(a.mutable_data(), size_t(a.size()), comm::ReduceOp::kSum);
        }
        return a;
      });
  m.def(
      "connect",
      [](int rank, int size, const std::string& rendezvous,
         const std::string& run_id, const std::string& hostname,
         double timeout_s) {
        comm::ConnectOptions o;
        o.rank = rank;
        o.size = size;
        o.rendezvous = rendezvous;
        o.run_id = run_id;
        o.hostname = hostname;
        o.timeout = std::chrono::milliseconds(int64_t(timeout_s * 1000));
        py::gil_scoped_release release;
        return comm::Connect(o);
      },
      py::arg("rank"), py::arg("size"), py::arg("rendezvous"),
      py::arg("run_id") = "frugal", py::arg("hostname") = "127.0.0.1",
      py::arg("timeout") = 30.0);

  py::class_<PyModel>(m, "_Model")
      .def_static("create", &PyModel::Create)
      .def_static("auto", &PyModel::Auto)
      .def_static("load", &PyModel::Load, py::arg("path"), py::arg("comm").none(true))
      .def_static("train_auto", &PyModel::TrainAuto, py::arg("train"),
                  py::arg("valid").none(true), py::arg("settings"))
      .def("save", &PyModel::Save, py::arg("path"), py::arg("optimizer_state"),
           py::arg("comm").none(true))
      .def("train", &PyModel::Train)
      .def("evaluate", &PyModel::Evaluate, py::arg("data"), py::arg("exact"),
           py::arg("threads"), py::arg("comm").none(true))
      .def("predict", &PyModel::Predict)
      .def_property_readonly("input_dim", &PyModel::input_dim)
      .def_property_readonly("output_dim", &PyModel::output_dim)
      .def_property_readonly("output_shard", &PyModel::output_shard)
      .def_property_readonly("step", &PyModel::step)
      .def_property_readonly("metadata", &PyModel::metadata)
      .def_property_readonly("epochs_done", &PyModel::epochs_done)
      .def_property_readonly("layers", &PyModel::layers)
      .def("weights_hash", &PyModel::weights_hash)
      .def_property("inference_candidates", &PyModel::inference_active,
                    &PyModel::set_inference_active);

  py::class_<nn::CsvOptions>(m, "CsvOptions")
      .def(py::init<>())
      .def_readwrite("delimiter", &nn::CsvOptions::delimiter)
      .def_readwrite("quote", &nn::CsvOptions::quote)
      .def_readwrite("header", &nn::CsvOptions::header)
      .def_readwrite("rest_in_last_column", &nn::CsvOptions::rest_in_last_column)
      .def_readwrite("skip_bad_rows", &nn::CsvOptions::skip_bad_rows)
      .def_readwrite("num_columns", &nn::CsvOptions::num_columns);

  py::class_<PyClassifier>(m, "_Classifier")
      .def_static("train", &PyClassifier::Train)
      .def("predict_many", &PyClassifier::PredictMany)
      .def("explain", &PyClassifier::Explain)
      .def_static("load", &PyClassifier::Load)
      .def("save", &PyClassifier::Save)
      .def("evaluate", &PyClassifier::Evaluate)
      .def("predict", &PyClassifier::Predict)
      .def_property_readonly("num_columns", &PyClassifier::num_columns)
      .def_property_readonly("target_column", &PyClassifier::target_column)
      .def_property_readonly("labels", &PyClassifier::labels);
}
