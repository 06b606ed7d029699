#include "io/onnx/tensor_proto.h"

#include <onnx/onnx_pb.h>

#include <cstring>
#include <filesystem>
#include <fstream>

namespace cvt {

Result<DType> dtype_from_onnx(int t) {
  using TP = onnx::TensorProto;
  switch (t) {
    case TP::FLOAT: return DType::kFloat32;
    case TP::DOUBLE: return DType::kFloat64;
    case TP::FLOAT16: return DType::kFloat16;
    case TP::INT8: return DType::kInt8;
    case TP::UINT8: return DType::kUInt8;
    case TP::INT16: return DType::kInt16;
    case TP::UINT16: return DType::kUInt16;
    case TP::INT32: return DType::kInt32;
    case TP::UINT32: return DType::kUInt32;
    case TP::INT64: return DType::kInt64;
    case TP::UINT64: return DType::kUInt64;
    case TP::BOOL: return DType::kBool;
    default: break;
  }
  return unsupported("ONNX tensor element type " + std::to_string(t) + " (strings, bfloat16, complex are not supported)");
}

// Copies typed repeated fields into the tensor, checking the element count.
template <typename Src, typename Dst>
static Status copy_field(const google::protobuf::RepeatedField<Src>& field, Tensor& t) {
  if (field.size() != t.numel())
    return invalid_model("tensor holds " + std::to_string(field.size()) + " values but its shape " +
                         shape_str(t.shape()) + " needs " + std::to_string(t.numel()));
  Dst* d = t.data<Dst>();
  for (int i = 0; i < field.size(); ++i) d[i] = static_cast<Dst>(field.Get(i));
  return Status::ok();
}

static Status read_external(const onnx::TensorProto& p, const std::string& base_dir, Tensor& t) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : p.external_data()) {
    if (kv.key() == "location") location = kv.value();
    else if (kv.key() == "offset") offset = std::stoll(kv.value());
    else if (kv.key() == "length") length = std::stoll(kv.value());
  }
  namespace fs = std::filesystem;
  fs::path rel(location);
  if (location.empty() || rel.is_absolute())
    return invalid_model("external data location '" + location + "' must be a relative path");
  for (const auto& part : rel)
    if (part == "..") return invalid_model("external data location '" + location + "' escapes the model folder");
  fs::path full = fs::path(base_dir) / rel;
  std::ifstream f(full, std::ios::binary);
  if (!f) return io_error("cannot open external data file " + full.string());
  f.seekg(0, std::ios::end);
  int64_t file_size = f.tellg();
  int64_t need = static_cast<int64_t>(t.nbytes());
  if (length >= 0 && length != need)
    return invalid_model("external data length " + std::to_string(length) + " != " + std::to_string(need) + " bytes for shape " + shape_str(t.shape()));
  if (offset < 0 || offset + need > file_size)
    return invalid_model("external data file " + full.string() + " is too short (" + std::to_string(file_size) +
                         " bytes, need " + std::to_string(offset + need) + ")");
  f.seekg(offset);
  f.read(static_cast<char*>(t.raw()), need);
  if (!f) return io_error("read failed on " + full.string());
  return Status::ok();
}

Result<Tensor> tensor_from_proto(const onnx::TensorProto& p, const std::string& base_dir) {
  CVT_ASSIGN_OR_RETURN(DType dtype, dtype_from_onnx(p.data_type()));
  Shape shape(p.dims().begin(), p.dims().end());
  Status shape_ok = check_shape(shape, dtype);
  if (!shape_ok.is_ok()) return shape_ok.with_context("tensor '" + p.name() + "'");
  const int64_t numel = shape_numel(shape);
  const size_t nbytes = static_cast<size_t>(numel) * dtype_size(dtype);
  // Never allocate more than the file could possibly hold for inline data.
  if (p.data_location() != onnx::TensorProto::EXTERNAL) {
    size_t have = p.raw_data().size() + static_cast<size_t>(p.float_data_size()) * 4 + p.int32_data_size() * 4 +
                  p.int64_data_size() * 8 + p.double_data_size() * 8 + p.uint64_data_size() * 8;
    size_t min_needed = dtype == DType::kBool || dtype_size(dtype) < 4 ? static_cast<size_t>(numel) : nbytes;
    if (!p.raw_data().empty() && p.raw_data().size() != nbytes)
      return invalid_model("tensor '" + p.name() + "': raw_data has " + std::to_string(p.raw_data().size()) +
                           " bytes, shape " + shape_str(shape) + " needs " + std::to_string(nbytes));
    if (have < min_needed && numel > 0 && p.raw_data().empty())
      return invalid_model("tensor '" + p.name() + "' holds fewer values than its shape " + shape_str(shape) + " needs");
  }
  CVT_ASSIGN_OR_RETURN(Tensor t, Tensor::try_alloc(dtype, shape));
  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    Status st = read_external(p, base_dir, t);
    if (!st.is_ok()) return st.with_context("tensor '" + p.name() + "'");
    return t;
  }
  if (!p.raw_data().empty()) {
    std::memcpy(t.raw(), p.raw_data().data(), nbytes);  // little-endian host, as ONNX specifies
    return t;
  }
  Status st;
  switch (dtype) {
    case DType::kFloat32: st = copy_field<float, float>(p.float_data(), t); break;
    case DType::kFloat64: st = copy_field<double, double>(p.double_data(), t); break;
    case DType::kInt64: st = copy_field<int64_t, int64_t>(p.int64_data(), t); break;
    case DType::kUInt64: st = copy_field<uint64_t, uint64_t>(p.uint64_data(), t); break;
    case DType::kUInt32: st = copy_field<uint64_t, uint32_t>(p.uint64_data(), t); break;
    case DType::kInt32: st = copy_field<int32_t, int32_t>(p.int32_data(), t); break;
    case DType::kInt16: st = copy_field<int32_t, int16_t>(p.int32_data(), t); break;
    case DType::kUInt16: st = copy_field<int32_t, uint16_t>(p.int32_data(), t); break;
    case DType::kInt8: st = copy_field<int32_t, int8_t>(p.int32_data(), t); break;
    case DType::kUInt8: st = copy_field<int32_t, uint8_t>(p.int32_data(), t); break;
    case DType::kBool: st = copy_field<int32_t, bool>(p.int32_data(), t); break;
    case DType::kFloat16: st = copy_field<int32_t, uint16_t>(p.int32_data(), t); break;  // bit patterns
  }
  if (!st.is_ok()) return st.with_context("tensor '" + p.name() + "'");
  return t;
}

Result<Tensor> load_tensor_pb(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return io_error("cannot open " + path);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  onnx::TensorProto p;
  if (!p.ParseFromString(bytes)) return invalid_model(path + ": not a valid TensorProto");
  auto r = tensor_from_proto(p, std::filesystem::path(path).parent_path().string());
  if (!r.is_ok()) return r.status().with_context(path);
  return r;
}

}  // namespace cvt
