// AVX2+FMA float kernels for the exp-based activations and exp itself (softmax).
// Polynomials were fitted for this file (least squares on the reduced range);
// relative error stays within ~2 ulp of libm. Tails go through a padded buffer.
#include <immintrin.h>

#include <cstring>

#include "ops/activation.h"

namespace cvt {
namespace {

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

// Small |x|: odd polynomial (no cancellation); otherwise 1 - 2 / (e^{2|x|} + 1) with x's sign.
inline __m256 tanh256(__m256 x) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 ax = _mm256_andnot_ps(sign_mask, x);
  const __m256 x2 = _mm256_mul_ps(x, x);
  __m256 q = _mm256_set1_ps(-0.0057981000f);
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(0.020720281f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-0.053763799f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(0.13331719f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-0.33333293f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(x, x2), q, x);
  const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
  const __m256 e = exp256(_mm256_mul_ps(two, ax));
  __m256 large = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(e, one)));
  large = _mm256_or_ps(large, _mm256_and_ps(x, sign_mask));
  return _mm256_blendv_ps(large, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
}

// mish(x) = x * tanh(ln(1 + e^x)) = x * n / (n + 2) with n = e^x (e^x + 2); x > 20 gives x.
inline __m256 mish256(__m256 x) {
  const __m256 e = exp256(x);
  const __m256 n = _mm256_mul_ps(e, _mm256_add_ps(e, _mm256_set1_ps(2.0f)));
  const __m256 y = _mm256_mul_ps(x, _mm256_div_ps(n, _mm256_add_ps(n, _mm256_set1_ps(2.0f))));
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, _mm256_set1_ps(20.0f), _CMP_GT_OQ));
}

template <class Fn>
inline void map256(const float* x, float* y, int64_t n, Fn fn) noexcept {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, fn(_mm256_loadu_ps(x + i)));
  if (i < n) {
    alignas(32) float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::memcpy(buf, x + i, sizeof(float) * (n - i));
    _mm256_store_ps(buf, fn(_mm256_load_ps(buf)));
    std::memcpy(y + i, buf, sizeof(float) * (n - i));
  }
}

}  // namespace

void exp_f32__avx2(const float* x, float* y, int64_t n) noexcept { map256(x, y, n, exp256); }
void sigmoid_f32__avx2(const float* x, float* y, int64_t n) noexcept { map256(x, y, n, sigmoid256); }
void tanh_f32__avx2(const float* x, float* y, int64_t n) noexcept { map256(x, y, n, tanh256); }
void mish_f32__avx2(const float* x, float* y, int64_t n) noexcept { map256(x, y, n, mish256); }

}  // namespace cvt
