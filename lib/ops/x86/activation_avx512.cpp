// AVX-512 float kernels for e^x, sigmoid and SiLU (x86/exp_avx512.h): the same bits
// as their AVX2 twins in activation_avx2.cpp, twice the width. Tails run masked.
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

}  // namespace cvt
