// One parallel_for for the whole engine, on oneTBB. Threads are bounded by the
// tbb::task_arena the caller runs in (Session owns one per --threads value).
// Work is split into fixed chunks of `grain`, so every element is computed by
// the same arithmetic whatever the thread count: results never depend on it.
#pragma once
#include <cstdint>
#include <functional>

namespace cvt {

// Calls fn(lo, hi) over [begin, end) in chunks of at most `grain` elements.
void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn);

// Threads available in the current arena (1 when called outside any arena, or
// inside a SerialScope).
int current_concurrency();

// While one lives, parallel_for on this thread runs its chunks inline: for a task
// that runs a whole sub-problem (its data in its own core's cache) on kernels that
// would otherwise split it again.
class SerialScope {
 public:
  SerialScope();
  ~SerialScope();
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;
};

struct ParallelTeam;

// While one lives (on the thread that made it, inside a task_arena of 2+ threads),
// that thread's parallel_for calls go to a team of the arena's threads held for
// the scope, instead of a tbb::parallel_for each: for a sequence of short loops
// such as one graph run. Chunking, and so every result, is the same either way.
// Scopes nest (inner ones do nothing); other threads are unaffected.
class TeamScope {
 public:
  TeamScope();
  ~TeamScope();
  TeamScope(const TeamScope&) = delete;
  TeamScope& operator=(const TeamScope&) = delete;

 private:
  ParallelTeam* team_ = nullptr;
};

}  // namespace cvt
