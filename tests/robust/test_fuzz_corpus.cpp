// Replays the fuzz regression corpus (tests/data/fuzz/<target>/: inputs that
// once crashed, hung or exhausted memory, plus hand-made hostile cases) through
// the same entry points the libFuzzer binaries use. Each must simply return.
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "core/tensor.h"
#include "fuzz_targets.h"
#include "graph/session.h"
#include "io/image.h"
#include "io/onnx/importer.h"
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
  int64_t saved_bytes = cvt::tensor_byte_limit(), saved_work = cvt::node_work_limit();
  FuzzLimitsScope() { cvt::fuzz::set_fuzz_limits(); }
  ~FuzzLimitsScope() {
    cvt::set_tensor_byte_limit(saved_bytes);
    cvt::set_node_work_limit(saved_work);
  }
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

TEST_CASE("node work limit: a tiny file asking for heavy arithmetic is an error, not a hang", "[robust][fuzz]") {
  // Found by fuzz_onnx_model: a 173-byte ConvTranspose (3-D) needing 1.6e8
  // multiply-adds ran for minutes under ASan.
  const std::string bytes = read_bytes(fs::path(CVTOOL_TEST_DATA_DIR) / "fuzz" / "onnx_model" / "convtranspose_3d_heavy.onnx");
  auto model = cvt::import_onnx_bytes(bytes, ".", "heavy.onnx");
  REQUIRE_OK(model);
  const cvt::Graph& g = *model.value()->graph;
  std::vector<cvt::Tensor> inputs;
  for (const cvt::ValueInfo& vi : g.inputs) inputs.emplace_back(vi.dtype, vi.shape);
  FuzzLimitsScope limits;
  auto s = cvt::Session::create(model.value(), {});
  REQUIRE_OK(s);
  auto out = s.value()->run(inputs);
  REQUIRE_FALSE(out.is_ok());
  CHECK(out.status().code() == cvt::ErrorCode::kLimitExceeded);
  CHECK_THAT(out.status().message(), Catch::Contains("ConvTranspose") && Catch::Contains("node work limit"));
}

TEST_CASE("image formats: only photo formats reach OpenCV", "[robust][fuzz]") {
  using cvt::sniff_image_format;
  CHECK(std::string(sniff_image_format(std::string("\xFF\xD8\xFF\xE0", 4))) == "jpeg");
  CHECK(std::string(sniff_image_format("\x89PNG\r\n\x1a\n....")) == "png");
  CHECK(std::string(sniff_image_format("BM......")) == "bmp");
  CHECK(std::string(sniff_image_format(std::string("II*\0", 4))) == "tiff");
  CHECK(std::string(sniff_image_format("RIFF....WEBPVP8 ")) == "webp");
  CHECK(std::string(sniff_image_format("P6\n3 2\n255\n")) == "pnm");
  CHECK(sniff_image_format(std::string(128, '\0') + "DICM") == nullptr);  // DICOM
  CHECK(sniff_image_format("RIFF....WEBP" + std::string(116, '\xff') + "DICM") == nullptr);  // GDCM would claim it
  CHECK(sniff_image_format("v/1\x01") == nullptr);                       // OpenEXR
  CHECK(sniff_image_format("#?RADIANCE\n") == nullptr);                  // HDR
  const std::string dicom = read_bytes(fs::path(CVTOOL_TEST_DATA_DIR) / "fuzz" / "image_decode" / "dicom_gdcm_assert.bin");
  auto r = cvt::decode_image_bytes(dicom, "x.dcm");
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == cvt::ErrorCode::kDecodeError);
  CHECK_THAT(r.status().message(), Catch::Contains("not a supported image format"));
  auto gif = cvt::decode_image_bytes("GIF89a\x02\x00\x02\x00....", "x.gif");
  REQUIRE_FALSE(gif.is_ok());
  CHECK_THAT(gif.status().message(), Catch::Contains("GIF"));
  // Every real image in the shared data still decodes.
  for (const auto& e : fs::directory_iterator(cvt::testing::shared_dir() + "/data/images")) {
    INFO(e.path().string());
    CHECK(cvt::load_image(e.path().string()).is_ok());
  }
}

TEST_CASE("image headers: sizes are read before decoding, WebP included", "[robust][image]") {
  const cv::Mat m(37, 53, CV_8UC3, cv::Scalar(10, 20, 30));
  const std::vector<std::pair<std::string, std::vector<int>>> encodings = {
      {".png", {}}, {".jpg", {}}, {".bmp", {}}, {".webp", {}}, {".webp", {cv::IMWRITE_WEBP_QUALITY, 101}}};
  for (const auto& [ext, params] : encodings) {
    std::vector<uchar> buf;
    REQUIRE(cv::imencode(ext, m, buf, params));
    const std::string bytes(buf.begin(), buf.end());
    INFO(ext << " " << bytes.substr(12, 4));
    auto size = cvt::probe_image_size(bytes);
    REQUIRE_OK(size);
    CHECK(size.value() == std::make_pair(53, 37));
  }
  // An extended (VP8X) WebP header claiming 100000 x 100000 is refused before any decoding.
  std::string vp8x = std::string("RIFF\x24\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00", 20) + std::string(4, '\0');
  const uint32_t side_minus_1 = 100000 - 1;
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 3; ++k) vp8x.push_back(char((side_minus_1 >> (8 * k)) & 0xFF));
  vp8x += std::string(16, '\0');
  auto huge = cvt::probe_image_size(vp8x);
  REQUIRE_OK(huge);
  CHECK(huge.value() == std::make_pair(100000, 100000));
  auto r = cvt::decode_image_bytes(vp8x, "huge.webp");
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == cvt::ErrorCode::kLimitExceeded);
}
