// Gemm / MatMul conformance: hand-computed cases, odd-shape tables comparing the
// packed SGEMM (every ISA this CPU runs, 1 and 2 threads) with the reference,
// invalid inputs, and a hidden [.perf] benchmark that prints GFLOP/s.
#include <algorithm>
#include <limits>

#include <tbb/task_arena.h>

#include "core/cpu_features.h"
#include "ops/gemm.h"
#include "ops/op_runner.h"
#include "ops/op_test_util.h"
#include "test_util.h"

using namespace cvt;
using namespace cvt::op_test;
using cvt::testing::random_tensor;

namespace {

// Runs fast (1 and 2 threads) against the reference for every runnable ISA.
void check_fast_vs_ref(const NodeDesc& node, const std::vector<Tensor>& inputs, double atol = 1e-4,
                       double rtol = 1e-4) {
  const Tensor ref = run_ok(node, inputs, true, 1);
  IsaCapGuard guard;
  for (Isa isa : runnable_isas()) {
    set_isa_cap(isa);
    INFO("isa " << isa_name(isa));
    const Tensor one = run_ok(node, inputs, false, 1);
    const Tensor two = run_ok(node, inputs, false, 2);
    CHECK_TENSOR_NEAR(one, ref, atol, rtol);
    CHECK(bit_identical(one, two));
  }
}

// The reference product op(A) op(B) (onto c0 when accumulating), then the row bias
// and the epilogue by hand: what gemm_f32 with a row bias and an epilogue computes.
Tensor expected_with_bias(int64_t m, int64_t n, int64_t k, MatrixView a, MatrixView b, const Tensor& c0,
                          bool accumulate, const Tensor& bias, const Epilogue& ep) {
  Tensor expect = c0.clone();
  gemm_f32_ref(m, n, k, 1.f, a, b, expect.data<float>(), n, accumulate);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float& v = expect.data<float>()[i * n + j];
      v = ep.apply(v + bias.data<float>()[i]);
    }
  return expect;
}

}  // namespace

TEST_CASE("Gemm hand-computed: alpha, beta, transposes, broadcast C", "[ops][gemm]") {
  // A = [[1,2,3],[4,5,6]], B = [[1,0],[0,1],[1,1]] -> A*B = [[4,5],[10,11]]
  Tensor a = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Tensor::from_vector<float>({3, 2}, {1, 0, 0, 1, 1, 1});
  Tensor c = Tensor::from_vector<float>({2}, {100, 200});
  NodeDesc node = make_node("Gemm", 13);
  node.attrs.set("alpha", attr_float(2.f));
  node.attrs.set("beta", attr_float(0.5f));
  for (bool ref : {true, false}) {
    Tensor y = run_ok(node, {a, b, c}, ref, 1);
    CHECK_TENSOR_NEAR(y, Tensor::from_vector<float>({2, 2}, {58, 110, 70, 122}), 0, 0);
  }
  // Same product through transA/transB with A^T, B^T stored and C of shape (2,1).
  Tensor at = Tensor::from_vector<float>({3, 2}, {1, 4, 2, 5, 3, 6});
  Tensor bt = Tensor::from_vector<float>({2, 3}, {1, 0, 1, 0, 1, 1});
  Tensor c_col = Tensor::from_vector<float>({2, 1}, {1, -1});
  NodeDesc tnode = make_node("Gemm", 11);
  tnode.attrs.set("transA", attr_int(1));
  tnode.attrs.set("transB", attr_int(1));
  for (bool ref : {true, false}) {
    Tensor y = run_ok(tnode, {at, bt, c_col}, ref, 1);
    CHECK_TENSOR_NEAR(y, Tensor::from_vector<float>({2, 2}, {5, 6, 9, 10}), 0, 0);
    Tensor y_noc = run_ok(tnode, {at, bt}, ref, 1);  // C optional from opset 11
    CHECK_TENSOR_NEAR(y_noc, Tensor::from_vector<float>({2, 2}, {4, 5, 10, 11}), 0, 0);
  }
  // Opset 6 with the legacy broadcast flag and a scalar C.
  NodeDesc old = make_node("Gemm", 6);
  old.attrs.set("broadcast", attr_int(1));
  Tensor y = run_ok(old, {a, b, Tensor::from_vector<float>({}, {1})}, false, 1);
  CHECK_TENSOR_NEAR(y, Tensor::from_vector<float>({2, 2}, {5, 6, 11, 12}), 0, 0);
}

