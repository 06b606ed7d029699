// Data movement on AVX2, 4-byte elements: Transpose's 2-D tiles (8x8 blocks
// through registers, the ragged edges element by element) and Slice's
// stride-2 rows.
#include "ops/tensor_ops.h"
#include "ops/transpose.h"
#include "ops/x86/transpose_avx2.h"

namespace cvt {

void transpose_block_b32__avx2(const uint32_t* src, int64_t ld_src, uint32_t* dst, int64_t ld_dst, int64_t rows,
                               int64_t cols) noexcept {
  const int64_t full_rows = rows / 8 * 8, full_cols = cols / 8 * 8;
  for (int64_t r0 = 0; r0 < full_rows; r0 += 8)
    for (int64_t c0 = 0; c0 < full_cols; c0 += 8) {
      __m256 v[8];
      for (int j = 0; j < 8; ++j) v[j] = _mm256_loadu_ps(reinterpret_cast<const float*>(src + (r0 + j) * ld_src + c0));
      x86::transpose8x8(v);
      for (int j = 0; j < 8; ++j) _mm256_storeu_ps(reinterpret_cast<float*>(dst + (c0 + j) * ld_dst + r0), v[j]);
    }
  for (int64_t r = 0; r < rows; ++r)  // the right and bottom edges
    for (int64_t c = r < full_rows ? full_cols : 0; c < cols; ++c) dst[c * ld_dst + r] = src[r * ld_src + c];
}

void copy_stride2_b32__avx2(const uint32_t* src, int64_t n, uint32_t* dst) noexcept {
  int64_t i = 0;
  // Each step loads src[2i .. 2i + 15]; i + 8 < n keeps that inside src[0 .. 2n - 2].
  for (; i + 8 < n; i += 8) {
    const __m256 a = _mm256_loadu_ps(reinterpret_cast<const float*>(src + 2 * i));
    const __m256 b = _mm256_loadu_ps(reinterpret_cast<const float*>(src + 2 * i + 8));
    // (s0 s2 s8 s10 | s4 s6 s12 s14), then the middle 64-bit pairs swapped.
    const __m256 even = _mm256_shuffle_ps(a, b, 0x88);
    _mm256_storeu_ps(reinterpret_cast<float*>(dst + i),
                     _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), 0xD8)));
  }
  for (; i < n; ++i) dst[i] = src[2 * i];
}

}  // namespace cvt
