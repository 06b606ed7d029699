// Pooling ops: attribute parsing per opset, output geometry, and the fast path.
// Float 2-D MaxPool on AVX-512 reduces the window rows, then the W taps, or pools
// small planes (or narrow stride-2 rows) as one flat run (x86/pool_avx512.cpp); on
// AVX2 it runs over phase-split planes padded with -inf (x86/pool_avx2.cpp).
// Otherwise Max (without Indices) and Average pool are separable: one 1-D pass per
// axis (D, then H, then W) turns k^2 work into 2k and keeps inner loops contiguous.
// Indices and LpPool use direct windows. Parallel over N*C planes.
#include "ops/pool.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <map>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "ops/conv.h"
#include "ops/eltwise.h"
#include "ops/gemm.h"
#include "ops/registry.h"

namespace cvt {
namespace {

constexpr int kMaxOpset = 22;
constexpr int64_t kPlaneGrainElems = 16384;  // input elements per parallel work item

template <class T>
T lowest_value() {
  return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
}

// NaN in the window wins, as in torch; otherwise the larger value.
struct MaxOp {
  template <class T> T operator()(T acc, T v) const { return (acc > v || acc != acc) ? acc : v; }
};
struct SumOp {
  template <class T> T operator()(T acc, T v) const { return acc + v; }
};

// Valid taps of every output position along one axis.
struct AxisTaps {
  std::vector<int64_t> first;    // input position of the first tap inside [0, in)
  std::vector<int64_t> count;    // taps inside [0, in)
  std::vector<int64_t> divisor;  // AveragePool divisor: count, or taps inside the padded range
  std::vector<double> inv_divisor;
  int64_t interior_lo = 0, interior_hi = 0;  // outputs whose whole window is inside the input
};

AxisTaps make_taps(const PoolAxis& a, bool count_include_pad) {
  AxisTaps t;
  t.first.resize(a.out);
  t.count.resize(a.out);
  t.divisor.resize(a.out);
  const int64_t d = a.dilation;
  auto taps_below = [&](int64_t s, int64_t limit) {  // #j in [0, kernel) with s + j*d < limit
    return limit - s <= 0 ? int64_t(0) : std::min(a.kernel, (limit - s + d - 1) / d);
  };
  bool seen_interior = false;
  for (int64_t o = 0; o < a.out; ++o) {
    const int64_t s = a.start(o);
    const int64_t j0 = s >= 0 ? 0 : (-s + d - 1) / d;
    const int64_t n = std::max<int64_t>(0, taps_below(s, a.in) - j0);
    t.first[o] = s + j0 * d;
    t.count[o] = n;
    t.divisor[o] = count_include_pad ? taps_below(s, a.in + a.pad_end) : n;
    t.inv_divisor.push_back(1.0 / static_cast<double>(t.divisor[o]));
    if (n == a.kernel) {
      if (!seen_interior) t.interior_lo = o;
      seen_interior = true;
      t.interior_hi = o + 1;
    }
  }
  return t;
}

// One separable pass along an axis: src (outer, a.in, inner) -> dst (outer, a.out, inner).
template <class T, class Op>
void pool_pass(const T* src, T* dst, int64_t outer, int64_t inner, const PoolAxis& a, const AxisTaps& t, Op op) {
  const T identity = std::is_same_v<Op, MaxOp> ? lowest_value<T>() : T(0);
  const int64_t d = a.dilation, stride = a.stride;
  for (int64_t q = 0; q < outer; ++q) {
    const T* s = src + q * a.in * inner;
    T* o_row = dst + q * a.out * inner;
    if (inner == 1) {
      auto window = [&](int64_t o) {
        if (t.count[o] == 0) return identity;
        T acc = s[t.first[o]];
        for (int64_t j = 1; j < t.count[o]; ++j) acc = op(acc, s[t.first[o] + j * d]);
        return acc;
      };
      for (int64_t o = 0; o < t.interior_lo; ++o) o_row[o] = window(o);
      // Interior: taps outermost so the loop over outputs is a plain (strided) stream.
      const int64_t lo = t.interior_lo, n = t.interior_hi - t.interior_lo;
      if (n > 0) {
        const T* base = s + a.start(lo);
        T* out = o_row + lo;
        for (int64_t j = 0; j < a.kernel; ++j) {
          const T* bj = base + j * d;
          if (j == 0 && stride == 1) std::memcpy(out, bj, sizeof(T) * n);
          else if (j == 0) for (int64_t i = 0; i < n; ++i) out[i] = bj[i * stride];
          else if (stride == 1) for (int64_t i = 0; i < n; ++i) out[i] = op(out[i], bj[i]);
          else for (int64_t i = 0; i < n; ++i) out[i] = op(out[i], bj[i * stride]);
        }
      }
      for (int64_t o = std::max(t.interior_hi, t.interior_lo); o < a.out; ++o) o_row[o] = window(o);
    } else {
      for (int64_t o = 0; o < a.out; ++o) {
        T* row = o_row + o * inner;
        if (t.count[o] == 0) {
          std::fill(row, row + inner, identity);
          continue;
        }
        std::memcpy(row, s + t.first[o] * inner, sizeof(T) * inner);
        for (int64_t j = 1; j < t.count[o]; ++j) {
          const T* in_row = s + (t.first[o] + j * d) * inner;
          for (int64_t i = 0; i < inner; ++i) row[i] = op(row[i], in_row[i]);
        }
      }
    }
  }
}

struct PlaneTaps {
  std::array<AxisTaps, 3> axes;
};

// Max (values only) and Average: passes W, H, D, skipping identity axes.
template <class T>
void separable_plane(const PoolParams& p, const PoolGeometry& g, const PlaneTaps& taps, const T* x, T* y,
                     std::vector<T>& buf0, std::vector<T>& buf1) {
  int64_t dims[3] = {g.axes[0].in, g.axes[1].in, g.axes[2].in};
  // D and H first: those passes stream whole rows (vectorised max / add over
  // `inner` values), and the W pass, strided within a row, then runs on the rows
  // that remain (a stride-2 pool halves them).
  int order[3], passes = 0;
  for (int a = 0; a < 3; ++a)
    if (!g.axes[a].identity()) order[passes++] = a;
  if (passes == 0) std::memcpy(y, x, sizeof(T) * g.in_plane());
  const T* src = x;
  for (int k = 0; k < passes; ++k) {
    const int a = order[k];
    const int64_t outer = a == 0 ? 1 : (a == 1 ? dims[0] : dims[0] * dims[1]);
    const int64_t inner = a == 2 ? 1 : (a == 1 ? dims[2] : dims[1] * dims[2]);
    T* dst = y;
    if (k + 1 < passes) {
      std::vector<T>& buf = (k % 2 == 0) ? buf0 : buf1;
      buf.resize(static_cast<size_t>(outer * g.axes[a].out * inner));
      dst = buf.data();
    }
    if (p.kind == PoolKind::kMax) pool_pass(src, dst, outer, inner, g.axes[a], taps.axes[a], MaxOp{});
    else pool_pass(src, dst, outer, inner, g.axes[a], taps.axes[a], SumOp{});
    dims[a] = g.axes[a].out;
    src = dst;
  }
  if (p.kind == PoolKind::kAverage) {
    const auto& dd = taps.axes[0].divisor;
    const auto& dh = taps.axes[1].divisor;
    const int64_t OH = g.axes[1].out, OW = g.axes[2].out;
    const std::vector<double>& inv_w = taps.axes[2].inv_divisor;
    for (int64_t od = 0; od < g.axes[0].out; ++od)
      for (int64_t oh = 0; oh < OH; ++oh) {
        T* row = y + (od * OH + oh) * OW;
        const double inv_dh = 1.0 / static_cast<double>(dd[od] * dh[oh]);  // 0 taps: inf, 0 * inf = NaN like 0/0
        for (int64_t ow = 0; ow < OW; ++ow) row[ow] = static_cast<T>(row[ow] * (inv_dh * inv_w[ow]));
      }
  }
}

// MaxPool with Indices, and LpPool: each window visited directly over its valid taps.
template <class T>
void direct_plane(const PoolParams& p, const PoolGeometry& g, const PlaneTaps& taps, const T* x, T* y,
                  int64_t* indices, int64_t plane_base) {
  const PoolAxis &ad = g.axes[0], &ah = g.axes[1], &aw = g.axes[2];
  const AxisTaps &td = taps.axes[0], &th = taps.axes[1], &tw = taps.axes[2];
  const int64_t H = ah.in, W = aw.in, D = ad.in;
  int64_t out = 0;
  for (int64_t od = 0; od < ad.out; ++od)
    for (int64_t oh = 0; oh < ah.out; ++oh)
      for (int64_t ow = 0; ow < aw.out; ++ow, ++out) {
        if (p.kind == PoolKind::kLp) {
          T sum = 0;
          for (int64_t jd = 0; jd < td.count[od]; ++jd)
            for (int64_t jh = 0; jh < th.count[oh]; ++jh) {
              const T* row = x + ((td.first[od] + jd * ad.dilation) * H + th.first[oh] + jh * ah.dilation) * W;
              for (int64_t jw = 0; jw < tw.count[ow]; ++jw) sum += lp_power(row[tw.first[ow] + jw * aw.dilation], p.p);
            }
          y[out] = lp_root(sum, p.p);
          continue;
        }
        T best = lowest_value<T>();
        int64_t best_pos = -1;
        for (int64_t jd = 0; jd < td.count[od]; ++jd) {
          const int64_t id = td.first[od] + jd * ad.dilation;
          for (int64_t jh = 0; jh < th.count[oh]; ++jh) {
            const int64_t ih = th.first[oh] + jh * ah.dilation;
            for (int64_t jw = 0; jw < tw.count[ow]; ++jw) {
              const int64_t iw = tw.first[ow] + jw * aw.dilation;
              const T v = x[(id * H + ih) * W + iw];
              if (best_pos < 0 || (best == best && (v > best || v != v))) {
                best = v;
                best_pos = p.column_major_indices ? (iw * H + ih) * D + id : (id * H + ih) * W + iw;
              }
            }
          }
        }
        y[out] = best;
        if (indices) indices[out] = best_pos < 0 ? -1 : plane_base + best_pos;
      }
}

// Stride 1 both ways: the phase plane is the plain padded plane, so a row pass
// then a column pass (two runs) replace kh * kw taps by kh + kw: YOLOX's SPP
// pools 13x13 windows.
bool separable_maxpool_run(const PoolGeometry& g) {
  return g.axes[1].stride == 1 && g.axes[2].stride == 1 && g.axes[1].kernel > 1 && g.axes[2].kernel > 1;
}

// The SIMD 2-D MaxPools apply: float values only, 1-D or 2-D, and every window
// holds an input value (otherwise the generic path's identity rules).
bool simd_maxpool2d_applies(const PoolParams& p, const PoolGeometry& g, const PlaneTaps& taps, bool indices) {
  if (p.kind != PoolKind::kMax || indices) return false;
  if (g.axes[0].in != 1 || !g.axes[0].identity()) return false;
  for (int a = 1; a < 3; ++a)
    for (int64_t c : taps.axes[a].count)
      if (c == 0) return false;
  return true;
}

// The AVX2 one: at most 64 taps unless separable.
bool use_maxpool2d_avx2(const PoolParams& p, const PoolGeometry& g, const PlaneTaps& taps, bool indices) {
  if (active_isa() < Isa::kAvx2 || !simd_maxpool2d_applies(p, g, taps, indices)) return false;
  return g.axes[1].kernel * g.axes[2].kernel <= 64 || separable_maxpool_run(g);
}

// The AVX-512 one, window rows then W taps in registers (no copy of the plane):
// undilated, W stride 1 or 2. Sums of the pools, 1 thread, in-model minima, against the
// earlier two-pass kernel: SqueezeNet 0.28 -> 0.21 ms, GoogLeNet 0.95 -> 0.90.
bool use_maxpool2d_avx512(const PoolParams& p, const PoolGeometry& g, const PlaneTaps& taps, bool indices) {
  return active_isa() >= Isa::kAvx512 && simd_maxpool2d_applies(p, g, taps, indices) &&
         maxpool2d_rows_supported(g.axes[1], g.axes[2]);
}

// A kernel's mask tables for a geometry, made once per calling thread: building
// the flat kernel's took 6-8 us, as long as the 7x7 pool itself at 2 threads. A net
// has a few pool geometries; a table is dropped if it ever holds 16.
template <class Masks, class Make>
const Masks& cached_masks(const std::array<int64_t, 6>& key, Make make) {
  thread_local std::map<std::array<int64_t, 6>, Masks> cache;
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  if (cache.size() >= 16) cache.clear();
  return cache.emplace(key, make()).first->second;
}

// Small planes pooled to their own size (GoogLeNet's 3x3 branch pools at 28x28 to
// 7x7, YOLOX's SPP at 13x13) go flat: a row at a time, a 7-wide row filled 7 of a
// vector's 16 lanes. In-process, 1 / 2 threads: 832 planes of 7x7 69 / 35 -> 15 / 8
// us, 512 of 14x14 85 / 54 -> 36 / 23, 256 of 28x28 115 / 60 -> 77 / 36; 1 thread,
// 64 planes of 13x13 by 5, 9, 13: 15, 23, 29 -> 11, 14, 20 us. Narrow rows at stride 2
// take an H pass and then go flat: 1 thread, node medians in model against the row
// kernel, GoogLeNet's 832 x 14x14 -> 7x7 0.187 -> 0.112 ms, 480 x 28x28 -> 14x14
// 0.284 -> 0.264, SqueezeNet's 256 x 27x27 -> 13x13 0.098 -> 0.076. Returns the path taken.
const char* maxpool2d_avx512(const PoolGeometry& g, const float* x, float* y) {
  const int64_t planes = g.batch * g.channels, in_plane = g.in_plane(), out_plane = g.out_plane();
  const int64_t grain = std::max<int64_t>(1, planes / (4 * current_concurrency()));
  const PoolAxis &ah = g.axes[1], &aw = g.axes[2];
  if (maxpool2d_flat_supported(ah, aw)) {
    const auto& masks =
        cached_masks<MaxPoolFlatMasks>({ah.in, aw.in, ah.kernel, aw.kernel, ah.pad_begin, aw.pad_begin},
                                       [&] { return maxpool2d_flat_masks(ah, aw); });
    parallel_for(0, planes, grain, [&](int64_t lo, int64_t hi) {
      float* scratch = gemm_scratch(0, static_cast<size_t>((hi - lo) * in_plane));
      maxpool2d_flat_f32__avx512(ah, aw, masks, x + lo * in_plane, hi - lo, y + lo * out_plane, scratch);
    });
    return "flat__avx512";
  }
  if (maxpool2d_stride2_supported(ah, aw)) {
    const auto& masks = cached_masks<MaxPoolStride2Masks>({aw.in, aw.out, aw.kernel, aw.pad_begin, 0, 0},
                                                          [&] { return maxpool2d_stride2_masks(aw); });
    parallel_for(0, planes, grain, [&](int64_t lo, int64_t hi) {
      float* scratch = gemm_scratch(0, maxpool2d_stride2_scratch_floats(masks));
      maxpool2d_stride2_f32__avx512(ah, aw, masks, x + lo * in_plane, hi - lo, y + lo * out_plane, scratch);
    });
    return "stride2__avx512";
  }
  parallel_for(0, planes, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c)
      maxpool2d_rows_f32__avx512(ah, aw, x + c * in_plane, y + c * out_plane);
  });
  return "rows__avx512";
}

