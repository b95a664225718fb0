// `frugal launch -n N [options] -- COMMAND ARGS...`
//
// Starts N copies of COMMAND with FRUGAL_RANK (0..N-1), FRUGAL_WORLD_SIZE,
// FRUGAL_RENDEZVOUS and FRUGAL_RUN_ID set, prefixes each line they print
// with "[rank r] " (stdout to stdout, stderr to stderr). When one rank fails
// (non-zero exit or a signal), the others get `--grace` seconds to notice
// and exit by themselves (a Gloo communicator reports the failed rank),
// then are killed; launch returns the failing rank's status.

#include "apps/launch_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace frugal::cli {

const char kLaunchUsage[] =
    "frugal launch -n N [--rendezvous file:///DIR] [--run-id ID]\n"
    "              [--grace SECONDS] -- COMMAND [ARGS...]\n"
    "\n"
    "Runs N ranks of COMMAND on this machine, each with FRUGAL_RANK,\n"
    "FRUGAL_WORLD_SIZE, FRUGAL_RENDEZVOUS and FRUGAL_RUN_ID set (read by\n"
    "`frugal train`), and prints their output with a '[rank r] ' prefix.\n"
    "COMMAND 'frugal' runs this same binary.\n"
    "\n"
    "options:\n"
    "  -n N              number of ranks (>= 1)\n"
    "  --rendezvous URL  where the ranks meet (default: a fresh directory\n"
    "                    under $TMPDIR, removed afterwards)\n"
    "  --run-id ID       rendezvous namespace of this attempt (default: a\n"
    "                    fresh one)\n"
    "  --grace S         after a rank fails, seconds the others get to exit\n"
    "                    by themselves before they are killed (default 10)\n"
    "\n"
    "Exit status: 0 when every rank exits 0, else the status of the first\n"
    "rank that failed (1 when it died of a signal).\n";

namespace {

struct Child {
  pid_t pid = -1;
  int fd[2] = {-1, -1};          // read ends: stdout, stderr
  std::string pending[2];        // partial lines
  bool running = true;
  int status = 0;                // exit status, or 128 + signal
};

volatile sig_atomic_t g_interrupted = 0;
void OnSignal(int) { g_interrupted = 1; }

// Writes complete lines of `buf` with the rank prefix; keeps the rest.
void Emit(int rank, int stream, std::string& pending, bool flush_all) {
  FILE* out = stream == 0 ? stdout : stderr;
  size_t start = 0;
  for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::fprintf(out, "[rank %d] %.*s\n", rank, int(nl - start), pending.data() + start);
  }
  pending.erase(0, start);
  if (flush_all && !pending.empty()) {
    std::fprintf(out, "[rank %d] %s\n", rank, pending.c_str());
    pending.clear();
  }
  std::fflush(out);
}

[[noreturn]] void Usage(const std::string& message) {
  std::cerr << "frugal: " << message << "\n\nusage: " << kLaunchUsage;
  std::exit(2);
}

std::string SelfExe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "frugal";
  return std::string(buf, size_t(n));
}

}  // namespace

