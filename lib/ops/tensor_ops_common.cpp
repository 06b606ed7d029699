// Shared helpers of the shape / tensor / resize op families (see tensor_ops.h).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/tensor_ops.h"

namespace cvt {

Result<int> normalize_axis(int64_t axis, int rank, const std::string& what) {
  if (axis < -rank || axis >= rank)
    return invalid_model(what + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

Result<std::vector<int>> normalize_axes(const std::vector<int64_t>& axes, int rank, const std::string& what) {
  std::vector<int> out;
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t a : axes) {
    CVT_ASSIGN_OR_RETURN(int axis, normalize_axis(a, rank, what));
    if (seen[axis]) return invalid_model(what + " repeats axis " + std::to_string(a));
    seen[axis] = true;
    out.push_back(axis);
  }
  return out;
}

Result<std::vector<int64_t>> int_list_input(const Tensor& t, const std::string& what) {
  if (t.dtype() != DType::kInt64 && t.dtype() != DType::kInt32)
    return invalid_model(what + " must be int64 or int32, got " + dtype_name(t.dtype()));
  if (t.rank() > 1) return invalid_model(what + " must be 1-D, got shape " + shape_str(t.shape()));
  return t.to_int64_vector();
}

Result<int64_t> int_scalar_input(const Tensor& t, const std::string& what) {
  if (t.numel() != 1) return invalid_model(what + " must hold one value, got shape " + shape_str(t.shape()));
  if (t.dtype() == DType::kFloat16) return unsupported(what + " of type float16");
  if (t.dtype() == DType::kFloat32 || t.dtype() == DType::kFloat64) {
    double v = t.dtype() == DType::kFloat32 ? t.data<float>()[0] : t.data<double>()[0];
    if (!(std::fabs(v) < 9.0e18)) return invalid_argument(what + " is not a finite integer");
    return static_cast<int64_t>(v);
  }
  return t.to_int64_vector()[0];
}

Result<double> double_scalar_input(const Tensor& t, const std::string& what) {
  if (t.numel() != 1) return invalid_model(what + " must hold one value, got shape " + shape_str(t.shape()));
  switch (t.dtype()) {
    case DType::kFloat64: return t.data<double>()[0];
    case DType::kFloat16: return static_cast<double>(half_to_float(t.data<uint16_t>()[0]));
    case DType::kInt64: return static_cast<double>(t.data<int64_t>()[0]);
    case DType::kUInt64: return static_cast<double>(t.data<uint64_t>()[0]);
    default: return static_cast<double>(t.to_float_vector()[0]);
  }
}

Result<const Tensor*> required_input(const KernelContext& ctx, int i, const char* what) {
  const Tensor* t = ctx.input(i);
  if (!t) return invalid_model(std::string("missing required input ") + std::to_string(i) + " (" + what + ")");
  return t;
}

Result<DType> dtype_from_onnx(int64_t code) {
  switch (code) {
    case 1: return DType::kFloat32;
    case 2: return DType::kUInt8;
    case 3: return DType::kInt8;
    case 4: return DType::kUInt16;
    case 5: return DType::kInt16;
    case 6: return DType::kInt32;
    case 7: return DType::kInt64;
    case 9: return DType::kBool;
    case 10: return DType::kFloat16;
    case 11: return DType::kFloat64;
    case 12: return DType::kUInt32;
    case 13: return DType::kUInt64;
    default: break;
  }
  static const char* const kNames[] = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
                                       "STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64",
                                       "COMPLEX128", "BFLOAT16"};
  std::string name = code >= 0 && code <= 16 ? kNames[code] : "code " + std::to_string(code);
  return unsupported("ONNX data type " + name + " is not supported");
}

Result<DType> dtype_from_onnx_name(const std::string& name) {
  static const char* const kNames[] = {"", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
                                       "STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64"};
  for (int code = 1; code <= 13; ++code)
    if (name == kNames[code]) return dtype_from_onnx(code);
  return unsupported("ONNX data type '" + name + "' is not supported");
}

float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  float magnitude;
  if (exp == 0) {
    magnitude = std::ldexp(static_cast<float>(mant), -24);  // subnormal
  } else if (exp == 31) {
    magnitude = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    magnitude = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  }
  uint32_t bits;
  std::memcpy(&bits, &magnitude, 4);
  bits |= sign;
  float r;
  std::memcpy(&r, &bits, 4);
  return r;
}

uint16_t double_to_half(double v) {
  uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  if (std::isnan(v)) return sign | 0x7e00;
  double a = std::fabs(v);
  if (a < std::ldexp(1.0, -14)) {
    // Subnormal: multiple of 2^-24, ties to even (default rounding mode).
    double m = std::nearbyint(std::ldexp(a, 24));
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(m));  // m == 1024 encodes the smallest normal
  }
  if (a >= 65520.0) return sign | 0x7c00;  // at or past the midpoint above 65504: inf
  int ex = 0;
  double frac = std::frexp(a, &ex);        // a = frac * 2^ex, frac in [0.5, 1)
  int biased = ex - 1 + 15;                // exponent of 2*frac in [1, 2)
  int64_t mant = static_cast<int64_t>(std::nearbyint(frac * 2048.0)) - 1024;  // may carry to 1024
  uint32_t bits = (static_cast<uint32_t>(biased) << 10) + static_cast<uint32_t>(mant);
  if (bits >= 0x7c00) bits = 0x7c00;
  return static_cast<uint16_t>(sign | bits);
}

std::vector<int64_t> row_strides(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

int64_t dims_product(const Shape& shape, int begin, int end) {
  int64_t p = 1;
  for (int i = begin; i < end; ++i) p *= shape[i];
  return p;
}

void gather_elements_bytes(const void* src, void* dst, const int64_t* src_index, int64_t count, size_t elem_size) {
  with_element_size(elem_size, [&](auto tag) {
    using T = decltype(tag);
    const T* s = static_cast<const T*>(src);
    T* d = static_cast<T*>(dst);
    for (int64_t i = 0; i < count; ++i) d[i] = s[src_index[i]];
  });
}

Status unsupported_dtype(const char* op, DType dt) {
  return unsupported(std::string(op) + " does not support dtype " + dtype_name(dt));
}

void store_one(DType dt, void* dst) {
  if (dt == DType::kFloat16) {
    const uint16_t one = 0x3c00;
    std::memcpy(dst, &one, 2);
    return;
  }
  with_numeric_type(dt, [&](auto tag) {
    using T = decltype(tag);
    const T one = static_cast<T>(1);
    std::memcpy(dst, &one, sizeof(T));
  });
}

void store_double_as(DType dt, double v, void* dst) {
  if (dt == DType::kFloat16) {
    const uint16_t h = double_to_half(v);
    std::memcpy(dst, &h, 2);
    return;
  }
  with_numeric_type(dt, [&](auto tag) {
    using T = decltype(tag);
    const T t = static_cast<T>(v);
    std::memcpy(dst, &t, sizeof(T));
  });
}

void fill_bytes(void* dst, int64_t count, const void* value, size_t elem_size) {
  with_element_size(elem_size, [&](auto tag) {
    using T = decltype(tag);
    T v;
    std::memcpy(&v, value, sizeof(T));
    std::fill_n(static_cast<T*>(dst), count, v);
  });
}

}  // namespace cvt