// Each plane is copied into the conv kernels' phase-split layout, padded with
// -inf, and pooled as one run of out_h * phase_w outputs (the columns past each
// row's end are computed and dropped): no per-row calls or tails, so MobileNet-
// and GoogLeNet-size 14x14 and 7x7 planes cost little more than their outputs.
void maxpool2d_avx2(const PoolGeometry& g, const float* x, float* y) {
  const PoolAxis &ah = g.axes[1], &aw = g.axes[2];
  ConvParams cp;  // the pool's geometry in the form PhaseLayout reads
  cp.in = {1, ah.in, aw.in}, cp.out = {1, ah.out, aw.out}, cp.kernel = {1, ah.kernel, aw.kernel};
  cp.stride = {1, ah.stride, aw.stride}, cp.dilation = {1, ah.dilation, aw.dilation};
  cp.pad_begin = {0, ah.pad_begin, aw.pad_begin};
  const PhaseLayout L = phase_layout(cp);
  const int64_t n_run = ah.out * L.phase_w, q = aw.out;
  // Separable: the row pass runs over every padded row read (L.sub values; it
  // reads at most phase_w past them), the column pass over its result.
  const bool separable = separable_maxpool_run(g);
  const std::vector<int64_t> offset = separable ? L.tap_offsets(1, aw.kernel, 1, aw.dilation)
                                                : L.tap_offsets(ah.kernel, aw.kernel, ah.dilation, aw.dilation);
  const std::vector<int64_t> column_offset = separable ? L.tap_offsets(ah.kernel, 1, ah.dilation, 1)
                                                       : std::vector<int64_t>{};
  const int64_t plane_len = L.plane_len() + L.phase_w + 16;  // dropped columns read up to a row past the end
  const int64_t planes = g.batch * g.channels, in_plane = g.in_plane(), out_plane = g.out_plane();
  const int64_t grain = std::max<int64_t>(1, planes / (4 * current_concurrency()));
  parallel_for(0, planes, grain, [&](int64_t lo, int64_t hi) {
    // The thread's scratch, not fresh vectors: a VGG-size plane's copy is ~200 KB,
    // which malloc maps afresh each time, and on this VM a page fault costs ~11 us.
    // -inf once per task: every plane writes its values to the same places.
    float* padded = gemm_scratch(0, static_cast<size_t>(plane_len));
    std::fill(padded, padded + plane_len, -std::numeric_limits<float>::infinity());
    float* run = gemm_scratch(1, static_cast<size_t>(n_run));
    float* rows = separable ? gemm_scratch(2, static_cast<size_t>(L.sub)) : nullptr;
    for (int64_t c = lo; c < hi; ++c) {
      fill_phase_plane_f32(L, Isa::kAvx2, x + c * in_plane, padded);
      if (separable) {
        maxpool_run_f32__avx2(padded, offset.data(), static_cast<int64_t>(offset.size()), L.sub, rows);
        maxpool_run_f32__avx2(rows, column_offset.data(), static_cast<int64_t>(column_offset.size()), n_run, run);
      } else {
        maxpool_run_f32__avx2(padded, offset.data(), static_cast<int64_t>(offset.size()), n_run, run);
      }
      float* yp = y + c * out_plane;
      for (int64_t oh = 0; oh < ah.out; ++oh) std::memcpy(yp + oh * q, run + oh * L.phase_w, sizeof(float) * q);
    }
  });
}

