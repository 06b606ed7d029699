// `cvtool style-transfer`: feed-forward style networks (one per style) or
// Gatys optimisation against a style image; writes the stylised image and one
// JSON record per input.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "batch.h"
#include "commands.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "model_options.h"
#include "tasks/style/gatys.h"
#include "tasks/style/stylize.h"

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

struct StyleOptions {
  BatchOptions batch;
  ModelOptions model;
  std::string style;            // feed-forward style name (model style-<name>)
  std::string method = "feedforward";
  std::string style_image;
  std::string extractor = "tiny-darknet";
  std::string tile = "auto";
  std::string image_format = "png";
  std::string layers, content_layer;
  cvt::StylizeOptions ff;
  cvt::GatysOptions gatys;
  int max_size = -1;            // -1: the method's default
};

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// Styles of the registry: manifests of task style-transfer; a style's name is
// its manifest's "style"."style" (la_muse), or the manifest name without "style-".
std::vector<std::pair<std::string, std::string>> available_styles(const ModelOptions& mo) {
  std::vector<std::pair<std::string, std::string>> styles;  // style name, manifest name
  auto list = make_registry(mo).list();
  if (!list.is_ok()) return styles;
  for (const auto& m : list.value()) {
    if (m.task != "style-transfer") continue;
    std::string name = m.name.rfind("style-", 0) == 0 ? m.name.substr(6) : m.name;
    const auto& block = m.raw.is_object() ? m.raw.value("style", nlohmann::json()) : nlohmann::json();
    if (block.is_object() && block.value("style", std::string()) != "") name = block.value("style", std::string());
    styles.push_back({name, m.name});
  }
  std::sort(styles.begin(), styles.end());
  return styles;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

cvt::Status write_image(const cv::Mat& img, const std::string& path, bool force) {
  std::error_code ec;
  if (fs::exists(path, ec) && !force) return cvt::io_error(path + " exists (use --force to overwrite)");
  std::vector<uchar> bytes;
  if (!cv::imencode(fs::path(path).extension().string(), img, bytes)) return cvt::io_error("cannot encode " + path);
  return cvt::write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

int run_style(StyleOptions& o) {
  auto inputs = expand_inputs(o.batch);
  if (!inputs.is_ok()) {
    std::cerr << "cvtool: error: " << inputs.status().message() << "\n";
    return kExitUsage;
  }
  if (inputs.value().empty() && o.batch.skip_done.empty()) {
    std::cerr << "cvtool: error: no input images (give files, folders, globs, @list.txt or -)\n";
    return kExitUsage;
  }
  const bool optimize = o.method == "optimize";
  if (o.tile == "off") o.ff.tile = -1;
  else if (o.tile == "auto") o.ff.tile = 0;
  else {
    try {
      o.ff.tile = std::stoi(o.tile);
    } catch (...) {
      o.ff.tile = 0;
    }
    if (o.ff.tile < 64) {
      std::cerr << "cvtool: error: --tile must be auto, off or a size >= 64, got '" << o.tile << "'\n";
      return kExitUsage;
    }
  }
  const std::string out_dir = o.batch.out_dir.empty() ? "." : o.batch.out_dir;
  std::error_code ec;
  fs::create_directories(out_dir, ec);

  // Models: one worker object per job.
  std::vector<std::unique_ptr<cvt::Stylizer>> stylizers;
  std::vector<std::unique_ptr<cvt::GatysTransfer>> optimizers;
  cv::Mat style_bgr;
  std::string style_label;
  json model_json, params;
  cvt::SessionOptions so;
  so.threads = threads_per_job(o.batch);
  if (optimize) {
    if (o.style_image.empty()) {
      std::cerr << "cvtool: error: --method optimize needs --style-image FILE\n";
      return kExitUsage;
    }
    auto img = cvt::load_image(o.style_image);
    if (!img.is_ok()) {
      std::cerr << "cvtool: error: style image " << o.style_image << ": " << img.status().message() << "\n";
      return kExitUsage;
    }
    style_bgr = img.value();
    ModelOptions mo = o.model;
    mo.model = o.extractor;
    auto resolved = resolve_model(mo, "classify");
    if (!resolved.is_ok()) {
      std::cerr << "cvtool: error: feature extractor: " << resolved.status().message() << "\n";
      return model_error_exit_code(resolved.status());
    }
    o.gatys.max_size = o.max_size < 0 ? 256 : o.max_size;
    o.gatys.threads = so.threads;
    o.gatys.style_layers = split_list(o.layers);
    o.gatys.content_layer = o.content_layer;
    for (int j = 0; j < std::max(1, o.batch.jobs); ++j) {
      auto g = cvt::GatysTransfer::create(resolved.value(), o.gatys);
      if (!g.is_ok()) {
        std::cerr << "cvtool: error: " << g.status().message() << "\n";
        return g.status().code() == cvt::ErrorCode::kNotFound || g.status().code() == cvt::ErrorCode::kUnsupported ? kExitUsage : kExitModel;
      }
      optimizers.push_back(std::move(g).value());
    }
    style_label = "optimize-" + fs::path(o.style_image).stem().string();
    model_json = {{"name", resolved.value().manifest.name}, {"task", "style-transfer"}, {"method", "optimize"}, {"sha256", resolved.value().sha256}};
    params = {{"style_image", o.style_image}, {"iterations", o.gatys.iterations}, {"optimizer", o.gatys.optimizer},
              {"content_weight", o.gatys.content_weight}, {"style_weight", o.gatys.style_weight}, {"tv_weight", o.gatys.tv_weight},
              {"max_size", o.gatys.max_size}};
  } else {
    ModelOptions mo = o.model;
    if (!o.style.empty() && !o.model.model.empty()) {
      std::cerr << "cvtool: error: give --style NAME or --model, not both\n";
      return kExitUsage;
    }
    if (!o.style.empty()) {
      std::vector<std::string> names;
      for (const auto& [style, manifest] : available_styles(o.model)) {
        names.push_back(style);
        if (style == o.style || manifest == o.style || manifest == "style-" + o.style) mo.model = manifest;
      }
      if (mo.model.empty()) {
        std::cerr << "cvtool: error: unknown style '" << o.style << "'; available styles: " << join(names) << "\n";
        return kExitUsage;
      }
    }
    auto resolved = resolve_model(mo, "style-transfer");
    if (!resolved.is_ok()) {
      std::cerr << "cvtool: error: " << resolved.status().message() << "\n";
      return model_error_exit_code(resolved.status());
    }
    const cvt::ResolvedModel& rm = resolved.value();
    for (int j = 0; j < std::max(1, o.batch.jobs); ++j) {
      auto s = cvt::Stylizer::create(rm, so);
      if (!s.is_ok()) {
        std::cerr << "cvtool: error: " << s.status().message() << "\n";
        return kExitModel;
      }
      stylizers.push_back(std::move(s).value());
    }
    o.ff.max_size = std::max(0, o.max_size);
    style_label = fs::path(rm.model_path).stem().string();
    for (const auto& [style, manifest] : available_styles(o.model))
      if (rm.from_manifest && manifest == rm.manifest.name) style_label = style;
    model_json = {{"name", rm.manifest.name}, {"task", "style-transfer"}, {"method", "feedforward"}, {"sha256", rm.sha256}};
    params = {{"style", style_label}, {"strength", o.ff.strength}, {"max_size", o.ff.max_size}, {"tile", o.tile},
              {"overlap", o.ff.overlap}, {"stats_size", o.ff.stats_size}, {"max_memory_mb", o.ff.max_memory_mb}};
  }
  log_info(o.batch, "style-transfer: " + style_label + ", " + std::to_string(inputs.value().size()) + " inputs");
  const bool bar = !o.batch.quiet && (o.batch.progress == "always" || (o.batch.progress == "auto" && ::isatty(2)));
  std::mutex name_mu;
  std::set<std::string> used_names;

  return run_batch(o.batch, inputs.value(), [&](size_t index, const std::string& path, int worker) {
    auto t0 = Clock::now();
    json r = make_envelope("cvtool.style-transfer/1", path, index);
    r["model"] = model_json;
    r["params"] = params;
    r["output"] = nullptr;
    auto img = cvt::load_image(path);
    const double decode_ms = ms_since(t0);
    if (!img.is_ok()) {
      r["error"] = error_json(img.status());
      r["timing_ms"] = {{"decode", decode_ms}, {"total", decode_ms}};
      return r;
    }
    r["source"]["width"] = img.value().cols;
    r["source"]["height"] = img.value().rows;
    cv::Mat out;
    json timing = {{"decode", decode_ms}};
    auto t1 = Clock::now();
    if (optimize) {
      auto progress = [&](const cvt::GatysStep& s) {
        if (o.batch.verbose)
          std::fprintf(stderr, "cvtool: %s iteration %d: loss %.6g (content %.6g, style %.6g, tv %.6g)\n", path.c_str(), s.iteration,
                       s.loss.total, s.loss.content, s.loss.style, s.loss.tv);
        else if (bar) {
          const int width = 30, filled = width * s.iteration / std::max(1, o.gatys.iterations);
          std::fprintf(stderr, "\r[%s%s] %d/%d loss %.4g (style %.3g, content %.3g)  ", std::string(filled, '#').c_str(),
                       std::string(width - filled, '.').c_str(), s.iteration, o.gatys.iterations, s.loss.total, s.loss.style, s.loss.content);
        }
      };
      auto res = optimizers[worker]->run(img.value(), style_bgr, progress);
      if (bar && !o.batch.verbose) std::fprintf(stderr, "\n");
      if (!res.is_ok()) {
        timing["optimize"] = ms_since(t1);
        timing["total"] = ms_since(t0);
        r["timing_ms"] = timing;
        r["error"] = error_json(res.status());
        return r;
      }
      out = res.value().image;
      json hist = json::array();
      for (const auto& s : res.value().history)
        hist.push_back({{"iteration", s.iteration}, {"total", s.loss.total}, {"content", s.loss.content}, {"style", s.loss.style},
                        {"tv", s.loss.tv}, {"evaluations", s.evaluations}});
      r["layers"] = {{"content", res.value().content_layer}, {"style", res.value().style_layers}};
      r["loss"] = hist;
      timing["optimize"] = ms_since(t1);
    } else {
      cvt::StylizeInfo info;
      auto res = stylizers[worker]->stylize(img.value(), o.ff, &info);
      if (!res.is_ok()) {
        timing["total"] = ms_since(t0);
        r["timing_ms"] = timing;
        r["error"] = error_json(res.status());
        return r;
      }
      out = res.value();
      r["tiles"] = {{"count", info.tiles}, {"size", info.tile_size}, {"stats_size", info.stats_size}};
      timing["stats"] = info.stats_ms;
      timing["infer"] = info.infer_ms;
    }
    auto t2 = Clock::now();
    std::string stem = fs::path(path).stem().string() + "_" + style_label, name;
    {
      std::lock_guard<std::mutex> lock(name_mu);
      name = stem + "." + o.image_format;
      for (int k = 1; used_names.count(name); ++k) name = stem + "_" + std::to_string(k) + "." + o.image_format;
      used_names.insert(name);
    }
    const std::string out_path = (fs::path(out_dir) / name).string();
    cvt::Status st = write_image(out, out_path, o.batch.force);
    timing["write"] = ms_since(t2);
    timing["total"] = ms_since(t0);
    r["timing_ms"] = timing;
    if (!st.is_ok()) {
      r["error"] = error_json(st);
      return r;
    }
    r["output"] = {{"path", out_path}, {"width", out.cols}, {"height", out.rows}};
    return r;
  });
}

}  // namespace

void register_style_command(CLI::App& root, std::function<int()>& run_selected) {
  auto o = std::make_shared<StyleOptions>();
  CLI::App* cmd = root.add_subcommand("style-transfer", "Stylise images with a feed-forward style network or by Gatys optimisation");
  add_batch_options(cmd, o->batch);
  add_model_options(cmd, o->model);
  cmd->add_option("--style", o->style, "Feed-forward style (see `cvtool models list`): la_muse, rain_princess, scream, udnie, wave");
  cmd->add_option("--method", o->method, "feedforward (a trained style network) or optimize (Gatys et al., needs --style-image)")
      ->check(CLI::IsMember({"feedforward", "optimize"}));
  cmd->add_option("--max-size", o->max_size, "Bound on the longest side of the result (default: none for feedforward, 256 for optimize)")
      ->check(CLI::Range(16, 1 << 16));
  cmd->add_option("--strength", o->ff.strength, "Feedforward: blend with the content image, 1 = fully stylised")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--tile", o->tile, "Feedforward: auto (tiles when --max-memory would be exceeded), off, or a tile size in pixels");
  cmd->add_option("--overlap", o->ff.overlap, "Feedforward: pixels shared by neighbouring tiles")->check(CLI::Range(16, 4096));
  cmd->add_option("--max-memory", o->ff.max_memory_mb, "Feedforward: activation memory budget in MB that decides tiling")->check(CLI::Range(64, 1 << 20));
  cmd->add_option("--stats-size", o->ff.stats_size,
                  "Feedforward tiles: instance-norm statistics from the image downscaled to this side (0 = what --max-memory allows, -1 = each tile its own)")
      ->check(CLI::Range(-1, 1 << 16));
  cmd->add_option("--style-image", o->style_image, "Optimize: the style image");
  cmd->add_option("--extractor", o->extractor, "Optimize: classifier whose features are matched (registry name or .onnx path)");
  cmd->add_option("--iterations", o->gatys.iterations, "Optimize: iterations")->check(CLI::Range(1, 100000));
  cmd->add_option("--optimizer", o->gatys.optimizer, "Optimize: lbfgs or adam")->check(CLI::IsMember({"lbfgs", "adam"}));
  cmd->add_option("--lr", o->gatys.learning_rate, "Optimize: Adam step in pixels")->check(CLI::PositiveNumber);
  cmd->add_option("--content-weight", o->gatys.content_weight, "Optimize: weight of the content loss")->check(CLI::NonNegativeNumber);
  cmd->add_option("--style-weight", o->gatys.style_weight, "Optimize: weight of the style (Gram) loss")->check(CLI::NonNegativeNumber);
  cmd->add_option("--tv-weight", o->gatys.tv_weight, "Optimize: weight of the total-variation loss")->check(CLI::NonNegativeNumber);
  cmd->add_option("--layers", o->layers, "Optimize: style layers, comma separated (default: the extractor's)");
  cmd->add_option("--content-layer", o->content_layer, "Optimize: content layer (default: the extractor's)");
  cmd->add_option("--image-format", o->image_format, "Format of the written images")->check(CLI::IsMember({"png", "jpg"}));
  cmd->footer(
      "Images are written to --out-dir (default: the current folder) as <stem>_<style>.<format>;\n"
      "the JSON record gives the path, the timings and, for optimize, the loss of every iteration.\n"
      "Examples:\n"
      "  cvtool style-transfer --style scream photo.jpg --out-dir out/\n"
      "  cvtool style-transfer --style wave --strength 0.7 --max-size 1024 -r photos/ --out-dir out/\n"
      "  cvtool style-transfer --method optimize --style-image starry.jpg photo.jpg --iterations 100 -v\n"
      "Exit codes: 0 ok, 1 internal error, 2 usage (unknown style, unreadable style image), 3 some inputs failed,\n"
      "            4 model missing / unreadable / checksum mismatch.");
  cmd->callback([o, &run_selected] { run_selected = [o] { return run_style(*o); }; });
}
