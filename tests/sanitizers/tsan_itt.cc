// An ITT notification "collector" that turns oneTBB's synchronization
// notifications into ThreadSanitizer happens-before edges.
//
// Debian's libtbb is not built with ThreadSanitizer, so TSan cannot see the
// synchronization inside it (task spawn and steal, waiting for a task group,
// reuse of task memory) and reports every hand-over of data to a task as a
// race. oneTBB announces those points through the ITT API for race
// detectors (Intel Inspector): "releasing" before it publishes, "acquired"
// after it takes over, "destroy" before task memory goes back to its pool.
// With INTEL_LIBITTNOTIFY64 naming this library and INTEL_ITTNOTIFY_GROUPS
// including "sync", libtbb loads it and calls the functions below, which
// tell TSan the same. Code built with TBB_USE_PROFILING_TOOLS=2 also reports
// the task hand-overs made in the TBB headers.
//
// Built and used only by `make test-tsan`, with -fsanitize=thread.
#include <cstddef>

extern "C" {

void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
void AnnotateNewMemory(const char* file, int line, const volatile void* mem,
                       size_t size);

// Its presence makes the ITT loader fill every function of the groups named
// in INTEL_ITTNOTIFY_GROUPS from this library.
const char* __itt_api_version(void) { return "frugal tsan_itt"; }

namespace {

// oneTBB's small-object pool hands out blocks of this many bytes; a
// destroyed task's block is reused by any thread without synchronization
// TSan can see, so its shadow is reset as malloc's interceptor would.
constexpr size_t kTaskBlockBytes = 256;

// The last object this thread acquired: a wait context, destroyed right
// after; it lives on the waiter's stack, not in a pool block.
thread_local const void* last_acquired = nullptr;

}  // namespace

void __itt_sync_acquired(void* addr) {
  __tsan_acquire(addr);
  last_acquired = addr;
}
void __itt_sync_releasing(void* addr) { __tsan_release(addr); }
void __itt_sync_destroy(void* addr) {
  if (addr != last_acquired) {
    AnnotateNewMemory(__FILE__, __LINE__, addr, kTaskBlockBytes);
  }
}

}  // extern "C"
