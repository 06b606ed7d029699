// Output helpers shared by the image subcommands (detect, pose, ...): unique
// per-input file names, COCO image ids, annotated-image writing, flag echoing.
#pragma once
#include <cstdint>
#include <map>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "core/status.h"

// One output name per input, unique in input order ("dog", "dog_1", ...), so
// parallel jobs never write the same file.
std::vector<std::string> unique_stems(const std::vector<std::string>& inputs);

// A float flag value as the user typed it (0.45, not 0.44999998807907104).
double flag_value(float v);

// COCO image id of an input: from --coco-gt by file name, else a numeric stem, else the input index.
struct ImageIds {
  std::map<std::string, int64_t> by_name;
  int64_t id(const std::string& path, size_t index) const;
};
cvt::Result<ImageIds> load_image_ids(const std::string& coco_gt_path);

// DIR/<stem><ext of the input> (.jpg for formats OpenCV may not write).
std::string annotated_path(const std::string& dir, const std::string& stem, const std::string& input_path);
// Encodes `img` by the extension of `path` and writes it atomically.
cvt::Status write_image_file(const cv::Mat& img, const std::string& path);
