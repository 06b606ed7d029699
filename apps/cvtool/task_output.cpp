#include "task_output.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <set>

#include "io/atomic_file.h"

namespace fs = std::filesystem;

std::vector<std::string> unique_stems(const std::vector<std::string>& inputs) {
  std::vector<std::string> out;
  std::set<std::string> used;
  for (const std::string& p : inputs) {
    std::string stem = fs::path(p).stem().string();
    if (stem.empty()) stem = "image";
    std::string name = stem;
    for (int k = 1; used.count(name); ++k) name = stem + "_" + std::to_string(k);
    used.insert(name);
    out.push_back(name);
  }
  return out;
}

double flag_value(float v) { return std::round(double(v) * 1e6) / 1e6; }

int64_t ImageIds::id(const std::string& path, size_t index) const {
  std::string name = fs::path(path).filename().string();
  if (auto it = by_name.find(name); it != by_name.end()) return it->second;
  std::string stem = fs::path(path).stem().string();
  if (!stem.empty() && stem.size() < 18 && stem.find_first_not_of("0123456789") == std::string::npos) return std::stoll(stem);
  return int64_t(index);
}

cvt::Result<ImageIds> load_image_ids(const std::string& gt) {
  ImageIds ids;
  if (gt.empty()) return ids;
  CVT_ASSIGN_OR_RETURN(std::string text, cvt::read_file(gt, int64_t(2) << 30));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("images") || !j["images"].is_array())
    return cvt::invalid_argument(gt + ": not a COCO ground-truth file (no \"images\" array)");
  for (const auto& im : j["images"])
    if (im.contains("file_name") && im.contains("id") && im["id"].is_number_integer())
      ids.by_name[fs::path(im["file_name"].get<std::string>()).filename().string()] = im["id"].get<int64_t>();
  return ids;
}

std::string annotated_path(const std::string& dir, const std::string& stem, const std::string& input_path) {
  std::string ext = fs::path(input_path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  if (ext != ".jpg" && ext != ".jpeg" && ext != ".png" && ext != ".bmp") ext = ".jpg";
  return (fs::path(dir) / (stem + ext)).string();
}

cvt::Status write_image_file(const cv::Mat& img, const std::string& path) {
  std::vector<uchar> buf;
  const std::string ext = fs::path(path).extension().string();
  if (!cv::imencode(ext, img, buf)) return cvt::io_error("cannot encode " + path);
  return cvt::write_file_atomic(path, std::string(buf.begin(), buf.end()));
}
