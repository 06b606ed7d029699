// QLinearMatMul and MatMulInteger: B packed into the conv micro-kernel's
// NR-column panels (once at load when it is an initializer), A packed per call,
// exact int32 sums requantised as MLAS does; the plain loops of quant_ref.cpp
// behind --kernels ref.
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "ops/gemm.h"
#include "ops/quant.h"
#include "ops/quant_pack.h"
#include "ops/registry.h"

namespace cvt {

namespace {

using namespace qpack;

// B (K x N, zero points removed) as NR-column panels of int16 (k, k + 1) pairs:
// the layout pack_cols gives the conv GEMM, so the same micro-kernel runs it.
std::vector<int16_t> pack_b_pairs(int64_t k, int64_t n, const void* b, DType bt, const int32_t* b_zp, bool b_col) {
  const int64_t pdepth = round_up(k, 2), panels = (n + kQgemmNr - 1) / kQgemmNr;
  std::vector<int16_t> out(static_cast<size_t>(panels * pdepth * kQgemmNr), 0);
  for (int64_t t = 0; t < k; ++t)
    for (int64_t j = 0; j < n; ++j) {
      const int64_t at = (j / kQgemmNr) * pdepth * kQgemmNr + (t / 2) * 2 * kQgemmNr + (j % kQgemmNr) * 2 + t % 2;
      out[at] = static_cast<int16_t>(load_q8(b, bt, t * n + j) - b_zp[b_col ? j : 0]);
    }
  return out;
}

// The same panels in int8 when every value fits (s8 weights, or u8 weights with
// zero point 128), else empty: what the one-row GEMV streams.
std::vector<int8_t> narrow_to_s8(const std::vector<int16_t>& panels) {
  for (int16_t v : panels)
    if (v < -128 || v > 127) return {};
  return std::vector<int8_t>(panels.begin(), panels.end());
}

// A constant B (an initializer, the usual case) packed once at load time.
struct PackedB {
  Shape shape;
  std::vector<int32_t> zp;
  bool per_col = false;
  std::vector<int16_t> panels;
  std::vector<int8_t> panels_s8;  // for one-row A (classifier heads), when B fits int8
};

// y (m x n, int32) = A . B: A packed per call into MR-row panels, tiles of MR x NR
// spread over threads.
void qmatmul_fast(const QKernels& kern, int64_t m, int64_t n, int64_t k, const void* a, DType at, const int32_t* a_zp,
                  bool a_row, const std::vector<int16_t>& b_panels, const std::vector<int8_t>& b_panels_s8,
                  int32_t* y) {
  std::vector<int32_t> zp(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) zp[i] = a_zp[a_row ? i : 0];
  const std::vector<int16_t> a_panels = pack_rows(a, at, 0, m, k, zp);
  const int64_t pdepth = round_up(k, 2), row_panels = (m + kQgemmMr - 1) / kQgemmMr;
  const int64_t col_panels = (n + kQgemmNr - 1) / kQgemmNr;
  // At least 4 tiles a chunk, and ~4 chunks a thread: the classifier head's 63 tiles
  // were 16 TBB tasks of ~2 us.
  const int64_t tiles = row_panels * col_panels;
  parallel_for(0, tiles, std::max<int64_t>(4, tiles / (4 * current_concurrency())), [&](int64_t lo, int64_t hi) {
    alignas(32) int32_t tile[kQgemmMr * kQgemmNr];
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t rp = task / col_panels, cp = task % col_panels;
      const int64_t rows = std::min<int64_t>(kQgemmMr, m - rp * kQgemmMr), cols = std::min<int64_t>(kQgemmNr, n - cp * kQgemmNr);
      const int16_t* ap = a_panels.data() + rp * pdepth * kQgemmMr;
      const int16_t* bp = b_panels.data() + cp * pdepth * kQgemmNr;
      if (rows == 1 && !b_panels_s8.empty())  // one row of a memory-bound GEMV: stream int8 weights
        kern.ukernel_1x16_s8b(pdepth / 2, ap, 0, b_panels_s8.data() + cp * pdepth * kQgemmNr, tile);
      else if (rows == 1)  // one row (the classifier head): a quarter of the multiplies
        kern.ukernel_1x16(pdepth / 2, ap, 0, bp, 2 * kQgemmNr, tile);
      else
        kern.ukernel(pdepth / 2, ap, bp, 2 * kQgemmNr, tile, kQgemmNr);
      for (int64_t i = 0; i < rows; ++i)
        std::memcpy(y + (rp * kQgemmMr + i) * n + cp * kQgemmNr, tile + i * kQgemmNr, sizeof(int32_t) * cols);
    }
  });
}

Status run_qmatmul(KernelContext& ctx, bool qlinear, const PackedB* cached, std::string& impl) {
  const Tensor* a = ctx.input(0);
  const Tensor* b = ctx.input(qlinear ? 3 : 1);
  if (!a || !b) return invalid_argument("missing input A or B");
  if (!is_q8(a->dtype()) || !is_q8(b->dtype()))
    return unsupported(std::string("A / B have dtypes ") + dtype_name(a->dtype()) + " / " + dtype_name(b->dtype()) +
                       "; uint8 and int8 are implemented");
  CVT_ASSIGN_OR_RETURN(MatMulPlan plan, plan_matmul(a->shape(), b->shape()));
  std::vector<int32_t> a_zp{0}, b_zp{0};
  std::vector<float> b_scale;
  float a_scale = 1.f, y_scale = 1.f;
  int32_t y_zp = 0;
  DType y_type = DType::kInt32;
  bool a_row = false, b_col = false;
  if (qlinear) {
    CVT_ASSIGN_OR_RETURN(QuantParam aq, read_quant_param(ctx.input(1), ctx.input(2), 0, "a", a->dtype()));
    CVT_ASSIGN_OR_RETURN(QuantParam bq, read_quant_param(ctx.input(4), ctx.input(5), plan.n, "b", b->dtype()));
    CVT_ASSIGN_OR_RETURN(QuantParam yq, read_quant_param(ctx.input(6), ctx.input(7), 0, "y", a->dtype()));
    if (!is_q8(yq.dtype)) return invalid_argument("y_zero_point must be uint8 or int8");
    a_zp = aq.zero_point;
    b_zp = bq.zero_point;
    b_col = !bq.per_tensor();
    a_scale = aq.scale[0];
    b_scale = bq.scale;
    y_scale = yq.scale[0];
    y_zp = yq.zero_point[0];
    y_type = yq.dtype;
  } else {
    const Tensor* azp = ctx.num_inputs() > 2 ? ctx.input(2) : nullptr;
    const Tensor* bzp = ctx.num_inputs() > 3 ? ctx.input(3) : nullptr;
    if (azp) {
      if (azp->dtype() != a->dtype() || (azp->numel() != 1 && azp->numel() != plan.m))
        return invalid_argument("a_zero_point must be a scalar or one value per row, of A's dtype");
      a_row = azp->numel() != 1;
      a_zp.clear();
      for (int64_t i = 0; i < azp->numel(); ++i) a_zp.push_back(load_q8(azp->raw(), azp->dtype(), i));
    }
    if (bzp) {
      if (bzp->dtype() != b->dtype() || (bzp->numel() != 1 && bzp->numel() != plan.n))
        return invalid_argument("b_zero_point must be a scalar or one value per column, of B's dtype");
      b_col = bzp->numel() != 1;
      b_zp.clear();
      for (int64_t i = 0; i < bzp->numel(); ++i) b_zp.push_back(load_q8(bzp->raw(), bzp->dtype(), i));
    }
  }
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, y_type, plan.out));
  if (y->numel() == 0) return Status::ok();
  std::vector<int32_t> acc(static_cast<size_t>(plan.m * plan.n));
  const size_t as = dtype_size(a->dtype()), bs = dtype_size(b->dtype());
  const QKernels kern = qkernels();
  const bool cache_fits = cached && plan.b_is_matrix && cached->shape == b->shape() && cached->zp == b_zp &&
                          cached->per_col == b_col;
  const bool gemv_s8 = cache_fits && plan.m == 1 && !cached->panels_s8.empty();
  impl = ctx.use_reference() ? std::string("qmatmul_ref")
                             : std::string(gemv_s8 ? "qmatmul_s8b_1x16" : "qmatmul_s16_4x16") + kern.suffix;
  for (int64_t bi = 0; bi < plan.batch; ++bi) {
    const void* ap = static_cast<const uint8_t*>(a->raw()) + plan.a_offsets[bi] * as;
    const void* bp = static_cast<const uint8_t*>(b->raw()) + plan.b_offsets[bi] * bs;
    if (ctx.use_reference())
      qgemm_ref(plan.m, plan.n, plan.k, ap, a->dtype(), a_zp.data(), a_row, bp, b->dtype(), b_zp.data(), b_col, acc.data());
    else if (cache_fits)
      qmatmul_fast(kern, plan.m, plan.n, plan.k, ap, a->dtype(), a_zp.data(), a_row, cached->panels, cached->panels_s8,
                   acc.data());
    else
      qmatmul_fast(kern, plan.m, plan.n, plan.k, ap, a->dtype(), a_zp.data(), a_row,
                   pack_b_pairs(plan.k, plan.n, bp, b->dtype(), b_zp.data(), b_col), {}, acc.data());
    const int64_t off = bi * plan.m * plan.n;
    if (!qlinear) {
      std::memcpy(y->data<int32_t>() + off, acc.data(), acc.size() * sizeof(int32_t));
      continue;
    }
    const bool s = y_type == DType::kInt8;
    for (int64_t j = 0; j < plan.n; ++j) {
      const float scale = a_scale * b_scale[b_col ? j : 0] / y_scale;
      const float lo = float((s ? -128 : 0) - y_zp), hi = float((s ? 127 : 255) - y_zp);
      for (int64_t i = 0; i < plan.m; ++i) {
        const int32_t v = requantize(acc[i * plan.n + j], scale, lo, hi, y_zp);
        if (s) y->data<int8_t>()[off + i * plan.n + j] = static_cast<int8_t>(v);
        else y->data<uint8_t>()[off + i * plan.n + j] = static_cast<uint8_t>(v);
      }
    }
  }
  return Status::ok();
}

