// The fused activation on 16 floats for the AVX-512 kernels (built with the
// AVX-512 flags). SiLU runs the AVX2 exp on each half: the same bits as the
// Sigmoid and Mul kernels and the AVX2 epilogue.
#pragma once
#include <immintrin.h>

#include "ops/gemm.h"
#include "ops/x86/exp_avx2.h"

namespace cvt::x86 {

inline __m512 apply_epilogue512(__m512 v, const Epilogue& e) {
  if (e.kind == Epilogue::Kind::kClamp) {
    v = _mm512_max_ps(v, _mm512_set1_ps(e.lo));
    v = _mm512_min_ps(v, _mm512_set1_ps(e.hi));
  } else if (e.kind == Epilogue::Kind::kLeakyRelu) {
    const __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    v = _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(e.slope));
  } else if (e.kind == Epilogue::Kind::kSilu) {
    const __m256 lo = silu256(_mm512_castps512_ps256(v));
    const __m256 hi = silu256(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    v = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
  }
  return v;
}

}  // namespace cvt::x86
