// Readers for evaluation inputs: COCO ground truth and results JSON, cvtool JSONL records,
// Pascal VOC XML, YOLO txt and the rafaelpadilla text layouts; plus bind(), which joins
// predictions to the ground truth's images and categories. Errors name file and line.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "eval/dataset.h"

namespace cvt::eval {

enum class Side { kGroundTruth, kPrediction };

/// Text layouts: `cls [conf] a b c d` (txt) or `cls a b c d [conf]` (yolo).
struct TextLayout {
  enum class BoxFmt { kAuto, kXywh, kXyxy, kCxcywh };
  enum class Coords { kAuto, kAbs, kRel };
  BoxFmt box = BoxFmt::kAuto;
  Coords coords = Coords::kAuto;
};

/// kind: auto | coco | cvtool | voc | txt | yolo; text kinds take ":xywh|xyxy|cxcywh" and
/// ":abs|rel" suffixes, e.g. "txt:xyxy:abs".
struct FormatSpec {
  std::string kind = "auto";
  TextLayout layout;
};
Result<FormatSpec> parse_format_spec(const std::string& s);
std::string format_spec_string(const FormatSpec& f);

struct ReadOptions {
  Side side = Side::kPrediction;
  FormatSpec format;
  Task task = Task::kBbox;
  bool require_score = true;  // predictions must carry a score (pairwise IoU relaxes this)
};

/// Read a dataset from a file or directory; `format.kind == "auto"` detects it.
Result<Dataset> read_dataset(const std::string& path, const ReadOptions& opt);

// The individual readers (read_dataset dispatches to these).
Result<Dataset> read_coco_json(const std::string& path, const ReadOptions& opt);
Result<Dataset> read_cvtool_jsonl(const std::string& path, const ReadOptions& opt);
Result<Dataset> read_voc_xml(const std::string& path, const ReadOptions& opt);
Result<Dataset> read_text_labels(const std::string& path, const ReadOptions& opt);
/// Detect the format kind of `path` ("coco", "cvtool", "voc", "txt").
Result<std::string> detect_format(const std::string& path);

/// Class names, one per line (darknet .names / classes.txt) or a YAML `names:` list/map.
Result<std::vector<std::string>> read_names(const std::string& path);

struct BindOptions {
  std::vector<std::string> names;     // class index -> name (for class ids in text formats)
  int64_t imgsz_w = 0, imgsz_h = 0;   // fallback image size for normalised coordinates
  std::string images_dir;             // image files: sizes from their headers; for file-name keyed
                                      // ground truth, images without a label file join as empty
};

/// Ground truth and predictions resolved to one set of image ids and category ids.
struct Bound {
  Dataset gt, dt;
  std::vector<std::string> warnings;
  std::string image_match;     // "id" | "file name"
  std::string category_match;  // "id" | "name" | "class index"
  int64_t dropped_unknown_image = 0, dropped_unknown_category = 0;
};

/// Join predictions to the ground truth. Predictions whose image or category is not in the
/// ground truth are dropped with a warning naming them; if none can be joined it is an
/// error (never a silent AP of 0).
Result<Bound> bind(Dataset gt, Dataset dt, const BindOptions& opt);

/// Read a whole file; errors name the path.
Result<std::string> read_file_text(const std::string& path);

}  // namespace cvt::eval
