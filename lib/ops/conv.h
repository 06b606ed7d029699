// Conv / ConvTranspose: attribute parsing, shape rules (auto_pad, output_shape)
// and the entry points of the reference and fast paths. Spatial dims (1-3) are
// right-aligned into (D, H, W) so one code path serves Conv1d/2d/3d.
#pragma once
#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "ops/gemm.h"
#include "ops/kernel.h"

namespace cvt {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

/// Attributes as written on the node, validated but not yet tied to an input shape.
struct ConvAttrs {
  AutoPad auto_pad = AutoPad::kNotSet;
  std::vector<int64_t> kernel_shape, strides, dilations, pads;  // empty = default
  std::vector<int64_t> output_padding, output_shape;            // ConvTranspose only
  int64_t group = 1;
};

/// Fully resolved geometry of one convolution. Index 0..2 = D, H, W; unused
/// leading spatial dims have size 1, stride 1 and no padding.
struct ConvParams {
  int spatial_rank = 2;            // 1, 2 or 3 as in the model
  int64_t batch = 1;               // N
  int64_t in_channels = 0;         // C
  int64_t out_channels = 0;        // K (Conv) / M (ConvTranspose)
  int64_t group = 1;
  std::array<int64_t, 3> in{1, 1, 1}, out{1, 1, 1}, kernel{1, 1, 1};
  std::array<int64_t, 3> stride{1, 1, 1}, dilation{1, 1, 1};
  std::array<int64_t, 3> pad_begin{0, 0, 0}, pad_end{0, 0, 0};
  /// Fused activation applied to every output (after bias). A graph pass may
  /// set it when a Relu / LeakyRelu / Clip follows the conv.
  Epilogue activation;

