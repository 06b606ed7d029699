// Every subcommand registers itself on the root CLI11 app and, when selected,
// stores the function main() runs after parsing. Exit codes are shared:
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

// 0 all fine, 1 internal error, 2 usage, 3 some inputs failed, 4 model missing /
// unreadable / checksum mismatch, 5 evaluation gate failed.
enum ExitCode { kExitOk = 0, kExitInternal = 1, kExitUsage = 2, kExitPartial = 3, kExitModel = 4, kExitGate = 5 };

void register_evaluate_command(CLI::App& root, std::function<int()>& run_selected);
void register_classify_command(CLI::App& root, std::function<int()>& run_selected);
void register_detect_command(CLI::App& root, std::function<int()>& run_selected);
void register_segment_command(CLI::App& root, std::function<int()>& run_selected);
void register_pose_command(CLI::App& root, std::function<int()>& run_selected);
void register_run_command(CLI::App& root, std::function<int()>& run_selected);
void register_inspect_command(CLI::App& root, std::function<int()>& run_selected);
void register_style_command(CLI::App& root, std::function<int()>& run_selected);
void register_models_command(CLI::App& root, std::function<int()>& run_selected);
