// cvtool: command-line computer vision on a CPU engine of its own. Results are
// JSON on stdout; logs and progress go to stderr.
#include <iostream>

#include "commands.h"
#include "core/cpu_features.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int main(int argc, char** argv) {
  // Weights are copied at load (protobuf's bytes, the tensor, its packed form) and
  // the copies freed in turn. glibc maps blocks from 128 KB on afresh and unmaps them
  // when freed, and hands the heap's free top back beyond 128 KB, so each copy
  // page-faulted on new memory (~12 us a 4 KiB page on the VMs we measure on). Below
  // 32 MB blocks now come from the heap, which keeps up to 16 MB free at its top and
  // reuses the freed ones. Load + first run: ResNet-50 1.44 -> 1.04 s, GoogLeNet 0.59 ->
  // 0.46, ml5-udnie 0.55 -> 0.53; peak RSS within a few MB (blocks above 32 MB, VGG's
  // and AlexNet's FC weights, are mapped as before). Warm runs do not allocate.
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
#endif
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
