// u8 x s8 pointwise QLinearConv on vpmaddubsw, exact (see quant_u8s8.h): the
// weight split at load, the scalar twins of the AVX2 kernels, and the driver.
#include "ops/quant_u8s8.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "core/parallel.h"
#include "ops/gemm.h"
#include "ops/quant_pack.h"

namespace cvt {

bool u8s8_use_vnni() { return cpu_features().avx512vnni && active_isa() >= Isa::kAvx512; }

QU8S8Weights pack_u8s8_weights(const int8_t* w, int64_t rows, int64_t depth, bool split) {
  QU8S8Weights p;
  if (rows <= 0 || depth <= 0 || rows % 4 != 0) return p;
  p.rows = rows, p.depth = depth, p.quads = (depth + 3) / 4, p.split = split;
  p.main.assign(static_cast<size_t>(rows * p.quads * 4), 0);
  p.row_sum.assign(static_cast<size_t>(rows), 0);
  p.rem_start.push_back(0);
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* wr = w + r * depth;
    int8_t* panel = p.main.data() + (r / 4) * p.quads * 16 + (r % 4) * 4;  // + quad * 16 + k % 4
    for (int64_t k = 0; k < depth; k += 2) {
      const int32_t w0 = wr[k], w1 = k + 1 < depth ? wr[k + 1] : 0;
      p.row_sum[r] += w0 + w1;
      int32_t m1 = w1;
      // Same signs adding up past 128 could leave int16 (255 * 129 > 32767): the
      // second weight keeps only what is left of 128, the rest is a remainder.
      if (split && (w0 > 0) == (w1 > 0) && w0 != 0 && w1 != 0 && std::abs(w0) + std::abs(w1) > 128) {
        m1 = (w1 > 0 ? 1 : -1) * (128 - std::abs(w0));
        p.rem.push_back({static_cast<int32_t>(k + 1), w1 - m1});
      }
      panel[(k / 4) * 16 + k % 4] = static_cast<int8_t>(w0);
      panel[(k / 4) * 16 + k % 4 + 1] = static_cast<int8_t>(m1);
    }
    p.rem_start.push_back(static_cast<int32_t>(p.rem.size()));
  }
  return p;
}

void qgemm_u8s8_requant_4x16__scalar(const QU8S8Tile& t, const QRequantRows& rq, uint8_t* y, int64_t ldy) noexcept {
  for (int i = 0; i < 4; ++i) {
    int32_t acc[16] = {};
    for (int64_t q = 0; q < t.quads; ++q)
      for (int j = 0; j < 16; ++j)
        for (int u = 0; u < 4; ++u) acc[j] += int32_t(t.b[q * t.ldb + 4 * j + u]) * int32_t(t.a[(q * 4 + i) * 4 + u]);
    for (int32_t e = t.rem_start[i]; e < t.rem_start[i + 1]; ++e)
      for (int j = 0; j < 16; ++j) acc[j] += int32_t(t.x[t.rem[e].k * t.ldx + j]) * t.rem[e].r;
    requantize_row__scalar(acc, 16, rq.bias ? rq.bias[i] : 0, rq.scale[i], rq.zp, rq.is_signed, y + i * ldy);
  }
}

void qgemm_u8s8_requant_4x64__scalar(const QU8S8Tile& t, const QRequantRows& rq, uint8_t* y, int64_t ldy,
                                     int64_t pixels) noexcept {
  for (int i = 0; i < 4; ++i) {
    int32_t acc[64] = {};
    for (int64_t j = 0; j < pixels; ++j) {
      for (int64_t q = 0; q < t.quads; ++q)
        for (int u = 0; u < 4; ++u) acc[j] += int32_t(t.b[q * t.ldb + 4 * j + u]) * int32_t(t.a[(q * 4 + i) * 4 + u]);
      for (int32_t e = t.rem_start[i]; e < t.rem_start[i + 1]; ++e) acc[j] += int32_t(t.x[t.rem[e].k * t.ldx + j]) * t.rem[e].r;
    }
    requantize_row__scalar(acc, pixels, rq.bias ? rq.bias[i] : 0, rq.scale[i], rq.zp, rq.is_signed, y + i * ldy);
  }
}

