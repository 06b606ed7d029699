// AVX2+FMA e^x and sigmoid on 8 floats, shared by the activation kernels and the
// fused SiLU epilogues of the conv / GEMM kernels (so a fused Conv -> SiLU gives
// the same bits as Conv, Sigmoid, Mul). Include only from files built with -mavx2 -mfma.
// Polynomials were fitted for this file (least squares on the reduced range);
// relative error stays within ~2 ulp of libm.
#pragma once
#include <immintrin.h>

#include <cmath>

#include "ops/x86/exp_range.h"

namespace cvt::x86 {

// e^x = 2^k * e^r with k = round(x / ln2), |r| <= ln2 / 2, e^r = 1 + r + r^2 q(r),
// for x clamped to [kExpMinArg, kExpMaxArg]: past them it returns the clamp point's
// value (exp256 fixes those lanes; the sigmoid needs only the overflow fixed).
inline __m256 exp_clamped256(__m256 x) {
  // min/max return their second operand when either is NaN, so NaN survives the clamp.
  const __m256 xc = _mm256_max_ps(_mm256_set1_ps(kExpMinArg), _mm256_min_ps(_mm256_set1_ps(kExpMaxArg), x));
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
  return _mm256_mul_ps(er, _mm256_castsi256_ps(bits));
}

inline __m256 exp256(__m256 x) {
  __m256 y = exp_clamped256(x);
  // Outside the clamp the true result is inf / (sub)normal-or-zero.
  y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(kExpOverflow), _CMP_GT_OQ));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(kExpMinArg), _CMP_LT_OQ));
  return y;
}

// 1 / (1 + e^-x). For x above -kExpMinArg, e^-x under 2^-126 and the clamp's
// 2^-126 both leave 1 + e^-x at 1; only x below -kExpOverflow, where e^-x overflows
// to inf (the result 0), needs a fix.
inline __m256 sigmoid256(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 y = _mm256_div_ps(one, _mm256_add_ps(one, exp_clamped256(_mm256_sub_ps(_mm256_setzero_ps(), x))));
  return _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(-kExpOverflow), _CMP_LT_OQ));
}

/// x * sigmoid(x), rounded as the separate Sigmoid and Mul ops round it.
inline __m256 silu256(__m256 x) { return _mm256_mul_ps(x, sigmoid256(x)); }

}  // namespace cvt::x86
