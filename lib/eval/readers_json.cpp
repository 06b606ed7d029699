// COCO JSON (dataset or results list) and cvtool JSONL readers. JSON syntax errors are
// reported with file:line:column; semantic errors with the element's index or line.
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

#include "eval/readers.h"

namespace cvt::eval {

using nlohmann::json;

Result<std::string> read_file_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return io_error("cannot open '" + path + "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return io_error("error reading '" + path + "'");
  return ss.str();
}

namespace {

Status json_syntax_error(const std::string& where, const std::string& text, const json::parse_error& e,
                         int line_offset = 0) {
  size_t line = 1, col = 1;
  const size_t end = std::min<size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  std::string msg = e.what();
  const auto p = msg.find("syntax error");
  if (p != std::string::npos) msg = msg.substr(p);
  return invalid_argument(where + ":" + std::to_string(line + line_offset) + ":" + std::to_string(col) +
                          ": malformed JSON: " + msg);
}

bool get_int(const json& j, int64_t& out) {
  if (j.is_number_integer()) {
    out = j.get<int64_t>();
    return true;
  }
  if (j.is_number_float()) {
    const double d = j.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) {
      out = int64_t(d);
      return true;
    }
  }
  return false;
}

bool get_num(const json& j, double& out) {
  if (!j.is_number()) return false;
  out = j.get<double>();
  return std::isfinite(out);
}

Status bad(const std::string& ctx, const std::string& msg) { return invalid_argument(ctx + ": " + msg); }

Status parse_numbers(const json& j, std::vector<double>& out, const std::string& ctx, const char* what) {
  if (!j.is_array()) return bad(ctx, std::string(what) + " must be an array of numbers");
  out.clear();
  out.reserve(j.size());
  for (const auto& v : j) {
    double d;
    if (!get_num(v, d)) return bad(ctx, std::string(what) + " contains a non-number: " + v.dump());
    out.push_back(d);
  }
  return Status::ok();
}

Status parse_bbox(const json& j, Box& b, const std::string& ctx) {
  std::vector<double> v;
  CVT_RETURN_IF_ERROR(parse_numbers(j, v, ctx, "bbox"));
  if (v.size() != 4) return bad(ctx, "bbox must have 4 numbers [x,y,w,h], got " + std::to_string(v.size()));
  b = {v[0], v[1], v[2], v[3]};
  return Status::ok();
}

Status parse_segmentation(const json& j, Segmentation& s, const std::string& ctx) {
  if (j.is_array()) {
    s.kind = Segmentation::Kind::kPolygons;
    if (!j.empty() && j[0].is_number()) {  // a single flat polygon
      s.polygons.emplace_back();
      return parse_numbers(j, s.polygons.back(), ctx, "segmentation");
    }
    for (const auto& poly : j) {
      s.polygons.emplace_back();
      CVT_RETURN_IF_ERROR(parse_numbers(poly, s.polygons.back(), ctx, "segmentation polygon"));
    }
    return Status::ok();
  }
  if (!j.is_object()) return bad(ctx, "segmentation must be polygons or an RLE object");
  const auto size = j.find("size");
  const auto counts = j.find("counts");
  int64_t h = 0, w = 0;
  if (size == j.end() || !size->is_array() || size->size() != 2 || !get_int((*size)[0], h) ||
      !get_int((*size)[1], w) || h < 0 || w < 0)
    return bad(ctx, "RLE segmentation needs \"size\": [height, width]");
  if (counts == j.end()) return bad(ctx, "RLE segmentation has no \"counts\"");
  s.kind = Segmentation::Kind::kRle;
  if (counts->is_string()) {
    auto r = rle_from_string(counts->get<std::string>(), uint64_t(h), uint64_t(w));
    if (!r.is_ok()) return r.status().with_context(ctx);
    s.rle = std::move(r).value();
  } else if (counts->is_array()) {
    s.rle = Rle{uint64_t(h), uint64_t(w), {}};
    for (const auto& c : *counts) {
      int64_t v;
      if (!get_int(c, v) || v < 0 || v > int64_t(UINT32_MAX)) return bad(ctx, "RLE counts must be non-negative integers");
      s.rle.counts.push_back(uint32_t(v));
    }
  } else {
    return bad(ctx, "RLE counts must be a string or an integer array");
  }
  return rle_validate(s.rle).with_context(ctx);
}

// Fields shared by COCO annotations, COCO results and cvtool objects.
Status parse_object(const json& a, Annotation& ann, const std::string& ctx, bool want_score) {
  if (!a.is_object()) return bad(ctx, "expected an object");
  if (auto it = a.find("bbox"); it != a.end() && !it->is_null()) {
    // pycocotools treats "bbox": [] as absent
    if (!(it->is_array() && it->empty())) {
      CVT_RETURN_IF_ERROR(parse_bbox(*it, ann.bbox, ctx));
      ann.has_bbox = true;
    }
  }
  if (auto it = a.find("area"); it != a.end() && !it->is_null()) {
    if (!get_num(*it, ann.area)) return bad(ctx, "area must be a number");
    ann.has_area = true;
  }
  if (auto it = a.find("iscrowd"); it != a.end() && !it->is_null()) {
    int64_t v = 0;
    if (it->is_boolean()) v = it->get<bool>();
    else if (!get_int(*it, v)) return bad(ctx, "iscrowd must be 0 or 1");
    ann.iscrowd = v != 0;
  }
  if (auto it = a.find("ignore"); it != a.end() && it->is_number()) ann.ignore = it->get<double>() != 0;
  if (auto it = a.find("segmentation"); it != a.end() && !it->is_null())
    CVT_RETURN_IF_ERROR(parse_segmentation(*it, ann.segm, ctx));
  if (auto it = a.find("keypoints"); it != a.end() && !it->is_null()) {
    CVT_RETURN_IF_ERROR(parse_numbers(*it, ann.keypoints, ctx, "keypoints"));
    if (ann.keypoints.size() % 3 != 0)
      return bad(ctx, "keypoints must be x,y,v triplets, got " + std::to_string(ann.keypoints.size()) + " numbers");
  }
  if (auto it = a.find("num_keypoints"); it != a.end() && !it->is_null()) {
    int64_t v;
    if (!get_int(*it, v)) return bad(ctx, "num_keypoints must be an integer");
    ann.num_keypoints = int(v);
  }
  if (auto it = a.find("score"); it != a.end() && !it->is_null()) {
    if (!get_num(*it, ann.score)) return bad(ctx, "score must be a number");
    ann.has_score = true;
  } else if (want_score) {
    return bad(ctx, "prediction has no \"score\"");
  }
  return Status::ok();
}

Status parse_class(const json& a, ClassRef& c, const std::string& ctx) {
  int64_t v;
  if (auto it = a.find("category_id"); it != a.end() && !it->is_null()) {
    if (!get_int(*it, v)) return bad(ctx, "category_id must be an integer");
    c.category_id = v;
  }
  if (auto it = a.find("class_id"); it != a.end() && !it->is_null()) {
    if (!get_int(*it, v)) return bad(ctx, "class_id must be an integer");
    c.class_index = v;
  }
  for (const char* key : {"label", "name", "category"}) {
    if (auto it = a.find(key); it != a.end() && it->is_string()) {
      c.name = it->get<std::string>();
      break;
    }
  }
  return Status::ok();
}

Status parse_coco_images(const json& root, Dataset& ds, const std::string& path) {
  // Standard "images": [...]; also a single "image": {...} (transcribed single-image files).
  std::vector<const json*> imgs;
  if (auto it = root.find("images"); it != root.end()) {
    if (!it->is_array()) return bad(path, "\"images\" must be an array");
    for (const auto& im : *it) imgs.push_back(&im);
  } else if (auto one = root.find("image"); one != root.end() && one->is_object()) {
    imgs.push_back(&*one);
  }
  for (size_t i = 0; i < imgs.size(); ++i) {
    const json& im = *imgs[i];
    const std::string ctx = path + ": images[" + std::to_string(i) + "]";
    if (!im.is_object()) return bad(ctx, "expected an object");
    Image img;
    if (!im.contains("id") || !get_int(im["id"], img.id)) return bad(ctx, "image has no integer \"id\"");
    if (auto f = im.find("file_name"); f != im.end() && f->is_string()) img.file_name = f->get<std::string>();
    img.key = img.file_name.empty() ? std::to_string(img.id) : path_stem(img.file_name);
    if (auto w = im.find("width"); w != im.end()) get_int(*w, img.width);
    if (auto h = im.find("height"); h != im.end()) get_int(*h, img.height);
    ds.images.push_back(std::move(img));
  }
  return Status::ok();
}

Status parse_coco_categories(const json& root, Dataset& ds, const std::string& path) {
  auto it = root.find("categories");
  if (it == root.end()) return Status::ok();
  ds.has_categories = true;
  if (it->is_object()) {  // {"1": "person", ...}
    for (const auto& [k, v] : it->items()) {
      Category c;
      try {
        c.id = std::stoll(k);
      } catch (...) {
        return bad(path, "categories key '" + k + "' is not an integer id");
      }
      c.name = v.is_string() ? v.get<std::string>() : v.dump();
      ds.categories.push_back(c);
    }
    return Status::ok();
  }
  if (!it->is_array()) return bad(path, "\"categories\" must be an array");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& c = (*it)[i];
    const std::string ctx = path + ": categories[" + std::to_string(i) + "]";
    Category cat;
    if (!c.is_object() || !c.contains("id") || !get_int(c["id"], cat.id)) return bad(ctx, "category has no integer \"id\"");
    if (auto n = c.find("name"); n != c.end() && n->is_string()) cat.name = n->get<std::string>();
    ds.categories.push_back(cat);
  }
  return Status::ok();
}

