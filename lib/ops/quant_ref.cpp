// Reference loops for the quantised conv / matmul: no SIMD, no threads, every
// product accumulated exactly (int64, then checked to fit the int32 the ops
// define), requantised with the same float expression as the fast path.
#include "ops/quant.h"

namespace cvt {

namespace {

int32_t load_q(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::kUInt8: return static_cast<const uint8_t*>(p)[i];
    case DType::kInt8: return static_cast<const int8_t*>(p)[i];
    case DType::kInt32: return static_cast<const int32_t*>(p)[i];
    default: CVT_ASSERT(false && "quantised tensors are uint8, int8 or int32"); return 0;
  }
}

void store_q(void* p, DType t, int64_t i, int32_t v) {
  if (t == DType::kUInt8) static_cast<uint8_t*>(p)[i] = saturate_to<uint8_t>(v);
  else if (t == DType::kInt8) static_cast<int8_t*>(p)[i] = saturate_to<int8_t>(v);
  else static_cast<int32_t*>(p)[i] = v;
}

}  // namespace

void qconv_ref(const QConvArgs& a, const void* x, const void* w, void* y) {
  const ConvParams& p = a.p;
  const int64_t cg = p.in_channels / p.group, kg = p.out_channels / p.group;
  const int32_t qmin = a.y_type == DType::kInt8 ? -128 : 0, qmax = a.y_type == DType::kInt8 ? 127 : 255;
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t k = 0; k < p.out_channels; ++k) {
      const int64_t g = k / kg;
      for (int64_t od = 0; od < p.out[0]; ++od)
        for (int64_t oh = 0; oh < p.out[1]; ++oh)
          for (int64_t ow = 0; ow < p.out[2]; ++ow) {
            int64_t acc = a.bias ? a.bias[k] : 0;
            for (int64_t c = 0; c < cg; ++c)
              for (int64_t kd = 0; kd < p.kernel[0]; ++kd)
                for (int64_t kh = 0; kh < p.kernel[1]; ++kh)
                  for (int64_t kw = 0; kw < p.kernel[2]; ++kw) {
                    const int64_t id = od * p.stride[0] + kd * p.dilation[0] - p.pad_begin[0];
                    const int64_t ih = oh * p.stride[1] + kh * p.dilation[1] - p.pad_begin[1];
                    const int64_t iw = ow * p.stride[2] + kw * p.dilation[2] - p.pad_begin[2];
                    // Padding holds the zero point: it contributes nothing.
                    if (id < 0 || id >= p.in[0] || ih < 0 || ih >= p.in[1] || iw < 0 || iw >= p.in[2]) continue;
                    const int64_t xi = (((n * p.in_channels + g * cg + c) * p.in[0] + id) * p.in[1] + ih) * p.in[2] + iw;
                    const int64_t wi = (((k * cg + c) * p.kernel[0] + kd) * p.kernel[1] + kh) * p.kernel[2] + kw;
                    acc += int64_t(load_q(x, a.x_type, xi) - a.x_zp) * (load_q(w, a.w_type, wi) - a.w_zp[k]);
                  }
            const int64_t yi = ((n * p.out_channels + k) * p.out[0] + od) * p.out[1] * p.out[2] + oh * p.out[2] + ow;
            const int32_t acc32 = static_cast<int32_t>(acc);  // int32 accumulation wraps as in ONNX Runtime
            if (a.requant)
              store_q(y, a.y_type, yi, requantize(acc32, a.out_scale[k], float(qmin - a.y_zp), float(qmax - a.y_zp), a.y_zp));
            else
              store_q(y, DType::kInt32, yi, acc32);
          }
    }
}

void qgemm_ref(int64_t m, int64_t n, int64_t k, const void* a, DType a_type, const int32_t* a_zp, bool a_zp_per_row,
               const void* b, DType b_type, const int32_t* b_zp, bool b_zp_per_col, int32_t* y) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const int32_t za = a_zp[a_zp_per_row ? i : 0], zb = b_zp[b_zp_per_col ? j : 0];
      int64_t acc = 0;
      for (int64_t t = 0; t < k; ++t)
        acc += int64_t(load_q(a, a_type, i * k + t) - za) * (load_q(b, b_type, t * n + j) - zb);
      y[i * n + j] = static_cast<int32_t>(acc);
    }
}