  int64_t in_pixels() const { return in[0] * in[1] * in[2]; }
  int64_t out_pixels() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_size() const { return kernel[0] * kernel[1] * kernel[2]; }
  Shape output_shape() const;  // (N, K, spatial...) with the model's spatial rank
  bool is_depthwise() const { return group == in_channels && group == out_channels; }
  /// 1x1, stride 1, no padding: the NCHW input already is the GEMM's (C, pixels) operand.
  bool is_pointwise() const {
    for (int i = 0; i < 3; ++i)
      if (kernel[i] != 1 || stride[i] != 1 || pad_begin[i] != 0 || pad_end[i] != 0) return false;
    return true;
  }
};

/// Reads and validates auto_pad, kernel_shape, strides, dilations, pads, group
/// (and output_padding / output_shape when `transpose`).
Result<ConvAttrs> parse_conv_attrs(const NodeDesc& node, bool transpose);
/// Conv: x (N, C, spatial), w (K, C/group, kernel). Checks ranks, channel/group
/// agreement and that the dilated kernel fits in the padded input.
Result<ConvParams> resolve_conv(const ConvAttrs& attrs, const Shape& x, const Shape& w);
/// ConvTranspose: x (N, C, spatial), w (C, M/group, kernel).
Result<ConvParams> resolve_conv_transpose(const ConvAttrs& attrs, const Shape& x, const Shape& w);
/// Checks W's rank / divisibility before any input shape is known (kernel creation).
Status check_conv_weight(const ConvAttrs& attrs, const Shape& w, bool transpose);

/// The epilogue over finished outputs, for paths that cannot fuse it.
void apply_epilogue_inplace(const Epilogue& e, Isa isa, float* y, int64_t n);

/// Pixel-major conv (conv_pixel_major.cpp): the transposed GEMM Y^T = X^T W^T,
/// output pixels as tile rows and output channels as the vector columns, for
/// output planes that fill the NCHW GEMM's column tiles badly (7x7).
bool prefer_pixel_major(const ConvParams& p, const GemmKernelSet& ks);
/// W^T (K x M) in B panels, from W (M x K, row-major) or from W packed as A.
PackedB pack_conv_weights_pixel_major(const GemmKernelSet& ks, const float* w, int64_t m, int64_t k);
PackedB pack_conv_weights_pixel_major(const GemmKernelSet& ks, const PackedA& w);
/// And back: W packed as A (the NCHW GEMM's form) from W^T's panels.
PackedA pack_conv_weights_nchw(const GemmKernelSet& ks, const PackedB& wt);
/// y = act(conv(x, w) + bias [+ residual]) with group 1 and `wt` from above.
void conv_gemm_pixel_major(const ConvParams& p, const GemmKernelSet& ks, const PackedB& wt, const float* x,
                           const float* bias, float* y, const float* residual);
/// The pixel-major GEMM's output (rows ldc apart) into NCHW channels [c0, c1):
/// y[c][i] = act(yt[i - i0][c] + bias[c] (+ residual[c][i])) for the pixels
/// [i0, i1) that yt holds. y and residual are planes of `pixels`; y may be the
/// residual's buffer. bias and residual may be null.
struct PixelMajorOut {
  const float* yt;
  int64_t ldc, pixels;
  int64_t i0, i1;
  const float* bias;
  const float* residual;
  float* y;
};
void pixel_major_to_nchw_f32__scalar(const PixelMajorOut& o, int64_t c0, int64_t c1, const Epilogue& e) noexcept;
void pixel_major_to_nchw_f32__avx2(const PixelMajorOut& o, int64_t c0, int64_t c1, const Epilogue& e) noexcept;

/// Reference paths (conv_ref.cpp, conv_transpose.cpp): plain loops, double
/// accumulation, no SIMD, no threads. `bias` may be null.
/// `residual` (null or shaped like y) is added before the activation.
void conv_ref(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
              const float* residual = nullptr);
void conv_transpose_ref(const ConvParams& p, const float* x, const float* w, const float* bias, float* y);

/// Builds a Conv kernel for `node` with `activation` fused into its output.
/// create_kernel() uses Epilogue::none(); a fusion pass may pass relu/clip.
Result<std::unique_ptr<Kernel>> make_conv_kernel(const NodeDesc& node, const Epilogue& activation);
Result<std::unique_ptr<Kernel>> make_conv_transpose_kernel(const NodeDesc& node);

/// Internal attributes set by graph/passes/fuse_activation.cpp on a Conv node:
/// `cvtool_activation` (string "Relu", "LeakyRelu" or "Clip") and
/// `cvtool_activation_params` (floats: {} / {alpha} / {min, max}). The Conv
/// factory turns them into the fused Epilogue; they never come from a model file
/// in practice, and malformed values are rejected.
inline constexpr const char* kFusedActivationAttr = "cvtool_activation";
inline constexpr const char* kFusedActivationParamsAttr = "cvtool_activation_params";
Result<Epilogue> fused_activation_from_attrs(const NodeDesc& node);
/// Set (int 1) by graph/passes/fuse_residual.cpp: input 3 is a residual R and
/// the Conv computes act(conv(X, W) + B + R). When R's shape differs from the
/// conv output the kernel computes the unfused Add (numpy broadcasting) instead.
inline constexpr const char* kResidualAttr = "cvtool_residual";

/// A 2-D conv input plane, zero padded and split into stride_h x stride_w
/// sub-planes by row and column phase: padded pixel (yy, pc) goes to sub-plane
/// (yy % sh, pc % sw), row yy / sh, column pc / sw. A tap then reads consecutive
/// values for consecutive outputs of a row, and consecutive output rows are
/// consecutive sub-plane rows, phase_w values apart: a whole plane of outputs is
/// one run of out_h * phase_w values (the phase_w - out_w past each row's end
/// are computed and dropped). Used by the float and int8 depthwise kernels and
/// the int8 im2col; the copies (fills) are per dtype.
struct PhaseLayout {
  int64_t sh = 1, sw = 1, ph = 0, in_h = 0, in_w = 0;
  int64_t phase_w = 0, sub = 0;  // values per sub-plane row; values per sub-plane
  int64_t n_in = 0;              // input columns inside the padded width
  int64_t yy_lo = 0, yy_hi = 0;  // padded rows holding input rows
  // Per column phase: the first input column landing there and its place in a
  // sub-plane row; the same for every row, so the divisions stay out of the copy loops.
  std::vector<int64_t> phase_ix0, phase_dst0;
  // row_start() of the padded rows holding input rows, [yy_lo, yy_hi): made once,
  // since its 64-bit divisions cost more than copying a 7-wide row.
  std::vector<int64_t> input_row_start;
  int64_t plane_len() const { return sh * sw * sub; }
  /// Where the tap at padded offset (row, col) from output (0, 0) reads.
  int64_t tap(int64_t row, int64_t col) const {
    return ((row % sh) * sw + col % sw) * sub + (row / sh) * phase_w + col / sw;
  }
  /// tap() of every tap of an r x s kernel with dilations (dh, dw), row-major.
  std::vector<int64_t> tap_offsets(int64_t r, int64_t s, int64_t dh, int64_t dw) const {
    std::vector<int64_t> off;
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < s; ++j) off.push_back(tap(i * dh, j * dw));
    return off;
  }
  /// Start of padded row yy (column phase 0) in the plane.
  int64_t row_start(int64_t yy) const { return (yy % sh) * sw * sub + (yy / sh) * phase_w; }
};
PhaseLayout phase_layout(const ConvParams& p);
/// phase_layout(p).plane_len(), without building the layout.
int64_t phase_plane_len(const ConvParams& p);
/// Writes one float input plane into its phase-split copy `dst`; the padding
/// positions are left as they are (the caller fills them once: 0 for a conv,
/// -inf for a max pool), since every plane writes the same places.
void fill_phase_plane_f32(const PhaseLayout& L, Isa isa, const float* src, float* dst);

