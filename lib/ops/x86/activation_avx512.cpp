// AVX-512 float kernels for e^x, sigmoid, SiLU (x86/exp_avx512.h), tanh and mish:
// their AVX2 twins in activation_avx2.cpp step for step, so the same bits at twice
// the width. Tails run masked.
#include <immintrin.h>

#include "ops/activation.h"
#include "ops/x86/exp_avx512.h"

// GCC 12 flags the deliberately undefined pass-through operand of its AVX-512
// intrinsics (_mm512_undefined_ps) once they inline here (GCC bug 105593, fixed in 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace cvt {
namespace {

// Small |x|: odd polynomial (no cancellation); otherwise 1 - 2 / (e^{2|x|} + 1) with x's sign.
inline __m512 tanh512(__m512 x) {
  const __m512 sign_mask = _mm512_set1_ps(-0.0f);
  const __m512 ax = _mm512_andnot_ps(sign_mask, x);
  const __m512 x2 = _mm512_mul_ps(x, x);
  __m512 q = _mm512_set1_ps(-0.0057981000f);
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(0.020720281f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-0.053763799f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(0.13331719f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-0.33333293f));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(x, x2), q, x);
  const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
  const __m512 e = x86::exp512(_mm512_mul_ps(two, ax));
  __m512 large = _mm512_sub_ps(one, _mm512_div_ps(two, _mm512_add_ps(e, one)));
  large = _mm512_or_ps(large, _mm512_and_ps(x, sign_mask));
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ), large, small);
}

// mish(x) = x * tanh(ln(1 + e^x)) = x * n / (n + 2) with n = e^x (e^x + 2); x > 20 gives x.
inline __m512 mish512(__m512 x) {
  const __m512 e = x86::exp512(x);
  const __m512 n = _mm512_mul_ps(e, _mm512_add_ps(e, _mm512_set1_ps(2.0f)));
  const __m512 y = _mm512_mul_ps(x, _mm512_div_ps(n, _mm512_add_ps(n, _mm512_set1_ps(2.0f))));
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(20.0f), _CMP_GT_OQ), y, x);
}

template <class Fn>
inline void map512(const float* x, float* y, int64_t n, Fn fn) noexcept {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, fn(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 tail = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, tail, fn(_mm512_maskz_loadu_ps(tail, x + i)));
  }
}

}  // namespace

void exp_f32__avx512(const float* x, float* y, int64_t n) noexcept { map512(x, y, n, x86::exp512); }
void sigmoid_f32__avx512(const float* x, float* y, int64_t n) noexcept { map512(x, y, n, x86::sigmoid512); }
void silu_f32__avx512(const float* x, float* y, int64_t n) noexcept { map512(x, y, n, x86::silu512); }
void tanh_f32__avx512(const float* x, float* y, int64_t n) noexcept { map512(x, y, n, tanh512); }
void mish_f32__avx512(const float* x, float* y, int64_t n) noexcept { map512(x, y, n, mish512); }

}  // namespace cvt
