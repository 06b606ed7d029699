// AVX2+FMA float kernels for the exp-based activations and exp itself (softmax);
// e^x and sigmoid live in x86/exp_avx2.h. Tails go through a padded buffer.
#include <immintrin.h>

#include <cstring>

#include "ops/activation.h"
#include "ops/x86/exp_avx2.h"

namespace cvt {
namespace {

using x86::exp256;
using x86::sigmoid256;

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
void silu_f32__avx2(const float* x, float* y, int64_t n) noexcept { map256(x, y, n, x86::silu256); }

}  // namespace cvt