Status parse_image_ref(const json& a, Annotation& ann, const std::string& ctx) {
  auto it = a.find("image_id");
  if (it == a.end() || it->is_null()) return bad(ctx, "missing \"image_id\"");
  if (it->is_string()) {  // Ultralytics writes the file stem when it is not numeric
    ann.image_key = it->get<std::string>();
    return Status::ok();
  }
  if (!get_int(*it, ann.image_id)) return bad(ctx, "image_id must be an integer or a string");
  ann.has_image_id = true;
  return Status::ok();
}

Status parse_cvtool_record(const json& rec, Dataset& ds, const std::string& where, const ReadOptions& opt);

Result<Dataset> parse_coco_document(const json& root, const std::string& path, const ReadOptions& opt) {
  Dataset ds;
  ds.path = path;
  ds.format = "coco";
  const bool pred = opt.side == Side::kPrediction;
  const bool want_score = pred && opt.require_score;
  if (root.is_array()) {
    if (!pred)
      return bad(path, "this is a COCO results list; the ground truth must be a COCO dataset with "
                       "\"images\", \"annotations\" and \"categories\"");
    ds.results_list = true;
    ds.has_image_ids = true;
    for (size_t i = 0; i < root.size(); ++i) {
      const std::string ctx = path + ": results[" + std::to_string(i) + "]";
      Annotation ann;
      CVT_RETURN_IF_ERROR(parse_object(root[i], ann, ctx, want_score));
      CVT_RETURN_IF_ERROR(parse_image_ref(root[i], ann, ctx));
      CVT_RETURN_IF_ERROR(parse_class(root[i], ann.cls, ctx));
      if (!ann.cls.category_id) return bad(ctx, "missing \"category_id\"");
      ann.origin = ctx;
      ds.anns.push_back(std::move(ann));
    }
    return ds;
  }
  if (!root.is_object()) return bad(path, "expected a JSON object or array at the top level");
  if (auto rec = root.find("records"); rec != root.end()) {  // cvtool --format json wrapper
    if (!rec->is_array()) return bad(path, "\"records\" must be an array");
    ds.format = "cvtool";
    for (size_t i = 0; i < rec->size(); ++i)
      CVT_RETURN_IF_ERROR(parse_cvtool_record((*rec)[i], ds, path + ": records[" + std::to_string(i) + "]", opt));
    return ds;
  }
  if (root.contains("source")) {  // a single cvtool record
    ds.format = "cvtool";
    CVT_RETURN_IF_ERROR(parse_cvtool_record(root, ds, path, opt));
    return ds;
  }
  if (!root.contains("annotations"))
    return bad(path, "not a COCO dataset (no \"annotations\"), results list, or cvtool document");
  ds.has_image_ids = true;
  CVT_RETURN_IF_ERROR(parse_coco_images(root, ds, path));
  CVT_RETURN_IF_ERROR(parse_coco_categories(root, ds, path));
  const json& anns = root["annotations"];
  if (!anns.is_array()) return bad(path, "\"annotations\" must be an array");
  bool missing_id = false;
  for (size_t i = 0; i < anns.size(); ++i) {
    const json& a = anns[i];
    std::string ctx = path + ": annotations[" + std::to_string(i) + "]";
    Annotation ann;
    if (a.is_object() && a.contains("id")) {
      if (!get_int(a["id"], ann.id)) return bad(ctx, "id must be an integer");
      ctx += " (id " + std::to_string(ann.id) + ")";
    } else {
      missing_id = true;
      ann.id = int64_t(i) + 1;
    }
    CVT_RETURN_IF_ERROR(parse_object(a, ann, ctx, want_score));
    if (a.contains("image_id")) {
      CVT_RETURN_IF_ERROR(parse_image_ref(a, ann, ctx));
    } else if (ds.images.size() == 1) {
      ann.image_id = ds.images[0].id;
      ann.has_image_id = true;
    } else {
      return bad(ctx, "missing \"image_id\"");
    }
    CVT_RETURN_IF_ERROR(parse_class(a, ann.cls, ctx));
    if (!ann.cls.category_id) return bad(ctx, "missing \"category_id\"");
    ann.origin = ctx;
    ds.anns.push_back(std::move(ann));
  }
  if (missing_id) ds.warnings.push_back(path + ": some annotations have no \"id\"; numbered from 1 in file order");
  return ds;
}

