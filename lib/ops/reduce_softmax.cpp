// Softmax / LogSoftmax / Hardmax: factories (opset < 13 flattens to 2-D at `axis`,
// default 1; opset >= 13 works along `axis`, default -1), the fast path (per row or
// per column block: max, shifted exp with the SIMD kernel for float, one scale) and
// the reference loops.
#include <algorithm>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "ops/activation.h"
#include "ops/eltwise.h"
#include "ops/reduce.h"
#include "ops/registry.h"

namespace cvt {
namespace {

constexpr int kMaxOpset = 22;
constexpr int64_t kGrainElems = 16384;
constexpr int64_t kInnerBlock = 256;

template <class T>
T max_with_nan(T a, T b) {
  return (a > b || a != a) ? a : b;
}

// y[i] = exp(y[i]) in place.
template <class T>
void exp_in_place(T* y, int64_t n, FloatMapKernel simd) {
  if constexpr (std::is_same_v<T, float>) {
    if (simd) return simd.fn(y, y, n);
  }
  for (int64_t i = 0; i < n; ++i) y[i] = std::exp(y[i]);
}

// One (outer, i0..i0+n) block of x viewed as (outer, count, inner).
template <class T>
void softmax_block(SoftmaxKind kind, const T* x, T* y, int64_t count, int64_t inner, int64_t n, FloatMapKernel simd) {
  T m[kInnerBlock];
  double sum[kInnerBlock];
  if (kind == SoftmaxKind::kHardmax) {
    int64_t best[kInnerBlock];
    for (int64_t i = 0; i < n; ++i) {
      m[i] = x[i];
      best[i] = 0;
    }
    for (int64_t r = 1; r < count; ++r)
      for (int64_t i = 0; i < n; ++i)
        if (arg_better(true, false, x[r * inner + i], m[i])) {
          m[i] = x[r * inner + i];
          best[i] = r;
        }
    for (int64_t r = 0; r < count; ++r)
      for (int64_t i = 0; i < n; ++i) y[r * inner + i] = best[i] == r ? T(1) : T(0);
    return;
  }
  std::copy(x, x + n, m);
  for (int64_t r = 1; r < count; ++r)
    for (int64_t i = 0; i < n; ++i) m[i] = max_with_nan(m[i], x[r * inner + i]);
  std::fill(sum, sum + n, 0.0);
  for (int64_t r = 0; r < count; ++r) {
    T* yr = y + r * inner;
    const T* xr = x + r * inner;
    for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] - m[i];
    exp_in_place(yr, n, simd);
    for (int64_t i = 0; i < n; ++i) sum[i] += yr[i];
  }
  if (kind == SoftmaxKind::kSoftmax)
    for (int64_t i = 0; i < n; ++i) sum[i] = 1.0 / sum[i];
  for (int64_t r = 0; r < count; ++r) {
    T* yr = y + r * inner;
    if (kind == SoftmaxKind::kSoftmax) {
      for (int64_t i = 0; i < n; ++i) yr[i] = static_cast<T>(yr[i] * sum[i]);
    } else {  // recompute x - max: log(exp(.)) would lose the tiny values
      const T* xr = x + r * inner;
      for (int64_t i = 0; i < n; ++i) yr[i] = static_cast<T>((xr[i] - m[i]) - std::log(sum[i]));
    }
  }
}

// A whole row (inner == 1): the same steps without the per-column bookkeeping.
template <class T>
void softmax_row(SoftmaxKind kind, const T* x, T* y, int64_t count, FloatMapKernel simd) {
  if (kind == SoftmaxKind::kHardmax) {
    int64_t best = 0;
    for (int64_t r = 1; r < count; ++r)
      if (arg_better(true, false, x[r], x[best])) best = r;
    std::fill(y, y + count, T(0));
    y[best] = T(1);
    return;
  }
  T m = x[0];
  for (int64_t r = 1; r < count; ++r) m = max_with_nan(m, x[r]);
  for (int64_t r = 0; r < count; ++r) y[r] = x[r] - m;
  exp_in_place(y, count, simd);
  double sum = 0;
  for (int64_t r = 0; r < count; ++r) sum += y[r];
  if (kind == SoftmaxKind::kSoftmax) {
    const double inv = 1.0 / sum;
    for (int64_t r = 0; r < count; ++r) y[r] = static_cast<T>(y[r] * inv);
  } else {
    const T log_sum = static_cast<T>(std::log(sum));
    for (int64_t r = 0; r < count; ++r) y[r] = (x[r] - m) - log_sum;
  }
}

const char* softmax_name(SoftmaxKind k) {
  return k == SoftmaxKind::kSoftmax ? "Softmax" : (k == SoftmaxKind::kLogSoftmax ? "LogSoftmax" : "Hardmax");
}

Status run_softmax(SoftmaxKind kind, int opset, int64_t axis_attr, KernelContext& ctx) {
  const char* name = softmax_name(kind);
  const Tensor* x = ctx.input(0);
  if (!x) return invalid_model(std::string(name) + " needs an input");
  if (x->dtype() != DType::kFloat32 && x->dtype() != DType::kFloat64) return dtype_unsupported(name, x->dtype());
  const int64_t r = x->rank();
  const int64_t axis = axis_attr < 0 ? axis_attr + r : axis_attr;
  if (axis < 0 || axis >= r)
    return invalid_model(std::string(name) + ": axis " + std::to_string(axis_attr) + " is out of range for rank " +
                         std::to_string(r));
  const Shape& s = x->shape();
  int64_t outer = 1, count = 1, inner = 1;
  for (int64_t d = 0; d < r; ++d) {
    if (d < axis) outer *= s[d];
    else if (d == axis || opset < 13) count *= s[d];  // opset < 13: everything from axis on is one row
    else inner *= s[d];
  }
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), s));
  if (x->numel() == 0) return Status::ok();
  if (ctx.use_reference()) softmax_ref(kind, outer, count, inner, *x, *y);
  else softmax_fast(kind, outer, count, inner, *x, *y);
  return Status::ok();
}

