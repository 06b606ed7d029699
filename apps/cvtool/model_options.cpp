#include "model_options.h"

#include "commands.h"

void add_model_options(CLI::App* cmd, ModelOptions& o, bool with_model_flag) {
  if (with_model_flag)
    cmd->add_option("-m,--model", o.model, "Model: a registry name (see `cvtool models list`) or a path to a model file");
  cmd->add_option("--models-dir", o.models_dir, "Model cache folder (default $CVTOOL_MODELS_DIR or $XDG_CACHE_HOME/cvtool/models)");
  cmd->add_option("--mirror", o.mirror, "Folder mirroring the model files (default $CVTOOL_MODEL_MIRROR)");
  cmd->add_option("--manifests", o.manifests, "Folder of model manifests (default: the models/ folder shipped with cvtool)");
}

cvt::ModelRegistry make_registry(const ModelOptions& o) {
  cvt::RegistryConfig c = cvt::RegistryConfig::from_environment("cvtool");
  if (!o.models_dir.empty()) c.cache_dir = o.models_dir;
  if (!o.mirror.empty()) c.mirror_dir = o.mirror;
  if (!o.manifests.empty()) c.manifests_dir = o.manifests;
  return cvt::ModelRegistry(c);
}

cvt::Result<cvt::ResolvedModel> resolve_model(const ModelOptions& o, const std::string& task) {
  cvt::ModelRegistry reg = make_registry(o);
  std::string name = o.model;
  if (name.empty()) {
    CVT_ASSIGN_OR_RETURN(name, reg.default_for_task(task));
  }
  CVT_ASSIGN_OR_RETURN(cvt::ResolvedModel r, reg.resolve(name));
  if (r.from_manifest && !task.empty() && r.manifest.task != task)
    return cvt::invalid_argument("model '" + r.manifest.name + "' is a " + r.manifest.task + " model, not " + task);
  return r;
}

int model_error_exit_code(const cvt::Status& st) {
  switch (st.code()) {
    case cvt::ErrorCode::kNotFound:
    case cvt::ErrorCode::kInvalidArgument: return kExitUsage;
    default: return kExitModel;
  }
}
