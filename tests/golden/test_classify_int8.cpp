// MobileNetV2 int8 (QLinearConv, com.microsoft QLinearAdd / QLinearGlobalAveragePool)
// end to end: golden top-1 on the shared images, and the fast int8 kernels give
// the same bits as the reference loops on the whole network.
#include <fstream>

#include "cli_util.h"
#include "io/npy.h"
#include "test_util.h"

using namespace cvt::testing;

static bool have_int8_model() { return exists(mirror_dir() + "/classify/mobilenetv2-12-int8.onnx"); }

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
  auto a = cvt::read_npy(dir + "/fast/output.npy");
  auto b = cvt::read_npy(dir + "/ref/output.npy");
  REQUIRE_OK(a);
  REQUIRE_OK(b);
  REQUIRE(a.value().numel() == 1000);
  CHECK(compare_tensors(a.value(), b.value(), 0.0, 0.0) == "");
}
