// An in-memory file for fuzz targets whose parser takes a path: the bytes
// go to a memfd, and path() ("/proc/self/fd/N") opens them from offset 0.
// One per process, reused across inputs.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace frugal::fuzz {

class MemFile {
 public:
  MemFile() : fd_(::memfd_create("frugal-fuzz", 0)) {
    if (fd_ < 0) std::abort();  // the target cannot run at all
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  // Replaces the contents with data[0, size).
  void Set(const uint8_t* data, size_t size) {
    if (::ftruncate(fd_, 0) != 0) std::abort();
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pwrite(fd_, data + done, size - done, off_t(done));
      if (n <= 0) std::abort();
      done += size_t(n);
    }
  }
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

}  // namespace frugal::fuzz
