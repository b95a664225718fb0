// Runs the ranks of a small job as forked child processes (tests only).
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "comm/communicator.h"

namespace frugal::comm::testing {

// CLOCK_MONOTONIC in ms: comparable between the processes of one machine.
inline double MonotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

// A fresh directory under $TMPDIR (or /tmp), removed by the destructor.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string t = std::string(base && *base ? base : "/tmp") + "/frugal_dist_XXXXXX";
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) std::abort();
    path_ = buf.data();
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The options rank `rank` of `size` uses to meet the others in `dir`.
inline ConnectOptions RankOptions(const std::string& dir, int rank, int size,
                                  int timeout_ms) {
  ConnectOptions o;
  o.rank = rank;
  o.size = size;
  o.rendezvous = "file://" + dir + "/store";
  o.run_id = "test";
  o.timeout = std::chrono::milliseconds(timeout_ms);
  return o;
}

// Forks one child per rank; child r runs body(r) and exits with its return
// value (1 if it throws, after writing what() to its output). Each child's
// text output goes to `dir`/rank<r>.out: Output(r) reads it back.
class Ranks {
 public:
  Ranks(const std::string& dir, int size,
        const std::function<int(int rank, std::ostream& out)>& body)
      : dir_(dir) {
    for (int r = 0; r < size; ++r) {
      std::fflush(nullptr);
      const pid_t pid = fork();
      if (pid == 0) {
        int code = 1;
        {
          std::ofstream out(OutPath(r));
          try {
            code = body(r, out);
          } catch (const std::exception& e) {
            out << "exception " << e.what() << '\n';
          }
        }
        _exit(code);
      }
      pids_.push_back(pid);
    }
    exit_ms_.assign(pids_.size(), 0.0);
  }
  ~Ranks() {
    for (pid_t p : pids_) {
      if (p > 0) {
        kill(p, SIGKILL);
        waitpid(p, nullptr, 0);
      }
    }
  }
  pid_t pid(int r) const { return pids_[size_t(r)]; }
  // MonotonicMs() when Wait() saw rank r exit (0 before).
  double exit_ms(int r) const { return exit_ms_[size_t(r)]; }

  // Exit status of every rank (128 + signal when killed), or -1 for the
  // ones still running after `timeout_s` and the ones not in `only` (all
  // ranks when empty).
  std::vector<int> Wait(double timeout_s, const std::vector<int>& only = {}) {
    std::vector<int> status(pids_.size(), -1);
    std::vector<pid_t> pids(pids_.size(), 0);
    for (size_t i = 0; i < pids_.size(); ++i) {
      if (only.empty() || std::find(only.begin(), only.end(), int(i)) != only.end())
        pids[i] = pids_[i];
    }
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration<double>(timeout_s);
    size_t left = 0;
    for (pid_t p : pids) left += p > 0;
    while (left > 0 && std::chrono::steady_clock::now() < deadline) {
      for (size_t i = 0; i < pids.size(); ++i) {
        if (pids[i] <= 0) continue;
        int st = 0;
        if (waitpid(pids[i], &st, WNOHANG) == pids[i]) {
          status[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
          exit_ms_[i] = MonotonicMs();
          pids[i] = pids_[i] = 0;
          --left;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return status;
  }

  std::string Output(int r) const {
    std::ifstream in(OutPath(r));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string OutPath(int r) const {
    return dir_ + "/rank" + std::to_string(r) + ".out";
  }
  std::string dir_;
  std::vector<pid_t> pids_;
  std::vector<double> exit_ms_;
};

}  // namespace frugal::comm::testing
