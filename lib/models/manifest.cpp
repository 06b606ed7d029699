#include "models/manifest.h"

#include <cmath>

#include "io/atomic_file.h"

namespace cvt {

const ManifestFile* Manifest::file_with_role(const std::string& role) const {
  for (const ManifestFile& f : files)
    if (f.role == role) return &f;
  return nullptr;
}

static bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// nlohmann converts a floating-point number to an integer field with a plain cast, which is
// undefined behaviour out of range (found by fuzz_model_manifest): no manifest value needs a
// magnitude beyond 2^53, so any larger number, or a non-finite one, is rejected up front.
static bool numbers_in_range(const nlohmann::json& v, int depth = 0) {
  if (depth > 64) return false;
  if (v.is_number_float()) return std::isfinite(v.get<double>()) && std::fabs(v.get<double>()) <= 9007199254740992.0;
  if (v.is_structured()) {
    for (const auto& e : v)
      if (!numbers_in_range(e, depth + 1)) return false;
  }
  return true;
}

Result<Manifest> parse_manifest(const nlohmann::json& j, const std::string& label) {
  auto bad = [&](const std::string& why) { return invalid_argument(label + ": " + why); };
  if (!j.is_object()) return bad("manifest must be a JSON object");
  if (!numbers_in_range(j)) return bad("a number is out of range (or nested deeper than 64 levels)");
  Manifest m;
  m.raw = j;
  m.manifest_path = label;
  try {
    m.name = j.at("name").get<std::string>();
    m.task = j.at("task").get<std::string>();
    m.description = j.value("description", "");
    m.format = j.value("format", "onnx");
    m.license = j.value("license", "");
    m.source = j.value("source", "");
    if (!j.contains("files") || !j["files"].is_array() || j["files"].empty()) return bad("'files' must be a non-empty array");
    for (const auto& f : j["files"]) {
      ManifestFile mf;
      mf.path = f.at("path").get<std::string>();
      mf.sha256 = f.at("sha256").get<std::string>();
      mf.size = f.value("size", int64_t(-1));
      mf.url = f.value("url", "");
      mf.role = f.value("role", "model");
      if (mf.path.empty() || mf.path[0] == '/' || mf.path.find("..") != std::string::npos)
        return bad("file path '" + mf.path + "' must be relative and stay inside the mirror");
      if (!is_hex64(mf.sha256)) return bad("file '" + mf.path + "' has a malformed sha256 (64 lowercase hex digits)");
      // The SHA-256 of an empty file is never a valid model checksum.
      if (mf.sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        return bad("file '" + mf.path + "' carries the checksum of an empty file");
      m.files.push_back(mf);
    }
    if (j.contains("input")) {
      const auto& in = j["input"];
      InputContract& c = m.input;
      c.name = in.value("name", "");
      if (in.contains("size")) {
        auto sz = in["size"].get<std::vector<int>>();
        if (sz.size() != 2) return bad("input.size must be [width, height]");
        c.width = sz[0];
        c.height = sz[1];
      }
      c.channels = in.value("channels", 3);
      c.layout = in.value("layout", "NCHW");
      c.color = in.value("color", "RGB");
      c.resize = in.value("resize", "stretch");
      c.resize_shorter = in.value("resize_shorter", 0);
      c.scale = in.value("scale", 1.0f / 255.0f);
      c.mean = in.value("mean", std::vector<float>{0, 0, 0});
      c.std = in.value("std", std::vector<float>{1, 1, 1});
      c.pad_value = in.value("pad_value", 114.f);
      c.letterbox_place = in.value("letterbox_place", "center");
      if (c.color != "RGB" && c.color != "BGR" && c.color != "GRAY") return bad("input.color must be RGB, BGR or GRAY");
      if (c.layout != "NCHW" && c.layout != "NHWC" && c.layout != "CHW")
        return bad("input.layout must be NCHW, NHWC or CHW (no batch dimension)");
      if (c.resize != "stretch" && c.resize != "shorter_side_crop" && c.resize != "letterbox" && c.resize != "keep_ratio" &&
          c.resize != "none")
        return bad("input.resize must be stretch, shorter_side_crop, letterbox, keep_ratio or none");
      if (c.mean.size() != static_cast<size_t>(c.channels) || c.std.size() != static_cast<size_t>(c.channels))
        return bad("input.mean and input.std need one value per channel");
      for (float s : c.std)
        if (s == 0) return bad("input.std must not contain 0");
      if (c.width < 0 || c.height < 0 || c.width > 16384 || c.height > 16384) return bad("input.size out of range");
    }
    if (j.contains("output")) {
      m.output_name = j["output"].value("name", "");
      m.output_is_probability = j["output"].value("is_probability", false);
    }
    if (j.contains("labels")) {
      const auto& l = j["labels"];
      if (l.is_array()) m.inline_labels = l.get<std::vector<std::string>>();
      else if (l.is_string()) m.labels_file = l.get<std::string>();
      else return bad("'labels' must be a file path (a files[] entry with role \"labels\") or an array of names");
    }
    m.decoder = j.value("decoder", nlohmann::json::object());
    m.tolerance = j.value("tolerance", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    return bad(std::string("malformed manifest: ") + e.what());
  }
  if (!m.file_with_role("model")) return bad("no file with role \"model\"");
  return m;
}

Result<Manifest> load_manifest(const std::string& path) {
  CVT_ASSIGN_OR_RETURN(std::string text, read_file(path, 1 << 20));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return invalid_argument(path + ": not valid JSON");
  return parse_manifest(j, path);
}

}  // namespace cvt