void qinterleave4_u8__scalar(const uint8_t* const rows[4], int64_t n, uint8_t* dst) noexcept {
  for (int64_t j = 0; j < n; ++j)
    for (int i = 0; i < 4; ++i) dst[4 * j + i] = rows[i] ? rows[i][j] : 0;
}

void im2col_u8(const ConvParams& p, const uint8_t* x, uint8_t zp, uint8_t* cols) {
  const int64_t C = p.in_channels, R = p.kernel[1], S = p.kernel[2], in_h = p.in[1], in_w = p.in[2];
  const int64_t out_h = p.out[1], out_w = p.out[2], P = out_h * out_w, rows = C * R * S;
  parallel_for(0, p.batch * rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, P)), [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t n = t / rows, row = t % rows, c = row / (R * S), ky = (row / S) % R, kx = row % S;
      const uint8_t* plane = x + (n * C + c) * in_h * in_w;
      uint8_t* dst = cols + t * P;
      for (int64_t oy = 0; oy < out_h; ++oy, dst += out_w) {
        const int64_t iy = oy * p.stride[1] - p.pad_begin[1] + ky * p.dilation[1];
        if (iy < 0 || iy >= in_h) {
          std::memset(dst, zp, static_cast<size_t>(out_w));
          continue;
        }
        // ix = ox * sw + x0 lies in [0, in_w) for ox in [first, last): the padding either
        // side is a fill, the inside a branch-free (for stride 1, contiguous) copy.
        const int64_t sw = p.stride[2], x0 = kx * p.dilation[2] - p.pad_begin[2];
        const int64_t first = std::clamp<int64_t>(x0 >= 0 ? 0 : (-x0 + sw - 1) / sw, 0, out_w);
        const int64_t last = std::clamp<int64_t>(in_w - x0 <= 0 ? 0 : (in_w - x0 + sw - 1) / sw, first, out_w);
        std::memset(dst, zp, static_cast<size_t>(first));
        const uint8_t* src = plane + iy * in_w;
        if (sw == 1) std::memcpy(dst + first, src + first + x0, static_cast<size_t>(last - first));
        else if (sw == 2) for (int64_t ox = first; ox < last; ++ox) dst[ox] = src[2 * ox + x0];
        else for (int64_t ox = first; ox < last; ++ox) dst[ox] = src[ox * sw + x0];
        std::memset(dst + last, zp, static_cast<size_t>(out_w - last));
      }
    }
  });
}

namespace {
// Which call's B this thread's scratch slot 3 holds (the small-map path below).
thread_local uint64_t thread_b_copy = 0;
uint64_t next_b_copy_id() {
  static std::atomic<uint64_t> last{0};
  return ++last;
}
}  // namespace

