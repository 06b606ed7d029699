// Depthwise conv plane kernel for AVX-512F: 16 outputs per vector, up to four
// vectors in flight to cover FMA latency; the last vector is masked, so it reads
// and writes nothing past the run (the AVX2 kernel's 8-wide tail uses the slack).
#include <immintrin.h>

// GCC 12's _mm512_max_ps/_mm512_min_ps pass an _mm512_undefined_ps() operand
// that trips a false -Wmaybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "ops/conv.h"
#include "ops/x86/epilogue_avx512.h"

namespace cvt {
namespace {

// NV vectors of outputs from i on, NV independent FMA chains; the last one covers `mask` lanes.
template <int NV>
inline void dw_vectors(const DepthwisePlane& d, int64_t i, __mmask16 mask, const Epilogue& e) {
  __m512 acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = _mm512_set1_ps(d.bias);
  for (int64_t t = 0; t < d.taps; ++t) {
    const __m512 wv = _mm512_set1_ps(d.w[t]);
    const float* x = d.x + d.offset[t] + i;
    for (int v = 0; v < NV - 1; ++v) acc[v] = _mm512_fmadd_ps(_mm512_loadu_ps(x + 16 * v), wv, acc[v]);
    acc[NV - 1] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, x + 16 * (NV - 1)), wv, acc[NV - 1]);
  }
  for (int v = 0; v < NV - 1; ++v) _mm512_storeu_ps(d.y + i + 16 * v, x86::apply_epilogue512(acc[v], e));
  _mm512_mask_storeu_ps(d.y + i + 16 * (NV - 1), mask, x86::apply_epilogue512(acc[NV - 1], e));
}

}  // namespace

void conv_dw_f32_plane__avx512(const DepthwisePlane& d, const Epilogue& e) noexcept {
  int64_t i = 0;
  for (; i + 64 <= d.n; i += 64) dw_vectors<4>(d, i, 0xFFFF, e);
  // The rest (up to 63 outputs) as independent chains too: one chain of 9 taps
  // per vector would wait on FMA latency.
  const int64_t rest = d.n - i;
  const __mmask16 last = static_cast<__mmask16>((1u << (rest % 16 == 0 ? 16 : rest % 16)) - 1);
  switch ((rest + 15) / 16) {
    case 4: dw_vectors<4>(d, i, last, e); break;
    case 3: dw_vectors<3>(d, i, last, e); break;
    case 2: dw_vectors<2>(d, i, last, e); break;
    case 1: dw_vectors<1>(d, i, last, e); break;
    default: break;
  }
}

}  // namespace cvt
