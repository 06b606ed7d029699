#include "core/parallel.h"

#include <algorithm>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

namespace cvt {

void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn) {
  if (end <= begin) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t n = end - begin;
  if (n <= grain || tbb::this_task_arena::max_concurrency() <= 1) {
    // Same chunking as the parallel path, so a kernel sees identical ranges.
    for (int64_t lo = begin; lo < end; lo += grain) fn(lo, std::min(end, lo + grain));
    return;
  }
  const int64_t chunks = (n + grain - 1) / grain;
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, chunks, 1),
      [&](const tbb::blocked_range<int64_t>& r) {
        for (int64_t c = r.begin(); c < r.end(); ++c) {
          int64_t lo = begin + c * grain;
          fn(lo, std::min(end, lo + grain));
        }
      },
      tbb::simple_partitioner());
}

int current_concurrency() { return std::max(1, tbb::this_task_arena::max_concurrency()); }

}  // namespace cvt
