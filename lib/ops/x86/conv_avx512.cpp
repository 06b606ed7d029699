// Depthwise conv kernels for AVX-512F. The phase-plane kernel: 16 outputs per
// vector, up to four vectors in flight to cover FMA latency; the last vector is
// masked, so it reads and writes nothing past the run (the AVX2 kernel's 8-wide
// tail uses the slack). And 3x3 stride-1 / stride-2 kernels reading the NCHW plane
// directly, taps masked to the columns that exist. Then the shallow-input (RGB
// stem) rows, pixel-major, and the im2col packer of the GEMM's 32-column panels.
#include <immintrin.h>

#include <algorithm>

// GCC 12's _mm512_max_ps/_mm512_min_ps pass an _mm512_undefined_ps() operand
// that trips a false -Wmaybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "ops/conv.h"
#include "ops/x86/epilogue_avx512.h"

namespace cvt {
namespace {

// Lanes whose column c0 + lane lies in [0, w).
inline __mmask16 columns_inside(int64_t c0, int64_t w) {
  const __m512i c = _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                     _mm512_set1_epi32(static_cast<int>(c0)));
  return _mm512_cmpge_epi32_mask(c, _mm512_setzero_si512()) & _mm512_cmplt_epi32_mask(c, _mm512_set1_epi32(static_cast<int>(w)));
}

// NV vectors of outputs from i on, NV independent FMA chains; the last one covers `mask` lanes.
template <int NV>
inline void dw_vectors(const DepthwisePlane& d, int64_t i, __mmask16 mask, const Epilogue& e) {
  __m512 acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = _mm512_set1_ps(d.bias);
  for (int64_t t = 0; t < d.taps; ++t) {
    const __m512 wv = _mm512_set1_ps(d.w[t]);
    const float* x = d.x + d.offset[t] + i;
    for (int v = 0; v < NV - 1; ++v) acc[v] = _mm512_fmadd_ps(_mm512_loadu_ps(x + 16 * v), wv, acc[v]);
    acc[NV - 1] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, x + 16 * (NV - 1)), wv, acc[NV - 1]);
  }
  for (int v = 0; v < NV - 1; ++v) _mm512_storeu_ps(d.y + i + 16 * v, x86::apply_epilogue512(acc[v], e));
  _mm512_mask_storeu_ps(d.y + i + 16 * (NV - 1), mask, x86::apply_epilogue512(acc[NV - 1], e));
}

}  // namespace

void conv_dw_f32_plane__avx512(const DepthwisePlane& d, const Epilogue& e) noexcept {
  int64_t i = 0;
  for (; i + 64 <= d.n; i += 64) dw_vectors<4>(d, i, 0xFFFF, e);
  // The rest (up to 63 outputs) as independent chains too: one chain of 9 taps
  // per vector would wait on FMA latency.
  const int64_t rest = d.n - i;
  const __mmask16 last = static_cast<__mmask16>((1u << (rest % 16 == 0 ? 16 : rest % 16)) - 1);
  switch ((rest + 15) / 16) {
    case 4: dw_vectors<4>(d, i, last, e); break;
    case 3: dw_vectors<3>(d, i, last, e); break;
    case 2: dw_vectors<2>(d, i, last, e); break;
    case 1: dw_vectors<1>(d, i, last, e); break;
    default: break;
  }
}

