#include "core/parallel.h"

#include <algorithm>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

// CVTOOL_TSAN_BUILD comes from CMake (CVTOOL_TSAN): this file itself is compiled
// without -fsanitize=thread, so the compiler's own TSan macros are not defined here.
#ifdef CVTOOL_TSAN_BUILD
// The Debian libtbb is not instrumented, so ThreadSanitizer cannot see that
// tbb::parallel_for hands work to its threads and joins them. These say so:
// the caller's writes happen before every chunk, every chunk before the return.
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#define CVT_TSAN_ACQUIRE(p) __tsan_acquire(p)
#define CVT_TSAN_RELEASE(p) __tsan_release(p)
#else
#define CVT_TSAN_ACQUIRE(p) (void)(p)
#define CVT_TSAN_RELEASE(p) (void)(p)
#endif

namespace cvt {

namespace {
thread_local int serial_depth = 0;
}  // namespace

SerialScope::SerialScope() { ++serial_depth; }
SerialScope::~SerialScope() { --serial_depth; }

void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn) {
  if (end <= begin) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t n = end - begin;
  if (n <= grain || serial_depth > 0 || tbb::this_task_arena::max_concurrency() <= 1) {
    // Same chunking as the parallel path, so a kernel sees identical ranges.
    for (int64_t lo = begin; lo < end; lo += grain) fn(lo, std::min(end, lo + grain));
    return;
  }
  const int64_t chunks = (n + grain - 1) / grain;
  char fork = 0, join = 0;  // addresses only: sync objects for the annotations
  CVT_TSAN_RELEASE(&fork);
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, chunks, 1),
      [&](const tbb::blocked_range<int64_t>& r) {
        CVT_TSAN_ACQUIRE(&fork);
        for (int64_t c = r.begin(); c < r.end(); ++c) {
          int64_t lo = begin + c * grain;
          fn(lo, std::min(end, lo + grain));
        }
        CVT_TSAN_RELEASE(&join);
      },
      tbb::simple_partitioner());
  CVT_TSAN_ACQUIRE(&join);
}

int current_concurrency() { return serial_depth > 0 ? 1 : std::max(1, tbb::this_task_arena::max_concurrency()); }

}  // namespace cvt
