// Pixel-major conv: Y^T = X^T W^T, with output pixels as the GEMM's tile rows
// and output channels as its vector columns. The NCHW GEMM (conv.cpp) puts
// pixels in the 16-wide columns, so a 7x7 plane fills 49 of 64 column slots;
// here it fills 49 of 54 row slots (ResNet layer4, MobileNetV2's last stages,
// GoogLeNet's inception 5). The result lands in a pixel-major scratch, and bias,
// residual and activation are applied while it is transposed into NCHW.
#include <algorithm>
#include <cstring>

#include "core/int_math.h"
#include "core/parallel.h"
#include "ops/conv.h"

namespace cvt {

namespace {

// Share of a tiled dimension's slots holding real rows or columns.
double tile_fill(int64_t v, int64_t tile) { return double(v) / double(round_up(v, tile)); }

// The same for the NCHW GEMM's pixel columns: the AVX-512 kernel runs a right edge
// of up to 16 columns as a one-vector tile, at about half a full tile's cost.
double nchw_column_fill(int64_t pixels, const GemmKernelSet& ks) {
  const int64_t rest = pixels % ks.nr;
  const bool half_edge = ks.isa >= Isa::kAvx512 && rest > 0 && rest <= 16;
  return half_edge ? double(pixels) / double(pixels - rest + 16) : tile_fill(pixels, ks.nr);
}

// The pixel-major scratch's row stride: whole panels, and not a multiple of
// 1 KiB, so the six rows a tile stores do not share L1 sets (4K aliasing).
int64_t pixel_row_stride(const GemmKernelSet& ks, int64_t channels) {
  const int64_t ld = round_up(channels, ks.nr);
  return ld % 256 == 0 ? ld + ks.nr : ld;
}

}  // namespace

bool prefer_pixel_major(const ConvParams& p, const GemmKernelSet& ks) {
  // The fuller tiles must pay for copying the input pixel-major and for the
  // transpose out: shallow GEMMs (few multiply-adds per output) and small gains
  // (14x14 planes: 196 of 208 columns against 196 of 198 rows) are left alone.
  // MobileNetV2's 14x14 expands (depth 64 and 96 to 384 and 576 channels) ran
  // 15-25% faster NCHW at 1 and 2 threads, per node: below depth 128 the transpose
  // of that many outputs costs more than the fuller tiles save.
  constexpr int64_t kMinDepth = 128;
  constexpr double kMinGain = 1.1;
  // Scratch stays allocated with the thread: at most 4 MB each.
  constexpr int64_t kMaxScratchFloats = int64_t(1) << 20;
  if (p.group != 1) return false;
  const int64_t pixels = p.out_pixels(), channels = p.out_channels, depth = p.in_channels * p.kernel_size();
  if (depth < kMinDepth || PackedA::storage_floats(ks, pixels, depth) > kMaxScratchFloats ||
      pixels * pixel_row_stride(ks, channels) > kMaxScratchFloats)
    return false;
  // Only for poorly filled pixel tiles: a few output channels are better served by
  // the NCHW GEMM reading its input in place (MobileNetV2's 28x28 projections to 32
  // channels fill 32 of 36 rows, yet ran twice as long pixel-major).
  constexpr double kMaxPixelFill = 0.9;
  // Where the AVX-512 kernel wastes little on the pixel columns (14x14: 196 of 208,
  // the last 4 run as a half-width tile), what decides is the rest: NCHW packs its
  // input, K x pixels values, pixel-major transposes its output, channels x pixels.
  // So the NCHW GEMM stays for a conv with more channels out than in (1 thread, in
  // model, alternated: ResNet-50's 14x14 256 -> 1024 and 512 -> 1024 ran 15-30%
  // faster NCHW; MobileNetV2's 576 -> 96 23% slower; 1024 -> 256 and -> 512 tied).
  if (depth <= channels && nchw_column_fill(pixels, ks) >= kMaxPixelFill) return false;
  const double nchw = tile_fill(pixels, ks.nr) * tile_fill(channels, ks.mr);
  const double pixel_major = tile_fill(pixels, ks.mr) * tile_fill(channels, ks.nr);
  return tile_fill(pixels, ks.nr) < kMaxPixelFill && pixel_major > kMinGain * nchw;
}

PackedB pack_conv_weights_pixel_major(const GemmKernelSet& ks, const float* w, int64_t m, int64_t k) {
  return PackedB(ks, k, m, MatrixView{w, k, true});
}

namespace {

// NR-column panels of a virtual matrix whose column c (depth rows k0.. of this
// block) starts at column(c), its values `step` apart: both weight-form
// conversions read one packed form's panels this way.
template <class Column>
void pack_strided_columns(int64_t kc, int64_t n0, int64_t nc, int nr, int64_t step, float* dst, Column column) {
  for (int64_t j0 = 0; j0 < nc; j0 += nr, dst += kc * nr) {
    const int64_t cols = std::min<int64_t>(nr, nc - j0);
    if (cols < nr) std::memset(dst, 0, sizeof(float) * kc * nr);
    for (int64_t c = 0; c < cols; ++c) {
      const float* src = column(n0 + j0 + c);
      for (int64_t k = 0; k < kc; ++k) dst[k * nr + c] = src[k * step];
    }
  }
}

}  // namespace

PackedB pack_conv_weights_pixel_major(const GemmKernelSet& ks, const PackedA& w) {
  // B[k][c] = A[c][k]: A row c of K block k0 is every MR-th value of its panel.
  return PackedB(ks, w.depth(), w.rows(), [&](int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* dst) {
    pack_strided_columns(kc, n0, nc, nr, ks.mr, dst,
                         [&](int64_t row) { return w.panel(k0, kc, row) + row % ks.mr; });
  });
}

PackedA pack_conv_weights_nchw(const GemmKernelSet& ks, const PackedB& wt) {
  // A = W is the transpose of the virtual K x M matrix W^T: its packer, called
  // with MR-wide panels, takes W^T's columns, every NR-th value of their panels.
  return PackedA(ks, wt.cols(), wt.depth(), [&](int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* dst) {
    pack_strided_columns(kc, n0, nc, nr, ks.nr, dst,
                         [&](int64_t col) { return wt.panel(k0, kc, col) + col % ks.nr; });
  });
}

namespace {

// Small weights on several threads: each task takes a range of output pixels
// through all three steps (pack its rows, GEMM against every channel, transpose
// out), one parallel loop instead of three, with the rows never leaving the core
// that computed them. Each task reads all the weights, hence small ones only.
// The products are those of the three-step path, bit for bit: the same K blocks
// in the same order.
bool split_by_pixels(const GemmKernelSet& ks, const PackedB& wt, int64_t pixels) {
  constexpr int64_t kMaxWeightFloats = int64_t(1) << 17;  // 512 KB: fits each core's L2
  return current_concurrency() > 1 && pixels > ks.mr && wt.depth() * wt.cols() <= kMaxWeightFloats;
}

}  // namespace

void conv_gemm_pixel_major(const ConvParams& p, const GemmKernelSet& ks, const PackedB& wt, const float* x,
                           const float* bias, float* y, const float* residual) {
  CVT_ASSERT(p.group == 1 && wt.cols() == p.out_channels && wt.depth() == p.in_channels * p.kernel_size());
  const int64_t pixels = p.out_pixels(), channels = p.out_channels, depth = wt.depth();
  const int64_t ldc = pixel_row_stride(ks, channels);
  std::optional<Im2colPackers> im2col;
  if (!p.is_pointwise()) im2col.emplace(p, ks.isa, x);
  const auto to_nchw = ks.isa >= Isa::kAvx2 ? pixel_major_to_nchw_f32__avx2 : pixel_major_to_nchw_f32__scalar;
  const bool by_pixels = split_by_pixels(ks, wt, pixels);
  GemmShape s;
  s.m = pixels, s.n = channels, s.k = depth;
  // A pointwise conv's input planes are X^T as it stands: the GEMM reads its
  // pixel rows in place where the kernel set can, else they are packed.
  GemmOperands in_place;
  in_place.packed_b = &wt;
  in_place.a = MatrixView{x, pixels, true};
  const bool x_in_place = p.is_pointwise() && reads_a_in_place(ks, s, in_place);
  // The calling thread's slots 3 and 4: GEMM tasks use 0 and 1, the phase copies 5.
  float* xt_storage = by_pixels || x_in_place
                          ? nullptr
                          : gemm_scratch(4, static_cast<size_t>(PackedA::storage_floats(ks, pixels, depth)));
  float* yt = by_pixels ? nullptr : gemm_scratch(3, static_cast<size_t>(pixels * ldc));
  for (int64_t image = 0; image < p.batch; ++image) {
    const float* xi = x + image * p.in_channels * p.in_pixels();
    const PackBFn pointwise = [&](int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* dst) {
      pack_b_panels(MatrixView{xi, pixels, false}, k0, kc, n0, nc, nr, dst);
    };
    const PackBFn& pack_pixels = im2col ? (*im2col)[image] : pointwise;
    const int64_t at = image * channels * pixels;
    const float* res = residual ? residual + at : nullptr;
    if (by_pixels) {
      // Whole row panels a task, about 4 tasks a thread, their sizes differing by at
      // most one panel: 14 panels as 7 tasks of 2 left one thread 8 and the other 6.
      const int64_t panels = ceil_div(pixels, int64_t(ks.mr));
      const int64_t tasks = std::min(panels, 4 * int64_t(current_concurrency()));
      parallel_for(0, tasks, 1, [&](int64_t lo, int64_t hi) {
        SerialScope serial;
        for (int64_t t = lo; t < hi; ++t) {
          const int64_t i0 = t * panels / tasks * ks.mr;
          const int64_t rows = std::min((t + 1) * panels / tasks * ks.mr, pixels) - i0;
          // This thread's slots 3 and 4, as the three-step path uses the caller's.
          float* yt_rows = gemm_scratch(3, static_cast<size_t>(rows * ldc));
          PackedA xt;
          if (!x_in_place)
            xt = PackedA(ks, rows, depth, [&](int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* dst) {
              pack_pixels(k0, kc, i0 + n0, nc, nr, dst);
            }, gemm_scratch(4, static_cast<size_t>(PackedA::storage_floats(ks, rows, depth))));
          GemmShape rs = s;
          rs.m = rows;
          gemm_f32(ks, rs, 1, [&](int64_t, GemmOperands& op) {
            if (x_in_place)
              op.a = MatrixView{xi + i0, pixels, true};
            else
              op.packed_a = &xt;
            op.packed_b = &wt;
            op.c = yt_rows;
            op.ldc = ldc;
          });
          to_nchw(PixelMajorOut{yt_rows, ldc, pixels, i0, i0 + rows, bias, res, y + at}, 0, channels, p.activation);
        }
      });
      continue;
    }
    PackedA xt;
    if (!x_in_place) xt = PackedA(ks, pixels, depth, pack_pixels, xt_storage);
    gemm_f32(ks, s, 1, [&](int64_t, GemmOperands& op) {
      if (x_in_place)
        op.a = MatrixView{xi, pixels, true};
      else
        op.packed_a = &xt;
      op.packed_b = &wt;
      op.c = yt;
      op.ldc = ldc;
    });
    const PixelMajorOut out{yt, ldc, pixels, 0, pixels, bias, res, y + at};
    constexpr int64_t kBlock = 32;  // channels a task
    parallel_for(0, (channels + kBlock - 1) / kBlock, 1, [&](int64_t lo, int64_t hi) {
      to_nchw(out, lo * kBlock, std::min(channels, hi * kBlock), p.activation);
    });
  }
}

void pixel_major_to_nchw_f32__scalar(const PixelMajorOut& o, int64_t c0, int64_t c1, const Epilogue& e) noexcept {
  for (int64_t c = c0; c < c1; ++c)
    for (int64_t i = o.i0; i < o.i1; ++i) {
      float v = o.yt[(i - o.i0) * o.ldc + c];
      if (o.bias) v += o.bias[c];
      if (o.residual) v += o.residual[c * o.pixels + i];
      o.y[c * o.pixels + i] = e.apply(v);
    }
}

}  // namespace cvt
