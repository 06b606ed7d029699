// AVX-512 e^x, sigmoid and SiLU on 16 floats: exp_avx2.h's algorithm, operation for
// operation (same constants, same rounding of each step), so both ISAs give the same
// bits and a fused SiLU epilogue still matches Conv, Sigmoid, Mul. Half the uops of
// running the AVX2 version on each half of a zmm register.
// Include only from files built with the AVX-512 flags.
#pragma once
#include <immintrin.h>

#include <cmath>

namespace cvt::x86 {

inline __m512 exp512(__m512 x) {
  const __m512 max_arg = _mm512_set1_ps(88.3762626647949f);  // k stays <= 127
  const __m512 min_arg = _mm512_set1_ps(-87.3365447505531f);  // k stays >= -126
  // min/max return their second operand when either is NaN, so NaN survives the clamp.
  const __m512 xc = _mm512_max_ps(min_arg, _mm512_min_ps(max_arg, x));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 q = _mm512_set1_ps(0.0013751409f);
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0.0083689187f));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0.041669533f));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0.16666518f));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0.49999988f));
  const __m512 r2 = _mm512_mul_ps(r, r);
  const __m512 er = _mm512_fmadd_ps(r2, q, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23);
  __m512 y = _mm512_mul_ps(er, _mm512_castsi512_ps(bits));
  // Outside the clamp the true result is inf / (sub)normal-or-zero.
  y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(88.72283935546875f), _CMP_GT_OQ),
                         _mm512_set1_ps(INFINITY));
  y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, min_arg, _CMP_LT_OQ), _mm512_setzero_ps());
  return y;
}

inline __m512 sigmoid512(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

/// x * sigmoid(x), rounded as the separate Sigmoid and Mul ops round it.
inline __m512 silu512(__m512 x) { return _mm512_mul_ps(x, sigmoid512(x)); }

}  // namespace cvt::x86