/// im2col of one image and group (`x` at its first channel) into packed B panels
/// of `nr` columns: depth rows [k0, k0 + kc), output pixels [n0, n0 + nc).
void im2col_pack(const ConvParams& p, const float* x, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr,
                 float* dst);
/// The same rows read from phase-split padded planes (PhaseLayout), 2-D only:
/// row (c, tap) is channel c's plane shifted by the tap's offset and output
/// (oh, ow) sits at oh * phase_w + ow in it, so every piece of a panel is a plain
/// copy; no padding tests, and strides were folded in when the planes were made.
struct PhaseIm2col {
  const ConvParams* p;
  const PhaseLayout* layout;
  const float* planes;        // channel c of the group at planes + c * plane_stride
  int64_t plane_stride;
  const int64_t* tap_offset;  // per (kh, kw), row-major
};
void phase_im2col_pack(const PhaseIm2col& s, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* dst);
/// A panel of `count` output pixels from (oh, ow) on, cut where output rows end:
/// piece(src, t, len) for each piece, lanes [t, t + len) reading a phase plane from
/// src = oh * phase_w + ow on. Leaves (oh, ow) past the panel.
template <class Piece>
inline void for_each_panel_piece(int64_t& oh, int64_t& ow, int64_t ow_n, int64_t phase_w, int64_t count, Piece piece) {
  for (int64_t t = 0; t < count;) {
    const int64_t len = std::min(ow_n - ow, count - t);
    piece(oh * phase_w + ow, t, len);
    t += len, ow += len;
    if (ow == ow_n) ow = 0, ++oh;
  }
}
/// The same for the AVX-512 kernel's 32-column panels: each panel row is its
/// pieces (runs within output rows) loaded under lane masks, two vectors a row.
void phase_im2col_pack32_f32__avx512(const PhaseIm2col& s, int64_t k0, int64_t kc, int64_t n0, int64_t nc,
                                     float* dst) noexcept;

/// The im2col packers of one conv call (not 1x1 stride 1), one per (image,
/// group) t = image * group + g. 2-D kernels read phase-split padded copies of
/// the input planes (made here, on the calling thread's scratch slot 5) when
/// they fit in 4 MB; otherwise the packers read the planes, testing bounds.
class Im2colPackers {
 public:
  Im2colPackers(const ConvParams& p, Isa isa, const float* x);
  Im2colPackers(const Im2colPackers&) = delete;  // the packers point into this object
  Im2colPackers& operator=(const Im2colPackers&) = delete;
  const PackBFn& operator[](int64_t t) const { return packers_[static_cast<size_t>(t)]; }

 private:
  std::optional<PhaseLayout> layout_;
  std::vector<int64_t> tap_offset_;
  std::vector<PhaseIm2col> phase_src_;
  std::vector<PackBFn> packers_;
};

/// Per-group packed weights for the NCHW GEMM: group g is rows [g*K/G, (g+1)*K/G)
/// of W as (K, C/G*R*S).
std::vector<PackedA> pack_conv_weights(const GemmKernelSet& ks, const Shape& w_shape, int64_t group, const float* w);
/// y = act(conv(x, w) + bias [+ residual]) as one GEMM per (image, group): the
/// NCHW input itself as B for 1x1 stride 1, else im2col packed into B panels.
/// `w` is pack_conv_weights()'s.
void conv_gemm(const ConvParams& p, const GemmKernelSet& ks, const std::vector<PackedA>& w, const float* x,
               const float* bias, float* y, const float* residual);
