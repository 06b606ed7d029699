// Packed SGEMM driver (cache blocking, packing, parallel output tiles, ISA
// dispatch) with a portable scalar micro-kernel; the Gemm and MatMul ops are in gemm_op.cpp.
// The SIMD micro-kernels live in x86/gemm_avx2.cpp and x86/gemm_avx512.cpp.
#include "ops/gemm.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/int_math.h"
#include "core/parallel.h"

namespace cvt {

// ---- micro-kernels and blocking ------------------------------------------------

void gemm_f32_ukernel_4x8__scalar(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr,
                                  int nr, const UkernelParams& p) noexcept {
  constexpr int kMr = 4, kNr = 8;
  float acc[kMr][kNr] = {};
  for (int64_t k = 0; k < kc; ++k, a += kMr, b += kNr)
    for (int i = 0; i < kMr; ++i)
      for (int j = 0; j < kNr; ++j) acc[i][j] += a[i] * b[j];
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) {
      float v = acc[i][j];
      if (p.load_c) v += p.c_in ? p.c_in[i * ldc + j] : c[i * ldc + j];
      if (p.row_bias) v += p.row_bias[i];
      if (p.finish) v = p.epilogue.apply(v);
      c[i * ldc + j] = v;
    }
}

const GemmKernelSet& gemm_kernels(Isa isa) {
  // kc*nr floats of B stay in L1, mc*kc of A in L2 (sizes for 32-48 KiB L1, >= 512 KiB L2).
  static const GemmKernelSet kScalarSet{Isa::kScalar, 4, 8, 256, 128, 512, gemm_f32_ukernel_4x8__scalar,
                                        "gemm_f32_4x8__scalar"};
  static const GemmKernelSet kAvx2Set{Isa::kAvx2, 6, 16, 256, 144, 768, gemm_f32_ukernel_6x16__avx2,
                                      "gemm_f32_6x16__avx2", gemm_f32_ukernel_6x16_strided_b__avx2};
  static const GemmKernelSet kAvx512Set{Isa::kAvx512, 14, 32, 256, 140, 1024, gemm_f32_ukernel_14x32__avx512,
                                        "gemm_f32_14x32__avx512", gemm_f32_ukernel_14x32_strided_b__avx512,
                                        gemm_f32_ukernel_14x32_indirect_b__avx512,
                                        gemm_f32_ukernel_14x32_strided_a__avx512};
  Isa use = std::min(isa, active_isa());
  if (use == Isa::kAvx512) return kAvx512Set;
  if (use == Isa::kAvx2) return kAvx2Set;
  return kScalarSet;
}

float* gemm_scratch(int slot, size_t floats) {
  struct Buffer {
    std::shared_ptr<void> mem;
    size_t floats = 0;
  };
  thread_local Buffer buffers[9];
  CVT_ASSERT(slot >= 0 && slot < 9);
  Buffer& buf = buffers[slot];
  if (buf.floats < floats) {
    buf.mem = aligned_buffer(floats * sizeof(float), false);
    buf.floats = floats;
  }
  return static_cast<float*>(buf.mem.get());
}

// ---- packing -------------------------------------------------------------------

// Rows [m0, m0+mc) x depth [k0, k0+kc) of op(A) -> MR panels, each kc x mr, scaled.
static void pack_a_block(MatrixView a, int64_t m0, int64_t mc, int64_t k0, int64_t kc, int mr, float scale,
                         float* dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += mr, dst += kc * mr) {
    const int rows = static_cast<int>(std::min<int64_t>(mr, mc - i0));
    if (rows < mr) std::memset(dst, 0, sizeof(float) * kc * mr);
    if (a.trans) {  // op(A)[r][k] = data[k*ld + r]: rows of a panel are contiguous
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = a.data + (k0 + k) * a.ld + m0 + i0;
        for (int r = 0; r < rows; ++r) dst[k * mr + r] = scale * src[r];
      }
    } else {
      for (int r = 0; r < rows; ++r) {
        const float* src = a.data + (m0 + i0 + r) * a.ld + k0;
        for (int64_t k = 0; k < kc; ++k) dst[k * mr + r] = scale * src[k];
      }
    }
  }
}