void qgemm_s16_ukernel_4x16__scalar(int64_t kpairs, const int16_t* a, const int16_t* b, int64_t ldb, int32_t* c,
                                    int64_t ldc) noexcept {
  int32_t acc[kQgemmMr][kQgemmNr] = {};
  for (int64_t kp = 0; kp < kpairs; ++kp, a += 2 * kQgemmMr, b += ldb)
    for (int i = 0; i < kQgemmMr; ++i)
      for (int j = 0; j < kQgemmNr; ++j) acc[i][j] += a[2 * i] * b[2 * j] + a[2 * i + 1] * b[2 * j + 1];
  for (int i = 0; i < kQgemmMr; ++i)
    for (int j = 0; j < kQgemmNr; ++j) c[i * ldc + j] = acc[i][j];
}

void requantize_row__scalar(const int32_t* acc, int64_t n, int32_t bias, float scale, int32_t zp, bool is_signed,
                            void* y) noexcept {
  const int32_t qmin = is_signed ? -128 : 0, qmax = is_signed ? 127 : 255;
  const float lo = float(qmin - zp), hi = float(qmax - zp);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t v = requantize(acc[i] + bias, scale, lo, hi, zp);
    if (is_signed) static_cast<int8_t*>(y)[i] = static_cast<int8_t>(v);
    else static_cast<uint8_t*>(y)[i] = static_cast<uint8_t>(v);
  }
}

void qdw_row__scalar(const int16_t* x, const int64_t* tap_offset, const int16_t* w, int taps, int64_t q,
                     int32_t* acc) noexcept {
  for (int64_t ox = 0; ox < q; ++ox) acc[ox] = 0;
  for (int t = 0; t < taps; ++t) {
    const int16_t* xr = x + tap_offset[t];
    const int32_t wv = w[t];
    for (int64_t ox = 0; ox < q; ++ox) acc[ox] += wv * xr[ox];
  }
}

void qdw_requant_row__scalar(const int16_t* x, const int64_t* tap_offset, const int16_t* w, int taps, int64_t n,
                             const QDwRequant& rq, uint8_t* y) noexcept {
  int32_t acc[16];
  for (int64_t ox = 0; ox < n; ox += 16) {
    for (int64_t i = 0; i < 16; ++i) acc[i] = 0;
    for (int t = 0; t < taps; ++t)
      for (int64_t i = 0; i < 16; ++i) acc[i] += int32_t(w[t]) * x[tap_offset[t] + ox + i];
    requantize_row__scalar(acc, 16, rq.bias, rq.scale, rq.zp, rq.is_signed, y + ox);
  }
}

void qgemm_s16_ukernel_4x8__scalar(int64_t kpairs, const int16_t* a, const int16_t* b, int64_t ldb, int32_t* c,
                                   int64_t ldc) noexcept {
  int32_t acc[kQgemmMr][8] = {};
  for (int64_t kp = 0; kp < kpairs; ++kp, a += 2 * kQgemmMr, b += ldb)
    for (int i = 0; i < kQgemmMr; ++i)
      for (int j = 0; j < 8; ++j) acc[i][j] += a[2 * i] * b[2 * j] + a[2 * i + 1] * b[2 * j + 1];
  for (int i = 0; i < kQgemmMr; ++i)
    for (int j = 0; j < 8; ++j) c[i * ldc + j] = acc[i][j];
}

void qgemm_s16_ukernel_1x16__scalar(int64_t kpairs, const int16_t* a, int row, const int16_t* b, int64_t ldb,
                                    int32_t* c) noexcept {
  int32_t acc[kQgemmNr] = {};
  for (int64_t kp = 0; kp < kpairs; ++kp, a += 2 * kQgemmMr, b += ldb)
    for (int j = 0; j < kQgemmNr; ++j) acc[j] += a[2 * row] * b[2 * j] + a[2 * row + 1] * b[2 * j + 1];
  for (int j = 0; j < kQgemmNr; ++j) c[j] = acc[j];
}

