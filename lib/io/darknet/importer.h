// Darknet importer: a .cfg + .weights pair -> cvt::Model, built from the same
// ONNX-style NodeDescs (opset 13 semantics) as the ONNX importer and finished
// by finalize_graph(). Batch norms are folded into the convolution weights at
// import. [yolo] / [region] layers are graph outputs carrying the raw tensor
// they receive; decoding them is the detect pipeline's job (DarknetHead says how).
#pragma once
#include <cstdint>
#include <istream>
#include <memory>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "io/darknet/cfg.h"

namespace cvt {

/// What a [yolo] or [region] layer tells its decoder.
struct DarknetHead {
  int layer = 0;               // darknet layer index (0 = first layer after [net])
  std::string output;          // graph output name ("yolo_30")
  std::string type;            // "yolo" | "region"
  int classes = 20, num = 1, coords = 4;
  std::vector<float> anchors;  // (w, h) pairs: pixels of the network input (yolo) or grid cells (region)
  std::vector<int> mask;       // indices into anchors used by this layer (region: 0..num-1)
  float scale_x_y = 1.f;
  int new_coords = 0;
  bool softmax = false;        // region: softmax over the classes
  int grid_w = 0, grid_h = 0;
};

struct DarknetInfo {
  int width = 0, height = 0, channels = 0;  // network input
  int major = 0, minor = 0, revision = 0;   // weights header
  uint64_t seen = 0;                        // images seen in training (32 or 64 bit in the file)
  int header_bytes = 0;
  int64_t weights_bytes = 0;                // bytes of parameters read after the header
  int64_t trailing_bytes = 0;               // bytes after the last parameter (ignored, as darknet does)
  int num_layers = 0;
  std::vector<DarknetHead> heads;
  // Per darknet layer: its graph value and the shape darknet computes for it.
  std::vector<std::pair<std::string, Shape>> layers;
};

struct DarknetImportOptions {
  bool optimize = true;
  int width = 0, height = 0;  // override the [net] input size (0 = as the cfg says)
  // Batch norm at inference: x_hat = (x - mean) / sqrt(var + eps) (OpenCV's importer: eps 1e-6;
  // AlexeyAB's darknet: 1e-5), or / (sqrt(var) + eps) when !eps_inside_sqrt (pjreddie's darknet).
  float bn_eps = 1e-6f;
  bool bn_eps_inside_sqrt = true;
};

/// Loads `cfg_path` and `weights_path`. Errors name the file, and for the cfg the
/// line, section and key; a short weights file names the byte counts.
Result<std::shared_ptr<Model>> import_darknet_file(const std::string& cfg_path, const std::string& weights_path,
                                                   const DarknetImportOptions& opts = {}, DarknetInfo* info = nullptr);
/// Same from a parsed cfg and a stream holding `weights_size` bytes.
Result<std::shared_ptr<Model>> import_darknet(const darknet::CfgFile& cfg, std::istream& weights, int64_t weights_size,
                                              const std::string& weights_label, const DarknetImportOptions& opts = {},
                                              DarknetInfo* info = nullptr);
/// Number of float parameters the cfg's weights file holds after its header
/// (what a random-weights file for this cfg must contain).
Result<int64_t> darknet_parameter_count(const darknet::CfgFile& cfg, const DarknetImportOptions& opts = {});

}  // namespace cvt