namespace {

// The full panels of kc rows of a row-major B, row by row: each row's stretch is
// read once, in order, where panel by panel made kc read streams of nr values
// each, ld apart. The stores spread over the panels, which stay in cache. 1 thread,
// pinned, alternated pairs: three ResNet bottleneck blocks at 56x56 3% faster (12
// of 12), a 512 -> 128 1x1 at 28x28 2% (8 of 12), ResNet-50 a tie. NR > 0 fixes
// the panel width at compile time (a copy the compiler inlines), 0 takes `nr`.
template <int NR>
void pack_full_panels(const float* src, int64_t ld, int64_t kc, int64_t panels, int nr, float* dst) {
  const int64_t w = NR > 0 ? NR : nr;
  for (int64_t k = 0; k < kc; ++k, src += ld) {
    float* d = dst + k * w;
    for (int64_t p = 0; p < panels; ++p, d += kc * w) std::memcpy(d, src + p * w, sizeof(float) * w);
  }
}

}  // namespace

// Depth [k0, k0+kc) x cols [n0, n0+nc) of op(B) -> NR panels, each kc x nr.
void pack_b_panels(MatrixView b, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* dst) {
  int64_t j0 = 0;
  if (!b.trans) {
    const int64_t panels = nc / nr;
    const float* src = b.data + k0 * b.ld + n0;
    switch (nr) {  // fixed-size copies the compiler inlines
      case 32: pack_full_panels<32>(src, b.ld, kc, panels, nr, dst); break;  // AVX-512 B
      case 16: pack_full_panels<16>(src, b.ld, kc, panels, nr, dst); break;  // AVX2 B
      case 14: pack_full_panels<14>(src, b.ld, kc, panels, nr, dst); break;  // AVX-512 A (pixel-major input)
      case 6: pack_full_panels<6>(src, b.ld, kc, panels, nr, dst); break;    // AVX2 A
      default: pack_full_panels<0>(src, b.ld, kc, panels, nr, dst); break;
    }
    j0 = panels * nr;
    dst += panels * kc * nr;
  }
  for (; j0 < nc; j0 += nr, dst += kc * nr) {
    const int cols = static_cast<int>(std::min<int64_t>(nr, nc - j0));
    if (cols < nr) std::memset(dst, 0, sizeof(float) * kc * nr);
    if (b.trans) {  // op(B)[k][n] = data[n*ld + k]
      for (int c = 0; c < cols; ++c) {
        const float* src = b.data + (n0 + j0 + c) * b.ld + k0;
        for (int64_t k = 0; k < kc; ++k) dst[k * nr + c] = src[k];
      }
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = b.data + (k0 + k) * b.ld + n0 + j0;
        for (int c = 0; c < cols; ++c) dst[k * nr + c] = src[c];
      }
    }
  }
}

PackedA::PackedA(const GemmKernelSet& ks, int64_t m, int64_t k, MatrixView a, float scale)
    : m_(m), k_(k), padded_rows_(round_up(m, ks.mr)), mr_(ks.mr), isa_(ks.isa) {
  const size_t floats = static_cast<size_t>(std::max<int64_t>(1, padded_rows_ * k));
  data_ = std::static_pointer_cast<float>(aligned_buffer(floats * sizeof(float), true));
  for (int64_t k0 = 0; k0 < k; k0 += ks.kc) {
    const int64_t kc = std::min(ks.kc, k - k0);
    pack_a_block(a, 0, m, k0, kc, mr_, scale, data_.get() + k0 * padded_rows_);
  }
}

int64_t PackedA::storage_floats(const GemmKernelSet& ks, int64_t m, int64_t k) {
  return std::max<int64_t>(1, round_up(m, ks.mr) * k);
}