template <class T>
const char* pool_fast_typed(const PoolParams& p, const PoolGeometry& g, const Tensor& x, Tensor& y, Tensor* indices) {
  PlaneTaps taps;
  for (int a = 0; a < 3; ++a) taps.axes[a] = make_taps(g.axes[a], p.count_include_pad);
  if constexpr (std::is_same_v<T, float>) {
    if (use_maxpool2d_avx512(p, g, taps, indices != nullptr))
      return maxpool2d_avx512(g, x.data<float>(), y.data<float>());
    if (use_maxpool2d_avx2(p, g, taps, indices != nullptr)) {
      maxpool2d_avx2(g, x.data<float>(), y.data<float>());
      return separable_maxpool_run(g) ? "phase_separable__avx2" : "phase__avx2";
    }
  }
  const int64_t planes = g.batch * g.channels, in_plane = g.in_plane(), out_plane = g.out_plane();
  const bool separable = p.kind != PoolKind::kLp && indices == nullptr;
  const int64_t grain = std::max<int64_t>(1, kPlaneGrainElems / std::max<int64_t>(1, in_plane));
  const T* xp = x.data<T>();
  T* yp = y.data<T>();
  int64_t* ip = indices ? indices->data<int64_t>() : nullptr;
  parallel_for(0, planes, grain, [&](int64_t lo, int64_t hi) {
    std::vector<T> buf0, buf1;
    for (int64_t c = lo; c < hi; ++c) {
      if (separable) separable_plane(p, g, taps, xp + c * in_plane, yp + c * out_plane, buf0, buf1);
      else direct_plane(p, g, taps, xp + c * in_plane, yp + c * out_plane, ip ? ip + c * out_plane : nullptr, c * in_plane);
    }
  });
  return separable ? "separable" : "direct";
}

