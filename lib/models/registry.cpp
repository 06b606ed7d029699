#include "models/registry.h"

#include "cvtool_build_paths.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "models/sha256.h"

namespace fs = std::filesystem;

namespace cvt {

static std::string env_or(const char* name, const std::string& def) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : def;
}

RegistryConfig RegistryConfig::from_environment(const std::string& argv0) {
  RegistryConfig c;
  std::error_code ec;
  // Manifests: $CVTOOL_MANIFESTS, next to an installed binary, or the source tree.
  std::vector<fs::path> candidates;
  if (const char* m = std::getenv("CVTOOL_MANIFESTS")) candidates.emplace_back(m);
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) exe = fs::absolute(argv0, ec);
  if (!exe.empty()) {
    candidates.push_back(exe.parent_path() / "../share/cvtool/models");
    candidates.push_back(exe.parent_path() / "../models");
  }
  candidates.emplace_back(std::string(CVTOOL_SOURCE_DIR) + "/models");
  for (const auto& p : candidates)
    if (fs::is_directory(p, ec)) {
      c.manifests_dir = fs::weakly_canonical(p, ec).string();
      break;
    }
  std::string xdg = env_or("XDG_CACHE_HOME", env_or("HOME", "/tmp") + "/.cache");
  c.cache_dir = env_or("CVTOOL_MODELS_DIR", xdg + "/cvtool/models");
  c.mirror_dir = env_or("CVTOOL_MODEL_MIRROR", "");
  c.allow_download = env_or("CVTOOL_OFFLINE", "") != "1";
  return c;
}

std::string ResolvedModel::path_for_role(const std::string& role) const {
  for (const auto& [r, p] : role_paths)
    if (r == role) return p;
  return "";
}

Result<std::vector<Manifest>> ModelRegistry::list() const {
  std::vector<Manifest> out;
  std::error_code ec;
  if (cfg_.manifests_dir.empty() || !fs::is_directory(cfg_.manifests_dir, ec))
    return io_error("no manifest directory found (set CVTOOL_MANIFESTS or --manifests)");
  std::vector<fs::path> paths;
  for (const auto& e : fs::directory_iterator(cfg_.manifests_dir, ec))
    if (e.path().extension() == ".json") paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) {
    CVT_ASSIGN_OR_RETURN(Manifest m, load_manifest(p.string()));
    out.push_back(std::move(m));
  }
  return out;
}

Result<Manifest> ModelRegistry::find(const std::string& name) const {
  CVT_ASSIGN_OR_RETURN(std::vector<Manifest> all, list());
  std::string names;
  for (Manifest& m : all) {
    if (m.name == name) return std::move(m);
    names += (names.empty() ? "" : ", ") + m.name;
  }
  return Status(ErrorCode::kNotFound, "unknown model '" + name + "' (known: " + names + ")");
}

Result<std::string> ModelRegistry::default_for_task(const std::string& task) const {
  CVT_ASSIGN_OR_RETURN(std::vector<Manifest> all, list());
  for (const Manifest& m : all)
    if (m.task == task && m.raw.value("default", false)) return m.name;
  return Status(ErrorCode::kNotFound, "no default model for task '" + task + "'");
}

std::string ModelRegistry::cached_path(const ManifestFile& f) const { return (fs::path(cfg_.cache_dir) / f.path).string(); }

static Status check_file(const std::string& path, const ManifestFile& f) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return io_error(path + ": missing");
  auto size = fs::file_size(path, ec);
  if (f.size >= 0 && static_cast<int64_t>(size) != f.size)
    return Status(ErrorCode::kChecksumMismatch, path + ": checksum mismatch: size " + std::to_string(size) +
                                                    " bytes, the manifest says " + std::to_string(f.size) + " (sha256 " + f.sha256 + ")");
  CVT_ASSIGN_OR_RETURN(std::string got, sha256_file(path));
  if (got != f.sha256)
    return Status(ErrorCode::kChecksumMismatch, path + ": sha256 " + got + " does not match the manifest's " + f.sha256);
  return Status::ok();
}

