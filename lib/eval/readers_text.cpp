// Text and XML readers: rafaelpadilla / YOLO label files, Pascal VOC XML, class-name
// files, plus format detection and dispatch. Errors name file and line.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "eval/readers.h"
#include "eval/xml.h"

namespace fs = std::filesystem;

namespace cvt::eval {

const char* task_name(Task t) {
  switch (t) {
    case Task::kBbox: return "bbox";
    case Task::kSegm: return "segm";
    case Task::kKeypoints: return "keypoints";
  }
  return "?";
}

std::string path_stem(const std::string& path) {
  std::string base = path;
  const auto slash = base.find_last_of("/\\");
  if (slash != std::string::npos) base = base.substr(slash + 1);
  const auto dot = base.find_last_of('.');
  if (dot != std::string::npos && dot > 0) base = base.substr(0, dot);
  return base;
}

Result<FormatSpec> parse_format_spec(const std::string& s) {
  FormatSpec f;
  std::vector<std::string> parts;
  std::stringstream ss(s);
  for (std::string p; std::getline(ss, p, ':');) parts.push_back(p);
  if (parts.empty()) return invalid_argument("empty format");
  f.kind = parts[0];
  const bool text = f.kind == "txt" || f.kind == "yolo";
  if (f.kind != "auto" && f.kind != "coco" && f.kind != "cvtool" && f.kind != "voc" && !text)
    return invalid_argument("unknown format '" + f.kind + "' (expected auto, coco, cvtool, voc, yolo or txt)");
  if (f.kind == "yolo") f.layout = {TextLayout::BoxFmt::kCxcywh, TextLayout::Coords::kRel};
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (!text) return invalid_argument("format '" + f.kind + "' takes no ':" + p + "' option");
    if (p == "xywh") f.layout.box = TextLayout::BoxFmt::kXywh;
    else if (p == "xyxy" || p == "xyx2y2") f.layout.box = TextLayout::BoxFmt::kXyxy;
    else if (p == "cxcywh" || p == "xcycwh") f.layout.box = TextLayout::BoxFmt::kCxcywh;
    else if (p == "abs") f.layout.coords = TextLayout::Coords::kAbs;
    else if (p == "rel") f.layout.coords = TextLayout::Coords::kRel;
    else return invalid_argument("unknown text layout option '" + p + "' (xywh, xyxy, cxcywh, abs, rel)");
  }
  return f;
}

std::string format_spec_string(const FormatSpec& f) {
  if (f.kind != "txt" && f.kind != "yolo") return f.kind;
  std::string s = f.kind;
  switch (f.layout.box) {
    case TextLayout::BoxFmt::kXywh: s += ":xywh"; break;
    case TextLayout::BoxFmt::kXyxy: s += ":xyxy"; break;
    case TextLayout::BoxFmt::kCxcywh: s += ":cxcywh"; break;
    default: break;
  }
  if (f.layout.coords == TextLayout::Coords::kAbs) s += ":abs";
  if (f.layout.coords == TextLayout::Coords::kRel) s += ":rel";
  return s;
}

