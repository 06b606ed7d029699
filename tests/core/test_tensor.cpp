#include "test_util.h"

#include <atomic>
#include <tbb/task_arena.h>

#include "core/parallel.h"

using namespace cvt;

TEST_CASE("shape_numel rejects negative and overflowing shapes", "[core]") {
  CHECK(shape_numel({2, 3, 4}) == 24);
  CHECK(shape_numel({}) == 1);
  CHECK(shape_numel({0, 5}) == 0);
  CHECK(shape_numel({-1, 5}) == -1);
  CHECK(shape_numel({1 << 20, 1 << 20, 1 << 20}) == -1);
  CHECK_FALSE(check_shape({1 << 20, 1 << 20, 1 << 20}, DType::kFloat32).is_ok());
  CHECK(check_shape({1, 3, 224, 224}, DType::kFloat32).is_ok());
}

TEST_CASE("Tensor allocation, reshape shares storage, clone copies", "[core]") {
  Tensor t(DType::kFloat32, {2, 3});
  CHECK(t.numel() == 6);
  CHECK(t.nbytes() == 24);
  CHECK(reinterpret_cast<uintptr_t>(t.raw()) % 64 == 0);
  t.data<float>()[5] = 7.f;
  Tensor r = t.reshaped({3, 2});
  CHECK(r.data<float>()[5] == 7.f);
  Tensor c = t.clone();
  c.data<float>()[5] = 1.f;
  CHECK(t.data<float>()[5] == 7.f);
  auto bad = Tensor::try_alloc(DType::kFloat32, {int64_t(1) << 40, 1 << 10});
  CHECK_FALSE(bad.is_ok());
}

TEST_CASE("parallel_for chunks are identical for any thread count", "[core]") {
  for (int threads : {1, 2, 3}) {
    tbb::task_arena arena(threads);
    std::vector<int64_t> lo_of(1000, -1);
    arena.execute([&] {
      parallel_for(0, 1000, 37, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) lo_of[i] = lo;
      });
    });
    for (int64_t i = 0; i < 1000; ++i) REQUIRE(lo_of[i] == i / 37 * 37);
  }
}

// Hidden: scripts/sanitize.sh tsan runs it alone and requires a race report,
// proving the fork/join annotations in parallel_for do not hide races between chunks.
TEST_CASE("TSan canary: parallel chunks write one plain counter", "[.tsan_canary]") {
  tbb::task_arena arena(2);
  std::vector<int64_t> counter(1, 0);
  arena.execute([&] {
    parallel_for(0, 1 << 16, 1, [&](int64_t lo, int64_t hi) { counter[0] += hi - lo; });
  });
  CHECK(counter[0] > 0);
}
