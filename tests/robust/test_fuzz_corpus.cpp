// Replays the fuzz regression corpus (tests/data/fuzz/<target>/: inputs that
// once crashed, hung or exhausted memory, plus hand-made hostile cases) through
// the same entry points the libFuzzer binaries use. Each must simply return.
#include <filesystem>
#include <fstream>

#include "core/tensor.h"
#include "fuzz_targets.h"
#include "test_paths.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Restores the process-wide tensor limit the fuzz limits lower.
struct FuzzLimitsScope {
  int64_t saved = cvt::tensor_byte_limit();
  FuzzLimitsScope() { cvt::fuzz::set_fuzz_limits(); }
  ~FuzzLimitsScope() { cvt::set_tensor_byte_limit(saved); }
};

}  // namespace

TEST_CASE("fuzz corpus: every saved input returns cleanly through its target", "[robust][fuzz]") {
  FuzzLimitsScope limits;
  const fs::path root = fs::path(CVTOOL_TEST_DATA_DIR) / "fuzz";
  int replayed = 0;
  for (const cvt::fuzz::FuzzTarget& t : cvt::fuzz::all_targets()) {
    const fs::path dir = root / t.name;
    REQUIRE(fs::is_directory(dir));  // every target keeps a corpus folder, even if only seeds
    for (const auto& e : fs::directory_iterator(dir)) {
      if (!e.is_regular_file() || e.path().filename().string()[0] == '.') continue;
      INFO(t.name << ": " << e.path().filename().string());
      const std::string bytes = read_bytes(e.path());
      CHECK(t.fn(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()) == 0);
      ++replayed;
    }
  }
  CHECK(replayed >= 5);
}

TEST_CASE("fuzz targets: accept the real files they are seeded with", "[robust][fuzz]") {
  FuzzLimitsScope limits;
  const std::string models = cvt::testing::mirror_dir();
  if (!cvt::testing::exists(models + "/classify/opt-mnist.onnx")) SKIP("model mirror not found");
  const std::string mnist = read_bytes(models + "/classify/opt-mnist.onnx");
  CHECK(cvt::fuzz::onnx_model(reinterpret_cast<const uint8_t*>(mnist.data()), mnist.size()) == 0);
  const std::string manifest = read_bytes(fs::path(CVTOOL_SOURCE_DIR) / "models" / "yolox-nano.json");
  CHECK(cvt::fuzz::model_manifest(reinterpret_cast<const uint8_t*>(manifest.data()), manifest.size()) == 0);
  const std::string jpg = read_bytes(cvt::testing::shared_dir() + "/data/images/dog.jpg");
  CHECK(cvt::fuzz::image_decode(reinterpret_cast<const uint8_t*>(jpg.data()), jpg.size()) == 0);
}
