// SGEMM micro-kernel for AVX-512F: a 14x32 register tile (28 zmm accumulators,
// 2 B loads and 1 broadcast per k step), 14x16 at right edges of up to 16
// columns. B from packed panels, a row-major matrix read in place, or rows at
// given offsets (conv taps); A from packed panels or a transposed matrix read in
// place. Only dispatched when cpu_features() reports AVX-512; no blocking or
// packing here (see ops/gemm.cpp).
#include <immintrin.h>

// GCC 12's _mm512_max_ps/_mm512_min_ps pass an _mm512_undefined_ps() operand
// that trips a false -Wmaybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "ops/gemm.h"
#include "ops/x86/epilogue_avx512.h"
#include "ops/x86/prefetch.h"

namespace cvt {
namespace {

constexpr int kMr = 14, kNr = 32;
// Software prefetch distances, in k steps. A net's weights do not stay cached
// from one run to the next (ResNet's 256- and 512-channel 3x3s: 2.4-9.4 MB each,
// VGG's and AlexNet's more), so each run reads them from memory once. The
// hardware prefetcher alone fetched them at ~6 GB/s of the 14-20 one core reads
// sequentially: in a chain of eight 256 -> 256 Winograd convs at 14x14, a conv
// took 1.55 ms, and 0.8-0.9 with A prefetched.
constexpr int64_t kAheadA = 96;  // packed A: 96 x 56 B = 5.4 KB ahead
constexpr int64_t kAheadB = 64;  // packed B panel: 64 x 128 B = 8 KB ahead

using x86::apply_epilogue512;
using x86::prefetch_ahead;

// Where a tile's k-th row of B starts: `ldb` apart (kNr in a packed panel, the
// matrix's stride when read in place), or at its own offset (a conv's taps read
// straight from the input planes). Rows read in place past a right edge may end
// the buffer: the indirect ones load the last vector under the edge mask.
// next() gives row k on its k-th call.
struct StridedRows {
  const float* b;
  int64_t ldb;
  static constexpr bool kMaskedLoads = false;
  void prefetch(int64_t rows, int vecs) const {
    for (int v = 0; v < vecs; ++v) prefetch_ahead(b, rows * ldb + 16 * v);
  }
  const float* next() {
    const float* row = b;
    b += ldb;
    return row;
  }
};
// Masked: the last vector loads under the edge mask. A full 32-column tile loads
// it whole (the same values): 2% off the 7x7 stem alone, 1 thread, alternated runs.
template <bool Masked>
struct IndirectRows {
  const float* b;
  const int64_t* offsets;
  static constexpr bool kMaskedLoads = Masked;
  void prefetch(int64_t, int) const {}  // taps of activations, already in cache
  const float* next() { return b + *offsets++; }
};

// A tile of `Rows` rows and `Vecs` column vectors (32 or 16 columns), its k-th
// A values at a + k*lda (lda kMr in a packed panel, the row stride in place); the
// last vector's stores (and C loads) take `last` as their mask, so a right edge
// writes only its columns. A panel of at most 16 columns runs the one-vector tile:
// half the multiply-adds of the full one (Winograd's 16-tile blocks, 7x7 planes).
template <int Rows, int Vecs, class BRows>
inline void tile_rows(int64_t kc, const float* a, int64_t lda, BRows b, float* c, int64_t ldc, __mmask16 last,
                      const UkernelParams& p) noexcept {
  __m512 acc[Vecs][Rows];
#pragma GCC unroll 14
  for (int i = 0; i < Rows; ++i)
    for (int v = 0; v < Vecs; ++v) acc[v][i] = _mm512_setzero_ps();
  const bool prefetch_b = p.prefetch_b;
  // As integers: the next block's rows may end before kc of them (a prefetch never faults).
  uintptr_t fetch = reinterpret_cast<uintptr_t>(p.fetch_rows);
  int64_t fetch_left = !p.fetch_rows ? 0 : p.fetch_count > 0 ? p.fetch_count : kc;
  int fetch_wait = 1;  // k steps to the next row's fetch
  const uintptr_t fetch_step = uintptr_t(p.fetch_ld) * sizeof(float);
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    prefetch_ahead(a, kAheadA * lda);
    if (prefetch_b) b.prefetch(kAheadB, Vecs);
    if (fetch_left > 0 && --fetch_wait == 0) {
      _mm_prefetch(reinterpret_cast<const char*>(fetch), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(fetch + 64), _MM_HINT_T1);
      fetch += fetch_step;
      --fetch_left;
      fetch_wait = p.fetch_every;
    }
    const float* bk = b.next();
    __m512 bv[Vecs];
    for (int v = 0; v < Vecs; ++v)
      bv[v] = BRows::kMaskedLoads && v == Vecs - 1 ? _mm512_maskz_loadu_ps(last, bk + 16 * v)
                                                   : _mm512_loadu_ps(bk + 16 * v);
#pragma GCC unroll 14
    for (int i = 0; i < Rows; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      for (int v = 0; v < Vecs; ++v) acc[v][i] = _mm512_fmadd_ps(ai, bv[v], acc[v][i]);
    }
    a += lda;
  }
  // Plain stores when there is nothing to add or apply (Winograd's 36 GEMMs, partial
  // K blocks): the general loop's per-vector tests cost a sixth of a depth-16 tile
  // (SqueezeNet's 16-channel Winograd GEMMs, kernel alone 19.5 -> 16 us a block).
  if (!p.load_c && !p.row_bias && (!p.finish || p.epilogue.kind == Epilogue::Kind::kNone)) {
#pragma GCC unroll 14
    for (int i = 0; i < Rows; ++i)
      for (int v = 0; v < Vecs; ++v)
        _mm512_mask_storeu_ps(c + i * ldc + 16 * v, v == Vecs - 1 ? last : __mmask16(0xFFFF), acc[v][i]);
    return;
  }
#pragma GCC unroll 14
  for (int i = 0; i < Rows; ++i) {
    float* ci = c + i * ldc;
    const float* old = p.c_in ? p.c_in + i * ldc : ci;
    const __m512 bias = _mm512_set1_ps(p.row_bias ? p.row_bias[i] : 0.f);
    for (int v = 0; v < Vecs; ++v) {
      const __mmask16 mask = v == Vecs - 1 ? last : __mmask16(0xFFFF);
      __m512 r = acc[v][i];
      if (p.load_c) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mask, old + 16 * v));
      if (p.row_bias) r = _mm512_add_ps(r, bias);
      if (p.finish) r = apply_epilogue512(r, p.epilogue);
      _mm512_mask_storeu_ps(ci + 16 * v, mask, r);
    }
  }
}

