// MobileNetV2 int8 (QLinearConv, com.microsoft QLinearAdd / QLinearGlobalAveragePool)
// end to end: golden top-1 on the shared images, and the fast int8 kernels give
// the same bits as the reference loops on the whole network.
#include <cstdlib>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "cli_util.h"
#include "io/npy.h"
#include "models/manifest.h"
#include "tasks/common/preprocess.h"
#include "test_util.h"

using namespace cvt::testing;

static bool have_int8_model() { return exists(mirror_dir() + "/classify/mobilenetv2-12-int8.onnx"); }

// Both output.npy files hold 1000 logits with identical bits.
static void check_logits_bit_exact(const std::string& got_npy, const std::string& want_npy) {
  auto got = cvt::read_npy(got_npy);
  auto want = cvt::read_npy(want_npy);
  REQUIRE_OK(got);
  REQUIRE_OK(want);
  REQUIRE(got.value().numel() == 1000);
  CHECK(compare_tensors(got.value(), want.value(), 0.0, 0.0) == "");
}

TEST_CASE("classify --model mobilenetv2-int8: house finch and Egyptian cat", "[golden][classify][quant]") {
  if (!have_int8_model()) SKIP("mobilenetv2-12-int8.onnx not in the mirror " + mirror_dir());
  const std::string img = shared_dir() + "/data/images/";
  if (!exists(img + "cat.bmp")) SKIP("shared images not found in " + img);
  auto r = run_cli("classify --model mobilenetv2-int8 --topk 3 '" + img + "imagenet_finch.jpeg' '" + img + "cat.bmp'",
                   registry_env());
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto recs = r.records();
  REQUIRE(recs.size() == 2);
  CHECK(recs[0]["model"]["name"] == "mobilenetv2-int8");
  const std::string finch = recs[0]["topk"][0]["label"], cat = recs[1]["topk"][0]["label"];
  CHECK(finch.rfind("house finch", 0) == 0);
  CHECK(cat == "Egyptian cat");
  CHECK(recs[0]["topk"][0]["class_id"] == 12);
  CHECK(recs[1]["topk"][0]["class_id"] == 285);
  CHECK(recs[0]["topk"][0]["score"].get<double>() > 0.9);
}

TEST_CASE("mobilenetv2-int8: fast int8 kernels equal the reference loops bit for bit", "[golden][quant]") {
  if (!have_int8_model()) SKIP("mobilenetv2-12-int8.onnx not in the mirror " + mirror_dir());
  const std::string dir = temp_dir("int8_ref");
  const std::string m = "'" + mirror_dir() + "/classify/mobilenetv2-12-int8.onnx' --shape input=1x3x224x224 --seed 5 ";
  auto fast = run_cli("run " + m + "-t 2 --output-dir '" + dir + "/fast'", registry_env());
  INFO(fast.err);
  REQUIRE(fast.code == 0);
  auto ref = run_cli("run " + m + "--kernels ref --output-dir '" + dir + "/ref'", registry_env());
  INFO(ref.err);
  REQUIRE(ref.code == 0);
  check_logits_bit_exact(dir + "/fast/output.npy", dir + "/ref/output.npy");
}

TEST_CASE("mobilenetv2-int8: logits equal ONNX Runtime's exact int8 mode bit for bit", "[golden][quant][ort]") {
  // ORT's default u8s8 kernel on x86 without VNNI saturates pairs of products at
  // int16 (vpmaddubsw), so its default output depends on the CPU. With
  // session.x64quantprecision=1 it computes exact u8u8 products everywhere,
  // which is what ONNX specifies and what cvtool computes.
  if (!have_int8_model()) SKIP("mobilenetv2-12-int8.onnx not in the mirror " + mirror_dir());
  const std::string ort_dir = env_or("CVTOOL_ORT_DIR", std::string(CVTOOL_SOURCE_DIR) + "/.cache/ort");
  if (!exists(ort_dir + "/node_modules")) SKIP("ONNX Runtime not installed (scripts/setup_ort.sh)");
  const std::string model = mirror_dir() + "/classify/mobilenetv2-12-int8.onnx";
  const std::string dir = temp_dir("int8_ort");
  // Inputs: the finch photo through the manifest's pre-processing, and seeded noise.
  auto manifest = cvt::load_manifest(std::string(CVTOOL_SOURCE_DIR) + "/models/mobilenetv2-int8.json");
  REQUIRE_OK(manifest);
  cv::Mat finch = cv::imread(shared_dir() + "/data/images/imagenet_finch.jpeg");
  REQUIRE_FALSE(finch.empty());
  auto photo = cvt::preprocess_image(finch, manifest.value().input, 0, 0, nullptr);
  REQUIRE_OK(photo);
  REQUIRE(cvt::write_npy(dir + "/photo.npy", photo.value()).is_ok());
  REQUIRE(cvt::write_npy(dir + "/noise.npy", random_tensor({1, 3, 224, 224}, 17, -2.5f, 2.5f)).is_ok());
  for (const std::string name : {"photo", "noise"}) {
    INFO(name);
    const std::string in = dir + "/" + name + ".npy", ort_out = dir + "/" + name + "_ort", cv_out = dir + "/" + name + "_cv";
    const std::string cmd = "CVTOOL_ORT_DIR='" + ort_dir + "' node '" + std::string(CVTOOL_SOURCE_DIR) +
                            "/scripts/ort_run.mjs' '" + model + "' --config session.x64quantprecision=1 --input input='" + in +
                            "' --output-dir '" + ort_out + "' >/dev/null";
    REQUIRE(std::system(cmd.c_str()) == 0);
    for (int threads : {1, 2}) {
      auto r = run_cli("run '" + model + "' --input input='" + in + "' -t " + std::to_string(threads) + " --force --output-dir '" +
                           cv_out + "'",
                       registry_env());
      INFO(r.err);
      REQUIRE(r.code == 0);
      check_logits_bit_exact(cv_out + "/output.npy", ort_out + "/output.npy");
    }
  }
}
