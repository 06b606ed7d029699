// SGEMM micro-kernel for AVX-512F: a 14x32 register tile (28 zmm accumulators,
// 2 B loads and 1 broadcast per k step). Only dispatched when cpu_features()
// reports AVX-512; no blocking or packing here (see ops/gemm.cpp).
#include <immintrin.h>

// GCC 12's _mm512_max_ps/_mm512_min_ps pass an _mm512_undefined_ps() operand
// that trips a false -Wmaybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "ops/gemm.h"
#include "ops/x86/epilogue_avx512.h"

namespace cvt {
namespace {

constexpr int kMr = 14, kNr = 32;
using x86::apply_epilogue512;

// Full-width tile of `Rows` rows; c has at least 32 writable columns per row.
// B's k rows are ldb apart: kNr in a packed panel, the matrix's stride when read in place.
template <int Rows>
inline void tile_rows(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                      const UkernelParams& p) noexcept {
  __m512 lo[Rows], hi[Rows];
#pragma GCC unroll 14
  for (int i = 0; i < Rows; ++i) lo[i] = hi[i] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b);
    const __m512 b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 14
    for (int i = 0; i < Rows; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      lo[i] = _mm512_fmadd_ps(ai, b0, lo[i]);
      hi[i] = _mm512_fmadd_ps(ai, b1, hi[i]);
    }
    a += kMr;
    b += ldb;
  }
#pragma GCC unroll 14
  for (int i = 0; i < Rows; ++i) {
    float* ci = c + i * ldc;
    __m512 v0 = lo[i], v1 = hi[i];
    if (p.load_c) {
      const float* old = p.c_in ? p.c_in + i * ldc : ci;
      v0 = _mm512_add_ps(v0, _mm512_loadu_ps(old));
      v1 = _mm512_add_ps(v1, _mm512_loadu_ps(old + 16));
    }
    if (p.row_bias) {
      const __m512 bias = _mm512_set1_ps(p.row_bias[i]);
      v0 = _mm512_add_ps(v0, bias);
      v1 = _mm512_add_ps(v1, bias);
    }
    if (p.finish) {
      v0 = apply_epilogue512(v0, p.epilogue);
      v1 = apply_epilogue512(v1, p.epilogue);
    }
    _mm512_storeu_ps(ci, v0);
    _mm512_storeu_ps(ci + 16, v1);
  }
}

inline void tile_dispatch(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, int mr,
                          const UkernelParams& p) noexcept {
  switch (mr) {
    case 1: tile_rows<1>(kc, a, b, ldb, c, ldc, p); break;
    case 2: tile_rows<2>(kc, a, b, ldb, c, ldc, p); break;
    case 3: tile_rows<3>(kc, a, b, ldb, c, ldc, p); break;
    case 4: tile_rows<4>(kc, a, b, ldb, c, ldc, p); break;
    case 5: tile_rows<5>(kc, a, b, ldb, c, ldc, p); break;
    case 6: tile_rows<6>(kc, a, b, ldb, c, ldc, p); break;
    case 7: tile_rows<7>(kc, a, b, ldb, c, ldc, p); break;
    case 8: tile_rows<8>(kc, a, b, ldb, c, ldc, p); break;
    case 9: tile_rows<9>(kc, a, b, ldb, c, ldc, p); break;
    case 10: tile_rows<10>(kc, a, b, ldb, c, ldc, p); break;
    case 11: tile_rows<11>(kc, a, b, ldb, c, ldc, p); break;
    case 12: tile_rows<12>(kc, a, b, ldb, c, ldc, p); break;
    case 13: tile_rows<13>(kc, a, b, ldb, c, ldc, p); break;
    default: tile_rows<14>(kc, a, b, ldb, c, ldc, p); break;
  }
}

}  // namespace

void gemm_f32_ukernel_14x32_strided_b__avx512(int64_t kc, const float* a, const float* b, int64_t ldb, float* c,
                                              int64_t ldc, int mr, const UkernelParams& p) noexcept {
  tile_dispatch(kc, a, b, ldb, c, ldc, mr, p);
}

void gemm_f32_ukernel_14x32__avx512(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr,
                                 int nr, const UkernelParams& p) noexcept {
  if (nr == kNr) {
    tile_dispatch(kc, a, b, kNr, c, ldc, mr, p);
    return;
  }
  // Right edge: run the full-width tile on a local copy, write back nr columns.
  alignas(64) float tmp[kMr * kNr] = {};
  const float* old = p.c_in ? p.c_in : c;
  if (p.load_c)
    for (int i = 0; i < mr; ++i)
      for (int j = 0; j < nr; ++j) tmp[i * kNr + j] = old[i * ldc + j];
  UkernelParams local = p;
  local.c_in = nullptr;
  tile_dispatch(kc, a, b, kNr, tmp, kNr, mr, local);
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) c[i * ldc + j] = tmp[i * kNr + j];
}

}  // namespace cvt