class QMatMulKernel final : public Kernel {
 public:
  // b / b_zp: the constant B matrix and its zero point (null when computed or absent).
  QMatMulKernel(bool qlinear, const Tensor* b, const Tensor* b_zp) : qlinear_(qlinear) {
    if (!b || b->rank() != 2 || !is_q8(b->dtype()) || (b_zp && b_zp->dtype() != b->dtype())) return;
    const int64_t n = b->dim(1);
    if (b_zp && b_zp->numel() != 1 && b_zp->numel() != n) return;
    PackedB w;
    w.shape = b->shape();
    w.per_col = b_zp && b_zp->numel() != 1;
    if (b_zp)
      for (int64_t i = 0; i < b_zp->numel(); ++i) w.zp.push_back(load_q8(b_zp->raw(), b_zp->dtype(), i));
    else
      w.zp = {0};
    w.panels = pack_b_pairs(b->dim(0), n, b->raw(), b->dtype(), w.zp.data(), w.per_col);
    w.panels_s8 = narrow_to_s8(w.panels);
    cached_ = std::move(w);
    has_cache_ = true;
  }
  Status run(KernelContext& ctx) override { return run_qmatmul(ctx, qlinear_, has_cache_ ? &cached_ : nullptr, impl_); }
  std::string impl_name() const override { return impl_; }