TEST_CASE("MatMul hand-computed: vectors and batch broadcasting", "[ops][gemm]") {
  Tensor m = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor v3 = Tensor::from_vector<float>({3}, {1, 1, 2});
  Tensor v2 = Tensor::from_vector<float>({2}, {1, -1});
  NodeDesc node = make_node("MatMul", 13);
  for (bool ref : {true, false}) {
    CHECK_TENSOR_NEAR(run_ok(node, {m, v3}, ref, 1), Tensor::from_vector<float>({2}, {9, 21}), 0, 0);
    CHECK_TENSOR_NEAR(run_ok(node, {v2, m}, ref, 1), Tensor::from_vector<float>({3}, {-3, -3, -3}), 0, 0);
    Tensor dot = run_ok(node, {v3, v3}, ref, 1);
    CHECK(dot.shape() == Shape{});
    CHECK(dot.data<float>()[0] == 6.f);
    // (2,1,1,2) x (3,2,1): batch (2,3); each product is a scalar a.b
    Tensor a = Tensor::from_vector<float>({2, 1, 1, 2}, {1, 2, 3, 4});
    Tensor b = Tensor::from_vector<float>({3, 2, 1}, {1, 0, 0, 1, 1, 1});
    Tensor y = run_ok(node, {a, b}, ref, 1);
    CHECK_TENSOR_NEAR(y, Tensor::from_vector<float>({2, 3, 1, 1}, {1, 2, 3, 3, 4, 7}), 0, 0);
  }
}

TEST_CASE("Gemm odd shapes: packed SGEMM vs reference", "[ops][gemm]") {
  const int64_t m = GENERATE(1, 3, 7, 13, 127);
  const int64_t n = GENERATE(1, 7, 16, 17, 48, 127);
  const int64_t k = GENERATE(1, 13, 300);
  const int trans = GENERATE(0, 1, 2, 3);
  const int c_kind = GENERATE(0, 1, 2, 3);  // none, (N), (M,1), (M,N)
  const bool const_b = GENERATE(false, true);
  CAPTURE(m, n, k, trans, c_kind, const_b);
  const bool ta = trans & 1, tb = trans & 2;
  NodeDesc node = make_node("Gemm", 13);
  node.attrs.set("transA", attr_int(ta));
  node.attrs.set("transB", attr_int(tb));
  node.attrs.set("alpha", attr_float(0.75f));
  node.attrs.set("beta", attr_float(-1.5f));
  std::vector<Tensor> in{random_tensor(ta ? Shape{k, m} : Shape{m, k}, 1),
                         random_tensor(tb ? Shape{n, k} : Shape{k, n}, 2)};
  if (c_kind == 1) in.push_back(random_tensor({n}, 3));
  if (c_kind == 2) in.push_back(random_tensor({m, 1}, 3));
  if (c_kind == 3) in.push_back(random_tensor({m, n}, 3));
  set_constants(node, in, const_b ? std::vector<int>{1} : std::vector<int>{});
  check_fast_vs_ref(node, in);
}

TEST_CASE("MatMul odd shapes and batches: packed SGEMM vs reference", "[ops][gemm]") {
  using Case = std::pair<Shape, Shape>;
  const Case c = GENERATE(Case{{127}, {127, 13}}, Case{{7, 13}, {13}}, Case{{3, 7, 13}, {13, 17}},
                          Case{{2, 3, 5, 33}, {3, 33, 7}}, Case{{1, 4, 9}, {5, 9, 130}}, Case{{260, 300}, {300, 70}},
                          Case{{4, 1, 6, 8}, {1, 3, 8, 1}}, Case{{0, 3}, {3, 4}}, Case{{3, 0}, {0, 5}});
  const bool const_b = GENERATE(false, true);
  CAPTURE(shape_str(c.first), shape_str(c.second), const_b);
  NodeDesc node = make_node("MatMul", 13);
  std::vector<Tensor> in{random_tensor(c.first, 4), random_tensor(c.second, 5)};
  set_constants(node, in, const_b ? std::vector<int>{1} : std::vector<int>{});
  check_fast_vs_ref(node, in);
}