void qgemm_s8b_ukernel_1x16__scalar(int64_t kpairs, const int16_t* a, int row, const int8_t* b, int32_t* c) noexcept {
  int32_t acc[kQgemmNr] = {};
  for (int64_t kp = 0; kp < kpairs; ++kp, a += 2 * kQgemmMr, b += 2 * kQgemmNr)
    for (int j = 0; j < kQgemmNr; ++j) acc[j] += a[2 * row] * b[2 * j] + a[2 * row + 1] * b[2 * j + 1];
  for (int j = 0; j < kQgemmNr; ++j) c[j] = acc[j];
}

void qgemm_s16_requant_4x16__scalar(int64_t kpairs, const int16_t* a, const int16_t* b, int64_t ldb,
                                    const QRequantRows& rq, uint8_t* y, int64_t ldy) noexcept {
  int32_t tile[kQgemmMr * kQgemmNr];
  qgemm_s16_ukernel_4x16__scalar(kpairs, a, b, ldb, tile, kQgemmNr);
  for (int i = 0; i < kQgemmMr; ++i)
    requantize_row__scalar(tile + i * kQgemmNr, kQgemmNr, rq.bias ? rq.bias[i] : 0, rq.scale[i], rq.zp, rq.is_signed,
                           y + i * ldy);
}

void qwiden_row__scalar(const void* src, bool is_signed, int32_t zp, int64_t n, int16_t* dst) noexcept {
  const DType t = is_signed ? DType::kInt8 : DType::kUInt8;
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<int16_t>(load_q(src, t, i) - zp);
}

void qwiden_deinterleave2__scalar(const void* src, bool is_signed, int32_t zp, int64_t pairs, int16_t* even,
                                  int16_t* odd) noexcept {
  const DType t = is_signed ? DType::kInt8 : DType::kUInt8;
  for (int64_t i = 0; i < pairs; ++i) {
    even[i] = static_cast<int16_t>(load_q(src, t, 2 * i) - zp);
    odd[i] = static_cast<int16_t>(load_q(src, t, 2 * i + 1) - zp);
  }
}

void qwiden_interleave2__scalar(const void* r0, const void* r1, bool is_signed, int32_t zp, int64_t n,
                                int16_t* dst) noexcept {
  const DType t = is_signed ? DType::kInt8 : DType::kUInt8;
  for (int64_t i = 0; i < n; ++i) {
    dst[2 * i] = static_cast<int16_t>(load_q(r0, t, i) - zp);
    dst[2 * i + 1] = r1 ? static_cast<int16_t>(load_q(r1, t, i) - zp) : int16_t(0);
  }
}

void quantize_run__scalar(const float* x, int64_t n, float scale, int32_t zp, bool is_signed, void* y) noexcept {
  for (int64_t i = 0; i < n; ++i)
    if (is_signed) static_cast<int8_t*>(y)[i] = quantize_value<int8_t>(x[i], scale, zp);
    else static_cast<uint8_t*>(y)[i] = quantize_value<uint8_t>(x[i], scale, zp);
}

void qlinear_add_run__scalar(const void* a, int64_t a_step, const void* b, int64_t b_step, int64_t n,
                             const QAddParams& q, void* c) noexcept {
  const DType t = q.is_signed ? DType::kInt8 : DType::kUInt8;
  const int32_t lo = (q.is_signed ? -128 : 0) - q.zc, hi = (q.is_signed ? 127 : 255) - q.zc;
  for (int64_t i = 0; i < n; ++i) {
    const float va = static_cast<float>(load_q(a, t, i * a_step) - q.za) * q.sa;
    const float vb = static_cast<float>(load_q(b, t, i * b_step) - q.zb) * q.sb;
    int32_t r = round_to_int((va + vb) / q.sc);
    r = r < lo ? lo : (r > hi ? hi : r);
    store_q(c, t, i, r + q.zc);
  }
}

}  // namespace cvt