std::vector<int64_t> filled(size_t n, int64_t v) { return std::vector<int64_t>(n, v); }

Result<PoolParams> parse_pool(const NodeDesc& node, PoolKind kind) {
  PoolParams p;
  p.kind = kind;
  const Attributes& a = node.attrs;
  p.kernel = a.get_ints("kernel_shape");
  if (p.kernel.empty()) return invalid_model("kernel_shape is required");
  const size_t r = p.kernel.size();
  p.strides = a.get_ints("strides", filled(r, 1));
  p.dilations = a.get_ints("dilations", filled(r, 1));
  p.pads = a.get_ints("pads", filled(2 * r, 0));
  p.auto_pad = a.get_string("auto_pad", "NOTSET");
  if (p.auto_pad.empty()) p.auto_pad = "NOTSET";
  for (const char* flag : {"ceil_mode", "storage_order", "count_include_pad"}) {
    const int64_t v = a.get_int(flag, 0);
    if (v != 0 && v != 1) return invalid_model(std::string(flag) + " must be 0 or 1, got " + std::to_string(v));
  }
  p.ceil_mode = a.get_int("ceil_mode", 0) == 1;
  p.column_major_indices = a.get_int("storage_order", 0) == 1;
  p.count_include_pad = a.get_int("count_include_pad", 0) == 1;
  p.p = a.get_float("p", 2.0f);  // a float before opset 2, an int after: get_float reads both
  CVT_RETURN_IF_ERROR(validate_pool_params(p));
  return p;
}

