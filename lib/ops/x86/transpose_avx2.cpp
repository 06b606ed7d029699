// Transpose's 2-D tiles for 4-byte elements on AVX2: 8x8 blocks through
// registers, the ragged edges element by element.
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

}  // namespace cvt