// 3x3, stride 1, padding 1 straight from the NCHW plane: each tap is a load masked
// to the lanes whose input column exists (the padding reads as 0), rows outside the
// plane are skipped, so there is no padded copy of the input and no row copy out.
void conv_dw3x3s1_f32_plane__avx512(const float* x, const float* w, float bias, int64_t h, int64_t wd,
                                    const float* residual, float* y, const Epilogue& e) noexcept {
  __m512 wv[9];
  for (int t = 0; t < 9; ++t) wv[t] = _mm512_set1_ps(w[t]);
  for (int64_t ox = 0; ox < wd; ox += 16) {
    // Lanes whose column ox + dx + lane lies in [0, wd), for dx = -1, 0, 1.
    const __mmask16 cols[3] = {columns_inside(ox - 1, wd), columns_inside(ox, wd), columns_inside(ox + 1, wd)};
    const __mmask16 out = cols[1];
    for (int64_t oy = 0; oy < h; ++oy) {
      __m512 acc = _mm512_set1_ps(bias);
      for (int dy = -1; dy <= 1; ++dy) {
        const int64_t row = oy + dy;
        if (row < 0 || row >= h) continue;
        const float* xr = x + row * wd + ox;
        for (int dx = -1; dx <= 1; ++dx)
          acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(cols[dx + 1], xr + dx), wv[(dy + 1) * 3 + dx + 1], acc);
      }
      if (residual) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(out, residual + oy * wd + ox));
      _mm512_mask_storeu_ps(y + oy * wd + ox, out, x86::apply_epilogue512(acc, e));
    }
  }
}

// 3x3, stride 2: 16 outputs need input columns s .. s + 32 (s = 2 ox - pad_left);
// the even and odd lanes of [s, s + 32) are taps 0 and 1, the even lanes of
// [s + 2, s + 34) tap 2, each window two masked loads and one permute. An input
// row's three tap vectors serve two output rows (the last window row of one is
// the first of the next), so they are kept for the next row: 8 loads and 6
// permutes an output vector instead of 12 and 9. The FMAs run in the same order.
void conv_dw3x3s2_f32_plane__avx512(const DwPlaneGeometry& g, const float* x, const float* w, float bias,
                                    const float* residual, float* y, const Epilogue& e) noexcept {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  __m512 wv[9];
  for (int t = 0; t < 9; ++t) wv[t] = _mm512_set1_ps(w[t]);
  struct RowTaps {
    __m512 t0, t1, t2;
    bool inside;
  };
  for (int64_t ox = 0; ox < g.out_w; ox += 16) {
    const int64_t s = 2 * ox - g.pad_left;
    const __mmask16 a0 = columns_inside(s, g.in_w), a1 = columns_inside(s + 16, g.in_w);
    const __mmask16 b0 = columns_inside(s + 2, g.in_w), b1 = columns_inside(s + 18, g.in_w);
    const __mmask16 out = columns_inside(ox, g.out_w);
    const auto taps_of = [&](int64_t row) {
      RowTaps r{};
      r.inside = row >= 0 && row < g.in_h;
      if (!r.inside) return r;
      const float* xr = x + row * g.in_w + s;
      const __m512 lo = _mm512_maskz_loadu_ps(a0, xr), hi = _mm512_maskz_loadu_ps(a1, xr + 16);
      const __m512 lo2 = _mm512_maskz_loadu_ps(b0, xr + 2), hi2 = _mm512_maskz_loadu_ps(b1, xr + 18);
      r.t0 = _mm512_permutex2var_ps(lo, even, hi);
      r.t1 = _mm512_permutex2var_ps(lo, odd, hi);
      r.t2 = _mm512_permutex2var_ps(lo2, even, hi2);
      return r;
    };
    const auto add_row = [&](const RowTaps& r, int ky, __m512 acc) {
      if (!r.inside) return acc;
      acc = _mm512_fmadd_ps(r.t0, wv[ky * 3], acc);
      acc = _mm512_fmadd_ps(r.t1, wv[ky * 3 + 1], acc);
      return _mm512_fmadd_ps(r.t2, wv[ky * 3 + 2], acc);
    };
    RowTaps first = taps_of(-g.pad_top);  // window row 0 of output row 0
    for (int64_t oy = 0; oy < g.out_h; ++oy) {
      const int64_t row0 = 2 * oy - g.pad_top;
      __m512 acc = add_row(first, 0, _mm512_set1_ps(bias));
      acc = add_row(taps_of(row0 + 1), 1, acc);
      first = taps_of(row0 + 2);  // also the next output row's window row 0
      acc = add_row(first, 2, acc);
      if (residual) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(out, residual + oy * g.out_w + ox));
      _mm512_mask_storeu_ps(y + oy * g.out_w + ox, out, x86::apply_epilogue512(acc, e));
    }
  }
}

