#include "nn/serialize.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <vector>

namespace frugal::nn {
namespace {

constexpr char kMagic[8] = {'F', 'R', 'U', 'G', 'A', 'L', 'M', 'D'};
constexpr uint32_t kVersion = 1;

// The configuration as stored: fixed-width fields only.
struct StoredConfig {
  uint64_t input_dim, hidden_dim, output_dim;
  uint32_t loss;
  float output_sparsity;
  uint64_t seed;
  uint32_t hash_kind, hash_k, hash_l, hash_bin_size;
  float srp_density;
  uint64_t hash_seed;
  uint32_t bucket_capacity, replacement, range_bits, selection;
  uint64_t max_active, min_active;
  uint32_t rehash_every;
  float rehash_growth;
  uint32_t rehash_max_interval, redraw_every;
};

// Calls f(stored field, config field) for every field: the one mapping
// both directions use.
template <class S, class C, class F>
void ForEachField(S& s, C& c, F&& f) {
  f(s.input_dim, c.input_dim);
  f(s.hidden_dim, c.hidden_dim);
  f(s.output_dim, c.output_dim);
  f(s.loss, c.loss);
  f(s.output_sparsity, c.output_sparsity);
  f(s.seed, c.seed);
  f(s.hash_kind, c.lsh.hash.kind);
  f(s.hash_k, c.lsh.hash.k);
  f(s.hash_l, c.lsh.hash.l);
  f(s.hash_bin_size, c.lsh.hash.bin_size);
  f(s.srp_density, c.lsh.hash.srp_density);
  f(s.hash_seed, c.lsh.hash.seed);
  f(s.bucket_capacity, c.lsh.bucket_capacity);
  f(s.replacement, c.lsh.replacement);
  f(s.range_bits, c.lsh.range_bits);
  f(s.selection, c.lsh.selection);
  f(s.max_active, c.lsh.max_active);
  f(s.min_active, c.lsh.min_active);
  f(s.rehash_every, c.lsh.rehash_every);
  f(s.rehash_growth, c.lsh.rehash_growth);
  f(s.rehash_max_interval, c.lsh.rehash_max_interval);
  f(s.redraw_every, c.lsh.redraw_every);
}

StoredConfig Store(const ModelConfig& c) {
  StoredConfig s{};
  ForEachField(s, c, [](auto& stored, const auto& field) {
    stored = static_cast<std::remove_reference_t<decltype(stored)>>(field);
  });
  return s;
}

ModelConfig Restore(const StoredConfig& s) {
  ModelConfig c;
  ForEachField(s, c, [](const auto& stored, auto& field) {
    field = static_cast<std::remove_reference_t<decltype(field)>>(stored);
  });
  return c;
}

// Bytes of every block's payload for a configuration.
uint64_t PayloadBytes(const StoredConfig& s, uint32_t flags) {
  const uint64_t per_param =
      s.input_dim * s.hidden_dim + s.hidden_dim + s.output_dim * s.hidden_dim +
      s.output_dim;
  return per_param * sizeof(float) * ((flags & kWithOptimizerState) ? 3 : 1);
}

class Writer {
 public:
  explicit Writer(std::FILE* f) : f_(f) {}
  void Put(const void* p, size_t n) {
    if (n == 0) return;
    if (std::fwrite(p, 1, n, f_) != n) ok_ = false;
    crc_ = crc32_z(crc_, static_cast<const Bytef*>(p), n);
  }
  uint32_t crc() const { return uint32_t(crc_); }
  bool ok() const { return ok_; }

 private:
  std::FILE* f_;
  uLong crc_ = crc32_z(0, nullptr, 0);
  bool ok_ = true;
};

// Writes rows' first `cols` elements (the padding is not stored).
void PutRows(Writer& w, const std::vector<float>& data, const ParamBlock& b) {
  for (size_t r = 0; r < b.rows; ++r) {
    w.Put(data.data() + r * b.stride, b.cols * sizeof(float));
  }
}

void FsyncDirectoryOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

void SaveModel(const Model& model, const std::string& path, uint32_t flags) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    throw ModelFileError(tmp + ": cannot create: " + std::strerror(errno));
  }
  Writer w(f);
  w.Put(kMagic, sizeof(kMagic));
  w.Put(&kVersion, sizeof(kVersion));
  w.Put(&flags, sizeof(flags));
  const StoredConfig sc = Store(model.config());
  w.Put(&sc, sizeof(sc));
  const ParamBlock* blocks[] = {&model.w_in(), &model.b_in(), &model.w_out(),
                                &model.b_out()};
  for (const ParamBlock* b : blocks) PutRows(w, b->w, *b);
  if (flags & kWithOptimizerState) {
    for (const ParamBlock* b : blocks) {
      PutRows(w, b->m, *b);
      PutRows(w, b->v, *b);
    }
  }
  const uint32_t crc = w.crc();
  bool ok = w.ok() && std::fwrite(&crc, 1, sizeof(crc), f) == sizeof(crc);
  ok = ok && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  const int saved_errno = errno;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    throw ModelFileError(path + ": write failed: " +
                         std::strerror(saved_errno ? saved_errno : EIO));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    throw ModelFileError(path + ": cannot rename into place: " +
                         std::strerror(e));
  }
  FsyncDirectoryOf(path);
}