bool pool_dtype_ok(PoolKind kind, DType t) {
  if (t == DType::kFloat32 || t == DType::kFloat64) return true;
  return kind == PoolKind::kMax && (t == DType::kInt8 || t == DType::kUInt8);
}

const char* pool_name(PoolKind kind) {
  return kind == PoolKind::kMax ? "MaxPool" : (kind == PoolKind::kAverage ? "AveragePool" : "LpPool");
}

// `path` becomes the path taken (for --profile).
Status run_pool(const PoolParams& p, bool want_indices, KernelContext& ctx, const char*& path) {
  const Tensor* x = ctx.input(0);
  if (!x) return invalid_model(std::string(pool_name(p.kind)) + " needs an input");
  if (!pool_dtype_ok(p.kind, x->dtype())) return dtype_unsupported(pool_name(p.kind), x->dtype());
  CVT_ASSIGN_OR_RETURN(PoolGeometry g, pool_geometry(p, x->shape()));
  double window = 1;
  for (int64_t k : p.kernel) window *= double(k);
  CVT_RETURN_IF_ERROR(check_node_work(double(shape_numel(g.out_shape)) * window, pool_name(p.kind)));
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), g.out_shape));
  Tensor* indices = nullptr;
  if (want_indices && ctx.num_outputs() > 1) {
    CVT_ASSIGN_OR_RETURN(indices, ctx.output(1, DType::kInt64, g.out_shape));
  }
  if (ctx.use_reference()) {
    pool_ref(p, g, *x, *y, indices);
    path = "ref";
  } else {
    path = pool_fast(p, g, *x, *y, indices);
  }
  return Status::ok();
}