TEST_CASE("gemm_f32 row bias, accumulate and fused epilogues", "[ops][gemm]") {
  const int64_t m = GENERATE(5, 31), n = GENERATE(9, 16, 40), k = GENERATE(3, 600);
  const Epilogue ep = GENERATE(Epilogue::none(), Epilogue::relu(), Epilogue::clamp(-0.5f, 0.25f),
                               Epilogue::leaky_relu(0.1f), Epilogue::silu());
  const bool accumulate = GENERATE(false, true);
  CAPTURE(m, n, k, int(ep.kind), accumulate);
  Tensor a = random_tensor({m, k}, 6), b = random_tensor({k, n}, 7), c0 = random_tensor({m, n}, 8);
  Tensor bias = random_tensor({m}, 9);
  const Tensor expect = expected_with_bias(m, n, k, {a.data<float>(), k, false}, {b.data<float>(), n, false}, c0,
                                           accumulate, bias, ep);
  IsaCapGuard guard;
  for (Isa isa : runnable_isas()) {
    set_isa_cap(isa);
    INFO("isa " << isa_name(isa));
    const GemmKernelSet& ks = gemm_kernels(isa);
    PackedA packed_a(ks, m, k, {a.data<float>(), k, false});
    for (bool use_packed : {false, true})
      for (bool separate_c_in : {false, true}) {  // accumulate onto another buffer: C's contents never read
        if (separate_c_in && !accumulate) continue;
        CAPTURE(use_packed, separate_c_in);
        Tensor c = c0.clone();
        if (separate_c_in) std::fill_n(c.data<float>(), c.numel(), std::numeric_limits<float>::quiet_NaN());
        GemmShape s;
        s.m = m, s.n = n, s.k = k, s.accumulate = accumulate, s.epilogue = ep;
        gemm_f32(ks, s, 1, [&](int64_t, GemmOperands& op) {
          if (use_packed)
            op.packed_a = &packed_a;
          else
            op.a = {a.data<float>(), k, false};
          op.b = {b.data<float>(), n, false};
          op.c = c.data<float>();
          op.ldc = n;
          op.row_bias = bias.data<float>();
          if (separate_c_in) op.c_in = c0.data<float>();
        });
        CHECK_TENSOR_NEAR(c, expect, 1e-4, 1e-4);
      }
  }
}

TEST_CASE("gemm_f32 reading B in place equals packing it, bit for bit", "[ops][gemm]") {
  // Few rows of A (the in-place reads apply up to 48; on AVX-512 up to 64, and any M with K <= 64), full and
  // ragged 16-column panels, K across the 256 block, B a column window of a wider matrix (ld > n),
  // 1 KiB-strided rows (read in place on AVX-512 only) and 4 KiB-strided ones (packed); C
  // streaming out or not (row tile by row tile, or panel by panel).
  struct Case { int64_t m, n, k, ld; };
  for (Case t : {Case{5, 40, 3, 40}, Case{6, 16, 300, 19}, Case{13, 50, 257, 64}, Case{48, 200, 70, 203},
                 Case{24, 33, 513, 1024}, Case{16, 40, 40, 256}, Case{100, 70, 64, 75}, Case{1, 17, 1, 17},
                 Case{64, 100, 300, 101}, Case{57, 70, 90, 75}, Case{64, 64, 64, 70}}) {
    CAPTURE(t.m, t.n, t.k, t.ld);
    Tensor a = random_tensor({t.m, t.k}, 16), b = random_tensor({t.k, t.ld}, 17), bias = random_tensor({t.m}, 18);
    Tensor c0 = random_tensor({t.m, t.n}, 19);
    IsaCapGuard guard;
    for (Isa isa : runnable_isas()) {
      set_isa_cap(isa);
      INFO("isa " << isa_name(isa));
      const GemmKernelSet& ks = gemm_kernels(isa);
      const PackBFn pack = [&](int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* dst) {
        for (int64_t j = 0; j < nc; j += nr)
          for (int64_t kk = 0; kk < kc; ++kk)
            for (int64_t jj = 0; jj < nr; ++jj)
              dst[(j / nr) * kc * nr + kk * nr + jj] =
                  j + jj < nc ? b.data<float>()[(k0 + kk) * t.ld + n0 + j + jj] : 0.f;
      };
      for (bool accumulate : {false, true})
        for (int threads : {1, 2})
          for (bool streams : {false, true}) {
          CAPTURE(accumulate, threads, streams);
          Tensor in_place = c0.clone(), packed = c0.clone();
          GemmShape s;
          s.m = t.m, s.n = t.n, s.k = t.k, s.accumulate = accumulate, s.epilogue = Epilogue::silu();
          s.c_streams_out = streams;
          for (bool read_in_place : {true, false}) {
            Tensor& c = read_in_place ? in_place : packed;
            tbb::task_arena arena(threads);
            arena.execute([&] {
              gemm_f32(ks, s, 1, [&](int64_t, GemmOperands& op) {
                op.a = {a.data<float>(), t.k, false};
                if (read_in_place) op.b = {b.data<float>(), t.ld, false};
                else op.pack_b = &pack;
                op.c = c.data<float>();
                op.ldc = t.n;
                op.row_bias = bias.data<float>();
              });
            });
          }
          CHECK(bit_identical(in_place, packed));
        }
    }
  }
}

