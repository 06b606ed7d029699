// `cvtool segment`: instance segmentation (torchvision Mask R-CNN exports) through the
// shared detection pipeline (detect_run.cpp): class, score, box and mask per instance.
#include "commands.h"
#include "detect_run.h"

void register_segment_command(CLI::App& root, std::function<int()>& run_selected) {
  auto o = std::make_shared<DetectCliOptions>();
  o->segment = true;
  CLI::App* cmd = root.add_subcommand("segment", "Instance segmentation (class, score, box, mask), one JSON record per image");
  add_detect_options(cmd, *o);
  cmd->footer(
      "Examples:\n"
      "  cvtool segment ../shared/models/segment/val/000001.png\n"
      "  cvtool segment --mask-format polygon -r images/ --annotate out/\n"
      "  cvtool segment --mask-format png --mask-dir masks/ image.png\n"
      "  cvtool segment --format coco --conf 0.05 -o segm.json --coco-gt instances_val.json -r val/\n"
      "    && cvtool evaluate --gt instances_val.json segm.json --task segm\n"
      "Default model: shapes-maskrcnn (circle, rectangle, triangle). Any torchvision maskrcnn_* ONNX export\n"
      "works through a manifest with decoder.type torchvision_rcnn.\n"
      "Exit codes: 0 ok, 1 internal error, 2 usage, 3 some inputs failed (their records carry \"error\"),\n"
      "            4 model missing / unreadable / checksum mismatch / no mask output.");
  cmd->callback([o, &run_selected] { run_selected = [o] { return run_detection(*o); }; });
}
