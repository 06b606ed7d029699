// The fused activation on 16 floats for the AVX-512 kernels (built with the
// AVX-512 flags). SiLU gives the same bits as the Sigmoid and Mul kernels and the
// AVX2 epilogue (exp_avx512.h mirrors exp_avx2.h).
#pragma once
#include <immintrin.h>

#include "ops/gemm.h"
#include "ops/x86/exp_avx512.h"

namespace cvt::x86 {

inline __m512 apply_epilogue512(__m512 v, const Epilogue& e) {
  if (e.kind == Epilogue::Kind::kClamp) {
    v = _mm512_max_ps(v, _mm512_set1_ps(e.lo));
    v = _mm512_min_ps(v, _mm512_set1_ps(e.hi));
  } else if (e.kind == Epilogue::Kind::kLeakyRelu) {
    const __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    v = _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(e.slope));
  } else if (e.kind == Epilogue::Kind::kSilu) {
    v = silu512(v);
  }
  return v;
}

}  // namespace cvt::x86
