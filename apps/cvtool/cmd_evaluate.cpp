// `cvtool evaluate` and `cvtool evaluate iou`: flags -> cvt::eval options, one JSON
// document on stdout (or -o), warnings on stderr, exit codes 0/1/2/5.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "commands.h"
#include "eval/evaluate.h"

namespace {

using cvt::eval::Task;
using json = nlohmann::ordered_json;

struct EvalCli {
  std::string gt, pred, gt_format = "auto", pred_format = "auto", protocol = "coco", task = "bbox";
  std::string iou_thrs, max_dets, area_ranges, iou_compare, names, imgsz, images, kpt_sigmas, plot, output;
  bool pixel_plus_one = false, no_difficult = false, no_pr_curves = false, pretty = false, quiet = false;
  bool pixel_plus_one_given = false;
  int points = 0;
  double conf = 0.25, match_iou = 0.5, cm_iou = 0.45;
  std::vector<std::string> fail_below;
};

struct IouCli {
  std::string a, b, a_format = "auto", b_format = "auto", task = "bbox", names, imgsz, images, output;
  bool class_agnostic = false, pretty = false, quiet = false;
  double min_iou = 0.0;
};

int usage(const std::string& msg) {
  std::cerr << "cvtool evaluate: " << msg << "\n(see `cvtool evaluate --help`)\n";
  return kExitUsage;
}

bool parse_task(const std::string& s, Task& t) {
  if (s == "bbox") t = Task::kBbox;
  else if (s == "segm") t = Task::kSegm;
  else if (s == "keypoints") t = Task::kKeypoints;
  else return false;
  return true;
}

int write_doc(const json& doc, const std::string& output, bool pretty) {
  const std::string text = doc.dump(pretty ? 2 : -1, ' ', false, json::error_handler_t::replace) + "\n";
  if (output.empty() || output == "-") {
    std::cout << text << std::flush;
    return std::cout ? kExitOk : kExitInternal;
  }
  std::ofstream f(output, std::ios::binary);
  f << text;
  if (!f) {
    std::cerr << "cvtool evaluate: cannot write '" << output << "'\n";
    return kExitInternal;
  }
  return kExitOk;
}

void print_warnings(const json& doc, bool quiet) {
  if (quiet || !doc.contains("warnings")) return;
  for (const auto& w : doc["warnings"]) std::cerr << "cvtool evaluate: warning: " << w.get<std::string>() << "\n";
}

// "AP=0.5" -> gate. Looks in summary, then F1 (optimal), P / R / F1@conf (at --conf).
int check_gates(const json& doc, const std::vector<std::string>& gates) {
  int rc = kExitOk;
  for (const auto& g : gates) {
    const auto eq = g.rfind('=');
    const std::string key = g.substr(0, eq);
    const double want = std::stod(g.substr(eq + 1));
    json v;
    if (doc["summary"].contains(key)) v = doc["summary"][key];
    else if (key == "AP" && doc["summary"].contains("mAP")) v = doc["summary"]["mAP"];  // VOC/darknet name
    else if (key == "F1") v = doc["f1_optimal"]["f1"];
    else if (key == "P") v = doc["at_conf"]["precision"];
    else if (key == "R") v = doc["at_conf"]["recall"];
    else if (key == "F1@conf") v = doc["at_conf"]["f1"];
    else {
      std::string keys;
      for (auto it = doc["summary"].begin(); it != doc["summary"].end(); ++it) keys += it.key() + " ";
      return usage("--fail-below: unknown metric '" + key + "' (available: " + keys + "F1 P R F1@conf)");
    }
    if (v.is_null() || v.get<double>() < want) {
      std::cerr << "cvtool evaluate: gate failed: " << key << " = " << (v.is_null() ? std::string("null") : v.dump())
                << " < " << want << "\n";
      if (rc == kExitOk) rc = kExitGate;
    }
  }
  return rc;
}

int run_evaluate(const EvalCli& c) {
  cvt::eval::EvaluateOptions o;
  if (c.gt.empty()) return usage("--gt is required");
  if (c.pred.empty()) return usage("predictions are required (--pred PATH or a positional PATH)");
  o.gt_path = c.gt;
  o.pred_path = c.pred;
  auto gf = cvt::eval::parse_format_spec(c.gt_format);
  if (!gf.is_ok()) return usage("--gt-format: " + gf.status().message());
  auto pf = cvt::eval::parse_format_spec(c.pred_format);
  if (!pf.is_ok()) return usage("--pred-format: " + pf.status().message());
  o.gt_format = gf.value();
  o.pred_format = pf.value();
  o.protocol = c.protocol;
  if (!parse_task(c.task, o.task)) return usage("--task must be bbox, segm or keypoints");
  if (!c.iou_thrs.empty()) {
    auto r = cvt::eval::parse_iou_thresholds(c.iou_thrs);
    if (!r.is_ok()) return usage(r.status().message());
    o.iou_thrs = r.value();
  }
  if (!c.max_dets.empty()) {
    auto r = cvt::eval::parse_max_dets(c.max_dets);
    if (!r.is_ok()) return usage(r.status().message());
    o.max_dets = r.value();
  }
  if (!c.area_ranges.empty()) {
    auto r = cvt::eval::parse_area_ranges(c.area_ranges);
    if (!r.is_ok()) return usage(r.status().message());
    o.area_ranges = r.value();
  }
  if (!c.imgsz.empty()) {
    auto r = cvt::eval::parse_imgsz(c.imgsz);
    if (!r.is_ok()) return usage(r.status().message());
    o.imgsz_w = r.value().first;
    o.imgsz_h = r.value().second;
  }
  if (!c.kpt_sigmas.empty()) {
    auto r = cvt::eval::parse_iou_thresholds(c.kpt_sigmas);  // same list syntax, values in (0,1]
    if (!r.is_ok()) return usage("--kpt-sigmas: expected comma-separated positive numbers");
    o.kpt_sigmas = r.value();
  }
  if (!c.iou_compare.empty()) {
    if (c.iou_compare == ">" || c.iou_compare == "gt") o.iou_strict = true;
    else if (c.iou_compare == ">=" || c.iou_compare == "ge") o.iou_strict = false;
    else return usage("--iou-compare must be '>' (gt) or '>=' (ge)");
  }
  for (const auto& g : c.fail_below) {
    const auto eq = g.rfind('=');
    double v;
    try {
      size_t used = 0;
      v = std::stod(g.substr(eq == std::string::npos ? g.size() : eq + 1), &used);
      if (eq == std::string::npos || eq == 0 || used != g.size() - eq - 1) throw 0;
    } catch (...) {
      return usage("--fail-below expects METRIC=VALUE, e.g. AP=0.5, got '" + g + "'");
    }
    (void)v;
  }
  if (c.pixel_plus_one_given) o.pixel_plus_one = c.pixel_plus_one;
  o.use_difficult = !c.no_difficult;
  o.darknet_points = c.points;
  o.conf = c.conf;
  o.match_iou = c.match_iou;
  o.cm_iou = c.cm_iou;
  o.names_path = c.names;
  o.images_dir = c.images;
  o.plot_dir = c.plot;
  o.pr_curves = !c.no_pr_curves;
  auto r = cvt::eval::run_evaluation(o);
  if (!r.is_ok()) {
    const bool usage_like = r.status().message().rfind("unknown protocol", 0) == 0 ||
                            r.status().message().rfind("--protocol", 0) == 0 ||
                            r.status().message().rfind("darknet points", 0) == 0;
    if (usage_like) return usage(r.status().message());
    std::cerr << "cvtool evaluate: error: " << r.status().message() << "\n";
    return kExitInternal;
  }
  const json& doc = r.value();
  print_warnings(doc, c.quiet);
  const int wrc = write_doc(doc, c.output, c.pretty);
  if (wrc != kExitOk) return wrc;
  if (!c.quiet) {
    std::cerr << "cvtool evaluate: " << doc["protocol"].get<std::string>() << " " << doc["task"].get<std::string>();
    for (auto it = doc["summary"].begin(); it != doc["summary"].end(); ++it) {
      if (it->is_number()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, " %s=%.4f", it.key().c_str(), it->get<double>());
        std::cerr << buf;
      } else if (it->is_null()) {
        std::cerr << " " << it.key() << "=null";
      }
    }
    std::cerr << "\n";
  }
  return check_gates(doc, c.fail_below);
}