template <int Vecs, class BRows>
inline void tile_dispatch(int64_t kc, const float* a, int64_t lda, BRows b, float* c, int64_t ldc, int mr,
                          __mmask16 last, const UkernelParams& p) noexcept {
  switch (mr) {
    case 1: tile_rows<1, Vecs>(kc, a, lda, b, c, ldc, last, p); break;
    case 2: tile_rows<2, Vecs>(kc, a, lda, b, c, ldc, last, p); break;
    case 3: tile_rows<3, Vecs>(kc, a, lda, b, c, ldc, last, p); break;
    case 4: tile_rows<4, Vecs>(kc, a, lda, b, c, ldc, last, p); break;
    case 5: tile_rows<5, Vecs>(kc, a, lda, b, c, ldc, last, p); break;
    case 6: tile_rows<6, Vecs>(kc, a, lda, b, c, ldc, last, p); break;
    case 7: tile_rows<7, Vecs>(kc, a, lda, b, c, ldc, last, p); break;
    case 8: tile_rows<8, Vecs>(kc, a, lda, b, c, ldc, last, p); break;
    case 9: tile_rows<9, Vecs>(kc, a, lda, b, c, ldc, last, p); break;
    case 10: tile_rows<10, Vecs>(kc, a, lda, b, c, ldc, last, p); break;
    case 11: tile_rows<11, Vecs>(kc, a, lda, b, c, ldc, last, p); break;
    case 12: tile_rows<12, Vecs>(kc, a, lda, b, c, ldc, last, p); break;
    case 13: tile_rows<13, Vecs>(kc, a, lda, b, c, ldc, last, p); break;
    default: tile_rows<14, Vecs>(kc, a, lda, b, c, ldc, last, p); break;
  }
}

// Columns of the last vector a tile of nr columns writes: 16 unless nr is not a multiple of 16.
inline __mmask16 edge_mask(int nr) { return static_cast<__mmask16>((1u << ((nr - 1) % 16 + 1)) - 1); }

// A tile of nr <= 32 columns: two vectors, or one for a right edge of up to 16.
template <class BRows>
inline void tile_columns(int64_t kc, const float* a, int64_t lda, BRows b, float* c, int64_t ldc, int mr, int nr,
                         const UkernelParams& p) noexcept {
  if (nr > 16)
    tile_dispatch<2>(kc, a, lda, b, c, ldc, mr, edge_mask(nr), p);
  else
    tile_dispatch<1>(kc, a, lda, b, c, ldc, mr, edge_mask(nr), p);
}

}  // namespace

void gemm_f32_ukernel_14x32_strided_b__avx512(int64_t kc, const float* a, const float* b, int64_t ldb, float* c,
                                              int64_t ldc, int mr, const UkernelParams& p) noexcept {
  tile_dispatch<2>(kc, a, kMr, StridedRows{b, ldb}, c, ldc, mr, __mmask16(0xFFFF), p);
}

void gemm_f32_ukernel_14x32__avx512(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr,
                                    int nr, const UkernelParams& p) noexcept {
  tile_columns(kc, a, kMr, StridedRows{b, kNr}, c, ldc, mr, nr, p);
}

void gemm_f32_ukernel_14x32_strided_a__avx512(int64_t kc, const float* a, int64_t lda, const float* b, float* c,
                                              int64_t ldc, int mr, int nr, const UkernelParams& p) noexcept {
  tile_columns(kc, a, lda, StridedRows{b, kNr}, c, ldc, mr, nr, p);
}

void gemm_f32_ukernel_14x32_indirect_b__avx512(int64_t kc, const float* a, const float* b,
                                               const int64_t* b_offsets, float* c, int64_t ldc, int mr, int nr,
                                               const UkernelParams& p) noexcept {
  if (nr == kNr)
    tile_dispatch<2>(kc, a, kMr, IndirectRows<false>{b, b_offsets}, c, ldc, mr, __mmask16(0xFFFF), p);
  else
    tile_columns(kc, a, kMr, IndirectRows<true>{b, b_offsets}, c, ldc, mr, nr, p);
}

}  // namespace cvt
