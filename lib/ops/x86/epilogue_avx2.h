// The fused activation (Epilogue) on 8 floats, for the AVX2 kernels that finish
// outputs (GEMM tile, depthwise plane, pixel-major transpose). Include only from
// files compiled with -mavx2 -mfma.
#pragma once
#include <immintrin.h>

#include "ops/gemm.h"
#include "ops/x86/exp_avx2.h"

namespace cvt::x86 {

inline __m256 apply_epilogue(__m256 v, const Epilogue& e) {
  if (e.kind == Epilogue::Kind::kClamp) {
    v = _mm256_max_ps(v, _mm256_set1_ps(e.lo));
    v = _mm256_min_ps(v, _mm256_set1_ps(e.hi));
  } else if (e.kind == Epilogue::Kind::kLeakyRelu) {
    const __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
    v = _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(e.slope)), neg);
  } else if (e.kind == Epilogue::Kind::kSilu) {
    v = silu256(v);
  }
  return v;
}

}  // namespace cvt::x86