int RunLaunch(const std::vector<std::string>& args) {
  long ranks = -1;
  double grace = 10;
  std::string rendezvous, run_id;
  size_t i = 0;
  for (; i < args.size() && args[i] != "--"; ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size() || args[i + 1] == "--") Usage(a + " needs a value");
    const std::string& v = args[++i];
    char* end = nullptr;
    if (a == "-n") {
      ranks = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || ranks < 1 || ranks > 1024)
        Usage("-n expects a rank count in [1, 1024], got '" + v + "'");
    } else if (a == "--grace") {
      grace = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(grace >= 0))
        Usage("--grace expects seconds, got '" + v + "'");
    } else if (a == "--rendezvous") {
      rendezvous = v;
    } else if (a == "--run-id") {
      run_id = v;
    } else {
      Usage("unknown option '" + a + "'");
    }
  }
  if (ranks < 0) Usage("missing -n");
  if (i + 1 >= args.size()) Usage("missing '-- COMMAND'");
  std::vector<std::string> command(args.begin() + long(i) + 1, args.end());
  if (command[0] == "frugal") command[0] = SelfExe();

  std::string scratch;
  if (rendezvous.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string t = std::string(tmp && *tmp ? tmp : "/tmp") + "/frugal_launch_XXXXXX";
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) {
      std::cerr << "frugal: error: launch: cannot create a directory under "
                << (tmp && *tmp ? tmp : "/tmp") << ": " << std::strerror(errno) << '\n';
      return 1;
    }
    scratch = buf.data();
    rendezvous = "file://" + scratch;
  }
  if (run_id.empty()) {
    run_id = "launch-" + std::to_string(getpid()) + "-" + std::to_string(std::time(nullptr));
  }

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::vector<Child> children(static_cast<size_t>(ranks));
  for (long r = 0; r < ranks; ++r) {
    Child& c = children[size_t(r)];
    int out[2], err[2];
    if (pipe(out) != 0 || pipe(err) != 0) {
      std::cerr << "frugal: error: launch: pipe: " << std::strerror(errno) << '\n';
      return 1;
    }
    std::fflush(nullptr);
    c.pid = fork();
    if (c.pid == 0) {
      setpgid(0, 0);  // its own process group: signals reach its children
      dup2(out[1], 1);
      dup2(err[1], 2);
      close(out[0]);
      close(out[1]);
      close(err[0]);
      close(err[1]);
      setenv("FRUGAL_RANK", std::to_string(r).c_str(), 1);
      setenv("FRUGAL_WORLD_SIZE", std::to_string(ranks).c_str(), 1);
      setenv("FRUGAL_RENDEZVOUS", rendezvous.c_str(), 1);
      setenv("FRUGAL_RUN_ID", run_id.c_str(), 1);
      std::vector<char*> argv;
      for (std::string& s : command) argv.push_back(s.data());
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      std::fprintf(stderr, "frugal launch: cannot run %s: %s\n", argv[0],
                   std::strerror(errno));
      _exit(127);
    }
    if (c.pid > 0) setpgid(c.pid, c.pid);  // no race with the child's own call
    close(out[1]);
    close(err[1]);
    c.fd[0] = out[0];
    c.fd[1] = err[0];
    if (c.pid < 0) {
      std::cerr << "frugal: error: launch: fork: " << std::strerror(errno) << '\n';
      return 1;
    }
  }

  using Clock = std::chrono::steady_clock;
  int first_failed = -1;
  Clock::time_point kill_at = Clock::time_point::max();
  bool killed = false;
  size_t running = children.size();
  while (running > 0) {
    std::vector<pollfd> fds;
    std::vector<std::pair<size_t, int>> owner;
    for (size_t r = 0; r < children.size(); ++r) {
      for (int s = 0; s < 2; ++s) {
        if (children[r].fd[s] >= 0) {
          fds.push_back({children[r].fd[s], POLLIN, 0});
          owner.emplace_back(r, s);
        }
      }
    }
    if (!fds.empty()) poll(fds.data(), fds.size(), 50);
    else usleep(50000);
    for (size_t k = 0; k < fds.size(); ++k) {
      if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Child& c = children[owner[k].first];
      const int s = owner[k].second;
      char buf[65536];
      const ssize_t n = read(c.fd[s], buf, sizeof buf);
      if (n > 0) {
        c.pending[s].append(buf, size_t(n));
        Emit(int(owner[k].first), s, c.pending[s], false);
      } else if (n == 0 || errno != EINTR) {
        Emit(int(owner[k].first), s, c.pending[s], true);
        close(c.fd[s]);
        c.fd[s] = -1;
      }
    }
    for (size_t r = 0; r < children.size(); ++r) {
      Child& c = children[r];
      if (!c.running) continue;
      int st = 0;
      if (waitpid(c.pid, &st, WNOHANG) != c.pid) continue;
      c.running = false;
      --running;
      c.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      if (c.status != 0 && !killed) {
        if (WIFSIGNALED(st)) {
          std::fprintf(stderr, "frugal launch: rank %zu was killed by signal %d\n",
                       r, WTERMSIG(st));
        } else {
          std::fprintf(stderr, "frugal launch: rank %zu exited with status %d\n",
                       r, c.status);
        }
        if (first_failed < 0) {
          first_failed = int(r);
          kill_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(grace));
        }
      }
    }
    if (g_interrupted && !killed) {
      for (Child& c : children)
        if (c.running) kill(-c.pid, SIGTERM);
      kill_at = Clock::now() + std::chrono::seconds(5);
      g_interrupted = 0;
      if (first_failed < 0) first_failed = -2;
    }
    if (!killed && running > 0 && Clock::now() >= kill_at) {
      for (size_t r = 0; r < children.size(); ++r) {
        if (children[r].running) {
          std::fprintf(stderr, "frugal launch: killing rank %zu\n", r);
          kill(-children[r].pid, SIGKILL);
        }
      }
      killed = true;
    }
  }
  for (Child& c : children) {
    for (int s = 0; s < 2; ++s) {
      if (c.fd[s] >= 0) {
        // Whatever is buffered; a leftover grandchild may hold the pipe.
        fcntl(c.fd[s], F_SETFL, fcntl(c.fd[s], F_GETFL) | O_NONBLOCK);
        char buf[65536];
        for (ssize_t n; (n = read(c.fd[s], buf, sizeof buf)) > 0;)
          c.pending[s].append(buf, size_t(n));
        Emit(int(&c - children.data()), s, c.pending[s], true);
        close(c.fd[s]);
      }
    }
  }
  if (!scratch.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(scratch, ec);
  }
  if (first_failed == -2) return 1;
  if (first_failed < 0) return 0;
  const int status = children[size_t(first_failed)].status;
  return status >= 128 ? 1 : status;
}

}  // namespace frugal::cli
