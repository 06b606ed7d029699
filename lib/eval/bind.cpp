// bind(): join predictions to the ground truth's images and categories, scale normalised
// boxes to pixels, and report (never silently drop) predictions that do not fit.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "eval/image_size.h"
#include "eval/readers.h"

namespace cvt::eval {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

// "a, b, c and 7 more"
std::string list_some(const std::map<std::string, int64_t>& m, size_t limit = 10) {
  std::string s;
  size_t n = 0;
  for (const auto& [k, count] : m) {
    if (n == limit) {
      s += ", and " + std::to_string(m.size() - limit) + " more";
      break;
    }
    s += (n ? ", " : "") + k + " (" + std::to_string(count) + "x)";
    ++n;
  }
  return s;
}

struct CatTable {
  std::vector<Category> cats;
  std::map<int64_t, size_t> by_id;
  std::map<std::string, int64_t> by_name, by_lower;
  void add(int64_t id, const std::string& name) {
    if (by_id.count(id)) {
      if (cats[by_id[id]].name.empty()) cats[by_id[id]].name = name;
    } else {
      by_id[id] = cats.size();
      cats.push_back({id, name});
    }
    if (!name.empty()) {
      by_name.emplace(name, id);
      by_lower.emplace(lower(name), id);
    }
  }
  std::optional<int64_t> find_name(const std::string& n) const {
    if (auto it = by_name.find(n); it != by_name.end()) return it->second;
    if (auto it = by_lower.find(lower(n)); it != by_lower.end()) return it->second;
    return std::nullopt;
  }
  int64_t next_id() const { return by_id.empty() ? 0 : by_id.rbegin()->first + 1; }
};

Status scale_relative(Annotation& a, const Image& img, const BindOptions& opt) {
  if (!a.bbox_relative) return Status::ok();
  int64_t W = img.width, H = img.height;
  if (W <= 0 || H <= 0) {
    W = opt.imgsz_w;
    H = opt.imgsz_h;
  }
  if (W <= 0 || H <= 0)
    return invalid_argument(a.origin + ": normalised coordinates need the image size of '" + img.key +
                            "': pass --imgsz W,H (or ground truth with image sizes)");
  const double w = double(W), h = double(H);
  const Box& b = a.bbox;
  double x1, y1, bw, bh;
  switch (a.rel_layout) {
    case Annotation::RelLayout::kCxcywh:  // same operation order as the rafaelpadilla converter
      bw = w * b[2];
      bh = h * b[3];
      x1 = b[0] * w - bw / 2;
      y1 = b[1] * h - bh / 2;
      break;
    case Annotation::RelLayout::kXyxy:
      x1 = b[0] * w;
      y1 = b[1] * h;
      bw = b[2] * w - x1;
      bh = b[3] * h - y1;
      break;
    default:
      x1 = b[0] * w;
      y1 = b[1] * h;
      bw = b[2] * w;
      bh = b[3] * h;
  }
  if (a.rel_round) {
    // Python round(): half to even, which nearbyint does in the default rounding mode
    const double rx1 = std::nearbyint(x1), ry1 = std::nearbyint(y1);
    a.bbox = {rx1, ry1, std::nearbyint(x1 + bw) - rx1, std::nearbyint(y1 + bh) - ry1};
  } else {
    a.bbox = {x1, y1, bw, bh};
  }
  a.bbox_relative = false;
  return Status::ok();
}

}  // namespace