namespace {

bool parse_double(const std::string& t, double& v) {
  const char* b = t.data();
  const char* e = b + t.size();
  if (b != e && *b == '+') ++b;
  auto r = std::from_chars(b, e, v);
  return r.ec == std::errc() && r.ptr == e && std::isfinite(v);
}

bool parse_int(const std::string& t, int64_t& v) {
  auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  return r.ec == std::errc() && r.ptr == t.data() + t.size();
}

// Files of one directory with the given extension, sorted by name (the fixtures' "file order").
std::vector<std::string> list_files(const std::string& dir, const std::string& ext) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    std::string x = e.path().extension().string();
    std::transform(x.begin(), x.end(), x.begin(), ::tolower);
    if (x == ext) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct RawLine {
  std::string cls;
  double conf = 1;
  bool has_conf = false;
  double c[4];
  bool difficult = false;
  std::string origin;
  std::string key;
};

Status read_label_file(const std::string& file, bool yolo, bool pred, std::vector<RawLine>& out) {
  CVT_ASSIGN_OR_RETURN(std::string text, read_file_text(file));
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  const std::string key = path_stem(file);
  while (std::getline(in, line)) {
    ++lineno;
    std::istringstream ls(line);
    std::vector<std::string> tok;
    for (std::string t; ls >> t;) tok.push_back(t);
    if (tok.empty() || tok[0][0] == '#') continue;
    const std::string where = file + ":" + std::to_string(lineno);
    RawLine r;
    r.origin = where;
    r.key = key;
    r.cls = tok[0];
    size_t first = 1;
    size_t expected = pred ? 6 : 5;
    if (!pred && tok.size() == 6 && tok[5] == "difficult") {
      r.difficult = true;
      tok.pop_back();
    }
    if (tok.size() != expected) {
      const char* layout = pred ? (yolo ? "'cls x y w h conf'" : "'cls conf x y w h'")
                                : "'cls x y w h' (optionally followed by 'difficult')";
      return invalid_argument(where + ": expected " + std::to_string(expected) + " fields " + layout + ", got " +
                              std::to_string(tok.size()) + ": \"" + line + "\"");
    }
    if (pred) {
      const std::string& ct = yolo ? tok[5] : tok[1];
      if (!parse_double(ct, r.conf)) return invalid_argument(where + ": confidence '" + ct + "' is not a number");
      r.has_conf = true;
      if (!yolo) first = 2;
    }
    static const char* kNames[4] = {"x", "y", "w", "h"};
    for (int k = 0; k < 4; ++k)
      if (!parse_double(tok[first + k], r.c[k]))
        return invalid_argument(where + ": coordinate " + kNames[k] + " '" + tok[first + k] + "' is not a number");
    out.push_back(std::move(r));
  }
  return Status::ok();
}

}  // namespace

Result<Dataset> read_text_labels(const std::string& path, const ReadOptions& opt) {
  const bool yolo = opt.format.kind == "yolo";
  const bool pred = opt.side == Side::kPrediction;
  std::vector<std::string> files;
  if (fs::is_directory(path)) {
    for (auto& f : list_files(path, ".txt"))
      if (path_stem(f) != "classes") files.push_back(f);  // YOLO label dirs often carry classes.txt
  } else {
    files.push_back(path);
  }
  Dataset ds;
  ds.path = path;
  std::vector<RawLine> lines;
  for (const auto& f : files) {
    CVT_RETURN_IF_ERROR(read_label_file(f, yolo, pred, lines));
    ds.images.push_back(Image{0, path_stem(f), fs::path(f).filename().string(), 0, 0});
  }
  // Resolve the layout once for the whole set.
  TextLayout lay = opt.format.layout;
  if (lay.coords == TextLayout::Coords::kAuto) {
    // Normalised coordinates stay within about [0, 1] (boxes may overshoot a little) and are
    // not all integers; absolute pixel coordinates are not.
    bool small = true, fractional = false;
    for (const auto& r : lines)
      for (double v : r.c) {
        small = small && std::fabs(v) <= 1.5;
        fractional = fractional || v != std::floor(v);
      }
    lay.coords = (!lines.empty() && small && fractional) ? TextLayout::Coords::kRel : TextLayout::Coords::kAbs;
  }
  if (lay.box == TextLayout::BoxFmt::kAuto)
    lay.box = lay.coords == TextLayout::Coords::kRel ? TextLayout::BoxFmt::kCxcywh : TextLayout::BoxFmt::kXywh;
  FormatSpec resolved{yolo ? "yolo" : "txt", lay};
  ds.format = format_spec_string(resolved);
  for (const auto& r : lines) {
    Annotation a;
    a.image_key = r.key;
    a.origin = r.origin;
    int64_t idx;
    if (parse_int(r.cls, idx)) a.cls.class_index = idx;
    else a.cls.name = r.cls;
    const double* c = r.c;
    a.has_bbox = true;
    a.bbox_relative = lay.coords == TextLayout::Coords::kRel;
    if (a.bbox_relative) {
      // scaled in bind() once the image size is known
      a.bbox = {c[0], c[1], c[2], c[3]};
      a.rel_layout = lay.box == TextLayout::BoxFmt::kXywh   ? Annotation::RelLayout::kXywh
                     : lay.box == TextLayout::BoxFmt::kXyxy ? Annotation::RelLayout::kXyxy
                                                            : Annotation::RelLayout::kCxcywh;
      a.rel_round = !yolo;  // the rafaelpadilla tool works in integer pixels; YOLO does not
    } else if (lay.box == TextLayout::BoxFmt::kXywh) {
      a.bbox = {c[0], c[1], c[2], c[3]};
    } else if (lay.box == TextLayout::BoxFmt::kXyxy) {
      a.bbox = xyxy_to_xywh(c[0], c[1], c[2], c[3]);
    } else {
      a.bbox = cxcywh_to_xywh(c[0], c[1], c[2], c[3]);
    }
    a.difficult = r.difficult;
    a.score = r.conf;
    a.has_score = r.has_conf;
    ds.anns.push_back(std::move(a));
  }
  return ds;
}