/// Whether conv_direct_taps() can run this conv: 2-D, not 1x1 stride 1, one K
/// block of taps, at most 64 output channels a group, input copies that fit, and a
/// kernel set that reads B indirectly.
bool direct_taps_possible(const ConvParams& p, const GemmKernelSet& ks);
inline constexpr int64_t kDirectTapsMaxRows = 64;
/// Whether it runs it by choice: possible, and not a shallow strided conv.
bool use_direct_taps(const ConvParams& p, const GemmKernelSet& ks);
/// The im2col GEMM without packing B: the micro-kernel reads each tap's row of
/// 32 output pixels straight from the phase-split input copies (an offset per
/// k). The same products as conv_gemm(), bit for bit, without writing K values
/// per output (the stems: 27-147 taps for 16-64 output channels). `w` is
/// pack_conv_weights()'s, per group.
void conv_direct_taps(const ConvParams& p, const GemmKernelSet& ks, const std::vector<PackedA>& w, const float* x,
                      const float* bias, float* y, const float* residual);
/// conv_direct_taps() a band of rows at a time: the phase copies of the input
/// and the tap offsets are made once, then rows() computes any band of output
/// rows, into planes `plane` floats apart (a band's own scratch, or the output).
class DirectTaps {
 public:
  DirectTaps(const ConvParams& p, const GemmKernelSet& ks, const float* x);
  /// Rows [oh0, oh1) of image n, group g, every output channel of the group: row
  /// oh of the group's channel c at y + c * plane + (oh - oh0) * out_w; the
  /// residual (or null) laid out the same.
  void rows(const std::vector<PackedA>& w, const float* bias, int64_t n, int64_t g, int64_t oh0, int64_t oh1,
            float* y, int64_t plane, const float* residual) const;

 private:
  ConvParams p_;
  const GemmKernelSet& ks_;
  PhaseLayout layout_;
  const float* xp_ = nullptr;
  std::vector<int64_t> offsets_;
};

/// A Conv carrying the MaxPool after it (graph/passes/fuse_maxpool.cpp):
/// `cvtool_maxpool` (int 1) and the pool's attributes, each named
/// `cvtool_maxpool.<name>`. The node's output is the pooled one.
inline constexpr const char* kFusedMaxPoolAttr = "cvtool_maxpool";
struct PoolGeometry;
struct PoolParams;
/// Whether the pass fuses a Conv with weights `w` (constant) and `group` and the
/// MaxPool `pool` after it: what conv_maxpool_banded_supported() can tell before
/// the input shape is known, on AVX-512. Elsewhere the fused node computes the
/// conv into a scratch and pools it.
bool conv_maxpool_fusable(const Shape& w, int64_t group, const PoolParams& pool);
/// Whether conv_maxpool_banded() runs conv p pooled by g: AVX-512, one group,
/// direct taps possible, and an undilated 2-D pool the row kernel takes.
bool conv_maxpool_banded_supported(const ConvParams& p, const PoolGeometry& g, const GemmKernelSet& ks);
/// y = maxpool(act(conv(x, w) + bias)) with the conv's rows computed a band at a
/// time into a per-thread scratch (in L2) and pooled there; bit for bit the
/// unfused direct-taps conv and the pool. `w` is pack_conv_weights()'s.
void conv_maxpool_banded(const ConvParams& p, const GemmKernelSet& ks, const std::vector<PackedA>& w, const float* x,
                         const float* bias, const PoolGeometry& g, float* y);

/// Shallow-input convs (RGB stems: at most 4 input channels, up to 64 outputs)
/// computed pixel by pixel (conv_shallow.cpp): an output pixel's channels in
/// lanes, 16 a vector, input values broadcast. The input is a zero-padded copy (or
/// the input itself where no tap leaves it), so every tap reads inside it. Only
/// the fused stem + MaxPool takes them (conv_maxpool_shallow): unfused, the
/// transpose to NCHW cost more than they saved (MobileNetV2's stem 1.09x im2col).
inline constexpr int64_t kShallowMaxInChannels = 4;
struct ShallowConvRows {
  const float* x;             // one image's padded planes
  int64_t plane, pitch;       // floats a padded plane, a padded row
  int64_t in_channels, kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
  const float* w;             // pack_shallow_weights(): row k = (c, kh, kw) of 16 * vectors values
  const float* bias;          // 16 * vectors values, zero past the channels
  int vectors;                // channel vectors a pixel, 1-4
  int64_t out_w;
  Epilogue act;
};
/// Conv rows [oh0, oh1) as pixel-major rows: out[((oh - oh0) * out_w + ow) * 16 * vectors + c].
void conv_shallow_rows_f32__avx512(const ShallowConvRows& s, int64_t oh0, int64_t oh1, float* out) noexcept;
/// Whether W (O, C, kh, kw) with `group` has the shallow form: one group, at most
/// 4 input channels and 64 outputs.
bool shallow_weights_shape(const Shape& w, int64_t group);
/// W as the shallow kernel reads it: [C * kh * kw][outputs rounded up to 16], zeros past O.
std::vector<float> pack_shallow_weights(const float* w, const Shape& shape);
/// Whether conv p runs pixel by pixel here: AVX-512, 2-D, shallow weights, the padded copy fits.
bool shallow_conv_possible(const ConvParams& p, Isa isa);
/// The padded input copy and the kernel's parameters, made once a run; rows()
/// then computes any band of output rows of any image, pixel-major.
class ShallowConv {
 public:
  ShallowConv(const ConvParams& p, const float* packed_w, const float* bias, const float* x);
  int vectors() const { return rows_.vectors; }
  int64_t pixel_row() const { return rows_.out_w * 16 * rows_.vectors; }  // floats an output row
  void rows(int64_t n, int64_t oh0, int64_t oh1, float* out) const;

