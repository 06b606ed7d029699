// SGEMM micro-kernel for AVX2+FMA: a 6x16 register tile (12 ymm accumulators,
// 2 B loads and 1 broadcast per k step). Compiled with -mavx2 -mfma only; no
// blocking or packing here (see ops/gemm.cpp).
#include <immintrin.h>

#include "ops/gemm.h"
#include "ops/x86/epilogue_avx2.h"
#include "ops/x86/prefetch.h"

namespace cvt {
namespace {

constexpr int kMr = 6, kNr = 16;
// Tiles of up to this many rows split their k steps in two (tile_rows): with 2
// rows or fewer there are at most 4 FMA chains, and each waits on the last FMA.
constexpr int kSplitRows = 2;

// Software prefetch distances in k steps, for weights read from memory (see
// gemm_avx512.cpp): packed A 192 x 24 B = 4.5 KB ahead, a packed B panel 64 x 64 B.
constexpr int64_t kAheadA = 192, kAheadB = 64;

using x86::apply_epilogue;
using x86::prefetch_ahead;

// Full-width tile of `Rows` rows; c has at least 16 writable columns per row.
// B is a packed panel (16 floats a k step, aligned), or with kStridedB 16
// columns of a row-major matrix, ldb apart. kCIn: C's old values come from
// p.c_in (a compile-time choice: a 24-deep expansion's tile is short enough for
// per-row tests in its prologue and epilogue to show).
template <int Rows, bool kStridedB = false, bool kCIn = false>
inline void tile_rows(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, const UkernelParams& p,
                      int64_t ldb = kNr) noexcept {
  __m256 lo[Rows], hi[Rows];
#pragma GCC unroll 6
  for (int i = 0; i < Rows; ++i) {
    lo[i] = hi[i] = _mm256_setzero_ps();
    // C rows are far apart (ldc): start fetching them while the k loop runs (and
    // the rows the old values come from, when they come from elsewhere).
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 15), _MM_HINT_T0);
    if (kCIn) {
      _mm_prefetch(reinterpret_cast<const char*>(p.c_in + i * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(p.c_in + i * ldc + 15), _MM_HINT_T0);
    }
  }
  const bool prefetch_b = !kStridedB && p.prefetch_b;
  int64_t k = 0;
  if constexpr (Rows <= kSplitRows) {
    // Even and odd k steps into separate sums, added at the end: twice the
    // independent FMA chains, so a short tile is not bound by FMA latency.
    __m256 lo_odd[Rows], hi_odd[Rows];
    for (int i = 0; i < Rows; ++i) lo_odd[i] = hi_odd[i] = _mm256_setzero_ps();
    const int64_t b_step = kStridedB ? ldb : kNr;
    for (; k + 2 <= kc; k += 2) {
      prefetch_ahead(a, kAheadA * kMr);
      if (prefetch_b) prefetch_ahead(b, kAheadB * kNr), prefetch_ahead(b, (kAheadB + 1) * kNr);
      const __m256 b0 = kStridedB ? _mm256_loadu_ps(b) : _mm256_load_ps(b);
      const __m256 b1 = kStridedB ? _mm256_loadu_ps(b + 8) : _mm256_load_ps(b + 8);
      const __m256 b2 = kStridedB ? _mm256_loadu_ps(b + b_step) : _mm256_load_ps(b + b_step);
      const __m256 b3 = kStridedB ? _mm256_loadu_ps(b + b_step + 8) : _mm256_load_ps(b + b_step + 8);
      for (int i = 0; i < Rows; ++i) {
        const __m256 ai = _mm256_broadcast_ss(a + i), aj = _mm256_broadcast_ss(a + kMr + i);
        lo[i] = _mm256_fmadd_ps(ai, b0, lo[i]);
        hi[i] = _mm256_fmadd_ps(ai, b1, hi[i]);
        lo_odd[i] = _mm256_fmadd_ps(aj, b2, lo_odd[i]);
        hi_odd[i] = _mm256_fmadd_ps(aj, b3, hi_odd[i]);
      }
      a += 2 * kMr;
      b += 2 * b_step;
    }
    for (int i = 0; i < Rows; ++i) {
      lo[i] = _mm256_add_ps(lo[i], lo_odd[i]);
      hi[i] = _mm256_add_ps(hi[i], hi_odd[i]);
    }
  }
#pragma GCC unroll 2
  for (; k < kc; ++k) {
    prefetch_ahead(a, kAheadA * kMr);
    if (prefetch_b) prefetch_ahead(b, kAheadB * kNr);
    const __m256 b0 = kStridedB ? _mm256_loadu_ps(b) : _mm256_load_ps(b);
    const __m256 b1 = kStridedB ? _mm256_loadu_ps(b + 8) : _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < Rows; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      lo[i] = _mm256_fmadd_ps(ai, b0, lo[i]);
      hi[i] = _mm256_fmadd_ps(ai, b1, hi[i]);
    }
    a += kMr;
    b += kStridedB ? ldb : kNr;
  }
  if (!p.load_c && !p.row_bias && (!p.finish || p.epilogue.kind == Epilogue::Kind::kNone)) {  // as the AVX-512 tile
#pragma GCC unroll 6
    for (int i = 0; i < Rows; ++i) {
      _mm256_storeu_ps(c + i * ldc, lo[i]);
      _mm256_storeu_ps(c + i * ldc + 8, hi[i]);
    }
    return;
  }
#pragma GCC unroll 6
  for (int i = 0; i < Rows; ++i) {
    float* ci = c + i * ldc;
    __m256 v0 = lo[i], v1 = hi[i];
    if (p.load_c) {
      const float* old = kCIn ? p.c_in + i * ldc : ci;
      v0 = _mm256_add_ps(v0, _mm256_loadu_ps(old));
      v1 = _mm256_add_ps(v1, _mm256_loadu_ps(old + 8));
    }
    if (p.row_bias) {
      const __m256 bias = _mm256_set1_ps(p.row_bias[i]);
      v0 = _mm256_add_ps(v0, bias);
      v1 = _mm256_add_ps(v1, bias);
    }
    if (p.finish) {
      v0 = apply_epilogue(v0, p.epilogue);
      v1 = apply_epilogue(v1, p.epilogue);
    }
    _mm256_storeu_ps(ci, v0);
    _mm256_storeu_ps(ci + 8, v1);
  }
}