namespace {

Status voc_number(const XmlNode& box, const char* name, const std::string& file, double& v) {
  const XmlNode* n = box.child(name);
  if (!n) return invalid_argument(file + ":" + std::to_string(box.line) + ": <bndbox> has no <" + name + ">");
  if (!parse_double(n->text, v))
    return invalid_argument(file + ":" + std::to_string(n->line) + ": <" + name + "> '" + n->text + "' is not a number");
  return Status::ok();
}

Status read_one_voc(const std::string& file, bool pred, Dataset& ds) {
  CVT_ASSIGN_OR_RETURN(std::string text, read_file_text(file));
  CVT_ASSIGN_OR_RETURN(XmlNode root, parse_xml(text, file));
  if (root.name != "annotation")
    return invalid_argument(file + ":" + std::to_string(root.line) + ": expected a Pascal VOC <annotation> root, got <" +
                            root.name + ">");
  Image img;
  img.key = path_stem(file);
  if (const XmlNode* fn = root.child("filename")) img.file_name = fn->text;
  if (const XmlNode* size = root.child("size")) {
    double w = 0, h = 0;
    if (const XmlNode* n = size->child("width"); n && parse_double(n->text, w)) img.width = int64_t(w);
    if (const XmlNode* n = size->child("height"); n && parse_double(n->text, h)) img.height = int64_t(h);
  }
  ds.images.push_back(img);
  for (const XmlNode* obj : root.children_named("object")) {
    const std::string where = file + ":" + std::to_string(obj->line);
    Annotation a;
    a.image_key = img.key;
    a.origin = where;
    const XmlNode* name = obj->child("name");
    if (!name || name->text.empty()) return invalid_argument(where + ": <object> has no <name>");
    a.cls.name = name->text;
    if (const XmlNode* d = obj->child("difficult")) {
      double v = 0;
      if (!parse_double(d->text, v))
        return invalid_argument(file + ":" + std::to_string(d->line) + ": <difficult> '" + d->text + "' is not 0 or 1");
      a.difficult = v != 0;
    }
    const XmlNode* box = obj->child("bndbox");
    if (!box) return invalid_argument(where + ": <object> '" + a.cls.name + "' has no <bndbox>");
    double x1, y1, x2, y2;
    CVT_RETURN_IF_ERROR(voc_number(*box, "xmin", file, x1));
    CVT_RETURN_IF_ERROR(voc_number(*box, "ymin", file, y1));
    CVT_RETURN_IF_ERROR(voc_number(*box, "xmax", file, x2));
    CVT_RETURN_IF_ERROR(voc_number(*box, "ymax", file, y2));
    a.bbox = xyxy_to_xywh(x1, y1, x2, y2);
    a.has_bbox = true;
    for (const char* sk : {"score", "confidence"})
      if (const XmlNode* s = obj->child(sk)) {
        if (!parse_double(s->text, a.score))
          return invalid_argument(file + ":" + std::to_string(s->line) + ": <" + sk + "> is not a number");
        a.has_score = true;
      }
    if (pred && !a.has_score) return invalid_argument(where + ": prediction <object> has no <score>");
    ds.anns.push_back(std::move(a));
  }
  return Status::ok();
}

}  // namespace

Result<Dataset> read_voc_xml(const std::string& path, const ReadOptions& opt) {
  Dataset ds;
  ds.path = path;
  ds.format = "voc";
  std::vector<std::string> files = fs::is_directory(path) ? list_files(path, ".xml") : std::vector<std::string>{path};
  for (const auto& f : files) CVT_RETURN_IF_ERROR(read_one_voc(f, opt.side == Side::kPrediction, ds));
  return ds;
}

