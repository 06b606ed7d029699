// `cvtool detect`: the command line of the shared detection pipeline (detect_run.cpp).
#include "commands.h"
#include "detect_run.h"

void register_detect_command(CLI::App& root, std::function<int()>& run_selected) {
  auto o = std::make_shared<DetectCliOptions>();
  CLI::App* cmd = root.add_subcommand("detect", "Detect objects (boxes, labels, scores), one JSON record per image");
  add_detect_options(cmd, *o);
  cmd->footer(
      "Examples:\n"
      "  cvtool detect ../shared/data/images/dog.jpg\n"
      "  cvtool detect --model yolo-fastest-xl --classes person,car -r photos/ --annotate out/\n"
      "  cvtool detect --format coco -o results.json --conf 0.001 -r val2017/ && cvtool evaluate ...\n"
      "  cvtool detect --model my_yolov8n.onnx --format yolo -o labels/ photos/\n"
      "  cvtool detect --model shapes-fasterrcnn ../shared/models/segment/val/000001.png\n"
      "Default model: yolox-nano (COCO, 80 classes). Others: yolo-fastest, yolo-fastest-xl, fastestdet,\n"
      "shapes-fasterrcnn / shapes-maskrcnn (torchvision R-CNN exports), a manifest (.json), a .cfg (its\n"
      ".weights beside it) or an .onnx YOLOv5/v8 or torchvision detection export.\n"
      "Exit codes: 0 ok, 1 internal error, 2 usage, 3 some inputs failed (their records carry \"error\"),\n"
      "            4 model missing / unreadable / checksum mismatch.");
  cmd->callback([o, &run_selected] { run_selected = [o] { return run_detection(*o); }; });
}
