// Reference Gemm / MatMul: plain loops with double accumulators, no SIMD, no
// threads. The oracle the packed SGEMM is tested against. Also the shape rules
// (C broadcast, numpy matmul batching) shared with the fast path.
#include <algorithm>

#include "ops/gemm.h"

namespace cvt {

void gemm_f32_ref(int64_t m, int64_t n, int64_t k, float alpha, MatrixView a, MatrixView b, float* c,
                  int64_t ldc, bool accumulate) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p) sum += double(a.at(i, p)) * double(b.at(p, j));
      float v = float(double(alpha) * sum);
      c[i * ldc + j] = accumulate ? c[i * ldc + j] + v : v;
    }
}

Result<BroadcastStrides> gemm_c_strides(const Shape& c, int64_t m, int64_t n) {
  auto bad = [&] {
    return shape_mismatch("C of shape " + shape_str(c) + " does not broadcast to (" + std::to_string(m) + ", " +
                          std::to_string(n) + ")");
  };
  if (c.size() > 2) return bad();
  // Right-aligned numpy broadcasting, only C may be stretched.
  int64_t cm = c.size() == 2 ? c[0] : 1;
  int64_t cn = c.empty() ? 1 : c.back();
  if ((cm != 1 && cm != m) || (cn != 1 && cn != n)) return bad();
  BroadcastStrides s;
  s.col = cn == 1 ? 0 : 1;
  s.row = cm == 1 ? 0 : cn;
  return s;
}

void gemm_op_ref(const GemmOpAttrs& attrs, const Tensor& a, const Tensor& b, const Tensor* c, Tensor& y) {
  // y (M,N) = alpha * op(a) (M,K) * op(b) (K,N) + beta * c
  const int64_t m = y.dim(0), n = y.dim(1);
  const int64_t k = attrs.trans_a ? a.dim(0) : a.dim(1);
  MatrixView av{a.data<float>(), a.dim(1), attrs.trans_a};
  MatrixView bv{b.data<float>(), b.dim(1), attrs.trans_b};
  float* out = y.data<float>();
  gemm_f32_ref(m, n, k, attrs.alpha, av, bv, out, n, false);
  if (!c || attrs.beta == 0.f) return;
  BroadcastStrides s = gemm_c_strides(c->shape(), m, n).value();
  const float* cd = c->data<float>();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) out[i * n + j] += attrs.beta * cd[i * s.row + j * s.col];
}

Result<MatMulPlan> plan_matmul(const Shape& a_in, const Shape& b_in) {
  if (a_in.empty() || b_in.empty()) return shape_mismatch("MatMul operands must have rank >= 1");
  Shape a = a_in, b = b_in;
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);  // (K) -> (1, K)
  if (b_vec) b.push_back(1);          // (K) -> (K, 1)
  MatMulPlan p;
  p.m = a[a.size() - 2];
  p.k = a.back();
  p.n = b.back();
  if (b[b.size() - 2] != p.k)
    return shape_mismatch("MatMul inner dimensions differ: " + shape_str(a_in) + " x " + shape_str(b_in));
  // Broadcast the batch dims (everything but the last two), right aligned.
  const size_t ab = a.size() - 2, bb = b.size() - 2, rank = std::max(ab, bb);
  Shape batch(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i + ab >= rank ? a[i + ab - rank] : 1;
    int64_t db = i + bb >= rank ? b[i + bb - rank] : 1;
    if (da != db && da != 1 && db != 1)
      return shape_mismatch("MatMul batch dims do not broadcast: " + shape_str(a_in) + " x " + shape_str(b_in));
    batch[i] = da == 1 ? db : da;
  }
  p.batch = 1;
  for (int64_t d : batch) p.batch *= d;
  p.b_is_matrix = bb == 0 || shape_numel(Shape(b.begin(), b.end() - 2)) == 1;
  p.out = batch;
  if (!a_vec) p.out.push_back(p.m);
  if (!b_vec) p.out.push_back(p.n);
  CVT_RETURN_IF_ERROR(check_shape(p.out, DType::kFloat32));
  // Element offsets of each output batch: walk the batch index like an odometer.
  p.a_offsets.resize(p.batch);
  p.b_offsets.resize(p.batch);
  std::vector<int64_t> idx(rank, 0);
  for (int64_t t = 0; t < p.batch; ++t) {
    int64_t ao = 0, bo = 0, as = p.m * p.k, bs = p.k * p.n;
    for (size_t i = rank; i-- > 0;) {
      int64_t da = i + ab >= rank ? a[i + ab - rank] : 1;
      int64_t db = i + bb >= rank ? b[i + bb - rank] : 1;
      if (da != 1) ao += idx[i] * as;
      if (db != 1) bo += idx[i] * bs;
      as *= da;
      bs *= db;
    }
    p.a_offsets[t] = ao;
    p.b_offsets[t] = bo;
    for (size_t i = rank; i-- > 0;) {
      if (++idx[i] < batch[i]) break;
      idx[i] = 0;
    }
  }
  return p;
}

void matmul_ref(const MatMulPlan& p, const float* a, const float* b, float* y) {
  for (int64_t t = 0; t < p.batch; ++t)
    gemm_f32_ref(p.m, p.n, p.k, 1.f, MatrixView{a + p.a_offsets[t], p.k, false},
                 MatrixView{b + p.b_offsets[t], p.n, false}, y + t * p.m * p.n, p.n, false);
}

}  // namespace cvt
