// A 16 x 16 float transpose in registers for the AVX-512 kernels (built with the
// AVX-512 flags): the pooled pixel-major stem rows to NCHW planes.
#pragma once
#include <immintrin.h>

namespace cvt::x86 {

// r[i] = row i of a 16x16 block -> r[i] = column i: unpack pairs, then 64-bit
// pairs, then 128-bit lanes twice.
inline void transpose16x16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int q = 0; q < 4; ++q) {  // rows 4q .. 4q + 3
    const __m512 *a = t + 4 * q, *b = t + 4 * q + 2;
    u[4 * q] = _mm512_shuffle_ps(a[0], b[0], 0x44);
    u[4 * q + 1] = _mm512_shuffle_ps(a[0], b[0], 0xEE);
    u[4 * q + 2] = _mm512_shuffle_ps(a[1], b[1], 0x44);
    u[4 * q + 3] = _mm512_shuffle_ps(a[1], b[1], 0xEE);
  }
  for (int h = 0; h < 2; ++h)  // rows 8h .. 8h + 7
    for (int k = 0; k < 4; ++k) {
      t[8 * h + 2 * k] = _mm512_shuffle_f32x4(u[8 * h + k], u[8 * h + 4 + k], 0x88);
      t[8 * h + 2 * k + 1] = _mm512_shuffle_f32x4(u[8 * h + k], u[8 * h + 4 + k], 0xDD);
    }
  // t[2k] holds columns k and k + 8 of rows 0-7 / 8-15 (t[8 + 2k]) in lanes 0,2 / 1,3.
  for (int k = 0; k < 4; ++k) {
    r[k] = _mm512_shuffle_f32x4(t[2 * k], t[8 + 2 * k], 0x88);
    r[k + 8] = _mm512_shuffle_f32x4(t[2 * k], t[8 + 2 * k], 0xDD);
    r[k + 4] = _mm512_shuffle_f32x4(t[2 * k + 1], t[8 + 2 * k + 1], 0x88);
    r[k + 12] = _mm512_shuffle_f32x4(t[2 * k + 1], t[8 + 2 * k + 1], 0xDD);
  }
}

}  // namespace cvt::x86
