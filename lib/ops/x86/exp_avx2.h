// AVX2+FMA e^x and sigmoid on 8 floats, shared by the activation kernels and the
// fused SiLU epilogues of the conv / GEMM kernels (so a fused Conv -> SiLU gives
// the same bits as Conv, Sigmoid, Mul). Include only from files built with -mavx2 -mfma.
// Polynomials were fitted for this file (least squares on the reduced range);
// relative error stays within ~2 ulp of libm.
#pragma once
#include <immintrin.h>

#include <cmath>

namespace cvt::x86 {

// e^x = 2^k * e^r with k = round(x / ln2), |r| <= ln2 / 2, e^r = 1 + r + r^2 q(r).
inline __m256 exp256(__m256 x) {
  const __m256 max_arg = _mm256_set1_ps(88.3762626647949f);  // k stays <= 127
  const __m256 min_arg = _mm256_set1_ps(-87.3365447505531f);  // k stays >= -126
  // min/max return their second operand when either is NaN, so NaN survives the clamp.
  const __m256 xc = _mm256_max_ps(min_arg, _mm256_min_ps(max_arg, x));
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln2 split in two so k*ln2_hi is exact.
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 q = _mm256_set1_ps(0.0013751409f);
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0.0083689187f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0.041669533f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0.16666518f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0.49999988f));
  const __m256 r2 = _mm256_mul_ps(r, r);
  const __m256 er = _mm256_fmadd_ps(r2, q, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  __m256 y = _mm256_mul_ps(er, _mm256_castsi256_ps(bits));
  // Outside the clamp the true result is inf / (sub)normal-or-zero.
  y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(88.72283935546875f), _CMP_GT_OQ));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, min_arg, _CMP_LT_OQ));
  return y;
}

inline __m256 sigmoid256(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

/// x * sigmoid(x), rounded as the separate Sigmoid and Mul ops round it.
inline __m256 silu256(__m256 x) { return _mm256_mul_ps(x, sigmoid256(x)); }

}  // namespace cvt::x86
