#include "io/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace cvt {

Status write_file_atomic(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return io_error("cannot write " + tmp + ": " + std::strerror(errno));
    f.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      return io_error("write failed on " + tmp);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return io_error("cannot rename " + tmp + " to " + path + ": " + why);
  }
  return Status::ok();
}

Result<std::string> read_file(const std::string& path, int64_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return io_error(path + ": no such file");
  if (std::filesystem::is_directory(path, ec)) return io_error(path + ": is a directory");
  // FIFOs and devices could block or never end: only regular files are read.
  if (!std::filesystem::is_regular_file(path, ec)) return io_error(path + ": not a regular file");
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return io_error(path + ": " + ec.message());
  if (static_cast<int64_t>(size) > max_bytes)
    return limit_exceeded(path + ": file is " + std::to_string(size) + " bytes, limit " + std::to_string(max_bytes));
  std::ifstream f(path, std::ios::binary);
  if (!f) return io_error(path + ": cannot open for reading (" + std::strerror(errno) + ")");
  std::string bytes(size, '\0');
  f.read(bytes.data(), static_cast<std::streamsize>(size));
  if (!f) return io_error(path + ": read failed");
  return bytes;
}

}  // namespace cvt
