// Conv followed by MaxPool as one node (graph/passes/fuse_maxpool.cpp): the stems
// of ResNet, GoogLeNet and SqueezeNet. The conv computes a band of rows at a time
// into a per-thread scratch that stays in L2, the pool reads it there, and only
// the pooled output (a quarter of the conv's) is written out; unfused, the stem's
// 3 MB output went to memory and came back for the pool. Separate processes
// alternated, stem + pool, paired medians fused / unfused: 1 thread ResNet-50 0.89,
// ResNet-18 0.92-0.96, SqueezeNet 0.86-0.92, GoogLeNet 0.95-0.98; 2 threads
// 0.89-1.06 (a tie).
// RGB stems (<= 4 input channels) take pixel-major bands instead (conv_shallow_rows:
// channels in lanes, no 70-row tiles for 64 channels nor 128 lanes for 111 pixels),
// pooled and transposed to NCHW 16 x 16 at a time. Against the direct-taps bands,
// the fused node's paired medians: SqueezeNet 0.65 (1 thread) / 0.73 (2),
// ResNet-18 0.86 / 0.89, GoogLeNet 0.92 / 0.98. They take any depth, so AlexNet's
// 11x11 stride-4 stem (363 taps) fuses too: 0.81 / 0.86 of its unfused im2col
// conv and pool.
#include <algorithm>
#include <cstring>

#include "core/int_math.h"
#include "core/parallel.h"
#include "ops/conv.h"
#include "ops/pool.h"