PackedA::PackedA(const GemmKernelSet& ks, int64_t m, int64_t k, const PackBFn& pack_transposed, float* storage)
    : m_(m), k_(k), padded_rows_(round_up(m, ks.mr)), mr_(ks.mr), isa_(ks.isa) {
  if (storage)
    data_ = std::shared_ptr<float>(std::shared_ptr<float>(), storage);  // not owned
  else
    data_ = std::static_pointer_cast<float>(
        aligned_buffer(static_cast<size_t>(storage_floats(ks, m, k)) * sizeof(float), true));
  parallel_for(0, (k + ks.kc - 1) / ks.kc, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      const int64_t k0 = b * ks.kc, kc = std::min(ks.kc, k - k0);
      pack_transposed(k0, kc, 0, m, mr_, data_.get() + k0 * padded_rows_);
    }
  });
}

PackedB::PackedB(const GemmKernelSet& ks, int64_t k, int64_t n, MatrixView b)
    : PackedB(ks, k, n, [b](int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* dst) {
        pack_b_panels(b, k0, kc, n0, nc, nr, dst);
      }) {}

int64_t PackedB::storage_floats(const GemmKernelSet& ks, int64_t k, int64_t n) {
  return std::max<int64_t>(1, round_up(n, ks.nr) * k);
}

PackedB::PackedB(const GemmKernelSet& ks, int64_t k, int64_t n, const PackBFn& pack, float* storage)
    : k_(k), n_(n), padded_cols_(round_up(n, ks.nr)), nr_(ks.nr), isa_(ks.isa) {
  if (storage)
    data_ = std::shared_ptr<float>(std::shared_ptr<float>(), storage);  // not owned
  else
    data_ = std::static_pointer_cast<float>(
        aligned_buffer(static_cast<size_t>(storage_floats(ks, k, n)) * sizeof(float), true));
  // Tasks: K blocks x strips of columns, so a shallow B (one K block) still packs on every thread.
  const int64_t k_blocks = ceil_div(k, ks.kc), strip = 16 * int64_t(nr_), strips = ceil_div(n, strip);
  parallel_for(0, k_blocks * strips, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t k0 = (t / strips) * ks.kc, kc = std::min(ks.kc, k - k0), n0 = (t % strips) * strip;
      pack(k0, kc, n0, std::min(strip, n - n0), nr_, data_.get() + k0 * padded_cols_ + (n0 / nr_) * kc * nr_);
    }
  });
}

// ---- driver ----------------------------------------------------------------------

namespace {

// Whether rows `ld` floats apart are at most `max_alignment` bytes aligned modulo
// 4 KiB: rows read in place that are aligned further fall on a few L1 sets and
// collide with the C stores (4K aliasing). See read_b_in_place for the measurements.
bool rows_spread_over_l1(int64_t ld, int64_t max_alignment) {
  return std::gcd(ld * static_cast<int64_t>(sizeof(float)), int64_t(4096)) <= max_alignment;
}

}  // namespace

// Whether the micro-kernel reads a transposed A in place, its tile rows side by
// side in memory (a pointwise conv's input planes as pixel rows), rather than
// packing it; against a pre-packed B (weights) only. A k step's 14 values are one
// or two cache lines, so packing only copied them, on one core when A is one K
// block. Per node, in model (ResNet-50, GoogLeNet, MobileNetV2): 14x14 1x1s from
// 3% slower to 20% faster at 1 thread and 5-18% faster at 2, yet 7x7 ones 5-10%
// slower at both: A rows under 128 floats apart stay packed. So do rows a multiple
// of 4 KiB apart, which would share a few L1 sets.
bool reads_a_in_place(const GemmKernelSet& ks, const GemmShape& s, const GemmOperands& op) {
  constexpr int64_t kMinRowFloats = 128;
  return !op.packed_a && op.packed_b && op.a.trans && s.alpha == 1.f && ks.ukernel_strided_a &&
         op.a.ld >= kMinRowFloats && rows_spread_over_l1(op.a.ld, 1024);
}