TEST_CASE("gemm_f32 reading a transposed A in place equals packing it, bit for bit", "[ops][gemm]") {
  // op(A) = X^T with X a K x ld matrix (a pointwise conv's input planes, ld pixels)
  // against a pre-packed B: read in place on AVX-512 for rows 128 floats or more
  // apart, but not 4 KiB apart. Ragged row tiles, K across the 256 block, A a row
  // window of X (ld > m), M blocks.
  struct Case { int64_t m, n, k, ld; };
  for (Case t : {Case{49, 64, 300, 130}, Case{13, 40, 7, 20}, Case{196, 70, 257, 196}, Case{29, 33, 64, 1024},
                 Case{150, 32, 520, 151}, Case{1, 17, 1, 128}, Case{49, 40, 30, 49}}) {
    CAPTURE(t.m, t.n, t.k, t.ld);
    Tensor x = random_tensor({t.k, t.ld}, 26), w = random_tensor({t.k, t.n}, 27), bias = random_tensor({t.m}, 28);
    Tensor c0 = random_tensor({t.m, t.n}, 29);
    const MatrixView xt{x.data<float>(), t.ld, true};
    IsaCapGuard guard;
    for (Isa isa : runnable_isas()) {
      set_isa_cap(isa);
      INFO("isa " << isa_name(isa));
      const GemmKernelSet& ks = gemm_kernels(isa);
      const PackedB packed_w(ks, t.k, t.n, MatrixView{w.data<float>(), t.n, false});
      const PackedA packed_x(ks, t.m, t.k, xt);
      GemmShape s;
      s.m = t.m, s.n = t.n, s.k = t.k, s.epilogue = Epilogue::relu();
      GemmOperands probe;
      probe.a = xt;
      probe.packed_b = &packed_w;
      CHECK(reads_a_in_place(ks, s, probe) == (isa >= Isa::kAvx512 && t.ld >= 128 && t.ld != 1024));
      for (bool accumulate : {false, true})
        for (int threads : {1, 2}) {
          CAPTURE(accumulate, threads);
          s.accumulate = accumulate;
          Tensor in_place = c0.clone(), packed = c0.clone();
          for (bool read_in_place : {true, false}) {
            Tensor& c = read_in_place ? in_place : packed;
            tbb::task_arena arena(threads);
            arena.execute([&] {
              gemm_f32(ks, s, 1, [&](int64_t, GemmOperands& op) {
                if (read_in_place) op.a = xt;
                else op.packed_a = &packed_x;
                op.packed_b = &packed_w;
                op.c = c.data<float>();
                op.ldc = t.n;
                op.row_bias = bias.data<float>();
              });
            });
          }
          CHECK(bit_identical(in_place, packed));
          CHECK_TENSOR_NEAR(in_place,
                            expected_with_bias(t.m, t.n, t.k, xt, {w.data<float>(), t.n, false}, c0, accumulate, bias,
                                               s.epilogue),
                            1e-4, 1e-4);
        }
    }
  }
}

TEST_CASE("gemm_f32: a column's sum does not depend on where the right edge falls", "[ops][gemm]") {
  // Winograd's tile blocks, and so the GEMMs' N, follow the thread count: a column
  // must come out the same in a narrow right-edge tile as in a full one. Every row
  // count of the tiles, K odd and across blocks.
  IsaCapGuard guard;
  for (Isa isa : runnable_isas()) {
    set_isa_cap(isa);
    INFO("isa " << isa_name(isa));
    const GemmKernelSet& ks = gemm_kernels(isa);
    for (int64_t m = 1; m <= 2 * ks.mr + 3; ++m)
      for (int64_t k : {int64_t{7}, int64_t{301}}) {
        CAPTURE(m, k);
        const int64_t wide = 4 * ks.nr;
        Tensor a = random_tensor({m, k}, 61), b = random_tensor({k, wide}, 62);
        const PackedA packed(ks, m, k, MatrixView{a.data<float>(), k, false});
        auto run = [&](int64_t n) {
          Tensor c(DType::kFloat32, {m, n});
          GemmShape s;
          s.m = m, s.n = n, s.k = k;
          gemm_f32(ks, s, 1, [&](int64_t, GemmOperands& op) {
            op.packed_a = &packed;
            op.b = {b.data<float>(), wide, false};
            op.c = c.data<float>();
            op.ldc = n;
          });
          return c;
        };
        const Tensor full = run(wide);
        for (int64_t n : {ks.nr + 1, ks.nr + ks.nr / 2, 2 * ks.nr + 3, 3 * ks.nr - 1}) {
          const Tensor edge = run(n);
          int64_t mismatches = 0;
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j)
              mismatches += edge.data<float>()[i * n + j] != full.data<float>()[i * wide + j];
          CHECK(mismatches == 0);
        }
      }
  }
}