namespace cvt {

namespace {

// Whether every window of the axis holds at least one input position (the row
// kernel's precondition; windows only over padding take the generic pool).
bool windows_hold_input(const PoolAxis& a) {
  const int64_t extent = (a.kernel - 1) * a.dilation + 1;
  return a.out >= 1 && extent - a.pad_begin > 0 && a.start(a.out - 1) < a.in;
}

// The H axis of pooled rows [p0, p1) over the conv rows its windows read, [c0, c1).
PoolAxis band_axis(const PoolAxis& a, int64_t p0, int64_t p1, int64_t& c0, int64_t& c1) {
  const int64_t first = a.start(p0), end = a.start(p1 - 1) + a.kernel;
  c0 = std::max<int64_t>(0, first);
  c1 = std::min(a.in, end);
  PoolAxis b = a;
  b.in = c1 - c0;
  b.out = p1 - p0;
  b.pad_begin = c0 - first;
  b.pad_end = end - c1;
  return b;
}

// Conv rows of ~384 KB a band, so a band and the input it reads stay in L2:
// pooled rows a band, for conv rows of row_bytes.
int64_t band_pooled_rows(const PoolAxis& ah, int64_t row_bytes) {
  constexpr int64_t kBandBytes = int64_t(384) << 10;
  const int64_t max_rows = std::max(ah.kernel, kBandBytes / row_bytes);
  return (max_rows - ah.kernel) / ah.stride + 1;
}

// Pooled rows [0, batch * ah.out) in tasks, each a band of up to `band` pooled rows
// at a time over a per-thread scratch of `scratch_floats`. Conv rows the last band
// computed too (a 3x3 stride-2 pool shares one) are kept, not computed again:
// carry(scratch, drop, keep) moves `keep` rows from row `drop` to the front, then
// conv(scratch, n, from, c1, c0) computes conv rows [from, c1) of image n (the band
// starts at c0) and pool(scratch, n, bh, p0, p1) pools them into rows [p0, p1).
template <class Carry, class Conv, class Pool>
void for_each_band(const PoolAxis& ah, int64_t batch, int64_t band, int64_t scratch_floats, Carry carry, Conv conv,
                   Pool pool) {
  // Each task computes again the conv rows its first band shares with the task
  // before it (one a boundary for a 3x3 stride-2 pool): AlexNet's 27 pooled rows
  // as 9 tasks of 3 computed 63 conv rows for 55. So one task on one thread (the
  // carry then runs through), else 2 a thread, enough for the team to even out.
  const int64_t rows = batch * ah.out, threads = current_concurrency();
  const int64_t grain = threads <= 1 ? rows : std::max<int64_t>(1, ceil_div(rows, 2 * threads));
  parallel_for(0, rows, grain, [&](int64_t lo, int64_t hi) {
    float* scratch = gemm_scratch(2, static_cast<size_t>(scratch_floats));
    int64_t have_n = -1, have0 = 0, have1 = 0;  // conv rows [have0, have1) of image have_n in scratch
    for (int64_t r = lo; r < hi;) {
      const int64_t n = r / ah.out, p0 = r % ah.out, p1 = std::min({ah.out, p0 + band, p0 + (hi - r)});
      int64_t c0 = 0, c1 = 0;
      const PoolAxis bh = band_axis(ah, p0, p1, c0, c1);
      int64_t from = c0;
      if (have_n == n && c0 >= have0 && c0 < have1) {
        if (c0 > have0) carry(scratch, c0 - have0, have1 - c0);
        from = have1;
      }
      if (from < c1) conv(scratch, n, from, c1, c0);
      pool(scratch, n, bh, p0, p1);
      have_n = n, have0 = c0, have1 = c1;
      r += p1 - p0;
    }
  });
}

}  // namespace

bool conv_maxpool_fusable(const Shape& w, int64_t group, const PoolParams& pool) {
  if (w.size() != 4 || group != 1 || pool.kind != PoolKind::kMax || pool.kernel.size() != 2) return false;
  // One K block for the direct-taps bands; the shallow ones take any depth (AlexNet's 11x11 stem).
  if (w[0] > kDirectTapsMaxRows) return false;
  if (w[1] * w[2] * w[3] > gemm_kernels(Isa::kAvx512).kc && !shallow_weights_shape(w, group)) return false;
  PoolAxis ah, aw;  // the row kernel's conditions on kernel, stride and dilation
  ah.kernel = pool.kernel[0], ah.stride = pool.strides[0], ah.dilation = pool.dilations[0];
  aw.kernel = pool.kernel[1], aw.stride = pool.strides[1], aw.dilation = pool.dilations[1];
  return maxpool2d_rows_supported(ah, aw);
}

bool conv_maxpool_banded_supported(const ConvParams& p, const PoolGeometry& g, const GemmKernelSet& ks) {
  const PoolAxis &ah = g.axes[1], &aw = g.axes[2];
  return ks.isa >= Isa::kAvx512 && p.group == 1 && direct_taps_possible(p, ks) && g.axes[0].identity() &&
         maxpool2d_rows_supported(ah, aw) && windows_hold_input(ah) && windows_hold_input(aw);
}

void conv_maxpool_banded(const ConvParams& p, const GemmKernelSet& ks, const std::vector<PackedA>& w, const float* x,
                         const float* bias, const PoolGeometry& g, float* y) {
  const DirectTaps taps(p, ks, x);
  const PoolAxis &ah = g.axes[1], &aw = g.axes[2];
  const int64_t channels = p.out_channels, conv_w = p.out[2], out_plane = ah.out * aw.out;
  const int64_t band = band_pooled_rows(ah, channels * conv_w * static_cast<int64_t>(sizeof(float)));
  const int64_t pitch = ((band - 1) * ah.stride + ah.kernel) * conv_w;  // a band's channel plane
  for_each_band(
      ah, p.batch, band, channels * pitch,
      [&](float* scratch, int64_t drop, int64_t keep) {
        for (int64_t c = 0; c < channels; ++c)
          std::memmove(scratch + c * pitch, scratch + c * pitch + drop * conv_w,
                       sizeof(float) * static_cast<size_t>(keep * conv_w));
      },
      [&](float* scratch, int64_t n, int64_t from, int64_t c1, int64_t c0) {
        taps.rows(w, bias, n, 0, from, c1, scratch + (from - c0) * conv_w, pitch, nullptr);
      },
      [&](float* scratch, int64_t n, const PoolAxis& bh, int64_t p0, int64_t) {
        for (int64_t c = 0; c < channels; ++c)
          maxpool2d_rows_f32__avx512(bh, aw, scratch + c * pitch, y + (n * channels + c) * out_plane + p0 * aw.out);
      });
}

bool conv_maxpool_shallow_supported(const ConvParams& p, const PoolGeometry& g, Isa isa) {
  const PoolAxis &ah = g.axes[1], &aw = g.axes[2];
  return shallow_conv_possible(p, isa) && g.axes[0].identity() && maxpool2d_rows_supported(ah, aw) &&
         windows_hold_input(ah) && windows_hold_input(aw);
}

void conv_maxpool_shallow(const ConvParams& p, const float* packed_w, const float* x, const float* bias,
                          const PoolGeometry& g, float* y) {
  const ShallowConv conv(p, packed_w, bias, x);
  const PoolAxis &ah = g.axes[1], &aw = g.axes[2];
  const int64_t channels = p.out_channels, out_plane = ah.out * aw.out, pixel_row = conv.pixel_row();
  const int64_t band = band_pooled_rows(ah, pixel_row * static_cast<int64_t>(sizeof(float)));
  for_each_band(
      ah, p.batch, band, ((band - 1) * ah.stride + ah.kernel) * pixel_row,
      [&](float* scratch, int64_t drop, int64_t keep) {
        std::memmove(scratch, scratch + drop * pixel_row, sizeof(float) * static_cast<size_t>(keep * pixel_row));
      },
      [&](float* scratch, int64_t n, int64_t from, int64_t c1, int64_t c0) {
        conv.rows(n, from, c1, scratch + (from - c0) * pixel_row);
      },
      [&](float* scratch, int64_t n, const PoolAxis& bh, int64_t p0, int64_t p1) {
        for (int64_t q = 0; q < p1 - p0; ++q)
          maxpool2d_pixel_major_row_f32__avx512(bh, aw, q, conv.vectors(), scratch, channels,
                                                y + n * channels * out_plane + (p0 + q) * aw.out, out_plane);
      });
}

}  // namespace cvt
