// TeamScope: the run-long thread team behind parallel_for. Every chunk runs once,
// with the same ranges as the serial loop, whatever thread takes it; errors reach
// the caller; helpers that never get a thread cost nothing but their share.
#include "test_util.h"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <tbb/task_arena.h>

#include "core/parallel.h"

using namespace cvt;

namespace {

// Runs `loops` parallel_for calls of `n` elements in chunks of `grain` and checks
// that every element was visited exactly once, by chunks that match the serial ones.
void check_loops(int loops, int64_t n, int64_t grain) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  std::atomic<int64_t> bad_ranges{0};
  int64_t bad_counts = 0;
  for (int l = 0; l < loops; ++l) {
    for (auto& h : hits) h.store(0);
    parallel_for(0, n, grain, [&](int64_t lo, int64_t hi) {
      if (lo % grain != 0 || hi != std::min(n, lo + grain)) ++bad_ranges;
      for (int64_t i = lo; i < hi; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
    });
    for (int64_t i = 0; i < n; ++i) bad_counts += hits[static_cast<size_t>(i)].load() != 1;
  }
  CHECK(bad_counts == 0);
  CHECK(bad_ranges.load() == 0);
}

}  // namespace

TEST_CASE("TeamScope: every chunk once, serial chunk boundaries, many short loops", "[core]") {
  for (int threads : {1, 2, 3}) {
    INFO(threads << " threads");
    tbb::task_arena arena(threads);
    arena.execute([&] {
      TeamScope team;
      check_loops(2000, 7, 1);     // fewer chunks than a share each
      check_loops(200, 1000, 37);  // uneven last chunk
      check_loops(20, 100000, 3);  // many chunks: owners and thieves meet
    });
  }
}

TEST_CASE("TeamScope: work really spreads over the arena's threads", "[core]") {
  if (std::thread::hardware_concurrency() < 2) SKIP("one core");
  tbb::task_arena arena(2);
  std::atomic<int> distinct_max{1};
  arena.execute([&] {
    TeamScope team;
    for (int l = 0; l < 200 && distinct_max.load() < 2; ++l) {
      std::atomic<std::thread::id> first{};
      std::atomic<bool> other{false};
      parallel_for(0, 64, 1, [&](int64_t, int64_t) {
        std::thread::id none{}, me = std::this_thread::get_id();
        first.compare_exchange_strong(none, me);
        if (first.load() != me) other = true;
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(20);
        while (std::chrono::steady_clock::now() < until) {
        }
      });
      if (other) distinct_max = 2;
    }
  });
  CHECK(distinct_max.load() == 2);
}

TEST_CASE("TeamScope: an exception in any chunk reaches the caller, and the team goes on", "[core]") {
  tbb::task_arena arena(2);
  arena.execute([&] {
    TeamScope team;
    for (int64_t bad : {0, 63}) {  // the leader's share and the helper's
      CHECK_THROWS_AS(parallel_for(0, 64, 1,
                                   [&](int64_t lo, int64_t) {
                                     if (lo == bad) throw std::runtime_error("chunk failed");
                                   }),
                      std::runtime_error);
      check_loops(5, 64, 1);
    }
  });
}

TEST_CASE("TeamScope: nested loops run inline, nested scopes are no-ops", "[core]") {
  tbb::task_arena arena(2);
  arena.execute([&] {
    TeamScope outer;
    std::atomic<int64_t> sum{0};
    parallel_for(0, 8, 1, [&](int64_t, int64_t) {
      CHECK(current_concurrency() == 1);
      parallel_for(0, 100, 7, [&](int64_t lo, int64_t hi) { sum += hi - lo; });
    });
    CHECK(sum.load() == 800);
    {
      TeamScope inner;
      check_loops(10, 50, 3);
    }
    check_loops(10, 50, 3);  // the outer team still works after the inner scope ends
  });
}

TEST_CASE("TeamScope: more participants than threads available never waits for absent helpers", "[core]") {
  // 16 shares on this machine's few TBB workers: most helpers never start during
  // the scope; their shares are taken by the threads that do run.
  tbb::task_arena arena(16);
  arena.execute([&] {
    TeamScope team;
    check_loops(50, 1000, 1);
  });
}
