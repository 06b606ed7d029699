// The Gemm and MatMul ops on the packed SGEMM (gemm.cpp): attribute and shape
// checks, weights packed once when B is constant, the reference path on request.
#include <string>

#include "ops/gemm.h"
#include "ops/registry.h"

namespace cvt {

// ---- Gemm op -----------------------------------------------------------------

namespace {

class GemmOpKernel final : public Kernel {
 public:
  GemmOpKernel(GemmOpAttrs attrs, bool c_required, const Tensor* const_b)
      : attrs_(attrs), c_required_(c_required), ks_(&gemm_kernels()) {
    if (const_b && const_b->dtype() == DType::kFloat32 && const_b->rank() == 2) {
      const int64_t k = attrs_.trans_b ? const_b->dim(1) : const_b->dim(0);
      const int64_t n = attrs_.trans_b ? const_b->dim(0) : const_b->dim(1);
      packed_b_ = PackedB(*ks_, k, n, MatrixView{const_b->data<float>(), const_b->dim(1), attrs_.trans_b});
    }
  }

  Status run(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    const Tensor* c = ctx.num_inputs() > 2 ? ctx.input(2) : nullptr;
    CVT_RETURN_IF_ERROR(require_f32_input(a, "A"));
    CVT_RETURN_IF_ERROR(require_f32_input(b, "B"));
    if (c) CVT_RETURN_IF_ERROR(require_f32_input(c, "C"));
    if (!c && c_required_) return invalid_argument("input C is required before opset 11");
    if (a->rank() != 2 || b->rank() != 2)
      return shape_mismatch("Gemm needs 2-D A and B, got " + shape_str(a->shape()) + " and " + shape_str(b->shape()));
    const int64_t m = attrs_.trans_a ? a->dim(1) : a->dim(0);
    const int64_t k = attrs_.trans_a ? a->dim(0) : a->dim(1);
    const int64_t kb = attrs_.trans_b ? b->dim(1) : b->dim(0);
    const int64_t n = attrs_.trans_b ? b->dim(0) : b->dim(1);
    if (k != kb)
      return shape_mismatch("Gemm inner dimensions differ: op(A) is " + std::to_string(m) + "x" + std::to_string(k) +
                            ", op(B) is " + std::to_string(kb) + "x" + std::to_string(n));
    CVT_RETURN_IF_ERROR(check_node_work(double(m) * double(n) * double(k), "Gemm"));
    BroadcastStrides cs;
    if (c) {
      CVT_ASSIGN_OR_RETURN(cs, gemm_c_strides(c->shape(), m, n));
    }
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, {m, n}));
    const bool use_packed = !packed_b_.empty() && packed_b_.depth() == k && packed_b_.cols() == n;
    if (is_released(*b) && (ctx.use_reference() || !use_packed)) return released_weights_error("B");
    if (ctx.use_reference()) {
      gemm_op_ref(attrs_, *a, *b, c, *y);
      return Status::ok();
    }
    float* out = y->data<float>();
    const bool add_c = c && attrs_.beta != 0.f;
    if (add_c) {  // pre-fill beta*C, then accumulate alpha*A*B onto it
      const float* cd = c->data<float>();
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) out[i * n + j] = attrs_.beta * cd[i * cs.row + j * cs.col];
    }
    GemmShape s;
    s.m = m, s.n = n, s.k = k, s.alpha = attrs_.alpha, s.accumulate = add_c;
    gemm_f32(*ks_, s, 1, [&](int64_t, GemmOperands& op) {
      op.a = MatrixView{a->data<float>(), a->dim(1), attrs_.trans_a};
      if (use_packed)
        op.packed_b = &packed_b_;
      else
        op.b = MatrixView{b->data<float>(), b->dim(1), attrs_.trans_b};
      op.c = out;
      op.ldc = n;
    });
    return Status::ok();
  }
  std::string impl_name() const override { return ks_->name; }
  bool reads_constant_input(int i) const override { return !(i == 1 && !packed_b_.empty()); }

 private:
  GemmOpAttrs attrs_;
  bool c_required_;
  const GemmKernelSet* ks_;
  PackedB packed_b_;
};

