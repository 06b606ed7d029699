// Helpers for the [eval] tests: locating the shared fixtures and building small datasets.
#pragma once
#include "cvtool_test_paths.h"
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "eval/readers.h"

namespace cvt::eval::testing {

// CVTOOL_SHARED_DIR, else the sibling "shared" folder of the source tree.
inline std::string shared_dir() {
  if (const char* e = std::getenv("CVTOOL_SHARED_DIR")) return e;
  return std::string(CVTOOL_SOURCE_DIR) + "/../shared";
}

inline std::string shared_path(const std::string& rel) { return shared_dir() + "/" + rel; }

inline bool have_shared(const std::string& rel) { return std::filesystem::exists(shared_path(rel)); }

inline Dataset read_ok(const std::string& path, Side side, const std::string& fmt = "auto", Task task = Task::kBbox) {
  ReadOptions o;
  o.side = side;
  auto f = parse_format_spec(fmt);
  REQUIRE(f.is_ok());
  o.format = f.value();
  o.task = task;
  auto r = read_dataset(path, o);
  INFO(r.status().to_string());
  REQUIRE(r.is_ok());
  return std::move(r).value();
}

inline Bound bind_ok(Dataset gt, Dataset dt, const BindOptions& opt = {}) {
  auto r = bind(std::move(gt), std::move(dt), opt);
  INFO(r.status().to_string());
  REQUIRE(r.is_ok());
  return std::move(r).value();
}

}  // namespace cvt::eval::testing

// Catch2 v2 has no SKIP(): warn and leave the test case.
#define EVAL_REQUIRE_SHARED(rel)                                                     \
  do {                                                                               \
    if (!::cvt::eval::testing::have_shared(rel)) {                                   \
      WARN("skipped: shared fixture " << ::cvt::eval::testing::shared_path(rel) << " not found"); \
      return;                                                                        \
    }                                                                                \
  } while (0)
