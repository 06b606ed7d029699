// `cvtool pose`: multi-person 2D pose (OpenPose-style heatmaps + part affinity
// fields), one JSON record per image, or OpenPose's own per-image JSON files, or
// a COCO-17 keypoint results file; optionally the skeletons drawn on the images.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <opencv2/imgproc.hpp>

#include "batch.h"
#include "commands.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "model_options.h"
#include "task_output.h"
#include "tasks/pose/pose_estimator.h"

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

struct PoseCliOptions {
  BatchOptions batch;
  ModelOptions model;
  std::string scales = "1";
  float upsample = -1;
  float peak_threshold = -1, paf_threshold = -1, min_score = -1, min_above = -1;
  int min_parts = -1, line_samples = -1, max_people = 0;
  std::string format = "jsonl";
  std::string annotate;
  std::string coco_gt;
  std::string coco_results;
  std::string kernels = "auto";
};

// [x, y, w, h] around the found keypoints ([0,0,0,0] when none).
json person_bbox(const cvt::PersonPose& p) {
  float x1 = std::numeric_limits<float>::max(), y1 = x1, x2 = -x1, y2 = -x1;
  for (const cvt::PoseKeypoint& k : p.keypoints)
    if (k.score > 0) {
      x1 = std::min(x1, k.x);
      y1 = std::min(y1, k.y);
      x2 = std::max(x2, k.x);
      y2 = std::max(y2, k.y);
    }
  if (x2 < x1) return {0, 0, 0, 0};
  return {x1, y1, x2 - x1, y2 - y1};
}

json flat_keypoints(const cvt::PersonPose& p) {
  json a = json::array();
  for (const cvt::PoseKeypoint& k : p.keypoints) {
    a.push_back(k.score > 0 ? k.x : 0.f);
    a.push_back(k.score > 0 ? k.y : 0.f);
    a.push_back(k.score);
  }
  return a;
}

// OpenPose 1.3 file: every person has all the keys OpenPose writes, unused ones empty.
json openpose_document(const std::vector<cvt::PersonPose>& people) {
  json doc = {{"version", 1.3}, {"people", json::array()}};
  for (const cvt::PersonPose& p : people)
    doc["people"].push_back({{"person_id", {-1}},
                             {"pose_keypoints_2d", flat_keypoints(p)},
                             {"face_keypoints_2d", json::array()},
                             {"hand_left_keypoints_2d", json::array()},
                             {"hand_right_keypoints_2d", json::array()},
                             {"pose_keypoints_3d", json::array()},
                             {"face_keypoints_3d", json::array()},
                             {"hand_left_keypoints_3d", json::array()},
                             {"hand_right_keypoints_3d", json::array()}});
  return doc;
}

// COCO-17 keypoints: part coco17[k] or 0,0,0; v = 1 for a found part (pycocotools ignores v of results).
json coco_keypoints(const cvt::PersonPose& p, const std::vector<int>& coco17) {
  json a = json::array();
  for (int part : coco17) {
    const bool ok = part >= 0 && p.keypoints[part].score > 0;
    a.push_back(ok ? p.keypoints[part].x : 0.f);
    a.push_back(ok ? p.keypoints[part].y : 0.f);
    a.push_back(ok ? 1 : 0);
  }
  return a;
}

