// Fuzz entry points (see fuzz_targets.h). Each one feeds the bytes through the
// production path and ignores the Status: an error is a correct answer to a
// hostile input, a crash or a hang is not.
#include "fuzz_targets.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/tensor.h"
#include "eval/coco_eval.h"
#include "eval/readers.h"
#include "eval/rle.h"
#include "graph/session.h"
#include "io/darknet/cfg.h"
#include "io/darknet/importer.h"
#include "io/image.h"
#include "io/onnx/importer.h"
#include "models/manifest.h"

namespace cvt::fuzz {
namespace {

// What one fuzz execution may run: enough to reach every op on tiny inputs.
constexpr int64_t kFuzzTensorBytes = int64_t(64) << 20;
// Multiply-adds (or Loop iterations) per node: a second or so under ASan.
constexpr int64_t kFuzzNodeWork = int64_t(1) << 24;
constexpr size_t kMaxNodesToRun = 256;
constexpr int64_t kInputDimForUnknown = 2;
constexpr int64_t kMaxInputElements = 1 << 16;

std::string as_string(const uint8_t* data, size_t size) { return std::string(reinterpret_cast<const char*>(data), size); }

// A scratch file per process (readers take paths), on tmpfs when there is one.
std::string scratch_path(const std::string& ext) {
  static const std::string dir = [] {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::exists("/dev/shm", ec) ? "/dev/shm" : std::filesystem::temp_directory_path();
    std::filesystem::path d = base / ("cvtool_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d, ec);
    return d.string();
  }();
  return dir + "/input" + ext;
}

void write_scratch(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), std::streamsize(size));
}

// Inputs of the declared types with unknown dims set small; none when too big.
bool make_inputs(const Graph& g, std::vector<Tensor>* inputs) {
  for (const ValueInfo& vi : g.inputs) {
    Shape s = vi.shape;
    for (int64_t& d : s)
      if (d < 0) d = kInputDimForUnknown;
    const int64_t n = shape_numel(s);
    if (n < 0 || n > kMaxInputElements) return false;
    auto t = Tensor::try_alloc(vi.dtype, s);
    if (!t.is_ok()) return false;
    inputs->push_back(std::move(t).value());
  }
  return true;
}

}  // namespace

void set_fuzz_limits() {
  set_tensor_byte_limit(kFuzzTensorBytes);
  set_node_work_limit(kFuzzNodeWork);
}

int onnx_model(const uint8_t* data, size_t size) {
  auto model = import_onnx_bytes(as_string(data, size), "/nonexistent-fuzz-dir", "fuzz.onnx");
  if (!model.is_ok()) return 0;
  if (model.value()->graph->nodes.size() > kMaxNodesToRun) return 0;
  SessionOptions so;
  so.threads = 1;
  auto session = Session::create(model.value(), so);
  if (!session.is_ok()) return 0;
  std::vector<Tensor> inputs;
  if (!make_inputs(session.value()->graph(), &inputs)) return 0;
  (void)session.value()->run(inputs);
  return 0;
}

int darknet_model(const uint8_t* data, size_t size) {
  const std::string all = as_string(data, size);
  const std::string marker = "\n#@weights\n";
  const size_t cut = all.find(marker);
  const std::string cfg_text = all.substr(0, cut);
  const std::string weights = cut == std::string::npos ? std::string() : all.substr(cut + marker.size());
  auto cfg = darknet::parse_cfg_text(cfg_text, "fuzz.cfg");
  if (!cfg.is_ok()) return 0;
  DarknetImportOptions opts;
  (void)darknet_parameter_count(cfg.value(), opts);
  std::istringstream in(weights);
  auto model = import_darknet(cfg.value(), in, int64_t(weights.size()), "fuzz.weights", opts);
  if (!model.is_ok() || model.value()->graph->nodes.size() > kMaxNodesToRun) return 0;
  SessionOptions so;
  so.threads = 1;
  auto session = Session::create(model.value(), so);
  if (!session.is_ok()) return 0;
  std::vector<Tensor> inputs;
  if (make_inputs(session.value()->graph(), &inputs)) (void)session.value()->run(inputs);
  return 0;
}

int model_manifest(const uint8_t* data, size_t size) {
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (j.is_discarded()) return 0;
  (void)parse_manifest(j, "fuzz.json");
  return 0;
}

int eval_readers(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t sel = data[0];
  ++data;
  --size;
  static const char* kKinds[] = {"coco", "cvtool", "yolo", "voc", "txt"};
  static const char* kExts[] = {".json", ".jsonl", ".txt", ".xml", ".txt"};
  const int k = sel % 6;
  if (k == 5) {  // a compressed RLE string with a small size from the selector
    const uint64_t h = 1 + (sel >> 3) % 8, w = 1 + (sel >> 5) % 8;
    auto rle = eval::rle_from_string(std::string_view(reinterpret_cast<const char*>(data), size), h, w);
    if (rle.is_ok() && eval::rle_validate(rle.value()).is_ok()) {
      (void)eval::rle_decode(rle.value());
      (void)eval::rle_to_string(rle.value());
    }
    return 0;
  }
  const std::string path = scratch_path(kExts[k]);
  write_scratch(path, data, size);
  eval::ReadOptions ro;
  ro.format.kind = kKinds[k];
  ro.task = static_cast<eval::Task>((sel >> 3) % 3);
  ro.side = eval::Side::kGroundTruth;
  auto gt = eval::read_dataset(path, ro);
  ro.side = eval::Side::kPrediction;
  ro.require_score = (sel & 0x40) != 0;
  auto dt = eval::read_dataset(path, ro);
  if (!gt.is_ok() || !dt.is_ok()) return 0;
  eval::BindOptions bo;
  bo.imgsz_w = bo.imgsz_h = 64;
  auto bound = eval::bind(gt.value(), dt.value(), bo);
  if (!bound.is_ok()) return 0;
  (void)eval::coco_evaluate(bound.value().gt, bound.value().dt, eval::CocoParams::defaults(ro.task));
  return 0;
}

int image_decode(const uint8_t* data, size_t size) {
  (void)decode_image_bytes(as_string(data, size), "fuzz image");
  return 0;
}

const std::vector<FuzzTarget>& all_targets() {
  static const std::vector<FuzzTarget> targets = {{"onnx_model", onnx_model},
                                                  {"darknet_model", darknet_model},
                                                  {"model_manifest", model_manifest},
                                                  {"eval_readers", eval_readers},
                                                  {"image_decode", image_decode}};
  return targets;
}

}  // namespace cvt::fuzz