class PoolKernel final : public Kernel {
 public:
  PoolKernel(PoolParams p, bool want_indices) : p_(std::move(p)), want_indices_(want_indices) {}
  Status run(KernelContext& ctx) override { return run_pool(p_, want_indices_, ctx, path_); }
  std::string impl_name() const override { return std::string(pool_name(p_.kind)) + "_" + path_; }

 private:
  PoolParams p_;
  bool want_indices_;
  const char* path_ = "not_run";
};

Result<std::unique_ptr<Kernel>> make_pool(const NodeDesc& node, PoolKind kind) {
  CVT_ASSIGN_OR_RETURN(PoolParams p, parse_pool(node, kind));
  const bool want_indices = kind == PoolKind::kMax && node.outputs.size() > 1 && !node.outputs[1].empty();
  return std::unique_ptr<Kernel>(std::make_unique<PoolKernel>(std::move(p), want_indices));
}

Result<std::unique_ptr<Kernel>> make_global_pool(const NodeDesc& node, PoolKind kind) {
  const float pw = node.attrs.get_float("p", 2.0f);
  if (!(pw > 0)) return invalid_model("p must be positive, got " + std::to_string(pw));
  return make_kernel(
      [kind, pw](KernelContext& ctx) -> Status {
        const Tensor* x = ctx.input(0);
        const std::string name = std::string("Global") + pool_name(kind);
        if (!x) return invalid_model(name + " needs an input");
        if (x->rank() < 2) return shape_mismatch(name + " needs (N, C, ...) input, got " + shape_str(x->shape()));
        if (!pool_dtype_ok(kind, x->dtype())) return dtype_unsupported(name, x->dtype());
        Shape out = x->shape();
        std::fill(out.begin() + 2, out.end(), 1);
        for (size_t i = 2; i < x->shape().size(); ++i)
          if (x->shape()[i] == 0) return shape_mismatch(name + ": empty spatial dims in " + shape_str(x->shape()));
        CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), out));
        if (ctx.use_reference()) global_pool_ref(kind, pw, *x, *y);
        else global_pool_fast(kind, pw, *x, *y);
        return Status::ok();
      },
      std::string("Global") + pool_name(kind) + "_planes");
}

}  // namespace

