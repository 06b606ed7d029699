// Output files are written to a temporary name and renamed into place, so an
// interrupted run never leaves a half-written file behind.
#pragma once
#include <string>

#include "core/status.h"

namespace cvt {

Status write_file_atomic(const std::string& path, const std::string& contents);
Result<std::string> read_file(const std::string& path, int64_t max_bytes);

}  // namespace cvt
