// Writes the seed corpora of the fuzz targets:
//   fuzz_seeds DATA_DIR OUT_DIR
// OUT_DIR/dataset: the first rows of bibtex (XC, and as libsvm), with the
//   format byte dataset_fuzz expects in front;
// OUT_DIR/csv: the first lines of dbpedia14k (CSV) and criteo10k (TSV),
//   with the option byte csv_fuzz expects in front;
// OUT_DIR/model: small models saved by SaveModel (dense and LSH-sampled,
//   with and without the optimizer state);
// OUT_DIR/options: NUL-separated argument lists.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "nn/model.h"
#include "nn/serialize.h"

namespace {

using frugal::nn::SparseDataset;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void Spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  if (!out) throw std::runtime_error(path + ": cannot write");
}

// The first `rows` rows of `data`, each cut to `max_nnz` features.
SparseDataset Head(const SparseDataset& data, size_t rows, size_t max_nnz) {
  SparseDataset out(data.num_features(), data.num_labels());
  for (size_t i = 0; i < rows && i < data.size(); ++i) {
    const frugal::nn::SparseRow r = data.row(i);
    const size_t n = std::min(r.idx.size(), max_nnz);
    out.Add(frugal::Span<const uint32_t>(r.idx.data(), n),
            frugal::Span<const float>(r.val.data(), n), r.labels);
  }
  return out;
}

void DatasetSeeds(const std::string& data_dir, const std::string& out) {
  const SparseDataset bibtex =
      frugal::nn::ReadSparseFile(data_dir + "/bibtex/train.txt");
  const std::string tmp = out + "/tmp.txt";
  int n = 0;
  for (size_t rows : {1, 3, 8}) {
    frugal::nn::WriteXcFile(tmp, Head(bibtex, rows, 6));
    const std::string xc = Slurp(tmp);
    const std::string libsvm = xc.substr(xc.find('\n') + 1);
    Spit(out + "/seed" + std::to_string(n++), std::string(1, '\0') + xc);
    Spit(out + "/seed" + std::to_string(n++), std::string(1, '\1') + libsvm);
    Spit(out + "/seed" + std::to_string(n++), std::string(1, '\xf3') + libsvm);
  }
  std::remove(tmp.c_str());
}

// The first `lines` lines of a file, each cut to `max_chars`.
std::string HeadLines(const std::string& path, size_t lines, size_t max_chars) {
  std::ifstream in(path, std::ios::binary);
  std::string out, line;
  for (size_t i = 0; i < lines && std::getline(in, line); ++i) {
    out += line.substr(0, max_chars) + "\n";
  }
  return out;
}

void CsvSeeds(const std::string& data_dir, const std::string& out) {
  // Option bits (csv_fuzz.cc): 0-1 delimiter (0 tab, 1 comma), 4 rest in
  // the last column, 8 header.
  const std::string dbpedia =
      HeadLines(data_dir + "/dbpedia14k/train.csv", 6, 200);
  const std::string criteo =
      HeadLines(data_dir + "/criteo10k/train.txt", 6, 1000);
  Spit(out + "/seed0", std::string(1, char(1 | 16)) + dbpedia);
  Spit(out + "/seed1", std::string(1, char(1 | 8)) + "label,text\n" + dbpedia);
  Spit(out + "/seed2", std::string(1, char(0)) + criteo);
  Spit(out + "/seed3", std::string(1, char(1 | 8)) +
                           "a,b,c,d\n1,\"x, \"\"y\"\"\",cat,3.5\n2,z,dog,\n");
}

void ModelSeeds(const std::string& out) {
  int n = 0;
  // Dense, LSH-sampled output, and two hidden layers (the second sampled).
  std::vector<frugal::nn::ModelConfig> configs = {
      frugal::nn::AutoConfig(8, 64, 8, 1.0f),
      frugal::nn::AutoConfig(8, 64, 8, 0.25f)};
  frugal::nn::ModelConfig deep = configs[1];
  deep.layers.insert(
      deep.layers.begin() + 1,
      frugal::nn::SampledLayer(32, 8, frugal::nn::Activation::kRelu));
  configs.push_back(deep);
  for (frugal::nn::ModelConfig& c : configs) {
    for (frugal::nn::LayerConfig& l : c.layers) {  // small, fast indexes
      l.lsh.hash.l = std::min<uint32_t>(l.lsh.hash.l, 4);
      l.lsh.range_bits = std::min<uint32_t>(l.lsh.range_bits, 6);
      l.lsh.bucket_capacity = std::min<uint32_t>(l.lsh.bucket_capacity, 16);
    }
    c.metadata["seed"] = "fuzz";
    const frugal::nn::Model model(c);
    for (uint32_t flags :
         {frugal::nn::kWeightsOnly, frugal::nn::kWithOptimizerState}) {
      frugal::nn::SaveModel(model, out + "/seed" + std::to_string(n++), flags);
    }
  }
}

void OptionSeeds(const std::string& out) {
  using namespace std::string_literals;  // "..."s keeps embedded NULs
  const std::vector<std::string> seeds = {
      "--train\0a.txt\0--epochs\0005\0--json"s,
      "--lr\0001e-3\0--model\0m\0--exact"s,
      "--epochs\00018446744073709551615"s,
      "--epochs\0-1\0--lr\0nan"s,
  };
  for (size_t i = 0; i < seeds.size(); ++i) {
    Spit(out + "/seed" + std::to_string(i), seeds[i]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuzz_seeds DATA_DIR OUT_DIR\n");
    return 2;
  }
  const std::string out = argv[2];
  try {
    for (const char* sub : {"", "/dataset", "/csv", "/model", "/options"}) {
      ::mkdir((out + sub).c_str(), 0755);
    }
    DatasetSeeds(argv[1], out + "/dataset");
    CsvSeeds(argv[1], out + "/csv");
    ModelSeeds(out + "/model");
    OptionSeeds(out + "/options");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