Result<PoolParams> parse_pool_attrs(const NodeDesc& node, PoolKind kind) { return parse_pool(node, kind); }

Status validate_pool_params(const PoolParams& p) {
  const size_t r = p.kernel.size();
  if (r < 1 || r > 3) return unsupported("pooling over " + std::to_string(r) + " spatial dims (1 to 3 supported)");
  if (p.strides.size() != r || p.dilations.size() != r || p.pads.size() != 2 * r)
    return invalid_model("kernel_shape has " + std::to_string(r) + " dims but strides/dilations/pads have " +
                         std::to_string(p.strides.size()) + "/" + std::to_string(p.dilations.size()) + "/" +
                         std::to_string(p.pads.size()) + " (pads needs 2 per dim)");
  if (p.auto_pad != "NOTSET" && p.auto_pad != "VALID" && p.auto_pad != "SAME_UPPER" && p.auto_pad != "SAME_LOWER")
    return invalid_model("auto_pad \"" + p.auto_pad + "\" is not NOTSET, VALID, SAME_UPPER or SAME_LOWER");
  for (size_t i = 0; i < r; ++i) {
    if (p.kernel[i] < 1 || p.strides[i] < 1 || p.dilations[i] < 1)
      return invalid_model("kernel_shape, strides and dilations must be positive (axis " + std::to_string(i) + ")");
    if (p.kernel[i] > (int64_t(1) << 20) || p.strides[i] > (int64_t(1) << 20) || p.dilations[i] > (int64_t(1) << 20))
      return limit_exceeded("pooling window on axis " + std::to_string(i) + " is implausibly large");
    const int64_t extent = (p.kernel[i] - 1) * p.dilations[i] + 1;
    if (p.auto_pad == "NOTSET") {
      for (int64_t pad : {p.pads[i], p.pads[i + r]}) {
        if (pad < 0) return invalid_model("pads must be non-negative (axis " + std::to_string(i) + ")");
        if (pad >= extent)
          return invalid_model("pad " + std::to_string(pad) + " on axis " + std::to_string(i) +
                               " is not smaller than the kernel extent " + std::to_string(extent));
      }
    }
  }
  if (p.kind == PoolKind::kLp && !(p.p > 0)) return invalid_model("p must be positive, got " + std::to_string(p.p));
  return Status::ok();
}