// The first 8 columns only (a right edge of 8 or fewer: 7x7 maps end in 1 of 16):
// half the multiplies of the full tile; c has at least 8 writable columns per row.
template <int Rows>
inline void tile_rows_narrow(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                             const UkernelParams& p) noexcept {
  // Even and odd k steps into separate sums exactly when tile_rows splits them
  // (short tiles): a column must get the same sum in the narrow tile as in the full
  // one, since where the right edge falls can depend on the thread count (Winograd's
  // tile blocks). Splitting in every narrow tile gave other low bits at 2 threads.
  __m256 acc[Rows];
#pragma GCC unroll 6
  for (int i = 0; i < Rows; ++i) acc[i] = _mm256_setzero_ps();
  int64_t k = 0;
  if constexpr (Rows <= kSplitRows) {
    __m256 acc_odd[Rows];
    for (int i = 0; i < Rows; ++i) acc_odd[i] = _mm256_setzero_ps();
    for (; k + 2 <= kc; k += 2) {
      const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + kNr);
      for (int i = 0; i < Rows; ++i) {
        acc[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + i), b0, acc[i]);
        acc_odd[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + kMr + i), b1, acc_odd[i]);
      }
      a += 2 * kMr;
      b += 2 * kNr;
    }
    for (int i = 0; i < Rows; ++i) acc[i] = _mm256_add_ps(acc[i], acc_odd[i]);
  }
  for (; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b);