int run_iou(const IouCli& c) {
  cvt::eval::PairwiseOptions o;
  o.a_path = c.a;
  o.b_path = c.b;
  auto fa = cvt::eval::parse_format_spec(c.a_format);
  if (!fa.is_ok()) return usage("--a-format: " + fa.status().message());
  auto fb = cvt::eval::parse_format_spec(c.b_format);
  if (!fb.is_ok()) return usage("--b-format: " + fb.status().message());
  o.a_format = fa.value();
  o.b_format = fb.value();
  if (!parse_task(c.task, o.task) || o.task == Task::kKeypoints) return usage("--task must be bbox or segm");
  if (!c.imgsz.empty()) {
    auto r = cvt::eval::parse_imgsz(c.imgsz);
    if (!r.is_ok()) return usage(r.status().message());
    o.imgsz_w = r.value().first;
    o.imgsz_h = r.value().second;
  }
  o.class_agnostic = c.class_agnostic;
  o.min_iou = c.min_iou;
  o.names_path = c.names;
  o.images_dir = c.images;
  auto r = cvt::eval::run_pairwise_iou(o);
  if (!r.is_ok()) {
    std::cerr << "cvtool evaluate iou: error: " << r.status().message() << "\n";
    return kExitInternal;
  }
  print_warnings(r.value(), c.quiet);
  return write_doc(r.value(), c.output, c.pretty);
}

