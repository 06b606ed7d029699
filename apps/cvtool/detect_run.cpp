// `cvtool detect` and `cvtool segment` share this: detection models (YOLOX, Yolo-Fastest,
// FastestDet, YOLOv5/v8 exports, torchvision Faster / Mask R-CNN exports), one JSON record per
// image, or a COCO results file, or YOLO txt files; optionally annotated copies of the images.
// Segment adds each instance's mask (RLE / polygons / PNG) and draws masks in the annotations.
#include "detect_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <sstream>

#include "commands.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "mask_output.h"
#include "task_output.h"
#include "tasks/detect/detector.h"

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

json box_json(const cvt::Detection& d, const std::string& fmt) {
  const float w = d.x2 - d.x1, h = d.y2 - d.y1;
  if (fmt == "xyxy") return {d.x1, d.y1, d.x2, d.y2};
  if (fmt == "cxcywh") return {d.x1 + w / 2, d.y1 + h / 2, w, h};
  return {d.x1, d.y1, w, h};
}

cv::Scalar class_colour(int c) {
  static const int kPalette[][3] = {{56, 56, 255}, {151, 157, 255}, {31, 112, 255}, {29, 178, 255}, {49, 210, 207},
                                    {10, 249, 72},  {23, 204, 146},  {134, 219, 61}, {52, 147, 26},  {187, 212, 0},
                                    {168, 153, 44}, {255, 194, 0},   {147, 69, 52},  {255, 115, 100}, {236, 24, 0},
                                    {255, 56, 132}, {133, 0, 82},    {255, 56, 203}, {200, 149, 255}, {199, 55, 255}};
  const int* p = kPalette[(c < 0 ? -c : c) % 20];
  return cv::Scalar(p[0], p[1], p[2]);
}

// Boxes with labels, and (segment) translucent masks with outlines under them.
cvt::Status write_annotated(const cv::Mat& img, const std::vector<cvt::Detection>& dets, const std::vector<cv::Mat>& masks,
                            const cvt::Detector& det, const std::string& path) {
  cv::Mat out = img.clone();
  const int thick = std::max(1, int(std::lround(std::min(img.cols, img.rows) / 300.0)));
  for (size_t k = masks.size(); k-- > 0;) cvt_cli::draw_mask(out, masks[k], class_colour(dets[k].class_id), 0.45, thick);
  const double font = std::max(0.4, thick * 0.4);
  for (auto it = dets.rbegin(); it != dets.rend(); ++it) {  // best last, so its label stays readable
    const cvt::Detection& d = *it;
    cv::Scalar col = class_colour(d.class_id);
    cv::Point p1(int(std::lround(d.x1)), int(std::lround(d.y1))), p2(int(std::lround(d.x2)), int(std::lround(d.y2)));
    cv::rectangle(out, p1, p2, col, thick, cv::LINE_AA);
    char text[160];
    std::snprintf(text, sizeof(text), "%s %.2f", det.label(d.class_id).c_str(), d.score);
    int base = 0;
    cv::Size ts = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, font, std::max(1, thick / 2), &base);
    int ty = p1.y - ts.height - base >= 0 ? p1.y - base - 2 : p1.y + ts.height + 2;
    cv::rectangle(out, cv::Point(p1.x, ty - ts.height - 2), cv::Point(p1.x + ts.width + 2, ty + base), col, cv::FILLED);
    cv::putText(out, text, cv::Point(p1.x + 1, ty), cv::FONT_HERSHEY_SIMPLEX, font, cv::Scalar(255, 255, 255),
                std::max(1, thick / 2), cv::LINE_AA);
  }
  return write_image_file(out, path);
}

}  // namespace

