#include "nn/serialize.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace frugal::nn {
namespace {

constexpr char kMagic[8] = {'F', 'R', 'U', 'G', 'A', 'L', 'M', 'D'};
constexpr uint32_t kVersion = 2;
// Bounds a header may claim before anything is allocated.
constexpr uint32_t kMaxLayers = 64;
constexpr uint32_t kMaxMetadata = 4096;

// The configuration as stored: fixed-width fields only.
struct StoredHeader {
  uint64_t input_dim, seed, step;
  uint32_t num_layers, num_metadata;
};

struct StoredLayer {
  uint64_t width;
  uint32_t activation;
  float sparsity;
  uint32_t hash_kind, hash_k, hash_l, hash_bin_size;
  float srp_density;
  uint32_t bucket_capacity;
  uint64_t hash_seed;
  uint32_t replacement, range_bits, selection, rehash_every;
  uint64_t max_active, min_active;
  float rehash_growth;
  uint32_t rehash_max_interval, redraw_every, reserved;
};

struct StoredMemory {
  uint64_t num_labels, entries;
  uint32_t top_k;
  float blend;
};

static_assert(sizeof(StoredHeader) == 32 && sizeof(StoredLayer) == 96 &&
                  sizeof(StoredMemory) == 24,
              "stored structs must have no padding");

// Calls f(stored field, config field) for every field: the one mapping
// both directions use.
template <class S, class C, class F>
void ForEachField(S& s, C& c, F&& f) {
  f(s.width, c.width);
  f(s.activation, c.activation);
  f(s.sparsity, c.sparsity);
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

StoredLayer Store(const LayerConfig& c) {
  StoredLayer s{};
  ForEachField(s, c, [](auto& stored, const auto& field) {
    stored = static_cast<std::remove_reference_t<decltype(stored)>>(field);
  });
  return s;
}

LayerConfig Restore(const StoredLayer& s) {
  LayerConfig c;
  ForEachField(s, c, [](const auto& stored, auto& field) {
    field = static_cast<std::remove_reference_t<decltype(field)>>(stored);
  });
  return c;
}

// Bytes of every layer's parameters (weights, and the Adam moments with
// kWithOptimizerState); false when the sizes overflow 64 bits.
bool PayloadBytes(uint64_t input_dim, const std::vector<StoredLayer>& layers,
                  uint32_t flags, uint64_t* bytes) {
  uint64_t floats = 0, in = input_dim;
  for (const StoredLayer& l : layers) {
    uint64_t block;
    if (__builtin_mul_overflow(in + 1, l.width, &block) ||
        __builtin_add_overflow(floats, block, &floats)) {
      return false;
    }
    in = l.width;
  }
  const uint64_t copies = (flags & kWithOptimizerState) ? 3 : 1;
  return !__builtin_mul_overflow(floats, copies * sizeof(float), bytes);
}

// The metadata key holding a label-sharded output's "first total".
constexpr char kOutputShardKey[] = "frugal.output_shard";

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

// `path` split after its last '/': the directory ("./" when there is none),
// ending in '/', and the name in it.
std::pair<std::string, std::string> SplitDirectory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return {"./", path};
  return {path.substr(0, slash + 1), path.substr(slash + 1)};
}

void FsyncDirectoryOf(const std::string& path) {
  const std::string dir = SplitDirectory(path).first;
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// "<path>.tmp.<host>.": the start of the names of SaveModel's temporary
// files for `path` on this host (the process id follows).
std::string TemporaryPrefix(const std::string& path) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return path + ".tmp." + host + ".";
}

// Removes the temporary files that saves to the same path left when they
// were killed on this host: "<prefix><pid>" whose process no longer exists.
// Another host's files (a shared directory) and live saves are left alone.
void RemoveStaleTemporaries(const std::string& prefix) {
  const auto [dir, start] = SplitDirectory(prefix);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() <= start.size() || name.compare(0, start.size(), start) != 0) {
      continue;
    }
    const std::string digits = name.substr(start.size());
    if (digits.size() > 9 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    const pid_t pid = pid_t(std::stol(digits));
    if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) {
      ::unlink((dir + name).c_str());
    }
  }
  ::closedir(d);
}