const char* kFooter = R"(Formats (auto-detected; force with --gt-format / --pred-format):
  coco    COCO dataset JSON (ground truth) or results list [{image_id,category_id,bbox|segmentation|keypoints,score}]
  cvtool  cvtool JSONL records: source.path + detections / instances / people
  voc     Pascal VOC XML folder or file (<object><name><difficult><bndbox>)
  txt     one .txt per image: 'cls x y w h' (gt), 'cls conf x y w h' (pred); class = name or index (--names).
          Layout suffixes: txt:xywh|xyxy|cxcywh and :abs|:rel, e.g. txt:xyxy:abs
  yolo    YOLO labels 'cls cx cy w h [conf]', normalised; image sizes from the ground truth, --images or --imgsz
Predictions are joined to the ground truth by image id (COCO) or file stem, and by category id or name;
predictions that do not fit are listed in warnings (all unmatched is an error, never a silent AP of 0).

Protocols:
  coco     pycocotools COCOeval step by step: AP@[.5:.95], AP50, AP75, APs/m/l, AR1/10/100, ARs/m/l
           (keypoints: AP..APl, AR..ARl with OKS); crowd regions, area from the annotation, 101 recall points
  voc07    VOC2007 11-point AP, IoU > 0.5, +1 pixel areas, difficult objects ignored
  voc12    VOC2010+ all-point AP, same matching
  darknet  darknet `detector map`: no +1, IoU > t, --points 0 (all) / 11 / 101, mean over all classes
Threshold metrics at --conf (P, R, F1, TP/FP/FN, mean IoU), the exact F1-optimal confidence per class and
overall, a confusion matrix with a background row/column (--cm-iou), and PR curves (JSON; PNG with --plot).

Examples:
  cvtool evaluate --gt instances_val2017.json detections.json
  cvtool evaluate --gt instances_val2017.json preds.jsonl --task segm --max-dets 1,10,300
  cvtool evaluate --gt person_keypoints_val2017.json poses.json --task keypoints
  cvtool evaluate --gt VOC2007/Annotations dets/ --names voc.names --protocol voc07
  cvtool evaluate --gt labels/ preds/ --gt-format yolo --pred-format yolo --names data.yaml --images images/ --protocol darknet
  cvtool evaluate --gt gts/ dets/ --protocol voc12 --iou-compare '>=' --iou-thrs 0.3,0.5   (rafaelpadilla tool)
  cvtool evaluate --gt val.json preds.json --fail-below AP=0.35 --plot plots/ -o metrics.json
  cvtool evaluate iou run_a.jsonl run_b.jsonl

Output: one JSON document (schema cvtool.evaluate/1) on stdout or -o; warnings and a one-line summary on stderr.
Exit codes: 0 ok, 1 unreadable or invalid input / internal error, 2 usage error, 5 --fail-below gate failed.)";

}  // namespace