// OpenPose's rendering: limbs in the colour of their second part, joints in their own colour, blended.
cv::Mat draw_people(const cv::Mat& img, const std::vector<cvt::PersonPose>& people, const cvt::PoseModelConfig& cfg) {
  cv::Mat canvas = img.clone();
  const int thick = std::max(2, int(std::lround(std::min(img.cols, img.rows) / 120.0)));
  auto colour = [&](int part) {
    if (cfg.colors.empty()) return cv::Scalar(0, 255, 255);
    const auto& c = cfg.colors[part % cfg.colors.size()];
    return cv::Scalar(c[2], c[1], c[0]);
  };
  for (const cvt::PersonPose& p : people) {
    for (const cvt::PoseLimb& l : cfg.skeleton.limbs) {
      const cvt::PoseKeypoint& a = p.keypoints[l.part_a];
      const cvt::PoseKeypoint& b = p.keypoints[l.part_b];
      if (l.redundant || a.score <= 0 || b.score <= 0) continue;
      cv::line(canvas, cv::Point2f(a.x, a.y), cv::Point2f(b.x, b.y), colour(l.part_b), thick, cv::LINE_AA);
    }
    for (size_t k = 0; k < p.keypoints.size(); ++k)
      if (p.keypoints[k].score > 0)
        cv::circle(canvas, cv::Point2f(p.keypoints[k].x, p.keypoints[k].y), thick + 1, colour(int(k)), cv::FILLED, cv::LINE_AA);
  }
  cv::Mat out;
  cv::addWeighted(canvas, 0.6, img, 0.4, 0, out);
  return out;
}

int fail(const std::string& msg, int code) {
  std::cerr << "cvtool: error: " << msg << "\n";
  return code;
}