Status ModelRegistry::fetch_file(const ManifestFile& f, bool force) const {
  const std::string dst = cached_path(f);
  std::error_code ec;
  if (!force && fs::exists(dst, ec) && check_file(dst, f).is_ok()) return Status::ok();
  fs::create_directories(fs::path(dst).parent_path(), ec);
  if (ec) return io_error("cannot create " + fs::path(dst).parent_path().string() + ": " + ec.message());
  const std::string tmp = dst + ".part." + std::to_string(::getpid());
  Status got = io_error("no mirror has " + f.path);
  if (!cfg_.mirror_dir.empty()) {
    fs::path src = fs::path(cfg_.mirror_dir) / f.path;
    if (fs::exists(src, ec)) {
      fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
      got = ec ? io_error("copy " + src.string() + " failed: " + ec.message()) : Status::ok();
    } else {
      got = io_error(src.string() + ": not in the mirror");
    }
  }
  if (!got.is_ok() && cfg_.allow_download && !f.url.empty()) {
    std::string cmd = "curl -fsSL --retry 2 -o '" + tmp + "' '" + f.url + "' 2>/dev/null";
    got = std::system(cmd.c_str()) == 0 ? Status::ok() : io_error("download of " + f.url + " failed");
  }
  if (!got.is_ok()) {
    fs::remove(tmp, ec);
    return got;
  }
  Status st = check_file(tmp, f);
  if (!st.is_ok()) {
    fs::remove(tmp, ec);
    return Status(st.code(), f.path + ": " + st.message());
  }
  fs::rename(tmp, dst, ec);
  if (ec) return io_error("cannot move into " + dst + ": " + ec.message());
  return Status::ok();
}

Status ModelRegistry::pull(const Manifest& m, bool force) const {
  for (const ManifestFile& f : m.files) {
    Status st = fetch_file(f, force);
    if (!st.is_ok()) return st.with_context("model '" + m.name + "'");
  }
  return Status::ok();
}

Status ModelRegistry::verify(const Manifest& m, std::vector<std::string>* report) const {
  Status first;
  for (const ManifestFile& f : m.files) {
    Status st = check_file(cached_path(f), f);
    if (report) report->push_back(f.path + ": " + (st.is_ok() ? "ok" : st.message()));
    if (!st.is_ok() && first.is_ok()) first = st.with_context("model '" + m.name + "'");
  }
  return first;
}

Result<ResolvedModel> ModelRegistry::resolve(const std::string& name_or_path) const {
  std::error_code ec;
  ResolvedModel r;
  const bool looks_like_path = name_or_path.find('/') != std::string::npos || fs::exists(name_or_path, ec);
  if (looks_like_path) {
    if (!fs::exists(name_or_path, ec)) return io_error(name_or_path + ": no such model file");
    // A manifest given by path, or a bare model file.
    if (fs::path(name_or_path).extension() == ".json") {
      CVT_ASSIGN_OR_RETURN(r.manifest, load_manifest(name_or_path));
    } else {
      r.manifest.name = fs::path(name_or_path).stem().string();
      r.manifest.format = fs::path(name_or_path).extension() == ".cfg" ? "darknet" : "onnx";
      CVT_ASSIGN_OR_RETURN(r.sha256, sha256_file(name_or_path));
      r.model_path = name_or_path;
      r.role_paths.push_back({"model", name_or_path});
      return r;
    }
  } else {
    CVT_ASSIGN_OR_RETURN(r.manifest, find(name_or_path));
  }
  r.from_manifest = true;
  for (const ManifestFile& f : r.manifest.files) {
    std::string p = cached_path(f);
    Status st = check_file(p, f);
    if (!st.is_ok() && st.code() == ErrorCode::kIoError) {
      // Not cached yet: pull on demand from the mirror (or upstream).
      Status pulled = fetch_file(f, false);
      if (!pulled.is_ok())
        return Status(pulled.code() == ErrorCode::kChecksumMismatch ? pulled.code() : ErrorCode::kIoError,
                      "model '" + r.manifest.name + "' is not available: " + pulled.message() +
                          " (run `cvtool models pull " + r.manifest.name + " --mirror DIR`)");
      st = Status::ok();
    }
    if (!st.is_ok()) return st.with_context("model '" + r.manifest.name + "'");
    r.role_paths.push_back({f.role, p});
    if (f.role == "model") {
      r.model_path = p;
      r.sha256 = f.sha256;
    }
  }
  return r;
}

}  // namespace cvt
