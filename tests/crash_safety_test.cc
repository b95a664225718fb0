// Crash safety of model checkpoints.
//
// KillDuringCheckpoint: `frugal train` with a checkpoint every two batches
// is killed with SIGKILL at random points while it writes a checkpoint,
// FRUGAL_CRASH_TRIALS times (default 20; `make crash-test` runs 100). After
// every kill the last complete checkpoint must load, and `frugal train
// --resume` must continue from it to the end of its epoch.
//
// WriteError*: a save that hits a write error (the file size limit,
// RLIMIT_FSIZE, standing in for a full disk) reports the error and leaves
// the previous file byte for byte as it was.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "nn/model.h"
#include "nn/serialize.h"

#ifndef FRUGAL_DATA_DIR
#define FRUGAL_DATA_DIR "../shared/data"
#endif
#ifndef FRUGAL_CLI
#error "FRUGAL_CLI: path of the frugal executable"
#endif

namespace frugal::nn {
namespace {

using Clock = std::chrono::steady_clock;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A scratch directory, removed with its files at the end of the test.
class ScratchDir {
 public:
  ScratchDir()
      : path_(::testing::TempDir() + "frugal_crash_" +
              std::to_string(::getpid())) {
    ::mkdir(path_.c_str(), 0700);
  }
  ~ScratchDir() {
    for (const std::string& f : Files()) std::remove((path_ + "/" + f).c_str());
    ::rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::vector<std::string> Files() const {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(path_.c_str())) {
      while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name != "." && name != "..") out.push_back(name);
      }
      ::closedir(d);
    }
    return out;
  }
  // True if a save's temporary file ("<name>.tmp.<host>.<pid>") exists.
  bool HasTemporary(const std::string& name) const {
    const std::string prefix = name + ".tmp.";
    for (const std::string& f : Files()) {
      if (f.compare(0, prefix.size(), prefix) == 0) return true;
    }
    return false;
  }
  void RemoveTemporaries(const std::string& name) const {
    const std::string prefix = name + ".tmp.";
    for (const std::string& f : Files()) {
      if (f.compare(0, prefix.size(), prefix) == 0) {
        std::remove((path_ + "/" + f).c_str());
      }
    }
  }

 private:
  std::string path_;
};

struct SpawnOptions {
  rlim_t file_size_limit = RLIM_INFINITY;  // RLIMIT_FSIZE, bytes
  std::string log;                         // stdout and stderr go here
};

