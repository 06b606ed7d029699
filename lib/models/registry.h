// The model registry: manifests in models/, files in a cache directory,
// filled from a mirror directory (or the upstream URL with curl), SHA-256
// verified on every pull and every load.
#pragma once
#include <string>
#include <vector>

#include "models/manifest.h"

namespace cvt {

struct RegistryConfig {
  std::string manifests_dir;  // models/*.json
  std::string cache_dir;      // --models-dir, default $XDG_CACHE_HOME/cvtool/models
  std::string mirror_dir;     // --mirror / CVTOOL_MODEL_MIRROR (may be empty)
  bool allow_download = true; // fall back to the upstream URL (curl) when no mirror has it

  // Defaults from the environment and the executable's location.
  static RegistryConfig from_environment(const std::string& argv0);
};

struct ResolvedModel {
  Manifest manifest;                 // for a bare path: a synthesized manifest (task "")
  std::string model_path;            // the file with role "model"
  std::string sha256;
  bool from_manifest = false;
  std::string path_for_role(const std::string& role) const;
  std::vector<std::pair<std::string, std::string>> role_paths;  // role -> local path
};

class ModelRegistry {
 public:
  explicit ModelRegistry(RegistryConfig cfg) : cfg_(std::move(cfg)) {}
  const RegistryConfig& config() const { return cfg_; }

  Result<std::vector<Manifest>> list() const;
  Result<Manifest> find(const std::string& name) const;
  // Copies (or downloads) every file of the model into the cache, verifying SHA-256.
  Status pull(const Manifest& m, bool force = false) const;
  // Verifies cached files; returns one line per file in `report`.
  Status verify(const Manifest& m, std::vector<std::string>* report) const;
  // NAME or PATH -> local files. Names are pulled on demand when a mirror has them.
  // Errors: kNotFound (unknown name), kIoError (missing), kChecksumMismatch.
  Result<ResolvedModel> resolve(const std::string& name_or_path) const;
  // Default model name for a task (the manifest with "default": true).
  Result<std::string> default_for_task(const std::string& task) const;
  std::string cached_path(const ManifestFile& f) const;

 private:
  Status fetch_file(const ManifestFile& f, bool force) const;
  RegistryConfig cfg_;
};

}  // namespace cvt