Result<PoolGeometry> pool_geometry(const PoolParams& p, const Shape& x) {
  const int r = static_cast<int>(p.kernel.size());
  if (static_cast<int>(x.size()) != r + 2)
    return shape_mismatch("input " + shape_str(x) + " does not have rank " + std::to_string(r + 2) + " for a " +
                          std::to_string(r) + "-D kernel");
  PoolGeometry g;
  g.batch = x[0];
  g.channels = x[1];
  g.spatial_rank = r;
  g.out_shape = {x[0], x[1]};
  for (int i = 0; i < r; ++i) {
    PoolAxis& a = g.axes[3 - r + i];
    a.in = x[2 + i];
    a.kernel = p.kernel[i];
    a.stride = p.strides[i];
    a.dilation = p.dilations[i];
    const int64_t extent = (a.kernel - 1) * a.dilation + 1;
    if (p.auto_pad == "SAME_UPPER" || p.auto_pad == "SAME_LOWER") {
      a.out = (a.in + a.stride - 1) / a.stride;
      const int64_t total = std::max<int64_t>(0, (a.out - 1) * a.stride + extent - a.in);
      a.pad_begin = p.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      a.pad_end = total - a.pad_begin;
    } else {
      if (p.auto_pad == "NOTSET") {
        a.pad_begin = p.pads[i];
        a.pad_end = p.pads[i + r];
      }
      // span may be negative: with ceil_mode a window larger than the padded input
      // still gives one output when it starts inside the input.
      const int64_t span = a.in + a.pad_begin + a.pad_end - extent;
      const bool ceil = p.ceil_mode && p.auto_pad == "NOTSET";
      const int64_t floor_q = span >= 0 ? span / a.stride : -((-span + a.stride - 1) / a.stride);
      a.out = floor_q + (ceil && floor_q * a.stride != span ? 1 : 0) + 1;
      // A window may not start in the end padding (ONNX / torch rule).
      if (ceil && (a.out - 1) * a.stride >= a.in + a.pad_begin) --a.out;
      if (a.out < 1)
        return shape_mismatch("kernel extent " + std::to_string(extent) + " exceeds padded input " +
                              std::to_string(a.in + a.pad_begin + a.pad_end) + " on spatial axis " + std::to_string(i));
    }
    g.out_shape.push_back(a.out);
  }
  return g;
}

const char* pool_fast(const PoolParams& p, const PoolGeometry& g, const Tensor& x, Tensor& y, Tensor* indices) {
  const char* path = "";
  visit_dtype(x.dtype(), TypeList<float, double, int8_t, uint8_t>{},
              [&](auto tag) { path = pool_fast_typed<typename decltype(tag)::type>(p, g, x, y, indices); });
  return path;
}

namespace {

// Eight independent partial sums (two vectors of doubles once vectorised): a
// single chain of double adds waits on add latency for every value, which made a
// 1280 x 7 x 7 average pool 4x slower than reading it.
template <class T>
double sum_in_double(const T* v, int64_t n) {
  double part[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) part[k] += static_cast<double>(v[i + k]);
  for (; i < n; ++i) part[0] += static_cast<double>(v[i]);
  return ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
}

}  // namespace

void global_pool_fast(PoolKind kind, float pw, const Tensor& x, Tensor& y) {
  const int64_t planes = x.rank() >= 2 ? x.dim(0) * x.dim(1) : 0;
  const int64_t plane = planes ? x.numel() / planes : 0;
  visit_dtype(x.dtype(), TypeList<float, double, int8_t, uint8_t>{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    parallel_for(0, planes, std::max<int64_t>(1, kPlaneGrainElems / std::max<int64_t>(1, plane)), [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c) {
        const T* v = xp + c * plane;
        if (kind == PoolKind::kMax) {
          T m = v[0];
          for (int64_t i = 1; i < plane; ++i) m = MaxOp{}(m, v[i]);
          yp[c] = m;
        } else if constexpr (std::is_floating_point_v<T>) {
          double s = 0;
          if (kind == PoolKind::kAverage) {
            yp[c] = static_cast<T>(sum_in_double(v, plane) / static_cast<double>(plane));
          } else {
            for (int64_t i = 0; i < plane; ++i) s += lp_power(static_cast<double>(v[i]), pw);
            yp[c] = static_cast<T>(lp_root(s, pw));
          }
        }
      }
    });
  });
}

void register_pool_ops(std::vector<OpSchema>& t) {
  t.push_back({"", "MaxPool", 1, kMaxOpset, [](const NodeDesc& n) { return make_pool(n, PoolKind::kMax); }});
  t.push_back({"", "AveragePool", 1, kMaxOpset, [](const NodeDesc& n) { return make_pool(n, PoolKind::kAverage); }});
  t.push_back({"", "LpPool", 1, kMaxOpset, [](const NodeDesc& n) { return make_pool(n, PoolKind::kLp); }});
  t.push_back({"", "GlobalMaxPool", 1, kMaxOpset, [](const NodeDesc& n) { return make_global_pool(n, PoolKind::kMax); }});
  t.push_back({"", "GlobalAveragePool", 1, kMaxOpset,
               [](const NodeDesc& n) { return make_global_pool(n, PoolKind::kAverage); }});
  t.push_back({"", "GlobalLpPool", 1, kMaxOpset, [](const NodeDesc& n) { return make_global_pool(n, PoolKind::kLp); }});
}

}  // namespace cvt
