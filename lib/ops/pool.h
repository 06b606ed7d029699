// Pooling op family (MaxPool, AveragePool, LpPool and their Global forms):
// parameters and the window geometry shared by the fast path (pool.cpp) and the
// oracle (pool_ref.cpp). 1D/2D/3D inputs are all handled as 3D with identity axes.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace cvt {

enum class PoolKind { kMax, kAverage, kLp };

struct PoolParams {
  PoolKind kind = PoolKind::kMax;
  std::vector<int64_t> kernel;     // one per spatial axis
  std::vector<int64_t> strides;    // default 1
  std::vector<int64_t> dilations;  // default 1
  std::vector<int64_t> pads;       // begins then ends; ignored unless auto_pad is NOTSET
  std::string auto_pad = "NOTSET";
  bool ceil_mode = false;
  bool count_include_pad = false;  // AveragePool
  bool column_major_indices = false;  // MaxPool storage_order=1
  float p = 2.0f;                  // LpPool
};

/// One spatial axis. Window o covers input positions start(o) + j*dilation, j < kernel.
struct PoolAxis {
  int64_t in = 1, out = 1, kernel = 1, stride = 1, dilation = 1, pad_begin = 0, pad_end = 0;
  int64_t start(int64_t o) const { return o * stride - pad_begin; }
  bool identity() const { return kernel == 1 && stride == 1 && pad_begin == 0 && pad_end == 0 && in == out; }
};

struct PoolGeometry {
  int64_t batch = 0, channels = 0;
  int spatial_rank = 0;
  std::array<PoolAxis, 3> axes;  // D, H, W; unused leading axes stay identity
  Shape out_shape;
  int64_t in_plane() const { return axes[0].in * axes[1].in * axes[2].in; }
  int64_t out_plane() const { return axes[0].out * axes[1].out * axes[2].out; }
};

struct NodeDesc;
/// kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, ... of a MaxPool /
/// AveragePool / LpPool node, validated (the factories' parser, for the autograd tape).
Result<PoolParams> parse_pool_attrs(const NodeDesc& node, PoolKind kind);
/// Checks attribute values once, at load time (kernel size, strides, pads, auto_pad).
Status validate_pool_params(const PoolParams& p);
/// Output size and effective pads for input shape x (N, C, spatial...):
/// explicit pads: floor/ceil((in + pads - dilated_kernel) / stride) + 1, and with ceil_mode
/// a last window that would start past the input and the left pad is dropped;
/// SAME_*: ceil(in / stride) with the pad split (extra pad at the end for SAME_UPPER);
/// VALID: no pads, floor.
Result<PoolGeometry> pool_geometry(const PoolParams& p, const Shape& x);

/// y (N, C, out...) from x (N, C, in...). `indices` (int64, same shape as y) is only for
/// MaxPool: flat positions in x, row-major or column-major per plane. A window that
/// holds only padding (possible with dilation) gives -inf (lowest) and index -1.
/// Returns the path taken: "flat__avx512" / "stride2__avx512" / "rows__avx512" / "phase__avx2" (2-D float
/// MaxPool), "separable"
/// or "direct".
const char* pool_fast(const PoolParams& p, const PoolGeometry& g, const Tensor& x, Tensor& y, Tensor* indices);

/// Max over taps of a phase-split plane padded with -inf (PhaseLayout in
/// ops/conv.h): y[i] = max_t x[offset[t] + i], i < n; a NaN among the taps wins.
void maxpool_run_f32__avx2(const float* x, const int64_t* offset, int64_t taps, int64_t n, float* y) noexcept;
/// One plane of a 2-D float MaxPool (H axis ah, W axis aw: undilated, W stride 1
/// with kernel <= 16 or stride 2 with kernel <= 32, every window holding an input
/// value), an output row at a time: window rows' max, then the taps along W.
bool maxpool2d_rows_supported(const PoolAxis& ah, const PoolAxis& aw);
void maxpool2d_rows_f32__avx512(const PoolAxis& ah, const PoolAxis& aw, const float* x, float* y) noexcept;
/// One pooled row from pixel-major rows (`vectors` x 16 channels a pixel, aw.in
/// pixels a row, ah.in rows; every window holds an input value): window o of ah,
/// all of aw's, channels [0, channels) written as rows y + c * plane. A NaN among
/// the taps wins.
void maxpool2d_pixel_major_row_f32__avx512(const PoolAxis& ah, const PoolAxis& aw, int64_t o, int vectors,
                                           const float* x, int64_t channels, float* y, int64_t plane) noexcept;
/// Small planes pooled to their own size (stride 1, undilated, windows up to 16x16,
/// at most 1024 values a plane): `planes` consecutive planes as one flat run, 16 outputs
/// a vector whatever the row width, each tap masked where it would leave its row or
/// plane; the W taps' max goes to `scratch` (planes * H * W floats), then the H taps'.
/// The masks (`taps` a vector, repeating every `period` vectors) depend on the geometry only.
struct MaxPoolFlatMasks {
  int64_t period = 0;
  std::vector<uint16_t> col, row;
};
bool maxpool2d_flat_supported(const PoolAxis& ah, const PoolAxis& aw);
MaxPoolFlatMasks maxpool2d_flat_masks(const PoolAxis& ah, const PoolAxis& aw);
void maxpool2d_flat_f32__avx512(const PoolAxis& ah, const PoolAxis& aw, const MaxPoolFlatMasks& m, const float* x,
                                int64_t planes, float* y, float* scratch) noexcept;
/// Stride-2 W axis, rows of up to 16 outputs (undilated, W window up to 32): each
/// output row's window rows are reduced into a scratch row (H pass), then the W taps
/// run flat over many rows at once, 16 outputs a vector whatever the row width, each
/// tap masked where it leaves its row; rows padded to an even pitch are compressed
/// back. `planes` consecutive planes; `scratch` holds maxpool2d_stride2_scratch_floats.
struct MaxPoolStride2Masks {
  int64_t pitch_out = 0, period = 0;  // output columns a row (>= out), vectors a mask period
  std::vector<uint16_t> tap, keep;    // kernel masks a vector; the lanes that are outputs
};
bool maxpool2d_stride2_supported(const PoolAxis& ah, const PoolAxis& aw);
MaxPoolStride2Masks maxpool2d_stride2_masks(const PoolAxis& aw);
size_t maxpool2d_stride2_scratch_floats(const MaxPoolStride2Masks& m);
void maxpool2d_stride2_f32__avx512(const PoolAxis& ah, const PoolAxis& aw, const MaxPoolStride2Masks& m,
                                   const float* x, int64_t planes, float* y, float* scratch) noexcept;
void pool_ref(const PoolParams& p, const PoolGeometry& g, const Tensor& x, Tensor& y, Tensor* indices);
/// Global pools: every spatial position of a plane in one window.
void global_pool_fast(PoolKind kind, float p, const Tensor& x, Tensor& y);
void global_pool_ref(PoolKind kind, float p, const Tensor& x, Tensor& y);

/// |x|^p, specialised where it is exact and cheap; and its inverse root.
template <class T>
inline T lp_power(T x, float p) {
  const T a = x < T(0) ? -x : x;
  if (p == 1.0f) return a;
  if (p == 2.0f) return a * a;
  return static_cast<T>(std::pow(a, static_cast<T>(p)));
}
template <class T>
inline T lp_root(T s, float p) {
  if (p == 1.0f) return s;
  if (p == 2.0f) return std::sqrt(s);
  return static_cast<T>(std::pow(s, T(1) / static_cast<T>(p)));
}

}  // namespace cvt