int run_detection(const DetectCliOptions& o) {
  const char* task = o.segment ? "segment" : "detect";
  auto inputs = expand_inputs(o.batch);
  if (!inputs.is_ok()) {
    std::cerr << "cvtool: error: " << inputs.status().message() << "\n";
    return kExitUsage;
  }
  if (inputs.value().empty() && o.batch.skip_done.empty()) {
    std::cerr << "cvtool: error: no input images (give files, folders, globs, @list.txt or -)\n";
    return kExitUsage;
  }
  if (o.format == "yolo" && o.batch.output_file.empty()) {
    std::cerr << "cvtool: error: --format yolo writes one txt per image into the folder given by -o DIR\n";
    return kExitUsage;
  }
  std::error_code ec;
  // Where the COCO results array goes: -o / stdout with --format coco, and/or --coco-results.
  std::vector<std::string> coco_files;
  if (o.format == "coco") coco_files.push_back(o.batch.output_file);
  if (!o.coco_results.empty()) coco_files.push_back(o.coco_results);
  for (const std::string& f : coco_files)
    if (!f.empty() && fs::exists(f, ec) && !o.batch.force) {
      std::cerr << "cvtool: error: " << f << " exists (use --force to overwrite)\n";
      return kExitUsage;
    }
  const bool want_coco = !coco_files.empty();
  auto ids = load_image_ids(o.coco_gt);
  if (!ids.is_ok()) {
    std::cerr << "cvtool: error: " << ids.status().message() << "\n";
    return kExitUsage;
  }
  if (o.segment && o.mask_format == "png" && o.mask_dir.empty()) {
    std::cerr << "cvtool: error: --mask-format png writes one PNG per instance into --mask-dir DIR\n";
    return kExitUsage;
  }
  // Either command takes detect and segment models: detect reports a segmentation model's boxes;
  // segment needs a mask output (checked once the model is loaded).
  auto resolved = resolve_model(o.model, o.model.model.empty() ? task : "");
  if (resolved.is_ok() && resolved.value().from_manifest) {
    const std::string& t = resolved.value().manifest.task;
    if (t != "segment" && t != "detect")
      resolved = cvt::invalid_argument("model '" + resolved.value().manifest.name + "' is a " + t + " model, not " + task);
  }
  if (!resolved.is_ok()) {
    std::cerr << "cvtool: error: " << resolved.status().message() << "\n";
    return model_error_exit_code(resolved.status());
  }
  cvt::SessionOptions so;
  so.threads = threads_per_job(o.batch);
  so.use_reference = o.kernels == "ref";
  std::vector<std::unique_ptr<cvt::Detector>> workers;
  for (int j = 0; j < std::max(1, o.batch.jobs); ++j) {
    auto d = cvt::Detector::create(resolved.value(), so);
    if (!d.is_ok()) {
      std::cerr << "cvtool: error: " << d.status().message() << "\n";
      return kExitModel;
    }
    if (o.segment && !d.value()->has_masks()) {
      std::cerr << "cvtool: error: model '" << resolved.value().manifest.name
                << "' has no mask output (segment needs an instance segmentation model such as shapes-maskrcnn)\n";
      return kExitModel;
    }
    workers.push_back(std::move(d).value());
  }
  const cvt::Detector& d0 = *workers[0];
  cvt::DetectOptions dopt;
  dopt.conf = o.conf >= 0 ? o.conf : d0.decoder().conf;
  dopt.iou = o.iou >= 0 ? o.iou : d0.decoder().iou;
  dopt.max_det = o.max_det;
  dopt.agnostic = o.agnostic;
  dopt.mask_threshold = o.mask_threshold >= 0 ? o.mask_threshold : d0.decoder().mask_threshold;
  json classes_json = nullptr;
  if (!o.classes.empty()) {
    auto cl = cvt::parse_class_list(o.classes, d0.labels());
    if (!cl.is_ok()) {
      std::cerr << "cvtool: error: " << cl.status().message() << "\n";
      return kExitUsage;
    }
    dopt.classes = cl.value();
    classes_json = json::array();
    for (int c : dopt.classes) classes_json.push_back(d0.label(c));
  }
  for (const std::string& dir : {o.annotate, o.format == "yolo" ? o.batch.output_file : std::string(),
                                 o.segment && o.mask_format == "png" ? o.mask_dir : std::string()}) {
    if (dir.empty()) continue;
    fs::create_directories(dir, ec);
    if (ec) {
      std::cerr << "cvtool: error: cannot create " << dir << ": " << ec.message() << "\n";
      return kExitInternal;
    }
  }
  const cvt::ResolvedModel& rm = resolved.value();
  const json model_json = {{"name", rm.manifest.name},
                           {"task", task},
                           {"sha256", rm.sha256},
                           {"input_size", {d0.contract().width, d0.contract().height}},
                           {"decoder", d0.decoder().type}};
  json params = {{"conf", flag_value(dopt.conf)}, {"nms_iou", flag_value(dopt.iou)}, {"max_det", dopt.max_det},
                 {"classes", classes_json},   {"agnostic_nms", dopt.agnostic},
                 {"imgsz", {d0.contract().width, d0.contract().height}}, {"threads", so.threads}, {"jobs", o.batch.jobs}};
  if (o.segment) {
    params["mask_threshold"] = flag_value(dopt.mask_threshold);
    params["mask_format"] = o.mask_format;
  }
  const std::vector<std::string> stems = unique_stems(inputs.value());
  log_info(o.batch, std::string(task) + ": model " + rm.manifest.name + " (" + d0.decoder().type + "), " +
                        std::to_string(inputs.value().size()) + " inputs");

  std::mutex mu;
  std::map<size_t, json> coco;  // index -> that image's results, written in input order at the end
  // COCO and YOLO formats replace the JSON Lines: run_batch's records go nowhere.
  BatchOptions bo = o.batch;
  if (o.format != "jsonl") {
    bo.output_file = "/dev/null";
    bo.force = true;
  }
  int code = run_batch(bo, inputs.value(), [&](size_t index, const std::string& path, int worker) {
    using Clock = std::chrono::steady_clock;
    auto t0 = Clock::now();
    json r = make_envelope(o.segment ? "cvtool.segment/1" : "cvtool.detect/1", path, index);
    r["model"] = model_json;
    r["params"] = params;
    r["box_format"] = o.box_format;
    r["detections"] = json::array();
    double decode_ms = 0;
    auto img = decode_input(r, path, t0, &decode_ms);
    if (!img.is_ok()) {
      if (o.format != "jsonl") log_warn(path + ": " + img.status().message());
      return r;
    }
    cvt::StageTimes times;
    cvt::Detector& det = *workers[worker];
    std::vector<cv::Mat> masks;
    auto result = det.detect(img.value(), dopt, &times, o.segment ? &masks : nullptr);
    if (!finish_stages(r, result.status(), times, decode_ms, t0)) {
      if (o.format != "jsonl") log_warn(path + ": " + result.status().message());
      return r;
    }
    const auto& dets = result.value();
    json coco_part = json::array();
    std::ostringstream txt;
    const int64_t image_id = ids.value().id(path, index);
    for (size_t k = 0; k < dets.size(); ++k) {
      const cvt::Detection& d = dets[k];
      const int cat = det.category_id(d.class_id);
      json rec = {{"class_id", d.class_id},
                  {"label", det.label(d.class_id)},
                  {"category_id", cat >= 0 ? json(cat) : json(nullptr)},
                  {"score", d.score},
                  {"bbox", box_json(d, o.box_format)}};
      json rle;  // COCO results always carry RLE (pycocotools' loadRes computes areas from it)
      if (o.segment) {
        rec["area"] = cvt_cli::mask_area(masks[k]);
        if (o.mask_format == "rle" || want_coco) rle = cvt_cli::mask_rle_json(masks[k]);
        if (o.mask_format == "rle") rec["segmentation"] = rle;
        if (o.mask_format == "polygon") rec["segmentation"] = cvt_cli::mask_polygons_json(masks[k]);
        if (o.mask_format == "png") {
          fs::path p = fs::path(o.mask_dir) / (stems[index] + "_" + std::to_string(k) + ".png");
          std::vector<uchar> buf;
          if (!keep_existing_output(p.string(), o.batch.force)) {
            if (!cv::imencode(".png", masks[k], buf))
              r["error"] = error_json(cvt::io_error("cannot encode " + p.string()));
            else if (auto st = cvt::write_file_atomic(p.string(), std::string(buf.begin(), buf.end())); !st.is_ok())
              r["error"] = error_json(st);
          }
          rec["mask_file"] = p.string();
        }
      }
      r["detections"].push_back(std::move(rec));
      if (want_coco) {
        json c = {{"image_id", image_id}, {"category_id", cat >= 0 ? cat : d.class_id}, {"bbox", box_json(d, "xywh")},
                  {"score", d.score}};
        if (o.segment) c["segmentation"] = rle;
        coco_part.push_back(std::move(c));
      }
      if (o.format == "yolo") {
        const double W = img.value().cols, H = img.value().rows;
        txt << d.class_id << " " << (d.x1 + d.x2) / 2 / W << " " << (d.y1 + d.y2) / 2 / H << " " << (d.x2 - d.x1) / W << " "
            << (d.y2 - d.y1) / H << " " << d.score << "\n";
      }
    }
    if (want_coco) {
      std::lock_guard<std::mutex> lock(mu);
      coco[index] = std::move(coco_part);
    }
    if (o.format == "yolo") {
      // Every decoded image gets its file, empty when nothing was found.
      fs::path p = fs::path(o.batch.output_file) / (stems[index] + ".txt");
      if (!keep_existing_output(p.string(), o.batch.force))
        if (auto st = cvt::write_file_atomic(p.string(), txt.str()); !st.is_ok()) r["error"] = error_json(st);
    }
    if (!o.annotate.empty()) {
      fs::path p = annotated_path(o.annotate, stems[index], path);
      if (!keep_existing_output(p.string(), o.batch.force)) {
        if (auto st = write_annotated(img.value(), dets, masks, det, p.string()); !st.is_ok()) r["error"] = error_json(st);
        else r["annotated"] = p.string();
      }
    }
    return r;
  });
  if (want_coco) {
    json all = json::array();
    for (auto& [index, part] : coco)
      for (auto& a : part) all.push_back(std::move(a));
    const std::string text = all.dump() + "\n";
    for (const std::string& f : coco_files) {
      if (f.empty()) {
        std::cout << text;
      } else if (auto st = cvt::write_file_atomic(f, text); !st.is_ok()) {
        std::cerr << "cvtool: error: " << st.message() << "\n";
        return kExitInternal;
      }
    }
  }
  return code;
}

