// Where the suite finds data it does not ship: the shared mirror, exported
// reference networks, the ONNX backend test data, and the cvtool binary.
#pragma once
#include "cvtool_test_paths.h"

#include <cstdlib>
#include <filesystem>
#include <string>

namespace cvt::testing {

inline std::string env_or(const char* name, const std::string& def) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : def;
}
// ../shared (read-only models and data).
inline std::string shared_dir() { return env_or("CVTOOL_SHARED_DIR", std::string(CVTOOL_SOURCE_DIR) + "/../shared"); }
inline std::string mirror_dir() { return env_or("CVTOOL_MODEL_MIRROR", shared_dir() + "/models"); }
inline std::string refnets_dir() { return env_or("CVTOOL_REFNETS_DIR", std::string(CVTOOL_SOURCE_DIR) + "/.cache/refnets"); }
inline std::string onnx_testdata_dir() { return env_or("CVTOOL_ONNX_TESTDATA", "/usr/share/libonnx-testdata/data"); }
inline std::string cvtool_binary() { return CVTOOL_BINARY; }
inline bool exists(const std::string& p) {
  std::error_code ec;
  return std::filesystem::exists(p, ec);
}

}  // namespace cvt::testing
