// `inspect` on ResNet-18: 11.7M parameters, 1.81 GMACs, and the receptive
// field of the final feature map checked against a hand computation.
#include <filesystem>

#include "graph/inspect.h"
#include "io/onnx/importer.h"
#include "test_paths.h"
#include "test_util.h"

using namespace cvt;

TEST_CASE("inspect ResNet-18: parameters, MACs, receptive field", "[golden][inspect]") {
  const std::string path = testing::refnets_dir() + "/resnet18.onnx";
  if (!testing::exists(path)) SKIP("resnet18 not exported");
  auto model = import_onnx_file(path);
  REQUIRE_OK(model);
  auto session = Session::create(model.value(), {});
  REQUIRE_OK(session);
  auto s = inspect_model(*session.value(), {{1, 3, 224, 224}});
  REQUIRE_OK(s);
  // torchvision counts 11,689,512 parameters; the export folds each BatchNorm
  // (2C affine parameters) into its conv's bias (C), so the file holds a bit fewer.
  CHECK(std::llround(s.value().total_params / 1e5) == 117);
  CHECK(std::llround(s.value().total_macs / 1e7) == 181);

  // Hand computation, rf += (k-1)*jump, jump *= stride:
  //   conv1 7x7/2: rf 7, jump 2;  maxpool 3x3/2: 7 + 2*2 = 11, jump 4
  //   layer1, four 3x3/1 convs: 11 + 4*(2*4) = 43
  //   layer2: 3x3/2 conv: 43 + 2*4 = 51, jump 8; three 3x3/1: 51 + 3*16 = 99
  //   layer3: 99 + 2*8 = 115, jump 16; + 3*32 = 211
  //   layer4: 211 + 2*16 = 243, jump 32; + 3*64 = 435
  const int expected_rf = 7;
  int rf = expected_rf, jump = 2;
  rf += 2 * jump, jump *= 2;  // maxpool
  for (int stage = 0; stage < 4; ++stage)
    for (int conv = 0; conv < 4; ++conv) {
      bool strided = stage > 0 && conv == 0;
      rf += 2 * jump;
      if (strided) jump *= 2;
    }
  REQUIRE(rf == 435);
  REQUIRE(jump == 32);
  // The last layer with a spatial output (before global pooling) is the final feature map.
  const LayerInfo* last_spatial = nullptr;
  for (const auto& L : s.value().layers)
    if (L.rf_known && !L.rf_global && L.output_shape.size() == 4) last_spatial = &L;
  REQUIRE(last_spatial != nullptr);
  INFO(last_spatial->name << " " << shape_str(last_spatial->output_shape));
  CHECK(last_spatial->output_shape == Shape{1, 512, 7, 7});
  CHECK(last_spatial->rf_h == rf);
  CHECK(last_spatial->rf_w == rf);
  CHECK(last_spatial->stride_h == jump);
}