namespace {

// NP pixels of a row, NV channel vectors each: NP * NV accumulators, every input
// value broadcast once against its tap's NV weight vectors, over input channels
// [c0, c1). x is the first pixel's window corner in the padded planes; out gets
// the NP pixels' channels: the partial sums, which the next channels' call goes
// on from (the same FMA chain), and from the last channel act(sum + bias).
template <int NV, int NP>
inline void shallow_pixels(const ShallowConvRows& s, int64_t c0, int64_t c1, const float* x, float* out) {
  __m512 acc[NP][NV];
  for (int p = 0; p < NP; ++p)
    for (int v = 0; v < NV; ++v) acc[p][v] = c0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(out + (p * NV + v) * 16);
  const float* w = s.w + c0 * s.kernel_h * s.kernel_w * 16 * NV;
  for (int64_t c = c0; c < c1; ++c)
    for (int64_t i = 0; i < s.kernel_h; ++i) {
      const float* xr = x + c * s.plane + i * s.dilation_h * s.pitch;
      for (int64_t j = 0; j < s.kernel_w; ++j, w += 16 * NV) {
        const float* xt = xr + j * s.dilation_w;
        __m512 wv[NV];
        for (int v = 0; v < NV; ++v) wv[v] = _mm512_loadu_ps(w + 16 * v);
        for (int p = 0; p < NP; ++p) {
          const __m512 b = _mm512_set1_ps(xt[p * s.stride_w]);
          for (int v = 0; v < NV; ++v) acc[p][v] = _mm512_fmadd_ps(b, wv[v], acc[p][v]);
        }
      }
    }
  const bool last = c1 == s.in_channels;
  for (int p = 0; p < NP; ++p)
    for (int v = 0; v < NV; ++v)
      _mm512_storeu_ps(out + (p * NV + v) * 16,
                       last ? x86::apply_epilogue512(_mm512_add_ps(acc[p][v], _mm512_loadu_ps(s.bias + 16 * v)), s.act)
                            : acc[p][v]);
}

// 24 / NV pixels at a time: 24 accumulators (6 pixels of 64 channels, 12 of 32).
// Weights over 40 KB (AlexNet's 11x11 taps: 93 KB; L1 holds 48) go one input
// channel at a time, so the part each step reads stays in L1: AlexNet's stem and
// pool 4% faster (paired medians, 1 thread); ResNet's 38 KB within noise either way.
template <int NV>
void shallow_rows(const ShallowConvRows& s, int64_t oh0, int64_t oh1, float* out) {
  constexpr int kPixels = 24 / NV;  // 24 accumulators; 6-pixel steps and 1-5 finish the row
  constexpr int64_t cp = 16 * NV;
  constexpr int64_t kL1Weights = int64_t(40) << 10;
  const int64_t channel_bytes = s.kernel_h * s.kernel_w * cp * int64_t(sizeof(float));
  const int64_t chunk = channel_bytes * s.in_channels <= kL1Weights ? s.in_channels : 1;
  for (int64_t oh = oh0; oh < oh1; ++oh, out += s.out_w * cp) {
    const float* x = s.x + oh * s.stride_h * s.pitch;
    for (int64_t c0 = 0; c0 < s.in_channels; c0 += chunk) {
      const int64_t c1 = std::min(s.in_channels, c0 + chunk);
      int64_t ow = 0;
      for (; ow + kPixels <= s.out_w; ow += kPixels)
        shallow_pixels<NV, kPixels>(s, c0, c1, x + ow * s.stride_w, out + ow * cp);
      for (; ow + 6 <= s.out_w; ow += 6) shallow_pixels<NV, 6>(s, c0, c1, x + ow * s.stride_w, out + ow * cp);
      const float* xt = x + ow * s.stride_w;
      float* o = out + ow * cp;
      switch (s.out_w - ow) {
        case 5: shallow_pixels<NV, 5>(s, c0, c1, xt, o); break;
        case 4: shallow_pixels<NV, 4>(s, c0, c1, xt, o); break;
        case 3: shallow_pixels<NV, 3>(s, c0, c1, xt, o); break;
        case 2: shallow_pixels<NV, 2>(s, c0, c1, xt, o); break;
        case 1: shallow_pixels<NV, 1>(s, c0, c1, xt, o); break;
        default: break;
      }
    }
  }
}

}  // namespace