 private:
  ShallowConvRows rows_{};
  std::vector<float> bias_;
  const float* x_ = nullptr;
  int64_t image_ = 0;  // floats an image of the padded input
};
/// Whether conv_maxpool_shallow() runs conv p pooled by g: the shallow conv
/// possible and an undilated 2-D pool whose windows all hold input.
bool conv_maxpool_shallow_supported(const ConvParams& p, const PoolGeometry& g, Isa isa);
/// y = maxpool(act(conv(x, w) + bias)) as conv_maxpool_banded(), the bands pixel
/// major (ShallowConv), pooled and transposed 16 x 16 at a time.
void conv_maxpool_shallow(const ConvParams& p, const float* packed_w, const float* x, const float* bias,
                          const PoolGeometry& g, float* y);

/// Copies n values with fixed-size (inlined) moves, the last one overlapping, for
/// the rows of 7x7 and 14x14 planes, where a memcpy call costs more than the copy.
template <class T>
inline void copy_short(const T* src, int64_t n, T* dst) {
  if (n > 64) {
    std::memcpy(dst, src, sizeof(T) * n);
  } else if (n >= 8) {
    for (int64_t i = 0; i + 8 < n; i += 8) std::memcpy(dst + i, src + i, 8 * sizeof(T));
    std::memcpy(dst + n - 8, src + n - 8, 8 * sizeof(T));
  } else if (n >= 4) {
    std::memcpy(dst, src, 4 * sizeof(T));
    std::memcpy(dst + n - 4, src + n - 4, 4 * sizeof(T));
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

/// One depthwise plane as a single run over its phase-split padded input:
/// y[i] = act(bias + sum_t w[t] * x[offset[t] + i]), i < n. The caller keeps the
/// outputs it needs (PhaseLayout).
/// x (at every offset) and y hold kDepthwiseSlack values past n: the AVX2 kernel
/// computes its tail 8 wide.
constexpr int64_t kDepthwiseSlack = 8;
struct DepthwisePlane {
  const float* x;
  const int64_t* offset;  // per tap
  const float* w;
  int64_t taps;
  float bias;
  float* y;
  int64_t n;
};
/// even[i] = src[2i], odd[i] = src[2i + 1], i < pairs (stride-2 column phases).
void deinterleave2_f32__scalar(const float* src, int64_t pairs, float* even, float* odd) noexcept;
void deinterleave2_f32__avx2(const float* src, int64_t pairs, float* even, float* odd) noexcept;
void conv_dw_f32_plane__scalar(const DepthwisePlane& d, const Epilogue& e) noexcept;
void conv_dw_f32_plane__avx2(const DepthwisePlane& d, const Epilogue& e) noexcept;
void conv_dw_f32_plane__avx512(const DepthwisePlane& d, const Epilogue& e) noexcept;  // needs no slack
/// A 3x3 stride-1 depthwise plane (h x wd) with 1 pixel of zero padding on every side,
/// read and written in place (no phase copy): y = e(conv + bias (+ residual)).
void conv_dw3x3s1_f32_plane__avx512(const float* x, const float* w, float bias, int64_t h, int64_t wd,
                                    const float* residual, float* y, const Epilogue& e) noexcept;
/// A 3x3 stride-2 depthwise plane, straight from NCHW: taps outside the input read 0.
struct DwPlaneGeometry {
  int64_t in_h, in_w, out_h, out_w, pad_top, pad_left;
};
void conv_dw3x3s2_f32_plane__avx512(const DwPlaneGeometry& g, const float* x, const float* w, float bias,
                                    const float* residual, float* y, const Epilogue& e) noexcept;

}  // namespace cvt