// Starts the frugal CLI with `args`.
pid_t Spawn(const std::vector<std::string>& args, const SpawnOptions& o) {
  std::vector<std::string> argv_s = {FRUGAL_CLI};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {  // only async-signal-safe calls until exec
    const int fd = ::open(o.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (o.file_size_limit != RLIM_INFINITY) {
      // A write past the limit then fails with EFBIG instead of SIGXFSZ.
      ::signal(SIGXFSZ, SIG_IGN);
      rlimit r{o.file_size_limit, o.file_size_limit};
      ::setrlimit(RLIMIT_FSIZE, &r);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Runs the CLI to completion; returns its exit status (-signal if killed).
int RunCli(const std::vector<std::string>& args, const SpawnOptions& o) {
  const pid_t pid = Spawn(args, o);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// The first `rows` rows of bibtex, written to `path` (XC format).
void WriteBibtexHead(const std::string& path, size_t rows) {
  const SparseDataset all =
      ReadSparseFile(std::string(FRUGAL_DATA_DIR) + "/bibtex/train.txt");
  SparseDataset head(all.num_features(), all.num_labels());
  for (size_t i = 0; i < rows && i < all.size(); ++i) {
    const SparseRow r = all.row(i);
    head.Add(r.idx, r.val, r.labels);
  }
  WriteXcFile(path, head);
}

size_t Trials() {
  const char* env = std::getenv("FRUGAL_CRASH_TRIALS");
  return env != nullptr && *env ? size_t(std::strtoul(env, nullptr, 10)) : 20;
}

TEST(CrashSafety, KillDuringCheckpointLeavesLastCheckpointLoadable) {
  const ScratchDir dir;
  const std::string train = dir.path() + "/train.txt";
  const std::string model = dir.path() + "/model.bin";
  const std::string log = dir.path() + "/log.txt";
  const std::string resumed = dir.path() + "/resumed.bin";
  // A checkpoint every two batches: the process spends most of its time
  // saving. Hidden 256 makes a checkpoint ~6 MB (weights and Adam moments),
  // so a save takes long enough to be hit mid-way.
  const size_t rows = 400, batch = 64;
  const size_t batches = (rows + batch - 1) / batch;
  WriteBibtexHead(train, rows);
  const std::vector<std::string> train_args = {"train",
                                               "--train",
                                               train,
                                               "--hidden",
                                               "256",
                                               "--batch",
                                               std::to_string(batch),
                                               "--epochs",
                                               "1000000",
                                               "--threads",
                                               "1",
                                               "--no-progress",
                                               "--model",
                                               model,
                                               "--checkpoint-every",
                                               "2"};
  std::mt19937_64 rng(20261122);
  const size_t trials = Trials();
  size_t mid_save = 0, with_previous = 0;
  std::vector<double> save_ms;  // durations of the saves seen complete
  for (size_t trial = 0; trial < trials; ++trial) {
    std::remove(model.c_str());
    dir.RemoveTemporaries("model.bin");
    const pid_t pid = Spawn(train_args, {RLIM_INFINITY, log});
    // Let 0-2 checkpoints complete, then kill at a random point of the next
    // save: a random delay after its temporary file appears, up to the
    // median save seen so far.
    const size_t complete = rng() % 3;
    size_t started = 0;
    bool in_save = false;
    Clock::time_point save_start;
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < deadline) {
      const bool now_in_save = dir.HasTemporary("model.bin");
      if (now_in_save && !in_save) {
        ++started;
        save_start = Clock::now();
      }
      if (!now_in_save && in_save) {
        save_ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - save_start)
                .count());
      }
      in_save = now_in_save;
      if (started == complete + 1) break;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    ASSERT_EQ(started, complete + 1)
        << "trial " << trial << ": no checkpoint started in 60 s; log:\n"
        << ReadFile(log);
    double window_ms = 2.0;
    if (!save_ms.empty()) {
      std::nth_element(save_ms.begin(), save_ms.begin() + save_ms.size() / 2,
                       save_ms.end());
      window_ms = save_ms[save_ms.size() / 2];
    }
    std::uniform_real_distribution<double> delay_ms(0, window_ms);
    std::this_thread::sleep_for(
        std::chrono::duration<double, std::milli>(delay_ms(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "trial " << trial << ": the trainer exited by itself; log:\n"
        << ReadFile(log);
    if (dir.HasTemporary("model.bin")) ++mid_save;
    // A checkpoint completed before the killed save must still be there and
    // load; the first save may be cut short, leaving no file at all.
    struct stat st;
    const bool exists = ::stat(model.c_str(), &st) == 0;
    if (complete > 0) {
      ASSERT_TRUE(exists) << "trial " << trial << ": checkpoint lost";
      ++with_previous;
    }
    if (!exists) continue;
    std::unique_ptr<Model> loaded;
    ASSERT_NO_THROW(loaded = LoadModel(model)) << "trial " << trial;
    EXPECT_EQ(loaded->input_dim(), 1836u);
    EXPECT_EQ(loaded->output_dim(), 159u);
    const uint64_t step = loaded->step();
    EXPECT_EQ(step % 2, 0u) << "trial " << trial;
    // Training resumes from it and finishes its epoch.
    const size_t epochs = step / batches + 1;
    { std::ofstream(resumed, std::ios::binary) << ReadFile(model); }
    ASSERT_EQ(
        RunCli({"train", "--train", train, "--batch", std::to_string(batch),
                "--epochs", std::to_string(epochs), "--threads", "1",
                "--no-progress", "--resume", "--model", resumed},
               {RLIM_INFINITY, log}),
        0)
        << "trial " << trial << ": log:\n"
        << ReadFile(log);
    EXPECT_NE(ReadFile(log).find("resuming from " + resumed + " at step " +
                                 std::to_string(step) + " (epoch " +
                                 std::to_string(epochs) + ")"),
              std::string::npos)
        << ReadFile(log);
    EXPECT_EQ(LoadModel(resumed)->step(), epochs * batches)
        << "trial " << trial;
  }
  std::sort(save_ms.begin(), save_ms.end());
  std::printf(
      "%zu trials: %zu killed while a save was in progress (the "
      "others just after one), %zu with an earlier complete "
      "checkpoint; median save %.1f ms; every checkpoint loaded and "
      "resumed\n",
      trials, mid_save, with_previous,
      save_ms.empty() ? 0.0 : save_ms[save_ms.size() / 2]);
  // Enough kills must land inside saves for the test to mean anything.
  EXPECT_GE(mid_save * 4, trials);
}

// A dense model of 1,000 features, `hidden` hidden units and 100 labels.
ModelConfig ModelOfSize(size_t hidden) { return AutoConfig(1000, 100, hidden); }

TEST(CrashSafety, SaveRemovesTemporariesOfKilledSaves) {
  const ScratchDir dir;
  const std::string path = dir.path() + "/model.bin";
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  const pid_t dead = ::fork();  // a process id that no longer exists
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ::waitpid(dead, nullptr, 0);
  const std::string base = path + ".tmp.";
  const std::string stale = base + host + "." + std::to_string(dead);
  const std::string live = base + host + "." + std::to_string(::getppid());
  const std::string other_host = base + "elsewhere." + std::to_string(dead);
  for (const std::string& f : {stale, live, other_host}) {
    std::ofstream(f) << "partial";
  }
  SaveModel(Model(ModelOfSize(4)), path);
  struct stat st;
  EXPECT_NE(::stat(stale.c_str(), &st), 0) << "a killed save's file is left";
  EXPECT_EQ(::stat(live.c_str(), &st), 0) << "a live process's file is gone";
  EXPECT_EQ(::stat(other_host.c_str(), &st), 0)
      << "another host's file is gone";
  EXPECT_NO_THROW(LoadModel(path));
  // A path without a directory: the temporaries are in the working one.
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(::chdir(dir.path().c_str()), 0);
  const std::string bare_stale =
      std::string("bare.bin.tmp.") + host + "." + std::to_string(dead);
  std::ofstream(bare_stale) << "partial";
  SaveModel(Model(ModelOfSize(4)), "bare.bin");
  const bool bare_left = ::stat(bare_stale.c_str(), &st) == 0;
  ASSERT_EQ(::chdir(cwd), 0);
  EXPECT_FALSE(bare_left) << "a killed save's file is left (bare path)";
}

TEST(CrashSafety, WriteErrorDuringSaveKeepsPreviousFile) {
  const ScratchDir dir;
  const std::string path = dir.path() + "/model.bin";
  SaveModel(Model(ModelOfSize(4)), path);
  const std::string before = ReadFile(path);
  ASSERT_LT(before.size(), 64u << 10);
  // The next save (~1.7 MB) stops at a 64 KiB file size limit.
  const Model big(ModelOfSize(128));
  void (*old_handler)(int) = ::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit;
  ::getrlimit(RLIMIT_FSIZE, &old_limit);
  rlimit limit{64 << 10, old_limit.rlim_max};
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  std::string error;
  try {
    SaveModel(big, path, kWithOptimizerState);
  } catch (const ModelFileError& e) {
    error = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("write failed"), std::string::npos) << error;
  EXPECT_EQ(ReadFile(path), before);
  EXPECT_FALSE(dir.HasTemporary("model.bin")) << "temporary file left behind";
  EXPECT_NO_THROW(LoadModel(path));
}

TEST(CrashSafety, WriteErrorInTrainingCheckpointIsReported) {
  const ScratchDir dir;
  const std::string train = dir.path() + "/train.txt";
  const std::string model = dir.path() + "/model.bin";
  const std::string log = dir.path() + "/log.txt";
  WriteBibtexHead(train, 100);
  const std::vector<std::string> args = {"train",
                                         "--train",
                                         train,
                                         "--hidden",
                                         "32",
                                         "--epochs",
                                         "2",
                                         "--threads",
                                         "1",
                                         "--no-progress",
                                         "--model",
                                         model,
                                         "--checkpoint-every-epoch"};
  ASSERT_EQ(RunCli(args, {RLIM_INFINITY, log}), 0) << ReadFile(log);
  const std::string before = ReadFile(model);
  // The checkpoint (~0.8 MB with the Adam moments) exceeds a 64 KiB limit;
  // the data file and log stay below it.
  ASSERT_GT(before.size(), 64u << 10);
  EXPECT_EQ(RunCli(args, {64 << 10, log}), 1);
  const std::string out = ReadFile(log);
  EXPECT_NE(out.find("write failed"), std::string::npos) << out;
  EXPECT_NE(out.find(model), std::string::npos) << out;
  EXPECT_EQ(ReadFile(model), before);
  EXPECT_FALSE(dir.HasTemporary("model.bin"));
}

}  // namespace
}  // namespace frugal::nn
