#include "core/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CVT_SPIN_PAUSE() _mm_pause()
#else
#define CVT_SPIN_PAUSE() std::this_thread::yield()
#endif

// CVTOOL_TSAN_BUILD comes from CMake (CVTOOL_TSAN): this file itself is compiled
// without -fsanitize=thread, so the compiler's own TSan macros are not defined here.
#ifdef CVTOOL_TSAN_BUILD
// The Debian libtbb is not instrumented, and neither are this file's atomics, so
// ThreadSanitizer cannot see that work is handed to other threads and joined.
// These say so: the caller's writes happen before every chunk, every chunk
// before the return.
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

// ---------------------------------------------------------------------------
// ParallelTeam: the threads of one arena held for a whole graph run.
//
// A tbb::parallel_for costs a hand-over of ~2.5-5 us on this class of VM, and a
// quantised MobileNetV2 makes 63 of them in ~2 ms. The team's helpers are TBB
// tasks that stay in the arena and spin between loops, so a loop is posted by
// writing a few atomics. Each participant owns a fixed share of the chunks (the
// leader the first), so ops that split the same way keep their data on one core;
// a participant that runs dry takes chunks from the back of another's share.
// A helper that never starts costs nothing but its share, which the others take:
// no participant ever waits for another to arrive.
// ---------------------------------------------------------------------------
namespace {

// One participant's remaining chunks [lo, hi), packed so that the owner (from
// the front) and thieves (from the back) claim with one compare-and-swap.
struct alignas(64) Share {
  std::atomic<uint64_t> range{0};
};
constexpr uint64_t pack(uint32_t lo, uint32_t hi) { return (uint64_t(hi) << 32) | lo; }
constexpr uint32_t lo_of(uint64_t r) { return uint32_t(r); }
constexpr uint32_t hi_of(uint64_t r) { return uint32_t(r >> 32); }

// How long an idle helper spins before it sleeps on the epoch: a pause is 10-20 ns
// on this machine, so a few hundred us, longer than any gap between two loops.
constexpr int kSpinsBeforeSleep = 20000;

}  // namespace

struct ParallelTeam {
  explicit ParallelTeam(int participants) : shares(participants) {}

  std::vector<Share> shares;
  tbb::task_group helpers;
  // The current loop; written by the leader only while no chunk is outstanding,
  // read by others only after they claimed one of its chunks.
  const std::function<void(int64_t, int64_t)>* fn = nullptr;
  int64_t begin = 0, end = 0, grain = 1;

  alignas(64) std::atomic<uint64_t> epoch{0};  // bumped per loop and at stop
  std::atomic<int> sleepers{0};
  std::atomic<bool> stop{false};
  std::atomic<int> next_id{1};
  alignas(64) std::atomic<int64_t> outstanding{0};  // chunks not yet finished

  std::mutex error_mu;
  std::exception_ptr error;
  char sync = 0;  // address only: the TSan annotations' sync object

  // Claims a chunk: from the front of our own share, else the back of another's.
  bool claim(int me, uint32_t* chunk) {
    const int n = static_cast<int>(shares.size());
    for (int k = 0; k < n; ++k) {
      const int p = (me + k) % n;
      std::atomic<uint64_t>& a = shares[p].range;
      uint64_t r = a.load(std::memory_order_acquire);
      while (lo_of(r) < hi_of(r)) {
        const bool own = k == 0;
        const uint64_t next = own ? pack(lo_of(r) + 1, hi_of(r)) : pack(lo_of(r), hi_of(r) - 1);
        if (a.compare_exchange_weak(r, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
          *chunk = own ? lo_of(r) : hi_of(r) - 1;
          return true;
        }
      }
    }
    return false;
  }

  // Runs chunks until none is left to claim; returns how many it ran.
  int64_t work(int me) {
    int64_t ran = 0;
    uint32_t c;
    while (claim(me, &c)) {
      CVT_TSAN_ACQUIRE(&sync);
      const int64_t lo = begin + int64_t(c) * grain;
      ++serial_depth;  // loops inside a chunk run inline
      try {
        (*fn)(lo, std::min(end, lo + grain));
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (!error) error = std::current_exception();
      }
      --serial_depth;
      ++ran;
    }
    return ran;
  }

  void helper_loop() {
    const int me = next_id.fetch_add(1);
    if (me >= static_cast<int>(shares.size())) return;  // more tasks than shares: never happens
    uint64_t seen = 0;
    for (;;) {
      uint64_t e = epoch.load(std::memory_order_acquire);
      for (int spin = 0; e == seen && spin < kSpinsBeforeSleep; ++spin) {
        CVT_SPIN_PAUSE();
        e = epoch.load(std::memory_order_acquire);
      }
      if (e == seen) {
        sleepers.fetch_add(1);
        epoch.wait(seen);  // returns at once if the epoch moved meanwhile
        sleepers.fetch_sub(1);
        continue;
      }
      seen = e;
      if (stop.load(std::memory_order_acquire)) return;
      if (int64_t ran = work(me)) {
        CVT_TSAN_RELEASE(&sync);
        outstanding.fetch_sub(ran, std::memory_order_acq_rel);
      }
    }
  }

  // Leader: posts the loop, works its share, waits for the chunks others took.
  void run(int64_t b, int64_t e, int64_t g, int64_t chunks, const std::function<void(int64_t, int64_t)>& f) {
    fn = &f;
    begin = b;
    end = e;
    grain = g;
    outstanding.store(chunks, std::memory_order_relaxed);
    const int n = static_cast<int>(shares.size());
    for (int p = 0; p < n; ++p)
      shares[p].range.store(pack(uint32_t(chunks * p / n), uint32_t(chunks * (p + 1) / n)), std::memory_order_release);
    CVT_TSAN_RELEASE(&sync);
    epoch.fetch_add(1);
    if (sleepers.load() > 0) epoch.notify_all();
    if (int64_t ran = work(0)) outstanding.fetch_sub(ran, std::memory_order_acq_rel);
    while (outstanding.load(std::memory_order_acquire) > 0) CVT_SPIN_PAUSE();
    CVT_TSAN_ACQUIRE(&sync);
    fn = nullptr;
    if (error) {
      std::exception_ptr err = std::exchange(error, nullptr);
      std::rethrow_exception(err);
    }
  }
};

namespace {
thread_local ParallelTeam* leading_team = nullptr;  // set on the leader's thread only
}  // namespace

TeamScope::TeamScope() {
  const int threads = tbb::this_task_arena::max_concurrency();
  if (threads <= 1 || serial_depth > 0 || leading_team) return;
  team_ = new ParallelTeam(threads);
  for (int i = 1; i < threads; ++i) team_->helpers.run([t = team_] { t->helper_loop(); });
  leading_team = team_;
}

TeamScope::~TeamScope() {
  if (!team_) return;
  leading_team = nullptr;
  team_->stop.store(true, std::memory_order_release);
  team_->epoch.fetch_add(1);
  team_->epoch.notify_all();
  team_->helpers.wait();  // runs a helper that never started here; it sees `stop` and returns
  delete team_;
}

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
  if (leading_team && chunks < (int64_t(1) << 32)) {
    leading_team->run(begin, end, grain, chunks, fn);
    return;
  }
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