 private:
  bool qlinear_;
  PackedB cached_;
  bool has_cache_ = false;
  std::string impl_ = "qmatmul";
};

Result<std::unique_ptr<Kernel>> make_qlinear_matmul(const NodeDesc& node) {
  if (node.inputs.size() < 8) return invalid_argument("QLinearMatMul needs 8 inputs");
  const Tensor* b = node.constant(3);
  const Tensor* bz = node.constant(5);
  if (node.has_input(5) && !bz) b = nullptr;
  return std::unique_ptr<Kernel>(std::make_unique<QMatMulKernel>(true, b, bz));
}
Result<std::unique_ptr<Kernel>> make_matmul_integer(const NodeDesc& node) {
  if (node.inputs.size() < 2) return invalid_argument("MatMulInteger needs inputs A and B");
  const Tensor* b = node.constant(1);
  const Tensor* bz = node.constant(3);
  if (node.has_input(3) && !bz) b = nullptr;
  return std::unique_ptr<Kernel>(std::make_unique<QMatMulKernel>(false, b, bz));
}

}  // namespace

void register_quant_matmul_ops(std::vector<OpSchema>& t) {
  t.push_back({"", "QLinearMatMul", 10, 21, make_qlinear_matmul});
  t.push_back({"", "MatMulInteger", 10, 21, make_matmul_integer});
}

}  // namespace cvt
