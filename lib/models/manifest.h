// Model manifests (models/<name>.json): where a model's files come from, how
// to check them, and the input/output contract its task pipeline follows.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"

namespace cvt {

struct ManifestFile {
  std::string path;    // relative to the mirror / cache root, e.g. "classify/tiny.onnx"
  std::string sha256;  // lowercase hex
  int64_t size = -1;
  std::string url;     // upstream location (may be empty)
  std::string role;    // "model", "weights", "cfg", "labels"
};

// How an image becomes the network input.
struct InputContract {
  std::string name;                   // graph input name ("" = the only input)
  int width = 0, height = 0;          // network input size (0 = dynamic)
  int channels = 3;
  std::string layout = "NCHW";        // NCHW | NHWC | CHW (one image, no batch dimension: torchvision detectors)
  std::string color = "RGB";          // RGB, BGR or GRAY
  std::string resize = "stretch";     // stretch | shorter_side_crop | letterbox | keep_ratio | none (image size as is)
  int resize_shorter = 0;             // shorter_side_crop: resize so the short side is this, then crop
  float scale = 1.0f / 255.0f;        // pixel * scale, then (x - mean) / std
  std::vector<float> mean{0, 0, 0};
  std::vector<float> std{1, 1, 1};
  float pad_value = 114.f;            // letterbox padding (pixel units before scale)
  std::string letterbox_place = "center";  // center | top_left
};

struct Manifest {
  std::string name, task, description, format, license, source;
  std::vector<ManifestFile> files;
  InputContract input;
  std::string output_name;            // "" = first output
  bool output_is_probability = false; // skip softmax
  std::string labels_file;            // relative path of a files[] entry with role "labels"
  std::vector<std::string> inline_labels;
  nlohmann::json decoder;             // task-specific decoder parameters
  nlohmann::json tolerance;           // golden-test tolerances
  nlohmann::json raw;                 // the whole document
  std::string manifest_path;

  const ManifestFile* file_with_role(const std::string& role) const;
};

Result<Manifest> parse_manifest(const nlohmann::json& j, const std::string& label);
Result<Manifest> load_manifest(const std::string& path);

}  // namespace cvt