void conv_shallow_rows_f32__avx512(const ShallowConvRows& s, int64_t oh0, int64_t oh1, float* out) noexcept {
  switch (s.vectors) {
    case 1: return shallow_rows<1>(s, oh0, oh1, out);
    case 2: return shallow_rows<2>(s, oh0, oh1, out);
    case 3: return shallow_rows<3>(s, oh0, oh1, out);
    default: return shallow_rows<4>(s, oh0, oh1, out);
  }
}

// Two or three masked loads a vector where the generic packer copied each piece
// with its own short moves. Separate processes alternated, paired medians of the
// node: ResNet-50's layer2.0 conv2 alone (28-wide rows: every panel two pieces)
// 0.94 at 1 thread, 0.95 at 2; ResNet-18's layer2.0 conv1 alone 0.93; AlexNet's
// conv2 in model 0.94 / 0.99.
void phase_im2col_pack32_f32__avx512(const PhaseIm2col& s, int64_t k0, int64_t kc, int64_t n0, int64_t nc,
                                     float* dst) noexcept {
  constexpr int kNr = 32;
  const int64_t taps = s.p->kernel[1] * s.p->kernel[2], ow_n = s.p->out[2], phase_w = s.layout->phase_w;
  // A panel's pieces within output rows, the same for every depth row: piece i
  // fills lanes [t, t + len) from base + src. As a masked load per vector, lane l
  // reads base + (src - t) + l; lanes past the columns stay zero.
  struct Piece {
    int64_t shift;
    __mmask16 lanes[2];
  };
  Piece pieces[kNr];
  int64_t oh = n0 / ow_n, ow = n0 % ow_n;
  for (int64_t j = 0; j < nc; j += kNr, dst += kc * kNr) {
    const int64_t cnt = std::min<int64_t>(kNr, nc - j);
    int n = 0;
    for_each_panel_piece(oh, ow, ow_n, phase_w, cnt, [&](int64_t src, int64_t t, int64_t len) {
      const uint32_t bits = static_cast<uint32_t>((uint64_t(1) << (t + len)) - (uint64_t(1) << t));
      pieces[n++] = Piece{src - t, {static_cast<__mmask16>(bits), static_cast<__mmask16>(bits >> 16)}};
    });
    int64_t c = k0 / taps, tap = k0 % taps;
    for (int64_t r = 0; r < kc; ++r) {
      const float* base = s.planes + c * s.plane_stride + s.tap_offset[tap];
      float* out = dst + r * kNr;
      for (int v = 0; v < 2; ++v) {
        __m512 x = _mm512_maskz_loadu_ps(pieces[0].lanes[v], base + pieces[0].shift + 16 * v);
        for (int i = 1; i < n; ++i) x = _mm512_mask_loadu_ps(x, pieces[i].lanes[v], base + pieces[i].shift + 16 * v);
        _mm512_storeu_ps(out + 16 * v, x);
      }
      if (++tap == taps) tap = 0, ++c;
    }
  }
}

}  // namespace cvt
