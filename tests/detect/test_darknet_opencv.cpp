// Darknet importer vs OpenCV's Darknet importer on Debian's cfgs with seeded random
// weights (made by scripts/darknet_opencv_refs.py into .cache/darknet_opencv; skipped
// when absent, like the reference nets).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "graph/session.h"
#include "io/darknet/importer.h"
#include "io/npy.h"
#include "test_paths.h"
#include "test_util.h"

using namespace cvt;
using namespace cvt::testing;
namespace fs = std::filesystem;

TEST_CASE("darknet: Debian cfgs agree with OpenCV's Darknet importer", "[darknet][opencv]") {
  const std::string root = env_or("CVTOOL_DARKNET_REFS", std::string(CVTOOL_SOURCE_DIR) + "/.cache/darknet_opencv");
  if (!exists(root)) SKIP("no cross-check data: run /usr/bin/python3 scripts/darknet_opencv_refs.py");
  int checked = 0;
  for (const auto& e : fs::directory_iterator(root)) {
    if (!exists((e.path() / "outputs.json").string())) continue;
    const std::string name = e.path().filename().string();
    INFO(name);
    nlohmann::json info = nlohmann::json::parse(std::ifstream(e.path() / "outputs.json"));
    auto m = import_darknet_file(info["cfg"].get<std::string>(), (e.path() / (name + ".weights")).string());
    REQUIRE_OK(m);
    auto x = read_npy((e.path() / "input.npy").string());
    REQUIRE_OK(x);
    auto s = Session::create(m.value());
    REQUIRE_OK(s);
    auto outs = s.value()->run({x.value()});
    REQUIRE_OK(outs);
    const Graph& g = s.value()->graph();
    for (const auto& [ours, o] : info["outputs"].items()) {
      int k = 0;
      if (ours != "last") {
        k = -1;
        for (size_t j = 0; j < g.outputs.size(); ++j)
          if (g.outputs[j].name == ours) k = int(j);
      }
      INFO("output " << ours << " vs OpenCV " << o["opencv_layer"].get<std::string>());
      REQUIRE(k >= 0);
      auto ref = read_npy((e.path() / ("ref_" + ours + ".npy")).string());
      REQUIRE_OK(ref);
      Tensor want = ref.value().reshaped(outs.value()[k].shape());
      CHECK_TENSOR_NEAR(outs.value()[k], want, 1e-4, 1e-4);
      ++checked;
    }
  }
  CHECK(checked > 0);
}