Result<std::vector<std::string>> read_names(const std::string& path) {
  CVT_ASSIGN_OR_RETURN(std::string text, read_file_text(path));
  std::vector<std::string> names;
  std::istringstream in(text);
  std::string line;
  auto trim = [](std::string s) {
    const auto b = s.find_first_not_of(" \t\r");
    const auto e = s.find_last_not_of(" \t\r");
    s = b == std::string::npos ? "" : s.substr(b, e - b + 1);
    if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"') && s.back() == s.front()) s = s.substr(1, s.size() - 2);
    return s;
  };
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".yaml" || ext == ".yml") {
    // Ultralytics data.yaml: `names: [a, b]`, or a block of `- a` / `0: a` lines.
    bool in_block = false;
    while (std::getline(in, line)) {
      const std::string t = trim(line);
      if (!in_block) {
        if (t.rfind("names:", 0) != 0) continue;
        std::string rest = trim(t.substr(6));
        if (!rest.empty() && rest.front() == '[') {
          rest = rest.substr(1, rest.find(']') == std::string::npos ? std::string::npos : rest.find(']') - 1);
          std::stringstream ss(rest);
          for (std::string n; std::getline(ss, n, ',');) names.push_back(trim(n));
          return names;
        }
        in_block = true;
        continue;
      }
      if (t.empty() || t[0] == '#') continue;
      if (line.find_first_not_of(" \t") == 0) break;  // dedent ends the block
      if (t[0] == '-') names.push_back(trim(t.substr(1)));
      else if (auto c = t.find(':'); c != std::string::npos) names.push_back(trim(t.substr(c + 1)));
    }
    if (names.empty()) return invalid_argument(path + ": no `names:` list found");
    return names;
  }
  while (std::getline(in, line)) {
    const std::string t = trim(line);
    if (!t.empty()) names.push_back(t);
  }
  if (names.empty()) return invalid_argument(path + ": no class names");
  return names;
}

Result<std::string> detect_format(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return io_error("'" + path + "' does not exist");
  if (fs::is_directory(path, ec)) {
    const size_t nxml = list_files(path, ".xml").size(), ntxt = list_files(path, ".txt").size();
    if (nxml > 0 && nxml >= ntxt) return std::string("voc");
    if (ntxt > 0) return std::string("txt");
    if (!list_files(path, ".json").empty())
      return invalid_argument("'" + path + "' holds .json files; pass a single COCO or cvtool file instead of the folder");
    return invalid_argument("cannot tell the format of folder '" + path + "' (no .xml or .txt files)");
  }
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  if (ext == ".xml") return std::string("voc");
  if (ext == ".txt") return std::string("txt");
  if (ext == ".jsonl" || ext == ".ndjson") return std::string("cvtool");
  // JSON: one document (COCO, or cvtool --format json) or one record per line (cvtool).
  CVT_ASSIGN_OR_RETURN(std::string text, read_file_text(path));
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return invalid_argument("'" + path + "' is empty");
  if (text[first] == '[') return std::string("coco");
  const auto nl = text.find('\n', first);
  const auto next = nl == std::string::npos ? std::string::npos : text.find_first_not_of(" \t\r\n", nl);
  // A second top-level object starting on a later line means JSON Lines.
  if (text[first] == '{' && next != std::string::npos && text[next] == '{' &&
      text.find("\"source\"") != std::string::npos)
    return std::string("cvtool");
  return std::string("coco");
}

Result<Dataset> read_dataset(const std::string& path, const ReadOptions& opt_in) {
  ReadOptions opt = opt_in;
  if (opt.format.kind == "auto") {
    CVT_ASSIGN_OR_RETURN(std::string kind, detect_format(path));
    opt.format.kind = kind;
  } else if (!fs::exists(path)) {
    return io_error("'" + path + "' does not exist");
  }
  Result<Dataset> r = Status(ErrorCode::kInternal, "unreachable");
  if (opt.format.kind == "coco") {
    r = read_coco_json(path, opt);
  } else if (opt.format.kind == "cvtool") {
    // a cvtool document may also be a single JSON object with "records"
    auto ext = fs::path(path).extension().string();
    if (ext == ".json") r = read_coco_json(path, opt);
    if (ext != ".json" || (!r.is_ok() && r.status().message().find("malformed JSON") != std::string::npos))
      r = read_cvtool_jsonl(path, opt);
  } else if (opt.format.kind == "voc") {
    r = read_voc_xml(path, opt);
  } else {
    r = read_text_labels(path, opt);
  }
  if (r.is_ok())
    for (size_t i = 0; i < r.value().anns.size(); ++i) r.value().anns[i].index = int64_t(i);
  return r;
}

}  // namespace cvt::eval