namespace {

struct TileGrid {
  int64_t m_tile, n_tile, m_tiles, n_tiles;
};

// Tile sizes only change which task computes an element, never its arithmetic,
// so they may follow the thread count without breaking bit-identical results.
TileGrid plan_tiles(const GemmKernelSet& ks, const GemmShape& s, int64_t batch, bool b_prepacked) {
  constexpr int64_t kMinTaskFmas = int64_t(1) << 18;  // below this a task costs more than it saves
  const int threads = current_concurrency();
  int64_t want = threads <= 1 ? 1 : 4 * int64_t(threads);
  const double fmas = double(s.m) * double(s.n) * double(std::max<int64_t>(s.k, 1)) * double(batch);
  want = std::clamp<int64_t>(static_cast<int64_t>(std::min(fmas / kMinTaskFmas, 1e9)), 1, want);
  const int64_t want_per_gemm = ceil_div(want, batch);
  TileGrid g;
  g.n_tiles = ceil_div(s.n, ks.nc);
  // Split N first (for conv this splits the im2col work), down to 4 panels a strip;
  // a B packed beforehand (weights, pixel-major conv) costs nothing per strip, so down
  // to one panel: every task then reads its own weights once (ResNet-18's 7x7 layer4
  // at 2 threads: 1.2 -> 1.0 ms, as 2 row blocks had each streamed the same 2.4 MB).
  const int64_t min_strip = b_prepacked ? ks.nr : 4 * ks.nr;
  if (g.n_tiles < want_per_gemm) g.n_tiles = std::min(ceil_div(s.n, min_strip), want_per_gemm);
  g.n_tiles = std::max<int64_t>(1, g.n_tiles);
  g.n_tile = round_up(ceil_div(s.n, g.n_tiles), ks.nr);
  g.n_tiles = ceil_div(s.n, g.n_tile);
  g.m_tiles = std::clamp<int64_t>(ceil_div(want_per_gemm, g.n_tiles), 1, ceil_div(s.m, ks.mr));
  // Splitting M too makes the tasks of one strip pack the same B, or share one packed
  // up front, half of it then read from the other core (this VM's two cores: ~39 GB/s
  // for lines the other one wrote, ~110 from their own). When B is packed per call,
  // strips down to one panel pay better as soon as they alone give every thread work
  // (2 threads, 28x28 1x1 convs: ResNet-50's 512 -> 128 0.39 -> 0.27 ms, GoogLeNet's
  // 3b 1x1s 0.21 -> 0.14; whole nets 2-6% faster), unless A is too big for every task
  // to read all of it from L2 (SqueezeNet's 2 MB classifier: 0.50 -> 0.52 ms, again
  // 16% slower on a 2 MB-L2 machine). An A of 0.5-1.5 MB pays on that machine where
  // strips are 2 panels or wider (its reads then serve 64 columns and more): AlexNet's
  // 1.2 MB conv2 (5x5, 64 -> 192, 729 columns) 11% faster, the whole net 5%;
  // ResNet-50's 3x3 stride-2 128 -> 128 (784 columns) 16% (alternated, 2 threads).
  // Its 1 MB 256 -> 1024 1x1s at 14x14 (7 panels) ran 10% slower in 1-panel strips.
  constexpr int64_t kMaxWholeAFloats = int64_t(1) << 17, kMaxWideStripAFloats = int64_t(3) << 17;
  const int64_t panels = ceil_div(s.n, ks.nr);
  const int64_t strip = std::max<int64_t>(1, panels / std::min(panels, want_per_gemm)) * ks.nr;
  const bool whole_a = s.m * s.k <= kMaxWholeAFloats || (s.m * s.k <= kMaxWideStripAFloats && strip >= 2 * ks.nr);
  if (!b_prepacked && g.m_tiles > 1 && whole_a) {
    if (ceil_div(s.n, strip) >= threads) {
      g.n_tile = strip;
      g.n_tiles = ceil_div(s.n, strip);
      g.m_tiles = 1;
    }
  }
  g.m_tile = round_up(ceil_div(s.m, g.m_tiles), ks.mr);
  g.m_tiles = ceil_div(s.m, g.m_tile);
  return g;
}

// K == 0: C is just its old value or zero, plus bias, through the epilogue.
void gemm_empty_k(const GemmShape& s, const GemmOperands& op) {
  for (int64_t i = 0; i < s.m; ++i)
    for (int64_t j = 0; j < s.n; ++j) {
      float v = s.accumulate ? (op.c_in ? op.c_in : op.c)[i * op.ldc + j] : 0.f;
      if (op.row_bias) v += op.row_bias[i];
      op.c[i * op.ldc + j] = s.epilogue.apply(v);
    }
}

// Whether the micro-kernel reads a row-major B in place rather than packing it
// (measured on MobileNetV2 / YOLOX 1x1 convs, first on AVX2):
// - for few rows of A (M <= 48): a packed panel is read once per 6 rows of A, so
//   packing costs up to a third of a small-M GEMM (MobileNetV2's projections to
//   24 and 32 channels, 15-20% faster in place);
// - on AVX2, only when B's rows are not a multiple of 1 KiB apart: rows 112 x 112
//   floats apart fall on 4 offsets modulo 4 KiB, and the loads then collide with
//   the C stores (4K aliasing) and with each other in L1 sets (MobileNetV2's
//   32 -> 16 conv at 112 x 112 ran 45% slower in place). The AVX-512 tile reads
//   that conv faster in place (0.138 -> 0.102 ms, 1 thread); 4 KiB apart stays packed.
// - on AVX-512 also for any M when K <= 64: a panel that shallow (8 KB) stays in L1
//   across the row tiles, and packing B cost more than the reads it saves. 1 thread,
//   node minima of the affected 1x1 convs: ResNet-50's 64 -> 256 0.84 / 0.69 -> 0.64
//   / 0.60 ms, MobileNetV2's 16 -> 96 at 112x112 0.287 -> 0.260, YOLOX-nano's 1x1s
//   7.16 -> 6.93 in all; at 2 threads the same or better. K <= 128 gained nothing more.
// - on AVX-512 also up to 64 rows of A at any depth, those deeper than 64 rows of B
//   then run panel by panel (see sweep_rows): ResNet-50's 256 -> 64 at 56x56 alone,
//   1 thread, one process alternating, 14% faster by the median (4 of 4 rounds of
//   200); in model its two such nodes 26% and 32% (median of 20), the whole net 1%.
constexpr int64_t kMaxShallowDepth = 64;
bool read_b_in_place(const GemmShape& s, int64_t ldb, Isa isa) {
  constexpr int64_t kMaxRows = 48, kMaxRowsAvx512 = 64;
  const bool avx512 = isa >= Isa::kAvx512;
  return (s.m <= kMaxRows || (avx512 && (s.k <= kMaxShallowDepth || s.m <= kMaxRowsAvx512))) &&
         rows_spread_over_l1(ldb, avx512 ? 1024 : 256);
}

bool reads_b_in_place(const GemmKernelSet& ks, const GemmShape& s, const GemmOperands& op) {
  return !op.packed_b && !op.pack_b && !op.b.trans && ks.ukernel_strided_b && read_b_in_place(s, op.b.ld, ks.isa);
}

// Whether a block of mc rows runs each row tile across all columns (then the next)
// rather than each column panel down all rows. Panel by panel, a block writes one
// 128-byte piece of each of its mc rows of C in turn: with C going to memory, more
// streams than the hardware prefetcher follows. Row tile by row tile it writes 14
// rows at a time, and re-reads the B block from L2 instead of L1. 1 thread, pinned,
// alternated runs: ResNet-50's 64 -> 256 with its residual at 56x56 0.93 -> 0.84 ms
// (faster in 8 of 8; in a noisier hour 4% by the median of 16 pairs, faster in 11),
// 128 -> 512 at 28x28 2.5% (12 of 16); from 64 rows on, 256 -> 64 at 56x56 13% (8
// of 12), whole ResNet-50 8% at 2 threads (7 of 10), MobileNetV2 4% (8 of 10),
// GoogLeNet and YOLOX-nano ties. With 32 rows it lost (YOLOX's 16 -> 32 at 104x104,
// 0.106 -> 0.115), and Winograd's GEMMs, whose C stays cached, looked slower. A
// prepacked B (weights) keeps the panel order: that B comes from memory, once per
// block. So does a B read in place deeper than kMaxShallowDepth: row tile by row
// tile, each would read its K block's rows (32 KB and more a panel) again from L2
// or memory instead of L1 (measured with read_b_in_place's 64 rows).
bool sweep_rows(const GemmShape& s, const GemmOperands& op, int64_t mc, bool direct_b) {
  constexpr int64_t kMinRows = 64;
  return s.c_streams_out && !op.packed_b && mc >= kMinRows && !(direct_b && s.k > kMaxShallowDepth);
}

void gemm_tile(const GemmKernelSet& ks, const GemmShape& s, const GemmOperands& op, int64_t m0, int64_t m1,
               int64_t n0, int64_t n1) {
  const int mr = ks.mr, nr = ks.nr;
  const int64_t ncols = n1 - n0;
  const bool direct_a = reads_a_in_place(ks, s, op);
  float* b_buf = op.packed_b ? nullptr : gemm_scratch(0, ks.kc * round_up(ncols, nr));
  float* a_buf = op.packed_a || direct_a ? nullptr : gemm_scratch(1, ks.kc * round_up(std::min(ks.mc, m1 - m0), mr));
  // B read in place: its full panels need no packing, only a ragged right edge does.
  const bool direct_b = reads_b_in_place(ks, s, op);
  const int64_t direct_cols = direct_b ? ncols / nr * nr : 0;
  for (int64_t k0 = 0; k0 < s.k; k0 += ks.kc) {
    const int64_t kc = std::min(ks.kc, s.k - k0);
    const float* b_block;
    if (op.packed_b) {
      b_block = op.packed_b->panel(k0, kc, n0);
    } else {
      if (op.pack_b)
        (*op.pack_b)(k0, kc, n0, ncols, nr, b_buf);
      else if (direct_cols < ncols)
        pack_b_panels(op.b, k0, kc, n0 + direct_cols, ncols - direct_cols, nr, b_buf + direct_cols * kc);
      b_block = b_buf;
    }
    // Where this block packs B from a row-major matrix (a 1x1 conv's input planes),
    // the first row tile of each panel fetches that panel's source for the next
    // block into L2: the next K block, else the next column strip. Packing then
    // copies from L2 instead of waiting on memory, which it did for a fifth of a
    // 256 -> 64 1x1 conv at 56x56. Alternated pairs, whole nets: ResNet-50 3%
    // faster at 1 thread (7 of 10), 7% at 2 (8 of 10), MobileNetV2 3% (6 of 8);
    // GoogLeNet, YOLOX-nano and VGG-16 within 2% either way.
    // Where the block reads B in place, the first row tile of each panel fetches
    // the next panel's rows instead, one per k step: the hardware prefetcher lost
    // track of the kc rows' short pieces. Alone, 1 thread, alternated in one process:
    // YOLOX-nano's 32 -> 32 at 104x104 23% faster (medians); in model, whole nets,
    // 1 / 2 threads: YOLOX-nano 0-3% / 4-7%, MobileNetV2 2% / 3-4%, SqueezeNet,
    // GoogLeNet and ResNet-50 within 2%.
    const float* next_src = nullptr;
    int64_t next_cols = 0;
    if (direct_cols > 0) {
      next_src = op.b.data + k0 * op.b.ld + n0 + nr;
      next_cols = direct_cols - nr;
    } else if (!op.packed_b && !op.pack_b && !op.b.trans) {
      if (k0 + kc < s.k) {
        next_src = op.b.data + (k0 + kc) * op.b.ld + n0;
        next_cols = ncols;
      } else if (n1 < s.n) {
        next_src = op.b.data + n1;
        next_cols = std::min(s.n - n1, n1 - n0);
      }
    }
    // A prepacked B (weights: pixel-major convs, fully connected layers) comes from
    // memory once per block, its first row tile reading each panel as it goes; the
    // row tiles after it find the panel in L1, so memory then sat idle. Now every
    // row tile of the first block fetches its share of the next panel (or of the next
    // K block's first) into L2, spread evenly over its k steps. 1 thread, in model,
    // the same process alternating runs with and without (minima): ResNet-18's 7x7
    // 512 -> 512 3x3s 13-16% faster, ResNet-50's pixel-major convs 8% in all (layer4
    // 12-14%, layer3 2-5%), its other nodes unchanged; at 2 threads 3%.
    const int64_t next_block_kc = std::min(ks.kc, s.k - k0 - kc);
    const float* next_block_panel = op.packed_b && next_block_kc > 0 ? op.packed_b->panel(k0 + kc, next_block_kc, n0) : nullptr;
    UkernelParams p;
    p.load_c = s.accumulate || k0 > 0;
    p.finish = k0 + kc >= s.k;
    p.epilogue = s.epilogue;
    p.fetch_ld = op.packed_b ? nr : op.b.ld;  // next panel rows, else the next source's rows
    for (int64_t i0 = m0; i0 < m1; i0 += ks.mc) {
      const int64_t mc = std::min(ks.mc, m1 - i0), row_tiles = ceil_div(mc, mr);
      const float* a_block = nullptr;
      if (op.packed_a) {
        a_block = op.packed_a->panel(k0, kc, i0);
      } else if (!direct_a) {
        pack_a_block(op.a, i0, mc, k0, kc, mr, s.alpha, a_buf);
        a_block = a_buf;
      }
      const auto tile = [&](int64_t i, int64_t j) {
        const float* b_panel = b_block + (j / nr) * kc * nr;
        const int cols = static_cast<int>(std::min<int64_t>(nr, ncols - j));
        const int64_t row = i0 + i;
        p.row_bias = (op.row_bias && k0 == 0) ? op.row_bias + row : nullptr;
        p.c_in = (op.c_in && k0 == 0) ? op.c_in + row * op.ldc + n0 + j : nullptr;
        const int rows = static_cast<int>(std::min<int64_t>(mr, mc - i));
        // The block's first row tile reads a prepacked (weight) panel from memory; the others find it in L1.
        // A one-row GEMM (a fully connected layer at batch 1) streams its weights at
        // a multiply-add per 64 bytes: the hardware prefetcher and the next-panel
        // fetch below keep up, and the extra L1 prefetches only took load slots. 1
        // thread, pinned, alternated: AlexNet's 9216 -> 4096 alone 11.1 -> 10.0 ms
        // (ORT 10.3), its 4096 -> 4096 3.0 -> 2.5; 2 threads 5.6 -> 5.1.
        p.prefetch_b = op.packed_b && i0 == m0 && i == 0 && s.m > 1;
        p.fetch_rows = next_src && i0 == m0 && i == 0 && j < next_cols ? next_src + j : nullptr;
        p.fetch_count = 0;
        p.fetch_every = 1;
        if (op.packed_b && i0 == m0) {
          const bool in_block = j + nr < ncols;
          const float* next = in_block ? b_block + (j / nr + 1) * kc * nr : next_block_panel;
          const int64_t next_kc = in_block ? kc : next_block_kc;
          const int64_t share = ceil_div(next_kc, row_tiles), first = (i / mr) * share;
          if (next && first < next_kc) {  // rows [first, first + share) of the next panel
            p.fetch_rows = next + first * nr;
            p.fetch_count = std::min(share, next_kc - first);
            p.fetch_every = static_cast<int>(std::max<int64_t>(1, kc / p.fetch_count));
          }
        }
        if (direct_a)
          ks.ukernel_strided_a(kc, op.a.data + k0 * op.a.ld + row, op.a.ld, b_panel, op.c + row * op.ldc + n0 + j,
                               op.ldc, rows, cols, p);
        else if (j < direct_cols)
          ks.ukernel_strided_b(kc, a_block + (i / mr) * kc * mr, op.b.data + k0 * op.b.ld + n0 + j, op.b.ld,
                               op.c + row * op.ldc + n0 + j, op.ldc, rows, p);
        else
          ks.ukernel(kc, a_block + (i / mr) * kc * mr, b_panel, op.c + row * op.ldc + n0 + j, op.ldc, rows, cols, p);
      };
      if (sweep_rows(s, op, mc, direct_b)) {
        for (int64_t i = 0; i < mc; i += mr)
          for (int64_t j = 0; j < ncols; j += nr) tile(i, j);
      } else {
        // B panel (kc x nr) stays in L1 while the A block streams from L2.
        for (int64_t j = 0; j < ncols; j += nr)
          for (int64_t i = 0; i < mc; i += mr) tile(i, j);
      }
    }
  }
}

}  // namespace

