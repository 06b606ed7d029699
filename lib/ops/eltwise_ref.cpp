// Reference elementwise loops: one output element at a time, every input offset
// recomputed from the full index. No merging, no threads, no intrinsics: the oracle.
#include "ops/broadcast.h"
#include "ops/eltwise.h"

namespace cvt {
namespace {

int64_t input_offset(int64_t flat, const Shape& out, const std::vector<int64_t>& strides) {
  int64_t off = 0;
  for (size_t d = out.size(); d-- > 0;) {
    off += (flat % out[d]) * strides[d];
    flat /= out[d];
  }
  return off;
}

}  // namespace

Status binary_ref(BinaryOp op, const BinaryAttrs& attrs, const Tensor& a, const Shape& a_shape, const Tensor& b,
                  const Shape& b_shape, Tensor& out) {
  const Shape& os = out.shape();
  if (!broadcasts_to(a_shape, os) || !broadcasts_to(b_shape, os))
    return shape_mismatch(std::string(binary_op_name(op)) + ": operands do not broadcast to " + shape_str(os));
  const auto sa = broadcast_strides(a_shape, os);
  const auto sb = broadcast_strides(b_shape, os);
  return visit_binary(op, attrs, a.dtype(), b.dtype(), [&](auto fn, auto ta, auto tb, auto to) {
    using TA = typename decltype(ta)::type;
    using TB = typename decltype(tb)::type;
    using TO = typename decltype(to)::type;
    const TA* pa = a.data<TA>();
    const TB* pb = b.data<TB>();
    TO* po = out.data<TO>();
    for (int64_t i = 0; i < out.numel(); ++i) po[i] = fn(pa[input_offset(i, os, sa)], pb[input_offset(i, os, sb)]);
    return Status::ok();
  });
}

Status unary_ref(UnaryOp op, const UnaryAttrs& attrs, const Tensor& x, Tensor& out) {
  return visit_unary(op, attrs, x.dtype(), [&](auto fn, auto ti, auto to) {
    using TI = typename decltype(ti)::type;
    using TO = typename decltype(to)::type;
    for (int64_t i = 0; i < x.numel(); ++i) out.data<TO>()[i] = fn(x.data<TI>()[i]);
    return Status::ok();
  });
}

void where_ref(const Tensor& cond, const Tensor& x, const Tensor& y, Tensor& out) {
  const Shape& os = out.shape();
  const auto sc = broadcast_strides(cond.shape(), os);
  const auto sx = broadcast_strides(x.shape(), os);
  const auto sy = broadcast_strides(y.shape(), os);
  const size_t size = dtype_size(x.dtype());
  const auto* px = static_cast<const unsigned char*>(x.raw());
  const auto* py = static_cast<const unsigned char*>(y.raw());
  auto* po = static_cast<unsigned char*>(out.raw());
  for (int64_t i = 0; i < out.numel(); ++i) {
    const bool c = cond.data<bool>()[input_offset(i, os, sc)];
    const unsigned char* src = c ? px + input_offset(i, os, sx) * size : py + input_offset(i, os, sy) * size;
    for (size_t k = 0; k < size; ++k) po[i * size + k] = src[k];
  }
}

}  // namespace cvt