TEST_CASE("Gemm and MatMul reject invalid inputs with a Status", "[ops][gemm]") {
  auto fails = [](const NodeDesc& node, const std::vector<Tensor>& in, const char* needle) {
    for (bool ref : {true, false}) {
      auto r = run_single_op(node, in, SingleOpOptions{ref, 1});
      INFO(r.status().to_string());
      REQUIRE_FALSE(r.is_ok());
      CHECK(r.status().message().find(needle) != std::string::npos);
    }
  };
  NodeDesc gemm = make_node("Gemm", 13);
  fails(gemm, {random_tensor({2, 3}, 1), random_tensor({4, 2}, 2)}, "inner dimensions");
  fails(gemm, {random_tensor({2, 3, 1}, 1), random_tensor({3, 2}, 2)}, "2-D");
  fails(gemm, {random_tensor({2, 3}, 1), random_tensor({3, 2}, 2), random_tensor({3}, 3)}, "broadcast");
  fails(gemm, {random_tensor({2, 3}, 1), Tensor::from_vector<int32_t>({3, 2}, {1, 2, 3, 4, 5, 6})}, "float32");
  fails(make_node("Gemm", 9), {random_tensor({2, 3}, 1), random_tensor({3, 2}, 2)}, "input C is required");
  NodeDesc bad_trans = make_node("Gemm", 13);
  bad_trans.attrs.set("transA", attr_int(2));
  fails(bad_trans, {random_tensor({2, 3}, 1), random_tensor({3, 2}, 2)}, "transA");
  NodeDesc matmul = make_node("MatMul", 13);
  fails(matmul, {random_tensor({2, 3}, 1), random_tensor({2, 3}, 2)}, "inner dimensions");
  fails(matmul, {random_tensor({2, 2, 3}, 1), random_tensor({3, 3, 2}, 2)}, "batch dims");
  fails(matmul, {Tensor::from_vector<float>({}, {1}), random_tensor({3, 2}, 2)}, "rank");
}

TEST_CASE("SGEMM throughput", "[.perf]") {
  tbb::task_arena arena(1);  // single thread: thread CPU time is then the whole cost
  arena.execute([] {
  {  // micro-kernel alone on L1-resident panels: the practical peak
    const GemmKernelSet& ks = gemm_kernels();
    Tensor a = random_tensor({ks.mr * 256}, 1), b = random_tensor({ks.nr * 256}, 2);  // 64-byte aligned
    std::vector<float> c(ks.mr * ks.nr);
    UkernelParams p;
    const int reps = 200000;
    double t0 = thread_seconds();
    for (int r = 0; r < reps; ++r) ks.ukernel(256, a.data<float>(), b.data<float>(), c.data(), ks.nr, ks.mr, ks.nr, p);
    double sec = thread_seconds() - t0;
    WARN(ks.name << " micro-kernel, kc=256: " << 2.0 * ks.mr * ks.nr * 256 * reps / sec * 1e-9 << " GFLOP/s");
  }
  IsaCapGuard guard;
  for (int64_t size : {256, 512, 1024}) {
    Tensor a = random_tensor({size, size}, 1), b = random_tensor({size, size}, 2), c({DType::kFloat32}, {size, size});
    const GemmKernelSet& ks = gemm_kernels();
    PackedB packed(ks, size, size, {b.data<float>(), size, false});
    for (bool prepacked : {false, true}) {
      auto run = [&] {
        GemmShape s;
        s.m = s.n = s.k = size;
        gemm_f32(ks, s, 1, [&](int64_t, GemmOperands& op) {
          op.a = {a.data<float>(), size, false};
          if (prepacked)
            op.packed_b = &packed;
          else
            op.b = {b.data<float>(), size, false};
          op.c = c.data<float>();
          op.ldc = size;
        });
      };
      run();
      const int reps = size <= 256 ? 200 : (size <= 512 ? 30 : 5);
      double sec = 1e30;  // best of reps: the least disturbed by other processes
      for (int r = 0; r < reps; ++r) {
        double t0 = thread_seconds();
        run();
        sec = std::min(sec, thread_seconds() - t0);
      }
      WARN(ks.name << " " << size << "^3 " << (prepacked ? "prepacked B" : "packed per call") << ": "
                   << 2.0 * size * size * size / sec * 1e-9 << " GFLOP/s (1 thread)");
    }
  }
  });
}