void gemm_f32(const GemmKernelSet& ks, const GemmShape& s, int64_t batch,
              const std::function<void(int64_t, GemmOperands&)>& bind) {
  if (s.m <= 0 || s.n <= 0 || batch <= 0) return;
  if (s.k <= 0) {
    for (int64_t t = 0; t < batch; ++t) {
      GemmOperands op;
      bind(t, op);
      gemm_empty_k(s, op);
    }
    return;
  }
  GemmOperands probe;
  bind(0, probe);
  const TileGrid g = plan_tiles(ks, s, batch, probe.packed_b != nullptr);
  const int64_t per_gemm = g.m_tiles * g.n_tiles;
  // Tasks that split M each pack the same B blocks (for a conv: the same im2col). When
  // they do and B is small (ResNet's 7x7 layer4: K 4608 x 49 columns), pack it once,
  // in parallel, and let every task read it; unless B is read in place anyway
  // (MobileNetV2's 28x28 projections to 32 channels ran slower on 2 threads than on
  // one while their 192-deep B was packed up front).
  // It lives in the calling thread's scratch slot 6: a fresh buffer per call cost a
  // page fault per 4 KiB every run (ResNet-18 at 2 threads: 21 -> 16 ms).
  std::vector<PackedB> shared_b;
  constexpr int64_t kSharedBMaxFloats = int64_t(1) << 22;
  const int64_t b_floats = PackedB::storage_floats(ks, s.k, s.n);
  if (g.m_tiles > 1 && batch * b_floats <= kSharedBMaxFloats) {
    shared_b.resize(static_cast<size_t>(batch));
    float* storage = nullptr;
    for (int64_t t = 0; t < batch; ++t) {
      GemmOperands op;
      bind(t, op);
      if (op.packed_b || reads_b_in_place(ks, s, op)) continue;
      if (!storage) storage = gemm_scratch(6, static_cast<size_t>(batch * b_floats));
      const PackBFn pack_view = [&op](int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* dst) {
        pack_b_panels(op.b, k0, kc, n0, nc, nr, dst);
      };
      shared_b[t] = PackedB(ks, s.k, s.n, op.pack_b ? *op.pack_b : pack_view, storage + t * b_floats);
    }
  }
  parallel_for(0, batch * per_gemm, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      GemmOperands op;
      bind(t / per_gemm, op);
      if (!shared_b.empty() && !shared_b[t / per_gemm].empty()) {
        op.packed_b = &shared_b[t / per_gemm];
        op.pack_b = nullptr;
      }
      CVT_ASSERT(!op.packed_a || (op.packed_a->isa() == ks.isa && s.alpha == 1.f));
      CVT_ASSERT(!op.packed_b || op.packed_b->isa() == ks.isa);
      const int64_t mi = (t % per_gemm) / g.n_tiles, ni = t % g.n_tiles;
      const int64_t m0 = mi * g.m_tile, n0 = ni * g.n_tile;
      gemm_tile(ks, s, op, m0, std::min(s.m, m0 + g.m_tile), n0, std::min(s.n, n0 + g.n_tile));
    }
  });
}

}  // namespace cvt