int run_pose(const PoseCliOptions& o) {
  auto inputs = expand_inputs(o.batch);
  if (!inputs.is_ok()) return fail(inputs.status().message(), kExitUsage);
  if (inputs.value().empty() && o.batch.skip_done.empty())
    return fail("no input images (give files, folders, globs, @list.txt or -)", kExitUsage);
  if (o.format == "openpose" && o.batch.output_file.empty())
    return fail("--format openpose writes one <stem>_keypoints.json per image into the folder given by -o DIR", kExitUsage);
  auto scales = cvt::parse_scales(o.scales);
  if (!scales.is_ok()) return fail(scales.status().message(), kExitUsage);
  std::error_code ec;
  std::vector<std::string> coco_files;
  if (o.format == "coco") coco_files.push_back(o.batch.output_file);
  if (!o.coco_results.empty()) coco_files.push_back(o.coco_results);
  for (const std::string& f : coco_files)
    if (!f.empty() && fs::exists(f, ec) && !o.batch.force) return fail(f + " exists (use --force to overwrite)", kExitUsage);
  const bool want_coco = !coco_files.empty();
  auto ids = load_image_ids(o.coco_gt);
  if (!ids.is_ok()) return fail(ids.status().message(), kExitUsage);
  auto resolved = resolve_model(o.model, "pose");
  if (!resolved.is_ok()) return fail(resolved.status().message(), model_error_exit_code(resolved.status()));
  cvt::SessionOptions so;
  so.threads = threads_per_job(o.batch);
  so.use_reference = o.kernels == "ref";
  std::vector<std::unique_ptr<cvt::PoseEstimator>> workers;
  for (int j = 0; j < std::max(1, o.batch.jobs); ++j) {
    auto e = cvt::PoseEstimator::create(resolved.value(), so);
    if (!e.is_ok()) return fail(e.status().message(), kExitModel);
    workers.push_back(std::move(e).value());
  }
  const cvt::PoseEstimator& e0 = *workers[0];
  const cvt::PoseModelConfig& cfg = e0.config();
  if (want_coco && cfg.coco17.empty())
    return fail("model '" + resolved.value().manifest.name + "' has no COCO-17 mapping (decoder.coco17) for --format coco", kExitUsage);
  cvt::PoseOptions popt;
  popt.scales = scales.value();
  if (e0.fixed_size() && *std::max_element(popt.scales.begin(), popt.scales.end()) > 1.f)
    return fail("--scales: this model has a fixed input size, scales must be <= 1", kExitUsage);
  popt.upsample = o.upsample > 0 ? o.upsample : cfg.upsample;
  cvt::PafParams pp = cfg.params;
  pp.smooth_sigma = -1;  // the manifest's, scaled by the upsampling
  if (o.peak_threshold >= 0) pp.peak_threshold = o.peak_threshold;
  if (o.paf_threshold >= 0) pp.paf_threshold = o.paf_threshold;
  if (o.min_score >= 0) pp.min_score = o.min_score;
  if (o.min_above >= 0) pp.min_above_fraction = o.min_above;
  if (o.min_parts >= 0) pp.min_parts = o.min_parts;
  if (o.line_samples > 0) pp.line_samples = o.line_samples;
  pp.max_people = o.max_people;
  popt.params = pp;
  for (const std::string& dir : {o.annotate, o.format == "openpose" ? o.batch.output_file : std::string()}) {
    if (dir.empty()) continue;
    fs::create_directories(dir, ec);
    if (ec) return fail("cannot create " + dir + ": " + ec.message(), kExitInternal);
  }
  const cvt::ResolvedModel& rm = resolved.value();
  json input_size = {e0.contract().width, e0.contract().height};
  if (e0.dynamic_width()) input_size[0] = nullptr;
  const json model_json = {{"name", rm.manifest.name}, {"task", "pose"}, {"sha256", rm.sha256}, {"input_size", input_size},
                           {"decoder", cfg.type}};
  json scales_json = json::array();
  for (float s : popt.scales) scales_json.push_back(flag_value(s));
  const json params = {{"scales", scales_json},
                       {"upsample", flag_value(popt.upsample)},
                       {"peak_threshold", flag_value(pp.peak_threshold)},
                       {"paf_threshold", flag_value(pp.paf_threshold)},
                       {"min_above_fraction", flag_value(pp.min_above_fraction)},
                       {"line_samples", pp.line_samples},
                       {"min_parts", pp.min_parts},
                       {"min_score", flag_value(pp.min_score)},
                       {"max_people", pp.max_people > 0 ? json(pp.max_people) : json(nullptr)},
                       {"threads", so.threads},
                       {"jobs", o.batch.jobs}};
  const json names = cfg.skeleton.parts;
  const std::vector<std::string> stems = unique_stems(inputs.value());
  log_info(o.batch, "pose: model " + rm.manifest.name + ", " + std::to_string(inputs.value().size()) + " inputs");

  std::mutex mu;
  std::map<size_t, json> coco;  // index -> that image's results, written in input order at the end
  BatchOptions bo = o.batch;
  if (o.format != "jsonl") {  // coco / openpose replace the JSON Lines
    bo.output_file = "/dev/null";
    bo.force = true;
  }
  int code = run_batch(bo, inputs.value(), [&](size_t index, const std::string& path, int worker) {
    using Clock = std::chrono::steady_clock;
    auto t0 = Clock::now();
    json r = make_envelope("cvtool.pose/1", path, index);
    r["model"] = model_json;
    r["params"] = params;
    r["box_format"] = "xywh";
    r["keypoint_format"] = cfg.keypoint_format;
    r["keypoint_names"] = names;
    r["people"] = json::array();
    double decode_ms = 0;
    auto img = decode_input(r, path, t0, &decode_ms);
    if (!img.is_ok()) {
      if (o.format != "jsonl") log_warn(path + ": " + img.status().message());
      return r;
    }
    cvt::StageTimes times;
    auto result = workers[worker]->estimate(img.value(), popt, &times);
    if (!finish_stages(r, result.status(), times, decode_ms, t0)) {
      if (o.format != "jsonl") log_warn(path + ": " + result.status().message());
      return r;
    }
    const auto& people = result.value();
    json coco_part = json::array();
    const int64_t image_id = ids.value().id(path, index);
    for (const cvt::PersonPose& p : people) {
      r["people"].push_back({{"person_id", -1}, {"score", p.score}, {"num_keypoints", p.num_parts},
                             {"bbox", person_bbox(p)}, {"keypoints", flat_keypoints(p)}});
      if (want_coco)
        coco_part.push_back({{"image_id", image_id}, {"category_id", 1}, {"keypoints", coco_keypoints(p, cfg.coco17)},
                             {"score", p.score}});
    }
    if (want_coco) {
      std::lock_guard<std::mutex> lock(mu);
      coco[index] = std::move(coco_part);
    }
    if (o.format == "openpose") {  // every decoded image gets its file, with "people": [] when nobody is there
      fs::path p = fs::path(o.batch.output_file) / (stems[index] + "_keypoints.json");
      if (!keep_existing_output(p.string(), o.batch.force))
        if (auto st = cvt::write_file_atomic(p.string(), openpose_document(people).dump() + "\n"); !st.is_ok())
          r["error"] = error_json(st);
    }
    if (!o.annotate.empty()) {
      const std::string p = annotated_path(o.annotate, stems[index], path);
      if (!keep_existing_output(p, o.batch.force)) {
        if (auto st = write_image_file(draw_people(img.value(), people, cfg), p); !st.is_ok()) r["error"] = error_json(st);
        else r["annotated"] = p;
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
      if (f.empty()) std::cout << text;
      else if (auto st = cvt::write_file_atomic(f, text); !st.is_ok()) return fail(st.message(), kExitInternal);
    }
  }
  return code;
}

}  // namespace

void register_pose_command(CLI::App& root, std::function<int()>& run_selected) {
  auto o = std::make_shared<PoseCliOptions>();
  CLI::App* cmd = root.add_subcommand("pose", "Multi-person 2D pose (OpenPose part affinity fields), one JSON record per image");
  add_batch_options(cmd, o->batch);
  add_model_options(cmd, o->model);
  cmd->add_option("--scales", o->scales, "Network input scales whose maps are averaged, e.g. 1,0.75 (<= 1 for fixed-size models)");
  cmd->add_option("--upsample", o->upsample, "Decode maps upsampled this many times per output cell (default: the model's, 4)")
      ->check(CLI::Range(0.5, 16.0));
  cmd->add_option("--peak-threshold", o->peak_threshold, "Minimum heatmap peak (default: the model's, 0.05)")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--paf-threshold", o->paf_threshold, "PAF . direction a limb sample must exceed (default 0.05)")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--min-above", o->min_above, "Fraction of limb samples above --paf-threshold (default 0.8)")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--line-samples", o->line_samples, "Points sampled on each candidate limb (default 10)")->check(CLI::Range(1, 1000));
  cmd->add_option("--min-parts", o->min_parts, "Drop people with fewer parts (default 3)")->check(CLI::Range(1, 1000));
  cmd->add_option("--min-score", o->min_score, "Drop people whose score (per part) is lower (default 0.4)")->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--max-people", o->max_people, "Keep at most this many people per image, best first (0 = all)")->check(CLI::Range(0, 100000));
  cmd->add_option("--format", o->format,
                  "jsonl: one record per image; openpose: one OpenPose 1.3 <stem>_keypoints.json per image into -o DIR; "
                  "coco: one COCO-17 keypoint results array (to -o FILE or stdout)")
      ->check(CLI::IsMember({"jsonl", "openpose", "coco"}));
  cmd->add_option("--annotate", o->annotate, "Write a copy of each image with the skeletons drawn (OpenPose colours) into this folder");
  cmd->add_option("--coco-results", o->coco_results, "Also write the COCO-17 keypoint results array to this file");
  cmd->add_option("--coco-gt", o->coco_gt, "COCO ground truth whose image ids (by file name) the coco format uses");
  cmd->add_option("--kernels", o->kernels, "auto: fastest kernels; ref: plain reference loops (slow, for checking)")
      ->check(CLI::IsMember({"auto", "ref"}));
  cmd->footer(
      "Examples:\n"
      "  cvtool pose ../shared/data/coco-mmpose/000000000785.jpg --annotate out/\n"
      "  cvtool pose --format openpose -o keypoints/ -r photos/\n"
      "  cvtool pose --format coco -o poses.json --coco-gt gt.json imgs/ && cvtool evaluate --gt gt.json poses.json --task keypoints\n"
      "Default model: openpose-mobilenet-v2-small (COCO-18 keypoints). Records carry keypoint_names and\n"
      "people[].keypoints as x,y,c triplets in image pixels (0,0,0 = not found); --format coco drops Neck\n"
      "and reorders to COCO-17.\n"
      "Exit codes: 0 ok, 1 internal error, 2 usage, 3 some inputs failed (their records carry \"error\"),\n"
      "            4 model missing / unreadable / checksum mismatch.");
  cmd->callback([o, &run_selected] { run_selected = [o] { return run_pose(*o); }; });
}