namespace {

class Reader {
 public:
  Reader(std::FILE* f, const std::string& path) : f_(f), path_(path) {}
  void Get(void* p, size_t n, const char* what) {
    if (n == 0) return;
    if (std::fread(p, 1, n, f_) != n) {
      throw ModelFileError(path_ + ": truncated (while reading " + what + ")");
    }
    crc_ = crc32_z(crc_, static_cast<const Bytef*>(p), n);
  }
  uint32_t crc() const { return uint32_t(crc_); }

 private:
  std::FILE* f_;
  const std::string& path_;
  uLong crc_ = crc32_z(0, nullptr, 0);
};

void GetRows(Reader& r, std::vector<float>& data, const ParamBlock& b,
             const char* what) {
  for (size_t row = 0; row < b.rows; ++row) {
    r.Get(data.data() + row * b.stride, b.cols * sizeof(float), what);
  }
}

}  // namespace

std::unique_ptr<Model> LoadModel(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(
      std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw ModelFileError(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (::fstat(::fileno(f.get()), &st) != 0) {
    throw ModelFileError(path + ": cannot stat: " + std::strerror(errno));
  }
  Reader r(f.get(), path);
  char magic[8];
  r.Get(magic, sizeof(magic), "the file signature");
  if (std::memcmp(magic, kMagic, sizeof(magic)) != 0) {
    throw ModelFileError(path + ": not a frugal model file (bad signature)");
  }
  uint32_t version = 0, flags = 0;
  r.Get(&version, sizeof(version), "the version");
  if (version != kVersion) {
    throw ModelFileError(path + ": model format version " +
                         std::to_string(version) + ", this build reads " +
                         std::to_string(kVersion));
  }
  r.Get(&flags, sizeof(flags), "the flags");
  if (flags & ~uint32_t{kWithOptimizerState}) {
    throw ModelFileError(path + ": unknown flags " + std::to_string(flags));
  }
  StoredConfig sc;
  r.Get(&sc, sizeof(sc), "the configuration");
  // Refuse absurd or inconsistent sizes before allocating anything.
  const uint64_t header = sizeof(kMagic) + 2 * sizeof(uint32_t) + sizeof(sc);
  const bool sane = sc.input_dim > 0 && sc.input_dim <= (uint64_t{1} << 31) &&
                    sc.output_dim > 0 && sc.output_dim <= (uint64_t{1} << 31) &&
                    sc.hidden_dim > 0 && sc.hidden_dim <= 65536 &&
                    sc.loss <= 1 && sc.hash_kind <= 2 && sc.replacement <= 1 &&
                    sc.selection <= 1;
  if (!sane || header + PayloadBytes(sc, flags) + sizeof(uint32_t) !=
                   uint64_t(st.st_size)) {
    throw ModelFileError(path + ": corrupt or truncated (size " +
                         std::to_string(st.st_size) +
                         " bytes does not match its header)");
  }
  // Parameters left uninitialised: the file fills them, then the index is
  // built from them.
  auto model = std::make_unique<Model>(Restore(sc), /*initialize=*/false);
  ParamBlock* blocks[] = {&model->w_in(), &model->b_in(), &model->w_out(),
                          &model->b_out()};
  for (ParamBlock* b : blocks) GetRows(r, b->w, *b, "the weights");
  if (flags & kWithOptimizerState) {
    for (ParamBlock* b : blocks) {
      GetRows(r, b->m, *b, "the optimizer state");
      GetRows(r, b->v, *b, "the optimizer state");
    }
  }
  const uint32_t computed = r.crc();
  uint32_t stored = 0;
  if (std::fread(&stored, 1, sizeof(stored), f.get()) != sizeof(stored)) {
    throw ModelFileError(path + ": truncated (no checksum)");
  }
  if (stored != computed) {
    throw ModelFileError(path + ": checksum mismatch: the file is corrupt");
  }
  model->RebuildIndex();
  return model;
}

}  // namespace frugal::nn
