// Cast and CastLike between every numeric dtype, float16 and bool. Float -> int
// truncates toward zero; out-of-range values follow x86 / numpy (NaN or overflow
// -> minimum, narrow types wrap) instead of C++ undefined behaviour.
#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/parallel.h"
#include "ops/registry.h"
#include "ops/tensor_ops.h"

namespace cvt {
namespace {

using KernelOr = Result<std::unique_ptr<Kernel>>;

struct Half {
  uint16_t bits;
};

inline float load(Half h) { return half_to_float(h.bits); }
template <typename S>
inline S load(S v) { return v; }

template <typename D>
D from_floating(double x) {
  constexpr double kTwo63 = 9223372036854775808.0;
  if constexpr (std::is_same_v<D, int64_t>) {
    return x >= -kTwo63 && x < kTwo63 ? static_cast<int64_t>(x) : INT64_MIN;
  } else if constexpr (std::is_same_v<D, uint64_t>) {
    if (x >= 0 && x < 2 * kTwo63) return static_cast<uint64_t>(x);
    if (x > -kTwo63 && x < 0) return static_cast<uint64_t>(static_cast<int64_t>(x));
    return uint64_t(1) << 63;
  } else if constexpr (std::is_same_v<D, int32_t>) {
    return x > -2147483649.0 && x < 2147483648.0 ? static_cast<int32_t>(x) : INT32_MIN;
  } else if constexpr (std::is_same_v<D, uint32_t>) {
    return static_cast<uint32_t>(from_floating<int64_t>(x));
  } else {
    return static_cast<D>(from_floating<int32_t>(x));  // 8- and 16-bit types wrap from int32
  }
}

template <typename D, typename V>
inline D cast_value(V v) {
  if constexpr (std::is_same_v<D, bool>) {
    return v != V(0);
  } else if constexpr (std::is_floating_point_v<V> && std::is_integral_v<D>) {
    return from_floating<D>(static_cast<double>(v));
  } else {
    return static_cast<D>(v);
  }
}

template <typename S>
void convert_from(const S* src, void* dst, DType to, int64_t lo, int64_t hi) {
  if (to == DType::kFloat16) {
    auto* d = static_cast<uint16_t*>(dst);
    for (int64_t i = lo; i < hi; ++i) d[i] = double_to_half(static_cast<double>(load(src[i])));
    return;
  }
  with_numeric_type(to, [&](auto tag) {
    using D = decltype(tag);
    D* d = static_cast<D*>(dst);
    for (int64_t i = lo; i < hi; ++i) d[i] = cast_value<D>(load(src[i]));
  });
}

void convert(const Tensor& x, Tensor& y) {
  const DType from = x.dtype(), to = y.dtype();
  parallel_for(0, x.numel(), int64_t(1) << 16, [&](int64_t lo, int64_t hi) {
    if (from == DType::kFloat16) {
      convert_from(static_cast<const Half*>(x.raw()), y.raw(), to, lo, hi);
      return;
    }
    with_numeric_type(from, [&](auto tag) {
      using S = decltype(tag);
      convert_from(x.data<S>(), y.raw(), to, lo, hi);
    });
  });
}

Status cast_to(const Tensor& x, DType to, KernelContext& ctx) {
  if (x.dtype() == to) return ctx.alias_output(0, x);
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, to, x.shape()));
  convert(x, *y);
  return Status::ok();
}

KernelOr make_cast(const NodeDesc& node) {
  const Attribute* a = node.attrs.find("to");
  if (!a) return invalid_model("Cast needs the 'to' attribute");
  DType to = DType::kFloat32;
  if (a->kind == Attribute::Kind::kString) {  // Cast-1 names the type
    CVT_ASSIGN_OR_RETURN(to, dtype_from_onnx_name(a->s));
  } else if (a->kind == Attribute::Kind::kInt) {
    CVT_ASSIGN_OR_RETURN(to, dtype_from_onnx(a->i));
  } else {
    return invalid_model("Cast 'to' must be an int or a string");
  }
  return make_kernel([to](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "input"));
    return cast_to(*x, to, ctx);
  }, "cast");
}

KernelOr make_cast_like(const NodeDesc&) {
  return make_kernel([](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "input"));
    CVT_ASSIGN_OR_RETURN(const Tensor* like, required_input(ctx, 1, "target_type"));
    return cast_to(*x, like->dtype(), ctx);
  }, "cast");
}

}  // namespace

void register_cast_ops(std::vector<OpSchema>& t) {
  t.push_back({"", "Cast", 1, kTensorOpsMaxOpset, make_cast});
  t.push_back({"", "CastLike", 15, kTensorOpsMaxOpset, make_cast_like});
}

}  // namespace cvt