Result<Bound> bind(Dataset gt, Dataset dt, const BindOptions& opt) {
  Bound out;
  auto& warn = out.warnings;
  for (auto& w : gt.warnings) warn.push_back(w);
  for (auto& w : dt.warnings) warn.push_back(w);

  // ---- ground-truth images -------------------------------------------------------------
  std::map<int64_t, size_t> img_by_id;
  std::map<std::string, size_t> img_by_key;
  if (!gt.has_image_ids) {
    std::vector<Image> uniq;
    for (auto& im : gt.images) {
      if (img_by_key.count(im.key)) {
        warn.push_back(gt.path + ": image '" + im.key + "' appears more than once; its objects are merged");
        continue;
      }
      img_by_key[im.key] = uniq.size();
      uniq.push_back(im);
    }
    if (!opt.images_dir.empty()) {
      // YOLO convention: an image without a label file has no objects, but is part of the set
      for (const auto& f : list_image_files(opt.images_dir)) {
        const std::string key = path_stem(f);
        if (img_by_key.count(key)) continue;
        img_by_key[key] = uniq.size();
        uniq.push_back(Image{0, key, std::filesystem::path(f).filename().string(), 0, 0});
      }
      std::stable_sort(uniq.begin(), uniq.end(), [](const Image& a, const Image& b) { return a.key < b.key; });
      img_by_key.clear();
    }
    gt.images = std::move(uniq);
    for (size_t i = 0; i < gt.images.size(); ++i) gt.images[i].id = int64_t(i) + 1;
  }
  if (!opt.images_dir.empty()) {
    std::map<std::string, std::string> files;
    for (const auto& f : list_image_files(opt.images_dir)) files.emplace(path_stem(f), f);
    if (files.empty()) warn.push_back("--images " + opt.images_dir + ": no image files found");
    for (auto& im : gt.images) {
      if (im.width > 0 && im.height > 0) continue;
      auto it = files.find(im.key);
      if (it == files.end()) continue;
      CVT_ASSIGN_OR_RETURN(auto wh, image_size(it->second));
      im.width = wh.first;
      im.height = wh.second;
    }
  }
  for (size_t i = 0; i < gt.images.size(); ++i) {
    if (!img_by_id.emplace(gt.images[i].id, i).second)
      return invalid_argument(gt.path + ": duplicate image id " + std::to_string(gt.images[i].id));
    img_by_key.emplace(gt.images[i].key, i);
  }
  // Sizes from the predictions (cvtool records carry them) when the ground truth has none.
  std::map<std::string, const Image*> dt_img_by_key;
  std::map<int64_t, const Image*> dt_img_by_id;
  for (const auto& im : dt.images) {
    dt_img_by_key.emplace(im.key, &im);
    if (dt.has_image_ids) dt_img_by_id.emplace(im.id, &im);
  }
  for (auto& im : gt.images) {
    if (im.width > 0 && im.height > 0) continue;
    if (auto it = dt_img_by_key.find(im.key); it != dt_img_by_key.end() && it->second->width > 0) {
      im.width = it->second->width;
      im.height = it->second->height;
    }
  }
  std::map<std::string, int64_t> stray_gt;
  std::vector<Annotation> gt_kept;
  gt_kept.reserve(gt.anns.size());
  for (size_t i = 0; i < gt.anns.size(); ++i) {
    Annotation& a = gt.anns[i];
    if (!gt.has_image_ids || !a.has_image_id) {
      auto it = img_by_key.find(a.image_key);
      if (it == img_by_key.end())
        return invalid_argument(a.origin + ": image '" + a.image_key + "' is not among the ground-truth images");
      a.image_id = gt.images[it->second].id;
      a.has_image_id = true;
    } else if (!img_by_id.count(a.image_id)) {
      // pycocotools only evaluates the listed images; say so instead of dropping silently
      stray_gt["image_id " + std::to_string(a.image_id)]++;
      continue;
    }
    if (!gt.has_image_ids) a.id = int64_t(i) + 1;
    CVT_RETURN_IF_ERROR(scale_relative(a, gt.images[img_by_id[a.image_id]], opt));
    gt_kept.push_back(std::move(a));
  }
  if (!stray_gt.empty()) {
    int64_t n = 0;
    for (auto& [k, c] : stray_gt) n += c;
    warn.push_back(std::to_string(n) + " ground-truth annotations reference images missing from \"images\" (not "
                   "evaluated, as in pycocotools): " + list_some(stray_gt));
  }
  gt.anns = std::move(gt_kept);

  // ---- categories ---------------------------------------------------------------------------
  CatTable table;
  const bool gt_table = gt.has_categories;
  bool gt_by_index = false;  // categories came from bare class indices
  if (gt_table) {
    for (const auto& c : gt.categories) table.add(c.id, c.name);
    for (auto& a : gt.anns) {
      a.category_id = *a.cls.category_id;
      if (!table.by_id.count(a.category_id)) {
        warn.push_back(a.origin + ": category_id " + std::to_string(a.category_id) +
                       " is not in \"categories\"; added without a name");
        table.add(a.category_id, "");
      }
    }
  } else {
    for (size_t i = 0; i < opt.names.size(); ++i) table.add(int64_t(i), opt.names[i]);
    bool any_index = false, any_name = false;
    for (const auto& a : gt.anns) {
      any_index = any_index || a.cls.class_index.has_value();
      any_name = any_name || (!a.cls.name.empty() && !a.cls.category_id && !a.cls.class_index);
    }
    gt_by_index = any_index && !any_name && opt.names.empty();
    // ids first, then names in sorted order so numbering is deterministic
    for (const auto& a : gt.anns) {
      if (a.cls.category_id) table.add(*a.cls.category_id, a.cls.name);
      else if (a.cls.class_index) {
        const int64_t k = *a.cls.class_index;
        table.add(k, (k >= 0 && size_t(k) < opt.names.size()) ? opt.names[size_t(k)] : std::to_string(k));
      }
    }
    std::set<std::string> new_names;
    for (const auto& a : gt.anns)
      if (!a.cls.category_id && !a.cls.class_index && !table.find_name(a.cls.name)) new_names.insert(a.cls.name);
    if (!opt.names.empty() && !new_names.empty())
      warn.push_back("ground-truth classes not in --names: " + [&] {
        std::string s;
        for (const auto& n : new_names) s += (s.empty() ? "'" : ", '") + n + "'";
        return s;
      }());
    for (const auto& n : new_names) table.add(table.next_id(), n);
    for (auto& a : gt.anns) {
      if (a.cls.category_id) a.category_id = *a.cls.category_id;
      else if (a.cls.class_index) a.category_id = *a.cls.class_index;
      else a.category_id = *table.find_name(a.cls.name);
    }
  }
  std::sort(table.cats.begin(), table.cats.end(), [](const Category& a, const Category& b) { return a.id < b.id; });
  gt.categories = table.cats;
  gt.has_categories = true;

  // ---- predictions ---------------------------------------------------------------------------
  std::map<int64_t, std::string> dt_cat_names;
  for (const auto& c : dt.categories) dt_cat_names[c.id] = c.name;
  std::map<std::string, int64_t> unknown_img, unknown_cat;
  std::set<std::string> methods;
  std::vector<Annotation> kept;
  kept.reserve(dt.anns.size());
  for (auto& a : dt.anns) {
    // image
    std::optional<size_t> img;
    if (a.has_image_id && gt.has_image_ids) {
      if (auto it = img_by_id.find(a.image_id); it != img_by_id.end()) img = it->second;
      else unknown_img["image_id " + std::to_string(a.image_id)]++;
    } else {
      std::string key = a.image_key;
      if (a.has_image_id) {
        if (auto it = dt_img_by_id.find(a.image_id); it != dt_img_by_id.end()) key = it->second->key;
      }
      if (key.empty() && a.has_image_id) {
        unknown_img["image_id " + std::to_string(a.image_id) + " (the ground truth has file names, not ids)"]++;
      } else if (auto it = img_by_key.find(key); it != img_by_key.end()) {
        img = it->second;
      } else {
        unknown_img["image '" + key + "'"]++;
      }
    }
    if (!img) continue;
    // category
    std::optional<int64_t> cat;
    std::string desc;
    if (a.cls.category_id && !gt_table && dt.has_categories && dt_cat_names.count(*a.cls.category_id)) {
      const std::string& n = dt_cat_names[*a.cls.category_id];
      cat = table.find_name(n);
      desc = "category '" + n + "'";
      methods.insert("name");
    } else if (a.cls.category_id && (gt_table || table.by_id.count(*a.cls.category_id))) {
      if (table.by_id.count(*a.cls.category_id)) cat = *a.cls.category_id;
      desc = "category_id " + std::to_string(*a.cls.category_id);
      methods.insert("id");
    } else if (!a.cls.name.empty()) {
      cat = table.find_name(a.cls.name);
      desc = "class '" + a.cls.name + "'";
      methods.insert("name");
    } else if (a.cls.class_index) {
      const int64_t k = *a.cls.class_index;
      desc = "class index " + std::to_string(k);
      if (!opt.names.empty()) {
        if (k >= 0 && size_t(k) < opt.names.size()) cat = table.find_name(opt.names[size_t(k)]);
        methods.insert("name");
      } else if (gt_by_index) {
        if (table.by_id.count(k)) cat = k;
        methods.insert("class index");
      } else {
        desc += " (no --names to map it to the ground truth's class names)";
      }
    } else if (a.cls.category_id) {
      desc = "category_id " + std::to_string(*a.cls.category_id);
    } else {
      desc = "object without a class";
    }
    if (!cat) {
      unknown_cat[desc]++;
      continue;
    }
    a.image_id = gt.images[*img].id;
    a.has_image_id = true;
    a.category_id = *cat;
    CVT_RETURN_IF_ERROR(scale_relative(a, gt.images[*img], opt));
    kept.push_back(std::move(a));
  }
  int64_t n_unknown_img = 0, n_unknown_cat = 0;
  for (auto& [k, c] : unknown_img) n_unknown_img += c;
  for (auto& [k, c] : unknown_cat) n_unknown_cat += c;
  if (!dt.anns.empty() && kept.empty()) {
    std::string msg = "none of the " + std::to_string(dt.anns.size()) + " predictions in " + dt.path +
                      " matches the ground truth " + gt.path + ".";
    if (n_unknown_img) msg += " Unknown images: " + list_some(unknown_img) + ".";
    if (n_unknown_cat) msg += " Unknown categories: " + list_some(unknown_cat) + ".";
    if (n_unknown_img && !gt.has_image_ids && dt.has_image_ids)
      msg += " The predictions use numeric image ids; the ground truth is keyed by file name.";
    if (n_unknown_cat && gt_table && unknown_cat.count("category_id 0"))
      msg += " Category id 0 suggests 0-based class indices; COCO ids start at 1 (map with --names or write category_id).";
    return invalid_argument(msg);
  }
  if (n_unknown_img)
    warn.push_back(std::to_string(n_unknown_img) + " predictions reference images absent from the ground truth (ignored): " +
                   list_some(unknown_img));
  if (n_unknown_cat) {
    std::string w = std::to_string(n_unknown_cat) +
                    " predictions reference categories absent from the ground truth (ignored): " + list_some(unknown_cat);
    if (gt_table && unknown_cat.count("category_id 0")) w += "; id 0 suggests 0-based class indices (COCO ids start at 1)";
    warn.push_back(w);
  }
  for (size_t i = 0; i < kept.size(); ++i) kept[i].id = int64_t(i) + 1;  // loadRes numbering
  dt.anns = std::move(kept);
  dt.images = gt.images;
  dt.categories = gt.categories;
  dt.has_image_ids = true;

  out.image_match = gt.has_image_ids ? "id" : "file name";
  if (methods.empty()) out.category_match = gt_by_index ? "class index" : (gt_table ? "id" : "name");
  else {
    for (const auto& m : methods) out.category_match += (out.category_match.empty() ? "" : "+") + m;
  }
  out.dropped_unknown_image = n_unknown_img;
  out.dropped_unknown_category = n_unknown_cat;
  out.gt = std::move(gt);
  out.dt = std::move(dt);
  return out;
}

}  // namespace cvt::eval