void qconv_pointwise_u8s8(const QConvArgs& a, const QU8S8Weights& w, const uint8_t* x, uint8_t* y,
                          const int32_t* folded_bias) {
  const bool avx2 = active_isa() >= Isa::kAvx2;
  const auto kernel = avx2 ? qgemm_u8s8_requant_4x16__avx2 : qgemm_u8s8_requant_4x16__scalar;
  // Whole weights: 64-pixel tiles (vpdpbusd, or its scalar twin where the ISA cap forbids it).
  const auto wide_kernel = u8s8_use_vnni() ? qgemm_u8s8_requant_4x64__avx512vnni : qgemm_u8s8_requant_4x64__scalar;
  const int64_t tile_px = w.split ? 16 : 64;
  const auto interleave = avx2 ? qinterleave4_u8__avx2 : qinterleave4_u8__scalar;
  const ConvParams& p = a.p;
  const int64_t C = p.in_channels, K = p.out_channels, P = p.out_pixels(), quads = w.quads;
  const int64_t npx = round_up(P, 16), tiles = (P + tile_px - 1) / tile_px;
  const int64_t tiles_per_task = 256 / tile_px;
  const int64_t tile_blocks = (tiles + tiles_per_task - 1) / tiles_per_task;
  // x's zero point through the row sums: sum (a - zx) w = sum a w - zx sum w.
  std::vector<int32_t> own_bias;
  if (!folded_bias) {
    own_bias.resize(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; ++k) own_bias[k] = (a.bias ? a.bias[k] : 0) - a.x_zp * w.row_sum[k];
    folded_bias = own_bias.data();
  }
  const bool y_signed = a.y_type == DType::kInt8;
  // One 4-row output tile at pixel j of image n; its B (ldb bytes per quad) at bt.
  auto run_tile = [&](int64_t n, int64_t j, int64_t r0, const uint8_t* bt, int64_t ldb, const uint8_t* xr, int64_t ldx,
                      uint8_t* tail) {
    const QU8S8Tile t{quads, w.main.data() + r0 * quads * 4, bt, ldb,
                      w.rem.data(), w.rem_start.data() + r0, xr + n * C * ldx + j, ldx};
    const QRequantRows rq{folded_bias + r0, a.out_scale.data() + r0, a.y_zp, y_signed};
    uint8_t* yo = y + (n * K + r0) * P + j;
    if (!w.split) {
      wide_kernel(t, rq, yo, P, std::min(tile_px, P - j));
    } else if (j + 16 <= P) {
      kernel(t, rq, yo, P);
    } else {  // the last, short tile: through a 4 x 16 buffer
      kernel(t, rq, tail, 16);
      for (int i = 0; i < 4; ++i) std::memcpy(yo + i * P, tail + i * 16, static_cast<size_t>(P - j));
    }
  };
  // Maps with pixel blocks enough for every thread (56x56 and up on 2 threads): one
  // task per (image, 256-pixel block) interleaves its own block of B into thread
  // scratch, then makes all K rows of it. One fork, and B never crosses cores.
  if (w.rem.empty() && p.batch * tile_blocks >= 4 * current_concurrency()) {
    const int64_t block_px = tiles_per_task * tile_px, ldb = block_px * 4;
    // ~4 chunks a thread: enough for a fast core to take over a slow one's last chunks.
    const int64_t tasks = p.batch * tile_blocks;
    const int64_t grain = std::max<int64_t>(1, tasks / (4 * current_concurrency()));
    parallel_for(0, tasks, grain, [&](int64_t lo, int64_t hi) {
      alignas(32) uint8_t tail[4 * 16];
      // Slot 3 of the running thread: nothing else inside these tasks uses it.
      uint8_t* bt = reinterpret_cast<uint8_t*>(gemm_scratch(3, static_cast<size_t>(quads * block_px + 1)));
      for (int64_t task = lo; task < hi; ++task) {
        const int64_t n = task / tile_blocks, j0 = (task % tile_blocks) * block_px;
        const int64_t px = std::min(block_px, P - j0), px16 = round_up(px, 16);
        for (int64_t q = 0; q < quads; ++q) {
          const uint8_t* rows[4];
          for (int i = 0; i < 4; ++i) rows[i] = 4 * q + i < C ? x + (n * C + 4 * q + i) * P + j0 : nullptr;
          interleave(rows, px, bt + q * ldb);
          std::memset(bt + q * ldb + px * 4, 0, static_cast<size_t>((px16 - px) * 4));
        }
        for (int64_t j = j0; j < j0 + px; j += tile_px)
          for (int64_t r0 = 0; r0 < K; r0 += 4) run_tile(n, j, r0, bt + (j - j0) * 4, ldb, x, P, tail);
      }
    });
    return;
  }
  // Small maps (28x28 and below on 2 threads): tasks split the rows, and every
  // thread interleaves the whole B once into its own scratch, reused for all the
  // tasks it runs in this call. Interleaving B on each thread (2.5-3.7 us for
  // 14x14x384..576 here) is cheaper than a second fork plus reading the half of B
  // that the other core wrote; the output is split by channels, as the depthwise
  // convs and adds that read it are.
  if (w.rem.empty()) {
    const int64_t rows = round_up((K + 4 * current_concurrency() - 1) / (4 * current_concurrency()), 4);
    const int64_t parts = (K + rows - 1) / rows, image_b = quads * npx * 4;
    const uint64_t call = next_b_copy_id();
    parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
      alignas(32) uint8_t tail[4 * 16];
      uint8_t* bt = reinterpret_cast<uint8_t*>(gemm_scratch(3, static_cast<size_t>(p.batch * image_b / 4 + 1)));
      if (thread_b_copy != call) {
        for (int64_t n = 0; n < p.batch; ++n)
          for (int64_t q = 0; q < quads; ++q) {
            const uint8_t* rows_x[4];
            for (int i = 0; i < 4; ++i) rows_x[i] = 4 * q + i < C ? x + (n * C + 4 * q + i) * P : nullptr;
            uint8_t* dst = bt + n * image_b + q * npx * 4;
            interleave(rows_x, P, dst);
            std::memset(dst + P * 4, 0, static_cast<size_t>((npx - P) * 4));
          }
        thread_b_copy = call;
      }
      for (int64_t part = lo; part < hi; ++part)
        for (int64_t n = 0; n < p.batch; ++n)
          for (int64_t j = 0; j < P; j += tile_px)
            for (int64_t r0 = part * rows; r0 < std::min(K, (part + 1) * rows); r0 += 4)
              run_tile(n, j, r0, bt + n * image_b + j * 4, npx * 4, x, P, tail);
    });
    return;
  }
  // Split weights with saturation remainders (AVX2 vpmaddubsw): B once, shared, in a
  // pre-pass by channels; then the GEMM by pixel blocks and rows.
  // B: per image and quad, npx pixels x 4 bytes, zero past P; slot 3 of the calling thread.
  uint8_t* b = reinterpret_cast<uint8_t*>(gemm_scratch(3, static_cast<size_t>(p.batch * quads * npx + 1)));
  parallel_for(0, p.batch * quads, std::max<int64_t>(1, 4096 / npx), [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t n = t / quads, q = t % quads;
      const uint8_t* rows[4];
      for (int i = 0; i < 4; ++i) rows[i] = 4 * q + i < C ? x + (n * C + 4 * q + i) * P : nullptr;
      interleave(rows, P, b + t * npx * 4);
      std::memset(b + t * npx * 4 + P * 4, 0, static_cast<size_t>((npx - P) * 4));
    }
  });
  // The remainders read 16 pixels of x per tile: past P they need a padded copy (slot 4).
  const uint8_t* xr = x;
  int64_t ldx = P;
  if (npx != P && !w.rem.empty()) {
    uint8_t* xp = reinterpret_cast<uint8_t*>(gemm_scratch(4, static_cast<size_t>(p.batch * C * npx / 4 + 1)));
    parallel_for(0, p.batch * C, std::max<int64_t>(1, 16384 / npx), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        std::memcpy(xp + r * npx, x + r * P, static_cast<size_t>(P));
        std::memset(xp + r * npx + P, 0, static_cast<size_t>(npx - P));
      }
    });
    xr = xp, ldx = npx;
  }
  // Tasks: (image, 256 pixels, up to 32 rows); each B tile serves all the row panels
  // of its task. Fewer rows per task where small maps leave few tiles (96 rows of
  // a 14x14 map were 3 tasks, 2 on one thread and 1 on the other).
  const int64_t task_rows = qpack::rows_per_task(K, p.batch * tile_blocks, 4, 32);
  const int64_t row_blocks = (K + task_rows - 1) / task_rows;
  // Consecutive tasks (row blocks of one pixel block) run as one chunk of at least
  // ~2^20 multiply-adds, yet 4 chunks a thread: a vpdpbusd task of a 16-deep
  // expansion takes ~1 us, and one TBB task each made 2 threads slower than 1.
  const int64_t tasks = p.batch * tile_blocks * row_blocks;
  const int64_t task_macs = task_rows * 256 * quads * 4;
  const int64_t grain = std::clamp<int64_t>((int64_t(1) << 20) / task_macs, 1,
                                            std::max<int64_t>(1, tasks / (4 * current_concurrency())));
  parallel_for(0, tasks, grain, [&](int64_t lo, int64_t hi) {
    alignas(32) uint8_t tail[4 * 16];
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t n = task / (tile_blocks * row_blocks), tb = (task / row_blocks) % tile_blocks, rb = task % row_blocks;
      const int64_t r_end = std::min(K, (rb + 1) * task_rows);
      for (int64_t tile = tb * tiles_per_task; tile < std::min(tiles, (tb + 1) * tiles_per_task); ++tile) {
        const int64_t j = tile * tile_px;
        for (int64_t r0 = rb * task_rows; r0 < r_end; r0 += 4)
          run_tile(n, j, r0, b + (n * quads * npx + j) * 4, npx * 4, xr, ldx, tail);
      }
    }
  });
}

}  // namespace cvt