void add_detect_options(CLI::App* cmd, DetectCliOptions& o) {
  const std::string what = o.segment ? "instances" : "boxes";
  add_batch_options(cmd, o.batch);
  add_model_options(cmd, o.model);
  cmd->add_option("--conf", o.conf, "Minimum score (default: the model's, usually 0.25; 0.5 for the R-CNNs)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--nms-iou", o.iou, "IoU above which NMS suppresses a box (default: the model's, usually 0.45; "
                                      "R-CNN exports suppress inside the graph)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--max-det", o.max_det, "Keep at most this many " + what + " per image")->check(CLI::Range(1, 100000));
  cmd->add_flag("--agnostic-nms", o.agnostic, "Boxes of different classes suppress each other too");
  cmd->add_option("--classes", o.classes, "Keep only these classes: names or ids, comma separated (person,car or 0,2)");
  if (o.segment)
    cmd->add_option("--format", o.format,
                    "jsonl: one record per image; coco: one COCO results array with RLE segmentations "
                    "(to -o FILE or stdout; what `cvtool evaluate --task segm` and pycocotools loadRes read)")
        ->check(CLI::IsMember({"jsonl", "coco"}));
  else
    cmd->add_option("--format", o.format,
                    "jsonl: one record per image; coco: one COCO results array (to -o FILE or stdout); "
                    "yolo: one <stem>.txt per image (class cx cy w h score, relative) into -o DIR")
        ->check(CLI::IsMember({"jsonl", "coco", "yolo"}));
  cmd->add_option("--box-format", o.box_format, "bbox in records: xywh (COCO), xyxy or cxcywh; stated in \"box_format\"")
      ->check(CLI::IsMember({"xywh", "xyxy", "cxcywh"}));
  cmd->add_option("--annotate", o.annotate,
                  o.segment ? "Write a copy of each image with translucent masks, outlines, boxes, labels and scores into this folder"
                            : "Write a copy of each image with boxes, labels and scores into this folder");
  cmd->add_option("--coco-results", o.coco_results, "Also write the COCO results array (pycocotools loadRes) to this file");
  cmd->add_option("--coco-gt", o.coco_gt, "COCO ground truth whose image ids (by file name) the coco format uses");
  cmd->add_option("--kernels", o.kernels, "auto: fastest kernels; ref: plain reference loops (slow, for checking)")
      ->check(CLI::IsMember({"auto", "ref"}));
  if (o.segment) {
    cmd->add_option("--mask-format", o.mask_format,
                    "Mask in each JSONL record: rle (COCO compressed RLE {size, counts}, column-major), polygon "
                    "(outer contours, simplified, [[x,y,...]]), png (one 0/255 PNG per instance into --mask-dir; "
                    "the record gives mask_file) or none")
        ->check(CLI::IsMember({"rle", "polygon", "png", "none"}));
    cmd->add_option("--mask-threshold", o.mask_threshold, "A pixel belongs to an instance when its mask probability is above this (default 0.5)")
        ->check(CLI::Range(0.0, 0.999999));
    cmd->add_option("--mask-dir", o.mask_dir, "Folder for --mask-format png (<stem>_<k>.png, k = instance index in the record)");
  }
}
