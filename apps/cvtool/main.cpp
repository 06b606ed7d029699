// cvtool: command-line computer vision on a CPU engine of its own. Results are
// JSON on stdout; logs and progress go to stderr.
#include <iostream>

#include "commands.h"
#include "core/cpu_features.h"

int main(int argc, char** argv) {
  CLI::App app{"cvtool: CNN inference on the CPU (classification, detection, segmentation, pose, style transfer)\n"
               "and evaluation, with JSON output."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("cvtool ") + CVTOOL_VERSION + " (cpu: " + cvt::cpu_features_string() +
                                        ", kernels: " + cvt::isa_name(cvt::active_isa()) + ")");
  app.footer(
      "Every image command takes files, folders (-r), quoted globs, @list.txt or - (stdin) and prints one\n"
      "JSON record per input, in input order, failures included. See `cvtool <command> --help`.\n"
      "Exit codes: 0 ok, 1 internal error, 2 usage error, 3 some inputs failed, 4 model missing/unreadable/\n"
      "checksum mismatch, 5 evaluation gate failed.");
  std::function<int()> run_selected;
  register_classify_command(app, run_selected);
  register_detect_command(app, run_selected);
  register_segment_command(app, run_selected);
  register_pose_command(app, run_selected);
  register_style_command(app, run_selected);
  register_run_command(app, run_selected);
  register_inspect_command(app, run_selected);
  register_models_command(app, run_selected);
  register_evaluate_command(app, run_selected);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  if (!run_selected) return kExitUsage;
  try {
    return run_selected();
  } catch (const std::exception& e) {
    std::cerr << "cvtool: internal error: " << e.what() << "\n";
    return kExitInternal;
  }
}