Result<std::unique_ptr<Kernel>> make_gemm(const NodeDesc& node) {
  GemmOpAttrs attrs;
  attrs.alpha = node.attrs.get_float("alpha", 1.f);
  attrs.beta = node.attrs.get_float("beta", 1.f);
  const int64_t ta = node.attrs.get_int("transA", 0), tb = node.attrs.get_int("transB", 0);
  if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1))
    return invalid_argument("transA/transB must be 0 or 1, got " + std::to_string(ta) + "/" + std::to_string(tb));
  attrs.trans_a = ta == 1;
  attrs.trans_b = tb == 1;
  if (node.opset < 7) {
    // Opsets 1-6 flag a broadcast C with `broadcast`; C is broadcast by the
    // opset-7 rule either way, as ONNX Runtime does, so old exporters still load.
    const int64_t bc = node.attrs.get_int("broadcast", 0);
    if (bc != 0 && bc != 1) return invalid_argument("broadcast must be 0 or 1, got " + std::to_string(bc));
  } else if (node.attrs.has("broadcast")) {
    return invalid_argument("attribute 'broadcast' was removed in opset 7");
  }
  if (node.inputs.size() < 2 || !node.has_input(0) || !node.has_input(1))
    return invalid_argument("Gemm needs inputs A and B");
  const bool c_required = node.opset < 11;
  if (c_required && !node.has_input(2)) return invalid_argument("input C is required before opset 11");
  return std::unique_ptr<Kernel>(std::make_unique<GemmOpKernel>(attrs, c_required, node.constant(1)));
}

// ---- MatMul op -------------------------------------------------------------------

class MatMulKernel final : public Kernel {
 public:
  explicit MatMulKernel(const Tensor* const_b) : ks_(&gemm_kernels()) {
    // A constant 1-D or 2-D B (a fully connected layer) is packed once.
    if (const_b && const_b->dtype() == DType::kFloat32 && (const_b->rank() == 1 || const_b->rank() == 2)) {
      const int64_t k = const_b->dim(0), n = const_b->rank() == 2 ? const_b->dim(1) : 1;
      packed_b_ = PackedB(*ks_, k, n, MatrixView{const_b->data<float>(), n, false});
    }
  }

  Status run(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    CVT_RETURN_IF_ERROR(require_f32_input(a, "A"));
    CVT_RETURN_IF_ERROR(require_f32_input(b, "B"));
    CVT_ASSIGN_OR_RETURN(MatMulPlan plan, plan_matmul(a->shape(), b->shape()));
    CVT_RETURN_IF_ERROR(check_node_work(double(plan.batch) * double(plan.m) * double(plan.n) * double(plan.k), "MatMul"));
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, plan.out));
    const float* ad = a->data<float>();
    const float* bd = b->data<float>();
    float* yd = y->data<float>();
    const bool use_packed = !packed_b_.empty() && packed_b_.depth() == plan.k && packed_b_.cols() == plan.n;
    if (is_released(*b) && (ctx.use_reference() || !use_packed)) return released_weights_error("B");
    if (ctx.use_reference()) {
      matmul_ref(plan, ad, bd, yd);
      return Status::ok();
    }
    GemmShape s;
    s.n = plan.n, s.k = plan.k;
    // One shared B and A's batch contiguous after its offsets: fold the batch into M.
    const bool fold = plan.b_is_matrix && plan.batch > 0 && plan.a_offsets.back() == (plan.batch - 1) * plan.m * plan.k;
    s.m = fold ? plan.batch * plan.m : plan.m;
    const int64_t batch = fold ? 1 : plan.batch;
    gemm_f32(*ks_, s, batch, [&](int64_t t, GemmOperands& op) {
      op.a = MatrixView{ad + plan.a_offsets[t], plan.k, false};
      if (use_packed)
        op.packed_b = &packed_b_;
      else
        op.b = MatrixView{bd + plan.b_offsets[t], plan.n, false};
      op.c = yd + t * plan.m * plan.n;
      op.ldc = plan.n;
    });
    return Status::ok();
  }
  std::string impl_name() const override { return ks_->name; }
  bool reads_constant_input(int i) const override { return !(i == 1 && !packed_b_.empty()); }

 private:
  const GemmKernelSet* ks_;
  PackedB packed_b_;
};

Result<std::unique_ptr<Kernel>> make_matmul(const NodeDesc& node) {
  if (node.inputs.size() < 2 || !node.has_input(0) || !node.has_input(1))
    return invalid_argument("MatMul needs inputs A and B");
  return std::unique_ptr<Kernel>(std::make_unique<MatMulKernel>(node.constant(1)));
}

}  // namespace

void register_gemm_ops(std::vector<OpSchema>& t) {
  t.push_back({"", "Gemm", 1, 18, make_gemm});
  t.push_back({"", "MatMul", 1, 18, make_matmul});
}

}  // namespace cvt
