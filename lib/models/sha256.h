// SHA-256 of files (OpenSSL libcrypto).
#pragma once
#include <string>

#include "core/status.h"

namespace cvt {

Result<std::string> sha256_file(const std::string& path);
std::string sha256_hex(const std::string& bytes);

}  // namespace cvt
