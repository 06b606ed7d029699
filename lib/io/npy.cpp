#include "io/npy.h"

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "io/atomic_file.h"

namespace cvt {
namespace {

Result<DType> dtype_from_descr(const std::string& d) {
  // '<f4', '|u1', '|b1', ... Big-endian data is rejected rather than byte-swapped.
  if (d.size() < 3) return unsupported("npy dtype '" + d + "'");
  char order = d[0];
  std::string kind = d.substr(1);
  if (order == '>' && kind != "u1" && kind != "i1" && kind != "b1") return unsupported("big-endian npy dtype '" + d + "'");
  if (kind == "f4") return DType::kFloat32;
  if (kind == "f8") return DType::kFloat64;
  if (kind == "f2") return DType::kFloat16;
  if (kind == "i1") return DType::kInt8;
  if (kind == "u1") return DType::kUInt8;
  if (kind == "i2") return DType::kInt16;
  if (kind == "u2") return DType::kUInt16;
  if (kind == "i4") return DType::kInt32;
  if (kind == "u4") return DType::kUInt32;
  if (kind == "i8") return DType::kInt64;
  if (kind == "u8") return DType::kUInt64;
  if (kind == "b1") return DType::kBool;
  return unsupported("npy dtype '" + d + "'");
}

const char* descr_of(DType t) {
  switch (t) {
    case DType::kFloat32: return "<f4";
    case DType::kFloat64: return "<f8";
    case DType::kFloat16: return "<f2";
    case DType::kInt8: return "|i1";
    case DType::kUInt8: return "|u1";
    case DType::kInt16: return "<i2";
    case DType::kUInt16: return "<u2";
    case DType::kInt32: return "<i4";
    case DType::kUInt32: return "<u4";
    case DType::kInt64: return "<i8";
    case DType::kUInt64: return "<u8";
    case DType::kBool: return "|b1";
  }
  return "<f4";
}

}  // namespace

Result<Tensor> parse_npy(const std::string& bytes, const std::string& label) {
  auto bad = [&](const std::string& why) { return Status(ErrorCode::kDecodeError, label + ": " + why); };
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) return bad("not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return bad("truncated header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    header_start = 12;
  } else {
    return bad("unsupported .npy version " + std::to_string(major));
  }
  if (header_start + header_len > bytes.size() || header_len > (1u << 20)) return bad("truncated header");
  const std::string header = bytes.substr(header_start, header_len);
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']*)'"))) return bad("header has no descr");
  auto dtype = dtype_from_descr(m[1]);
  if (!dtype.is_ok()) return bad(dtype.status().message());
  if (std::regex_search(header, m, std::regex("'fortran_order'\\s*:\\s*True"))) return bad("Fortran-order arrays are not supported");
  if (!std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)"))) return bad("header has no shape");
  Shape shape;
  std::stringstream ss(m[1].str());
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t a = item.find_first_not_of(" \t");
    if (a == std::string::npos) continue;
    try {
      shape.push_back(std::stoll(item.substr(a)));
    } catch (...) {
      return bad("bad shape entry '" + item + "'");
    }
  }
  Status st = check_shape(shape, dtype.value());
  if (!st.is_ok()) return bad(st.message());
  const size_t data_start = header_start + header_len;
  const size_t need = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype.value());
  if (bytes.size() - data_start < need)
    return bad("truncated data: " + std::to_string(bytes.size() - data_start) + " bytes, shape " + shape_str(shape) +
               " needs " + std::to_string(need));
  CVT_ASSIGN_OR_RETURN(Tensor t, Tensor::try_alloc(dtype.value(), shape));
  if (need) std::memcpy(t.raw(), bytes.data() + data_start, need);
  return t;
}

Result<Tensor> read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return io_error(path + ": cannot open");
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return parse_npy(bytes, path);
}

Status write_npy(const std::string& path, const Tensor& t) {
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i) shape += std::to_string(t.shape()[i]) + (t.shape().size() == 1 || i + 1 < t.shape().size() ? "," : "");
  shape += ")";
  std::string header = "{'descr': '" + std::string(descr_of(t.dtype())) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out.append(static_cast<const char*>(t.raw()), t.nbytes());
  return write_file_atomic(path, out);
}

}  // namespace cvt
