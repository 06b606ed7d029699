// The one implementation behind `cvtool detect` and `cvtool segment`: batch
// plumbing, post-processing options and every output format (JSON Lines, COCO
// results, YOLO txt, annotated images). Segment adds instance masks to the same
// records (RLE / polygons / PNG files) and overlays to the same annotations.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "batch.h"
#include "model_options.h"

struct DetectCliOptions {
  bool segment = false;  // `cvtool segment`: instances with masks
  BatchOptions batch;
  ModelOptions model;
  float conf = -1, iou = -1;
  int max_det = 300;
  bool agnostic = false;
  std::string classes;
  std::string format = "jsonl";
  std::string box_format = "xywh";
  std::string annotate;
  std::string coco_gt;
  std::string coco_results;
  std::string kernels = "auto";
  // segment only
  std::string mask_format = "rle";  // rle | polygon | png | none
  float mask_threshold = -1;        // < 0: the model's (0.5)
  std::string mask_dir;             // png masks go here
};

/// Flags both commands share (input/batch, model, thresholds, formats, annotation).
void add_detect_options(CLI::App* cmd, DetectCliOptions& o);
int run_detection(const DetectCliOptions& o);
