// `cvtool evaluate`: registration stub while the implementation lands.
#include <cstdio>

#include "commands.h"

void register_evaluate_command(CLI::App& root, std::function<int()>& run_selected) {
  auto* cmd = root.add_subcommand("evaluate", "Evaluate predictions against ground truth (COCO, VOC, Darknet)");
  cmd->callback([&run_selected] {
    run_selected = [] {
      std::fprintf(stderr, "cvtool evaluate: not implemented yet\n");
      return 1;
    };
  });
}
