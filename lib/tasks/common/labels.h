// Class label files: one name per line.
#pragma once
#include <string>
#include <vector>

#include "core/status.h"

namespace cvt {

Result<std::vector<std::string>> load_labels(const std::string& path);

}  // namespace cvt