Status parse_cvtool_record(const json& rec, Dataset& ds, const std::string& where, const ReadOptions& opt) {
  if (!rec.is_object()) return bad(where, "record must be a JSON object");
  const bool pred = opt.side == Side::kPrediction && opt.require_score;
  std::string src_path;
  Image img;
  if (auto s = rec.find("source"); s != rec.end() && s->is_object()) {
    if (auto p = s->find("path"); p != s->end() && p->is_string()) src_path = p->get<std::string>();
    if (auto w = s->find("width"); w != s->end()) get_int(*w, img.width);
    if (auto h = s->find("height"); h != s->end()) get_int(*h, img.height);
    if (auto id = s->find("image_id"); id != s->end() && get_int(*id, img.id)) ds.has_image_ids = true;
  }
  if (src_path.empty()) return bad(where, "record has no \"source\": {\"path\": ...}");
  if (auto e = rec.find("error"); e != rec.end() && !e->is_null()) {
    ds.warnings.push_back(where + ": record for '" + src_path + "' carries an error; its image is skipped");
    return Status::ok();
  }
  img.file_name = src_path;
  img.key = path_stem(src_path);
  std::string box_format = "xywh";
  if (auto bf = rec.find("box_format"); bf != rec.end() && bf->is_string()) box_format = bf->get<std::string>();
  if (box_format != "xywh" && box_format != "xyxy" && box_format != "cxcywh")
    return bad(where, "unknown box_format '" + box_format + "'");

  // Which object list to read: the one that matches the task, else the first present.
  std::vector<const char*> keys;
  if (opt.task == Task::kSegm) keys = {"instances"};
  else if (opt.task == Task::kKeypoints) keys = {"people", "instances", "detections"};
  else keys = {"detections", "instances", "people"};
  const json* list = nullptr;
  const char* list_key = nullptr;
  for (const char* k : keys)
    if (auto it = rec.find(k); it != rec.end() && it->is_array()) {
      list = &*it;
      list_key = k;
      break;
    }
  if (!list && rec.contains("topk")) return bad(where, "classification records (\"topk\") cannot be evaluated as detections");
  ds.images.push_back(img);
  if (!list) return Status::ok();  // an image without objects
  for (size_t i = 0; i < list->size(); ++i) {
    const json& o = (*list)[i];
    const std::string ctx = where + ": " + list_key + "[" + std::to_string(i) + "]";
    Annotation ann;
    CVT_RETURN_IF_ERROR(parse_object(o, ann, ctx, pred));
    CVT_RETURN_IF_ERROR(parse_class(o, ann.cls, ctx));
    if (std::string(list_key) == "people" && !ann.cls.category_id && !ann.cls.class_index && ann.cls.name.empty())
      ann.cls.name = "person";
    if (ann.has_bbox && box_format == "xyxy") ann.bbox = xyxy_to_xywh(ann.bbox[0], ann.bbox[1], ann.bbox[2], ann.bbox[3]);
    if (ann.has_bbox && box_format == "cxcywh") ann.bbox = cxcywh_to_xywh(ann.bbox[0], ann.bbox[1], ann.bbox[2], ann.bbox[3]);
    ann.image_key = img.key;
    if (ds.has_image_ids) {
      ann.image_id = img.id;
      ann.has_image_id = true;
    }
    ann.origin = ctx;
    ds.anns.push_back(std::move(ann));
  }
  return Status::ok();
}

}  // namespace

Result<Dataset> read_coco_json(const std::string& path, const ReadOptions& opt) {
  CVT_ASSIGN_OR_RETURN(std::string text, read_file_text(path));
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    return json_syntax_error(path, text, e);
  } catch (const json::exception& e) {  // e.g. a number beyond double's range (found by fuzz_eval_readers)
    return invalid_argument(path + ": " + e.what());
  }
  return parse_coco_document(root, path, opt);
}

Result<Dataset> read_cvtool_jsonl(const std::string& path, const ReadOptions& opt) {
  CVT_ASSIGN_OR_RETURN(std::string text, read_file_text(path));
  Dataset ds;
  ds.path = path;
  ds.format = "cvtool";
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json rec;
    try {
      rec = json::parse(line);
    } catch (const json::parse_error& e) {
      return json_syntax_error(path, line, e, lineno - 1);
    } catch (const json::exception& e) {
      return invalid_argument(path + ":" + std::to_string(lineno) + ": " + e.what());
    }
    CVT_RETURN_IF_ERROR(parse_cvtool_record(rec, ds, path + ":" + std::to_string(lineno), opt));
  }
  return ds;
}

}  // namespace cvt::eval
