// --model and registry flags shared by every subcommand that loads a model.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "models/registry.h"

struct ModelOptions {
  std::string model;       // NAME or PATH ("" = the task's default)
  std::string models_dir;  // cache
  std::string mirror;
  std::string manifests;
};

void add_model_options(CLI::App* cmd, ModelOptions& o, bool with_model_flag = true);
cvt::ModelRegistry make_registry(const ModelOptions& o);
// Resolves --model (or the task default) to local, verified files.
cvt::Result<cvt::ResolvedModel> resolve_model(const ModelOptions& o, const std::string& task);
// Exit code for a failure to get a model: 4 for missing / unreadable / checksum, 2 for unknown names.
int model_error_exit_code(const cvt::Status& st);
