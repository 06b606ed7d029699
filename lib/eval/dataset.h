// Plain structs shared by the evaluation readers and protocols: images, categories and
// annotations (ground truth or predictions). No behaviour beyond small helpers.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "eval/box.h"
#include "eval/rle.h"

namespace cvt::eval {

enum class Task { kBbox, kSegm, kKeypoints };
const char* task_name(Task t);

struct Image {
  int64_t id = 0;
  std::string key;        // file stem used to join name-keyed formats ("2007_000549")
  std::string file_name;  // as written in the source, may include directories
  int64_t width = 0, height = 0;  // 0 when unknown
};

struct Category {
  int64_t id = 0;
  std::string name;
};

/// The class of an object as the file wrote it; resolved to a category id by bind().
struct ClassRef {
  std::optional<int64_t> category_id;  // dataset id (COCO category_id)
  std::optional<int64_t> class_index;  // 0-based model index (YOLO / darknet)
  std::string name;                    // label text
};

struct Segmentation {
  enum class Kind { kNone, kPolygons, kRle };
  Kind kind = Kind::kNone;
  std::vector<std::vector<double>> polygons;
  Rle rle;  // for kRle; for kPolygons filled by prepare_masks()
};

struct Annotation {
  int64_t id = 0;
  int64_t image_id = 0;   // resolved (valid after bind)
  bool has_image_id = false;  // the file gave a numeric image id
  std::string image_key;  // for formats keyed by file name
  ClassRef cls;
  int64_t category_id = 0;  // resolved (valid after bind)
  Box bbox{0, 0, 0, 0};
  bool has_bbox = false;
  bool bbox_relative = false;  // normalised coordinates: scaled by the image size in bind()
  // For normalised boxes: bbox holds the raw values in this layout, and rel_round asks for
  // integer pixel corners (rafaelpadilla's converter rounds x1,y1,x2,y2 half-to-even).
  enum class RelLayout : uint8_t { kXywh, kXyxy, kCxcywh } rel_layout = RelLayout::kXywh;
  bool rel_round = false;
  double area = 0;
  bool has_area = false;
  bool iscrowd = false;
  bool ignore = false;     // COCO's optional "ignore" field (pycocotools overwrites it)
  bool difficult = false;  // VOC
  double score = 1.0;
  bool has_score = false;
  Segmentation segm;
  std::vector<double> keypoints;  // flat x,y,v
  int num_keypoints = -1;         // -1: not given
  std::string origin;             // "file:line" for messages
  int64_t index = -1;             // position in the file it was read from
};

struct Dataset {
  std::string path;
  std::string format;           // resolved reader name, e.g. "coco", "voc", "txt:xywh:abs"
  bool has_image_ids = false;   // images are identified by numeric id (COCO)
  bool has_categories = false;  // the file defines a category table
  bool results_list = false;    // a bare COCO results list (loadRes semantics)
  std::vector<Image> images;
  std::vector<Category> categories;
  std::vector<Annotation> anns;
  std::vector<std::string> warnings;
};

/// "dir/a/2007_000549.jpg" -> "2007_000549"
std::string path_stem(const std::string& path);

}  // namespace cvt::eval
