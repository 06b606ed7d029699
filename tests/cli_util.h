// Runs the cvtool binary for end-to-end tests: exit code, stdout, stderr.
#pragma once
#include "cvtool_test_paths.h"
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "test_paths.h"

namespace cvt::testing {

struct CliResult {
  int code = -1;
  std::string out, err;
  std::vector<nlohmann::json> records() const {  // JSON Lines on stdout
    std::vector<nlohmann::json> r;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) r.push_back(nlohmann::json::parse(line));
    return r;
  }
};

// The directories temp_dir made, removed when the test process exits (ctest runs
// each case as a process of its own), so test runs leave nothing in /tmp.
struct TempDirs {
  std::set<std::filesystem::path> made;
  ~TempDirs() {
    for (const auto& d : made) {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  }
};

inline std::string temp_dir(const std::string& tag) {
  static TempDirs dirs;
  auto p = std::filesystem::temp_directory_path() / ("cvtool_test_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  dirs.made.insert(p);
  return p.string();
}

// `args` is appended to the binary path as is (quote paths yourself).
inline CliResult run_cli(const std::string& args, const std::string& env = "") {
  static int counter = 0;
  std::string dir = temp_dir("cli");
  std::string err_path = dir + "/stderr_" + std::to_string(counter++);
  std::string cmd = env + (env.empty() ? "" : " ") + "'" + cvtool_binary() + "' " + args + " 2>'" + err_path + "'";
  CliResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_path);
  r.err.assign((std::istreambuf_iterator<char>(e)), std::istreambuf_iterator<char>());
  return r;
}

// Environment prefix pointing the registry at the shared mirror and a test cache.
inline std::string registry_env() {
  return "CVTOOL_MODEL_MIRROR='" + mirror_dir() + "' CVTOOL_MODELS_DIR='" +
         env_or("CVTOOL_MODELS_DIR", std::string(CVTOOL_SOURCE_DIR) + "/.cache/models") + "'";
}

}  // namespace cvt::testing