// Opens a fresh temporary file for `path` ("<prefix><pid>", its name in
// *tmp), first removing the stale ones of killed saves.
std::FILE* CreateTemporary(const std::string& path, std::string* tmp) {
  const std::string prefix = TemporaryPrefix(path);
  RemoveStaleTemporaries(prefix);
  *tmp = prefix + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp->c_str(), "wb");
  if (f == nullptr) {
    throw ModelFileError(*tmp + ": cannot create: " + std::strerror(errno));
  }
  return f;
}

// Flushes, fsyncs and closes `f` (the temporary `tmp`; `ok`: the writes
// succeeded), renames it over `path` and fsyncs the directory; on failure
// removes it and throws ModelFileError naming `path`.
void FinishAtomicWrite(std::FILE* f, bool ok, const std::string& tmp,
                       const std::string& path) {
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

}  // namespace

void SaveModel(const Model& model, const std::string& path, uint32_t flags) {
  std::string tmp;
  std::FILE* f = CreateTemporary(path, &tmp);
  Writer w(f);
  const LabelMemory& memory = model.label_memory();
  flags = memory.empty() ? flags & ~uint32_t{kWithLabelMemory} : flags | kWithLabelMemory;
  w.Put(kMagic, sizeof(kMagic));
  w.Put(&kVersion, sizeof(kVersion));
  w.Put(&flags, sizeof(flags));
  const ModelConfig& mc = model.config();
  // A label-sharded output's place is one more metadata entry.
  std::map<std::string, std::string> metadata = mc.metadata;
  if (mc.output_shard.sharded()) {
    metadata[kOutputShardKey] = std::to_string(mc.output_shard.first) + " " +
                                std::to_string(mc.output_shard.total);
  }
  const StoredHeader header{mc.input_dim, mc.seed, model.step(),
                            uint32_t(mc.layers.size()),
                            uint32_t(metadata.size())};
  w.Put(&header, sizeof(header));
  for (size_t l = 0; l < model.num_layers(); ++l) {
    const StoredLayer sl = Store(model.layer(l).config);
    w.Put(&sl, sizeof(sl));
  }
  for (const auto& [key, value] : metadata) {
    for (const std::string* str : {&key, &value}) {
      const uint32_t n = uint32_t(str->size());
      w.Put(&n, sizeof(n));
      w.Put(str->data(), n);
    }
  }
  for (size_t l = 0; l < model.num_layers(); ++l) {
    const Layer& layer = model.layer(l);
    PutRows(w, layer.w.w, layer.w);
    PutRows(w, layer.b.w, layer.b);
  }
  if (flags & kWithOptimizerState) {
    for (size_t l = 0; l < model.num_layers(); ++l) {
      for (const ParamBlock* b : {&model.layer(l).w, &model.layer(l).b}) {
        PutRows(w, b->m, *b);
        PutRows(w, b->v, *b);
      }
    }
  }
  if (flags & kWithLabelMemory) {
    const StoredMemory sm{memory.num_labels(), memory.entries(), memory.top_k(),
                          memory.blend()};
    w.Put(&sm, sizeof(sm));
    w.Put(memory.ptr().data(), memory.ptr().size() * sizeof(uint64_t));
    w.Put(memory.labels().data(), memory.labels().size() * sizeof(uint32_t));
    w.Put(memory.weights().data(), memory.weights().size() * sizeof(float));
  }
  const uint32_t crc = w.crc();
  bool ok = w.ok() && std::fwrite(&crc, 1, sizeof(crc), f) == sizeof(crc);
  FinishAtomicWrite(f, ok, tmp, path);
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

namespace {

// Reads a model from `f` (`size` bytes in all); `name` labels errors.
std::unique_ptr<Model> ReadModel(std::FILE* f, uint64_t size,
                                 const std::string& name) {
  Reader r(f, name);
  uint64_t consumed = 0;
  auto get = [&](void* p, size_t n, const char* what) {
    r.Get(p, n, what);
    consumed += n;
  };
  auto corrupt = [&](const std::string& what) {
    return ModelFileError(name + ": corrupt or truncated (" + what + ")");
  };
  char magic[8];
  get(magic, sizeof(magic), "the file signature");
  if (std::memcmp(magic, kMagic, sizeof(magic)) != 0) {
    throw ModelFileError(name + ": not a frugal model file (bad signature)");
  }
  uint32_t version = 0, flags = 0;
  get(&version, sizeof(version), "the version");
  if (version != kVersion) {
    throw ModelFileError(name + ": model format version " +
                         std::to_string(version) + ", this build reads " +
                         std::to_string(kVersion));
  }
  get(&flags, sizeof(flags), "the flags");
  if (flags & ~uint32_t{kWithOptimizerState | kWithLabelMemory}) {
    throw ModelFileError(name + ": unknown flags " + std::to_string(flags));
  }
  StoredHeader header;
  get(&header, sizeof(header), "the configuration");
  // Refuse absurd or inconsistent sizes before allocating anything.
  if (header.num_layers == 0 || header.num_layers > kMaxLayers ||
      header.num_metadata > kMaxMetadata) {
    throw corrupt(std::to_string(header.num_layers) + " layers, " +
                  std::to_string(header.num_metadata) + " metadata entries");
  }
  if (consumed + uint64_t{header.num_layers} * sizeof(StoredLayer) > size) {
    throw corrupt("the file ends inside the layer list");
  }
  std::vector<StoredLayer> stored(header.num_layers);
  get(stored.data(), stored.size() * sizeof(StoredLayer), "the layers");
  ModelConfig config;
  config.input_dim = header.input_dim;
  config.seed = header.seed;
  for (const StoredLayer& sl : stored) {
    if (sl.activation > 3 || sl.hash_kind > 2 || sl.replacement > 1 ||
        sl.selection > 1) {
      throw corrupt("unknown layer settings");
    }
    config.layers.push_back(Restore(sl));
  }
  for (uint32_t i = 0; i < header.num_metadata; ++i) {
    std::string kv[2];
    for (std::string& str : kv) {
      uint32_t n = 0;
      get(&n, sizeof(n), "the metadata");
      if (n > size - consumed) throw corrupt("a metadata entry past the end");
      str.resize(n);
      get(str.data(), n, "the metadata");
    }
    if (kv[0] == kOutputShardKey) {
      unsigned long long first = 0, total = 0;
      char end = 0;
      if (std::sscanf(kv[1].c_str(), "%llu %llu%c", &first, &total, &end) != 2) {
        throw corrupt("a malformed output shard '" + kv[1] + "'");
      }
      config.output_shard.first = size_t(first);
      config.output_shard.total = size_t(total);
    } else {
      config.metadata[kv[0]] = kv[1];
    }
  }
  uint64_t payload = 0;
  const uint64_t memory_header = (flags & kWithLabelMemory) ? sizeof(StoredMemory) : 0;
  if (!PayloadBytes(header.input_dim, stored, flags, &payload) ||
      (memory_header == 0 && consumed + payload + sizeof(uint32_t) != size) ||
      (memory_header != 0 && consumed + payload + memory_header + sizeof(uint32_t) > size)) {
    throw ModelFileError(name + ": corrupt or truncated (size " +
                         std::to_string(size) +
                         " bytes does not match its header)");
  }
  // Parameters left uninitialised: the file fills them, then the indexes
  // are built from them.
  std::unique_ptr<Model> model;
  try {
    // An LSH index's size follows from its stored settings, not from the
    // file's size: refuse settings that would take more than 1 GiB plus 32
    // times the layer's weights, before anything is allocated.
    size_t in = config.input_dim;
    for (const LayerConfig& lc : config.layers) {
      if (lc.sparsity < 1.0f) {
        const size_t bytes = lsh::IndexBytes(lc.lsh, lc.width, in);
        const size_t limit =
            (size_t{1} << 30) + 32 * sizeof(float) * lc.width * in;
        if (bytes > limit) {
          throw corrupt("LSH settings for a " + std::to_string(bytes >> 20) +
                        " MiB index, more than " +
                        std::to_string(limit >> 20) + " MiB for its layer");
        }
      }
      in = lc.width;
    }
    model = std::make_unique<Model>(config, /*initialize=*/false);
  } catch (const std::invalid_argument& e) {
    throw corrupt(e.what());
  }
  model->set_step(header.step);
  for (size_t l = 0; l < model->num_layers(); ++l) {
    Layer& layer = model->layer(l);
    GetRows(r, layer.w.w, layer.w, "the weights");
    GetRows(r, layer.b.w, layer.b, "the weights");
  }
  if (flags & kWithOptimizerState) {
    for (size_t l = 0; l < model->num_layers(); ++l) {
      for (ParamBlock* b : {&model->layer(l).w, &model->layer(l).b}) {
        GetRows(r, b->m, *b, "the optimizer state");
        GetRows(r, b->v, *b, "the optimizer state");
      }
    }
  }
  if (flags & kWithLabelMemory) {
    StoredMemory sm;
    get(&sm, sizeof(sm), "the label memory");
    const uint64_t features = config.input_dim + 1;
    uint64_t bytes = 0;
    if (sm.num_labels != model->output_dim() || sm.entries > size ||
        __builtin_mul_overflow(sm.entries, uint64_t{8}, &bytes) ||
        __builtin_add_overflow(bytes, features * 8, &bytes) ||
        consumed + payload + bytes + sizeof(uint32_t) != size) {
      throw corrupt("a label memory that does not match the model or the file's size");
    }
    std::vector<uint64_t> ptr(features);
    std::vector<uint32_t> labels(sm.entries);
    std::vector<float> weights(sm.entries);
    get(ptr.data(), ptr.size() * sizeof(uint64_t), "the label memory");
    get(labels.data(), labels.size() * sizeof(uint32_t), "the label memory");
    get(weights.data(), weights.size() * sizeof(float), "the label memory");
    try {
      model->set_label_memory(LabelMemory::FromArrays(sm.num_labels, sm.top_k, sm.blend,
                                                      std::move(ptr), std::move(labels),
                                                      std::move(weights)));
    } catch (const std::invalid_argument& e) {
      throw corrupt(e.what());
    }
  }
  const uint32_t computed = r.crc();
  uint32_t crc = 0;
  if (std::fread(&crc, 1, sizeof(crc), f) != sizeof(crc)) {
    throw ModelFileError(name + ": truncated (no checksum)");
  }
  if (crc != computed) {
    throw ModelFileError(name + ": checksum mismatch: the file is corrupt");
  }
  model->RebuildIndex();
  return model;
}

}  // namespace

void WriteFileAtomically(const std::string& path, const std::string& contents) {
  std::string tmp;
  std::FILE* f = CreateTemporary(path, &tmp);
  const bool ok = std::fwrite(contents.data(), 1, contents.size(), f) == contents.size();
  FinishAtomicWrite(f, ok, tmp, path);
}

std::unique_ptr<Model> LoadModel(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(
      std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw ModelFileError(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (::fstat(::fileno(f.get()), &st) != 0) {
    throw ModelFileError(path + ": cannot stat: " + std::strerror(errno));
  }
  return ReadModel(f.get(), uint64_t(st.st_size), path);
}

std::unique_ptr<Model> LoadModelFromMemory(const void* data, size_t size,
                                           const std::string& name) {
  if (size == 0) throw ModelFileError(name + ": empty");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(
      ::fmemopen(const_cast<void*>(data), size, "rb"), &std::fclose);
  if (!f) throw ModelFileError(name + ": cannot read: " + std::strerror(errno));
  return ReadModel(f.get(), size, name);
}

}  // namespace frugal::nn
