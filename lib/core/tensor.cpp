#include "core/tensor.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

namespace cvt {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kInvalidModel: return "invalid_model";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kShapeMismatch: return "shape_mismatch";
    case ErrorCode::kLimitExceeded: return "limit_exceeded";
    case ErrorCode::kIoError: return "io_error";
    case ErrorCode::kDecodeError: return "decode_failed";
    case ErrorCode::kChecksumMismatch: return "checksum_mismatch";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  return std::string(error_code_name(code_)) + ": " + message_;
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kFloat32: return 4;
    case DType::kFloat64: return 8;
    case DType::kFloat16: return 2;
    case DType::kInt8: return 1;
    case DType::kUInt8: return 1;
    case DType::kInt16: return 2;
    case DType::kUInt16: return 2;
    case DType::kInt32: return 4;
    case DType::kUInt32: return 4;
    case DType::kInt64: return 8;
    case DType::kUInt64: return 8;
    case DType::kBool: return 1;
  }
  return 1;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kFloat16: return "float16";
    case DType::kInt8: return "int8";
    case DType::kUInt8: return "uint8";
    case DType::kInt16: return "int16";
    case DType::kUInt16: return "uint16";
    case DType::kInt32: return "int32";
    case DType::kUInt32: return "uint32";
    case DType::kInt64: return "int64";
    case DType::kUInt64: return "uint64";
    case DType::kBool: return "bool";
  }
  return "?";
}

namespace {
std::atomic<int64_t> g_tensor_byte_limit{Limits::kMaxBytes};
}

int64_t tensor_byte_limit() { return g_tensor_byte_limit.load(std::memory_order_relaxed); }
void set_tensor_byte_limit(int64_t bytes) {
  g_tensor_byte_limit.store(std::clamp<int64_t>(bytes, 1, Limits::kMaxBytes), std::memory_order_relaxed);
}

namespace {
std::atomic<int64_t> g_node_work_limit{0};
}

int64_t node_work_limit() { return g_node_work_limit.load(std::memory_order_relaxed); }
void set_node_work_limit(int64_t units) { g_node_work_limit.store(std::max<int64_t>(0, units), std::memory_order_relaxed); }

Status check_node_work(double units, const char* what) {
  const int64_t cap = node_work_limit();
  if (cap > 0 && units > static_cast<double>(cap))
    return limit_exceeded(std::string(what) + " needs " + std::to_string(static_cast<long double>(units)) +
                          " operations, over the node work limit of " + std::to_string(cap));
  return Status::ok();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) return -1;
    if (d == 0) return 0;
    if (n > Limits::kMaxElements / d) return -1;
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ",";
    r += std::to_string(s[i]);
  }
  return r + "]";
}

Status check_shape(const Shape& s, DType t) {
  if (static_cast<int64_t>(s.size()) > Limits::kMaxRank)
    return limit_exceeded("tensor rank " + std::to_string(s.size()) + " exceeds " + std::to_string(Limits::kMaxRank));
  for (int64_t d : s)
    if (d < 0) return shape_mismatch("negative dimension in shape " + shape_str(s));
  int64_t n = shape_numel(s);
  if (n < 0) return limit_exceeded("tensor shape " + shape_str(s) + " exceeds the element limit");
  if (n > tensor_byte_limit() / static_cast<int64_t>(dtype_size(t)))
    return limit_exceeded("tensor shape " + shape_str(s) + " exceeds the byte limit (" +
                          std::to_string(tensor_byte_limit()) + " bytes)");
  return Status::ok();
}

std::shared_ptr<void> aligned_buffer(size_t bytes, bool zero) {
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) return nullptr;
  if (zero) std::memset(p, 0, rounded);
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  Status st = check_shape(shape_, dtype_);
  if (!st.is_ok()) {
    std::fprintf(stderr, "cvtool: fatal: %s\n", st.to_string().c_str());
    std::abort();
  }
  numel_ = shape_numel(shape_);
  owner_ = aligned_buffer(nbytes(), true);
  if (!owner_) {
    std::fprintf(stderr, "cvtool: fatal: out of memory allocating %zu bytes\n", nbytes());
    std::abort();
  }
  data_ = owner_.get();
}

Result<Tensor> Tensor::try_alloc(DType dtype, Shape shape) {
  CVT_RETURN_IF_ERROR(check_shape(shape, dtype));
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = shape_numel(t.shape_);
  t.owner_ = aligned_buffer(t.nbytes(), true);
  if (!t.owner_) return Status(ErrorCode::kLimitExceeded, "out of memory allocating " + std::to_string(t.nbytes()) + " bytes");
  t.data_ = t.owner_.get();
  return t;
}

Tensor Tensor::wrap(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = shape_numel(t.shape_);
  CVT_ASSERT(t.numel_ >= 0);
  t.data_ = data;
  t.owner_ = std::move(owner);
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  Tensor t = *this;
  t.shape_ = std::move(shape);
  CVT_ASSERT(shape_numel(t.shape_) == numel_);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t(dtype_, shape_);
  if (nbytes()) std::memcpy(t.data_, data_, nbytes());
  return t;
}

template <typename Out>
static std::vector<Out> convert_all(const Tensor& t) {
  std::vector<Out> r(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) {
    switch (t.dtype()) {
      case DType::kFloat32: r[i] = static_cast<Out>(t.data<float>()[i]); break;
      case DType::kFloat64: r[i] = static_cast<Out>(t.data<double>()[i]); break;
      case DType::kInt8: r[i] = static_cast<Out>(t.data<int8_t>()[i]); break;
      case DType::kUInt8: r[i] = static_cast<Out>(t.data<uint8_t>()[i]); break;
      case DType::kInt16: r[i] = static_cast<Out>(t.data<int16_t>()[i]); break;
      case DType::kUInt16: r[i] = static_cast<Out>(t.data<uint16_t>()[i]); break;
      case DType::kInt32: r[i] = static_cast<Out>(t.data<int32_t>()[i]); break;
      case DType::kUInt32: r[i] = static_cast<Out>(t.data<uint32_t>()[i]); break;
      case DType::kInt64: r[i] = static_cast<Out>(t.data<int64_t>()[i]); break;
      case DType::kUInt64: r[i] = static_cast<Out>(t.data<uint64_t>()[i]); break;
      case DType::kBool: r[i] = static_cast<Out>(t.data<bool>()[i]); break;
      case DType::kFloat16: r[i] = 0; break;  // callers never ask for fp16 values
    }
  }
  return r;
}

std::vector<int64_t> Tensor::to_int64_vector() const { return convert_all<int64_t>(*this); }
std::vector<float> Tensor::to_float_vector() const { return convert_all<float>(*this); }

}  // namespace cvt