#pragma GCC unroll 6
    for (int i = 0; i < Rows; ++i) acc[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + i), b0, acc[i]);
    a += kMr;
    b += kNr;
  }
#pragma GCC unroll 6
  for (int i = 0; i < Rows; ++i) {
    float* ci = c + i * ldc;
    __m256 v = acc[i];
    if (p.load_c) v = _mm256_add_ps(v, _mm256_loadu_ps(ci));  // only on the edge's local copy: no c_in
    if (p.row_bias) v = _mm256_add_ps(v, _mm256_set1_ps(p.row_bias[i]));
    if (p.finish) v = apply_epilogue(v, p.epilogue);
    _mm256_storeu_ps(ci, v);
  }
}

inline void tile_dispatch_narrow(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr,
                                 const UkernelParams& p) noexcept {
  switch (mr) {
    case 1: tile_rows_narrow<1>(kc, a, b, c, ldc, p); break;
    case 2: tile_rows_narrow<2>(kc, a, b, c, ldc, p); break;
    case 3: tile_rows_narrow<3>(kc, a, b, c, ldc, p); break;
    case 4: tile_rows_narrow<4>(kc, a, b, c, ldc, p); break;
    case 5: tile_rows_narrow<5>(kc, a, b, c, ldc, p); break;
    default: tile_rows_narrow<6>(kc, a, b, c, ldc, p); break;
  }
}

template <bool kStridedB, bool kCIn>
inline void tile_dispatch_rows(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, int mr,
                               const UkernelParams& p) noexcept {
  switch (mr) {
    case 1: tile_rows<1, kStridedB, kCIn>(kc, a, b, c, ldc, p, ldb); break;
    case 2: tile_rows<2, kStridedB, kCIn>(kc, a, b, c, ldc, p, ldb); break;
    case 3: tile_rows<3, kStridedB, kCIn>(kc, a, b, c, ldc, p, ldb); break;
    case 4: tile_rows<4, kStridedB, kCIn>(kc, a, b, c, ldc, p, ldb); break;
    case 5: tile_rows<5, kStridedB, kCIn>(kc, a, b, c, ldc, p, ldb); break;
    default: tile_rows<6, kStridedB, kCIn>(kc, a, b, c, ldc, p, ldb); break;
  }
}

template <bool kStridedB>
inline void tile_dispatch(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, int mr,
                          const UkernelParams& p) noexcept {
  if (p.load_c && p.c_in) tile_dispatch_rows<kStridedB, true>(kc, a, b, ldb, c, ldc, mr, p);
  else tile_dispatch_rows<kStridedB, false>(kc, a, b, ldb, c, ldc, mr, p);
}

}  // namespace

void gemm_f32_ukernel_6x16_strided_b__avx2(int64_t kc, const float* a, const float* b, int64_t ldb, float* c,
                                           int64_t ldc, int mr, const UkernelParams& p) noexcept {
  tile_dispatch<true>(kc, a, b, ldb, c, ldc, mr, p);
}

void gemm_f32_ukernel_6x16__avx2(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr,
                                 int nr, const UkernelParams& p) noexcept {
  if (nr == kNr) {
    tile_dispatch<false>(kc, a, b, kNr, c, ldc, mr, p);
    return;
  }
  // Right edge: run the full-width tile on a local copy, write back nr columns.
  alignas(32) float tmp[kMr * kNr] = {};
  const float* old = p.c_in ? p.c_in : c;
  if (p.load_c)
    for (int i = 0; i < mr; ++i)
      for (int j = 0; j < nr; ++j) tmp[i * kNr + j] = old[i * ldc + j];
  UkernelParams local = p;
  local.c_in = nullptr;
  if (nr <= 8) tile_dispatch_narrow(kc, a, b, tmp, kNr, mr, local);
  else tile_dispatch<false>(kc, a, b, kNr, tmp, kNr, mr, local);
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) c[i * ldc + j] = tmp[i * kNr + j];
}

}  // namespace cvt