void register_evaluate_command(CLI::App& root, std::function<int()>& run_selected) {
  auto c = std::make_shared<EvalCli>();
  CLI::App* cmd = root.add_subcommand("evaluate", "Score predictions against ground truth: COCO (pycocotools-exact), "
                                                  "VOC07/VOC12, Darknet; P/R/F1, confusion matrix, PR curves");
  cmd->footer(kFooter);
  cmd->add_option("pred,--pred", c->pred, "Predictions: COCO results JSON, cvtool JSONL, VOC XML or txt folder");
  cmd->add_option("--gt", c->gt, "Ground truth: COCO JSON, VOC XML folder, txt/YOLO label folder or cvtool JSONL");
  cmd->add_option("--gt-format", c->gt_format, "auto|coco|cvtool|voc|yolo|txt[:xywh|xyxy|cxcywh][:abs|rel]")
      ->capture_default_str();
  cmd->add_option("--pred-format", c->pred_format, "Same choices as --gt-format")->capture_default_str();
  cmd->add_option("--protocol", c->protocol, "coco|voc07|voc12|darknet")->capture_default_str();
  cmd->add_option("--task", c->task, "bbox|segm|keypoints (segm and keypoints need --protocol coco)")
      ->capture_default_str();
  cmd->add_option("--iou-thrs", c->iou_thrs, "IoU thresholds: start:stop:step (0.5:0.95:0.05) or a list (0.5,0.75)");
  cmd->add_option("--max-dets", c->max_dets, "Detections kept per image and class, e.g. 1,10,100 (COCO); warns when it truncates");
  cmd->add_option("--area-ranges", c->area_ranges,
                  "label=lo:hi list, must include all, e.g. all=0:1e10,small=0:32^2,medium=32^2:96^2,large=96^2:1e10");
  auto* ppo = cmd->add_flag("--pixel-plus-one,!--no-pixel-plus-one", c->pixel_plus_one,
                            "VOC +1 pixel box extents (default on for voc07/voc12, off for darknet; coco never)");
  cmd->add_option("--iou-compare", c->iou_compare, "VOC/darknet match test: '>' (devkit, default) or '>=' (rafaelpadilla)");
  cmd->add_flag("--no-difficult", c->no_difficult, "VOC: count objects marked difficult like any other");
  cmd->add_option("--points", c->points, "darknet: 0 = all points, 11, or 101 recall points")->capture_default_str();
  cmd->add_option("--conf", c->conf, "Confidence for P/R/F1/TP/FP/FN, mean IoU and the confusion matrix")
      ->capture_default_str();
  cmd->add_option("--match-iou", c->match_iou, "IoU that makes a true positive for the threshold metrics")
      ->capture_default_str();
  cmd->add_option("--cm-iou", c->cm_iou, "IoU that pairs objects in the confusion matrix (IoU > value)")
      ->capture_default_str();
  cmd->add_option("--names", c->names, "Class names: .names/.txt one per line, or data.yaml (maps class indices)");
  cmd->add_option("--imgsz", c->imgsz, "Image size W[,H] for normalised (YOLO) coordinates when the ground truth has none");
  cmd->add_option("--images", c->images,
                  "Image folder: sizes for normalised boxes; images without a label file count as empty (YOLO)");
  cmd->add_option("--kpt-sigmas", c->kpt_sigmas, "Keypoint OKS sigmas, comma-separated (default COCO-17)");
  cmd->add_option("--plot", c->plot, "Write DIR/pr_curve.png (one curve per class plus the mean)");
  cmd->add_flag("--no-pr-curves", c->no_pr_curves, "Leave the PR-curve arrays out of the JSON");
  cmd->add_option("--fail-below", c->fail_below, "Gate: exit 5 if METRIC < VALUE, e.g. AP=0.5 (repeatable; summary keys, F1, P, R)")
      ->allow_extra_args(false);
  cmd->add_option("-o,--output", c->output, "Write the JSON here instead of stdout");
  cmd->add_flag("--pretty", c->pretty, "Indent the JSON");
  cmd->add_flag("-q,--quiet", c->quiet, "No warnings or summary line on stderr");

  auto ic = std::make_shared<IouCli>();
  CLI::App* iou = cmd->add_subcommand("iou", "Pairwise IoU between two prediction files (greedy one-to-one per image and class)");
  iou->footer(
      "Pairs objects of A and B within each image (and class unless --class-agnostic), best IoU first; lists the\n"
      "pairs as indices into each file, the unpaired objects and the mean IoU.\n"
      "Examples:\n  cvtool evaluate iou run_a.jsonl run_b.jsonl\n"
      "  cvtool evaluate iou a.json b.json --task segm --class-agnostic\n"
      "Exit codes: 0 ok, 1 unreadable or invalid input, 2 usage error.");
  iou->add_option("a", ic->a, "First predictions file")->required();
  iou->add_option("b", ic->b, "Second predictions file")->required();
  iou->add_option("--a-format", ic->a_format, "Format of A (as --pred-format)")->capture_default_str();
  iou->add_option("--b-format", ic->b_format, "Format of B (as --pred-format)")->capture_default_str();
  iou->add_option("--task", ic->task, "bbox|segm")->capture_default_str();
  iou->add_flag("--class-agnostic", ic->class_agnostic, "Pair across classes");
  iou->add_option("--min-iou", ic->min_iou, "Only pairs with IoU > value")->capture_default_str();
  iou->add_option("--names", ic->names, "Class names for class indices");
  iou->add_option("--imgsz", ic->imgsz, "Image size W[,H] for normalised coordinates");
  iou->add_option("--images", ic->images, "Image folder (sizes for normalised coordinates)");
  iou->add_option("-o,--output", ic->output, "Write the JSON here instead of stdout");
  iou->add_flag("--pretty", ic->pretty, "Indent the JSON");
  iou->add_flag("-q,--quiet", ic->quiet, "No warnings on stderr");

  iou->callback([&run_selected, ic] { run_selected = [ic] { return run_iou(*ic); }; });
  cmd->callback([&run_selected, c, ppo, iou] {
    if (iou->parsed()) return;
    c->pixel_plus_one_given = ppo->count() > 0;
    run_selected = [c] { return run_evaluate(*c); };
  });
}