Result<std::unique_ptr<Kernel>> make_softmax(const NodeDesc& node, SoftmaxKind kind) {
  const int opset = node.opset;
  const int64_t axis = node.attrs.get_int("axis", opset < 13 ? 1 : -1);
  const FloatMapKernel simd = float_map_kernel(FloatMap::kExp, active_isa());
  return make_kernel([=](KernelContext& ctx) { return run_softmax(kind, opset, axis, ctx); },
                     std::string(softmax_name(kind)) + (simd ? std::string("_rows__") + simd.name : "_rows"));
}

}  // namespace

void softmax_fast(SoftmaxKind kind, int64_t outer, int64_t count, int64_t inner, const Tensor& x, Tensor& y) {
  const FloatMapKernel simd = float_map_kernel(FloatMap::kExp, active_isa());
  visit_dtype(x.dtype(), FloatTypes{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    if (inner == 1) {
      parallel_for(0, outer, std::max<int64_t>(1, kGrainElems / count), [&](int64_t lo, int64_t hi) {
        for (int64_t o = lo; o < hi; ++o) softmax_row(kind, xp + o * count, yp + o * count, count, simd);
      });
      return;
    }
    const int64_t blocks = (inner + kInnerBlock - 1) / kInnerBlock;
    const int64_t grain = std::max<int64_t>(1, kGrainElems / (count * std::min(inner, kInnerBlock)));
    parallel_for(0, outer * blocks, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t item = lo; item < hi; ++item) {
        const int64_t o = item / blocks, i0 = (item % blocks) * kInnerBlock;
        const int64_t off = o * count * inner + i0;
        softmax_block(kind, xp + off, yp + off, count, inner, std::min(kInnerBlock, inner - i0), simd);
      }
    });
  });
}

void softmax_ref(SoftmaxKind kind, int64_t outer, int64_t count, int64_t inner, const Tensor& x, Tensor& y) {
  visit_dtype(x.dtype(), FloatTypes{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto at = [&](int64_t o, int64_t r, int64_t i) { return (o * count + r) * inner + i; };
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const T* xp = x.data<T>();
        T* yp = y.data<T>();
        int64_t best = 0;
        T m = xp[at(o, 0, i)];
        for (int64_t r = 1; r < count; ++r) {
          const T v = xp[at(o, r, i)];
          if (arg_better(true, false, v, xp[at(o, best, i)])) best = r;
          m = max_with_nan(m, v);
        }
        double sum = 0;
        for (int64_t r = 0; r < count; ++r) sum += std::exp(static_cast<double>(xp[at(o, r, i)]) - static_cast<double>(m));
        for (int64_t r = 0; r < count; ++r) {
          const double shifted = static_cast<double>(xp[at(o, r, i)]) - static_cast<double>(m);
          if (kind == SoftmaxKind::kSoftmax) yp[at(o, r, i)] = static_cast<T>(std::exp(shifted) / sum);
          else if (kind == SoftmaxKind::kLogSoftmax) yp[at(o, r, i)] = static_cast<T>(shifted - std::log(sum));
          else yp[at(o, r, i)] = r == best ? T(1) : T(0);
        }
      }
  });
}

void register_softmax_ops(std::vector<OpSchema>& t) {
  t.push_back({"", "Softmax", 1, kMaxOpset, [](const NodeDesc& n) { return make_softmax(n, SoftmaxKind::kSoftmax); }});
  t.push_back({"", "LogSoftmax", 1, kMaxOpset, [](const NodeDesc& n) { return make_softmax(n, SoftmaxKind::kLogSoftmax); }});
  t.push_back({"", "Hardmax", 1, kMaxOpset, [](const NodeDesc& n) { return make_softmax(n, SoftmaxKind::kHardmax); }});
}

}  // namespace cvt
