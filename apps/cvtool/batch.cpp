#include "batch.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "io/atomic_file.h"
#include "io/image.h"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

void add_batch_options(CLI::App* cmd, BatchOptions& o) {
  cmd->add_option("inputs", o.inputs,
                  "Images: files, folders, quoted globs ('imgs/**/*.jpg'), @list.txt, or - for paths on stdin");
  cmd->add_flag("-r,--recursive", o.recursive, "Recurse into sub-folders");
  cmd->add_option("-o,--output", o.output_file, "Write JSON Lines here instead of stdout");
  cmd->add_option("--out-dir", o.out_dir, "Also write one <stem>.json per input into this folder");
  cmd->add_flag("--force", o.force, "Overwrite existing output files");
  cmd->add_option("-j,--jobs", o.jobs, "Images processed in parallel")->check(CLI::Range(1, 256));
  cmd->add_option("-t,--threads", o.threads, "Threads inside one image (0 = cores / jobs)")->check(CLI::Range(0, 1024));
  cmd->add_option("--shard", o.shard, "Process only shard i of n (\"i/n\", 0-based) of the expanded input list");
  cmd->add_option("--skip-done", o.skip_done, "Skip inputs that this earlier JSON Lines output processed without error");
  cmd->add_option("--progress", o.progress, "Progress bar on stderr")->check(CLI::IsMember({"auto", "always", "never"}));
  cmd->add_flag("-q,--quiet", o.quiet, "Only errors on stderr");
  cmd->add_flag("-v,--verbose", o.verbose, "More detail on stderr (repeat for more)");
}

void log_info(const BatchOptions& o, const std::string& msg) {
  if (!o.quiet) std::cerr << "cvtool: " << msg << "\n";
}
void log_warn(const std::string& msg) { std::cerr << "cvtool: warning: " << msg << "\n"; }

int threads_per_job(const BatchOptions& o) {
  if (o.threads > 0) return o.threads;
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, o.jobs));
}

static bool is_image_name(const fs::path& p) {
  static const std::set<std::string> exts = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm", ".jp2", ".exr", ".hdr", ".pic", ".sr", ".ras"};
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return exts.count(e) != 0;
}

static void list_folder(const fs::path& dir, bool recursive, std::vector<std::string>& out) {
  std::vector<std::string> found;
  std::error_code ec;
  if (recursive) {
    for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (it->is_regular_file(ec) && is_image_name(it->path())) found.push_back(it->path().string());
    }
  } else {
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.is_regular_file(ec) && is_image_name(e.path())) found.push_back(e.path().string());
  }
  std::sort(found.begin(), found.end());
  out.insert(out.end(), found.begin(), found.end());
}

// Glob with '**' spanning folders: walk from the longest wildcard-free prefix.
static void expand_glob(const std::string& pattern, std::vector<std::string>& out) {
  size_t wild = pattern.find_first_of("*?[");
  size_t slash = pattern.rfind('/', wild);
  fs::path root = slash == std::string::npos ? fs::path(".") : fs::path(pattern.substr(0, slash == 0 ? 1 : slash));
  const bool prefix_dot = slash == std::string::npos;
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec)) continue;
    std::string p = it->path().string();
    if (prefix_dot && p.rfind("./", 0) == 0) p = p.substr(2);
    std::string pat = pattern;
    // '**/' matches zero or more folders: try the pattern with and without it.
    bool match = fnmatch(pat.c_str(), p.c_str(), 0) == 0;
    for (size_t pos = pat.find("**/"); !match && pos != std::string::npos; pos = pat.find("**/", pos + 1)) {
      std::string collapsed = pat.substr(0, pos) + pat.substr(pos + 3);
      match = fnmatch(collapsed.c_str(), p.c_str(), 0) == 0;
    }
    if (match) found.push_back(p);
  }
  std::sort(found.begin(), found.end());
  out.insert(out.end(), found.begin(), found.end());
}

static void add_list(std::istream& in, std::vector<std::string>& out) {
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
}

cvt::Result<std::vector<std::string>> expand_inputs(const BatchOptions& o) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const std::string& in : o.inputs) {
    if (in == "-") {
      add_list(std::cin, out);
    } else if (in.size() > 1 && in[0] == '@') {
      std::ifstream f(in.substr(1));
      if (!f) return cvt::Status(cvt::ErrorCode::kIoError, "cannot read list file " + in.substr(1));
      add_list(f, out);
    } else if (fs::is_directory(in, ec)) {
      list_folder(in, o.recursive, out);
    } else if (in.find_first_of("*?[") != std::string::npos && !fs::exists(in, ec)) {
      size_t before = out.size();
      expand_glob(in, out);
      if (out.size() == before) log_warn("pattern '" + in + "' matched no file");
    } else {
      out.push_back(in);  // a file, or a missing one that becomes an error record
    }
  }
  if (!o.shard.empty()) {
    int i = -1, n = -1;
    char slash = 0;
    std::istringstream ss(o.shard);
    ss >> i >> slash >> n;
    if (!ss || slash != '/' || n <= 0 || i < 0 || i >= n)
      return cvt::Status(cvt::ErrorCode::kInvalidArgument, "--shard must be i/n with 0 <= i < n, got '" + o.shard + "'");
    std::vector<std::string> mine;
    for (size_t k = 0; k < out.size(); ++k)
      if (static_cast<int>(k % n) == i) mine.push_back(out[k]);
    out.swap(mine);
  }
  return out;
}

// The records of an earlier JSON Lines output: complete lines only (a killed run
// may leave a torn last line), split into inputs done without error and the rest.
struct EarlierRun {
  std::set<std::string> done;  // source.path of records without error
  std::string kept;            // the complete, error-free lines, for resuming into the same file
};

static EarlierRun read_earlier_run(const std::string& path) {
  EarlierRun r;
  std::ifstream f(path, std::ios::binary);
  std::string line;
  while (std::getline(f, line)) {
    if (f.eof()) break;  // no newline after it: torn by a kill, redo that input
    json rec = json::parse(line, nullptr, false);
    if (rec.is_discarded() || !rec.is_object() || !rec.contains("source") || !rec["source"].is_object()) continue;
    const json& p = rec["source"]["path"];
    if (!p.is_string() || !rec.value("error", json()).is_null()) continue;
    if (r.done.insert(p.get<std::string>()).second) r.kept += line + "\n";
  }
  return r;
}

// One whole record per write(2), so a killed run never leaves half a line behind.
static bool write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

Record make_envelope(const std::string& schema, const std::string& path, size_t index) {
  json r;
  r["schema"] = schema;
  r["tool"] = {{"name", "cvtool"}, {"version", CVTOOL_VERSION}};
  r["source"] = {{"path", path}, {"index", index}, {"width", nullptr}, {"height", nullptr}};
  r["error"] = nullptr;
  return r;
}

Record error_json(const cvt::Status& st) {
  if (st.is_ok()) return nullptr;
  return {{"code", cvt::error_code_name(st.code())}, {"message", st.message()}};
}

cvt::Result<cv::Mat> decode_input(Record& r, const std::string& path, std::chrono::steady_clock::time_point t0,
                                  double* decode_ms) {
  auto img = cvt::load_image(path);
  *decode_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!img.is_ok()) {
    r["error"] = error_json(img.status());
    r["timing_ms"] = {{"decode", *decode_ms}, {"pre", nullptr}, {"infer", nullptr}, {"post", nullptr}, {"total", *decode_ms}};
    return img.status();
  }
  r["source"]["width"] = img.value().cols;
  r["source"]["height"] = img.value().rows;
  return img;
}

bool keep_existing_output(const std::string& path, bool force) {
  std::error_code ec;
  if (force || !fs::exists(path, ec)) return false;
  log_warn(path + " exists, not overwritten (use --force)");
  return true;
}

bool finish_stages(Record& r, const cvt::Status& st, const cvt::StageTimes& times, double decode_ms,
                   std::chrono::steady_clock::time_point t0) {
  const double total = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  r["timing_ms"] = {{"decode", decode_ms}, {"pre", times.pre}, {"infer", times.infer}, {"post", times.post}, {"total", total}};
  if (st.is_ok()) return true;
  r["error"] = error_json(st);
  return false;
}

int run_batch(const BatchOptions& o, const std::vector<std::string>& inputs, const ProcessFn& process) {
  std::error_code ec;
  const bool append = !o.output_file.empty() && !o.skip_done.empty() &&
                      fs::weakly_canonical(o.output_file, ec) == fs::weakly_canonical(o.skip_done, ec);
  if (!o.output_file.empty() && fs::exists(o.output_file, ec) && !o.force && !append) {
    std::cerr << "cvtool: error: " << o.output_file << " exists (use --force to overwrite, or --skip-done "
              << o.output_file << " to resume into it)\n";
    return 2;
  }
  EarlierRun earlier;
  if (!o.skip_done.empty() && fs::exists(o.skip_done, ec)) earlier = read_earlier_run(o.skip_done);
  if (append) {
    // Resuming into the same file: keep its complete good records, drop the torn tail and
    // the error records of inputs about to be retried, so the file ends as one clean run.
    cvt::Status st = cvt::write_file_atomic(o.output_file, earlier.kept);
    if (!st.is_ok()) {
      std::cerr << "cvtool: error: " << st.message() << "\n";
      return 1;
    }
  }
  int fd = -1;
  if (!o.output_file.empty()) {
    fd = ::open(o.output_file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
    if (fd < 0) {
      std::cerr << "cvtool: error: cannot write " << o.output_file << ": " << std::strerror(errno) << "\n";
      return 1;
    }
  }
  struct FdCloser {
    int fd;
    ~FdCloser() {
      if (fd >= 0) ::close(fd);
    }
  } closer{fd};
  bool write_failed = false;
  if (!o.out_dir.empty()) {
    fs::create_directories(o.out_dir, ec);
    if (ec) {
      std::cerr << "cvtool: error: cannot create " << o.out_dir << ": " << ec.message() << "\n";
      return 1;
    }
  }
  const bool show_progress = !o.quiet && (o.progress == "always" || (o.progress == "auto" && ::isatty(2)));

  std::vector<char> skipped(inputs.size(), 0);
  size_t n_skipped = 0;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (earlier.done.count(inputs[i])) skipped[i] = 1, ++n_skipped;
  if (n_skipped) log_info(o, "skipping " + std::to_string(n_skipped) + " inputs done in " + o.skip_done);

  std::mutex mu;
  std::condition_variable cv;
  std::map<size_t, json> ready;  // finished records waiting for their turn
  std::atomic<size_t> next{0};
  size_t written = 0, failed = 0;
  // <stem>.json per input, disambiguated when two inputs share a stem; named over the
  // whole list so that a resumed run gives every input the same name.
  std::vector<std::string> out_names;
  if (!o.out_dir.empty()) {
    std::set<std::string> used;
    for (const std::string& in : inputs) {
      std::string stem = fs::path(in).stem().string();
      std::string name = stem + ".json";
      for (int k = 1; used.count(name); ++k) name = stem + "_" + std::to_string(k) + ".json";
      used.insert(name);
      out_names.push_back(name);
    }
  }

  auto flush_ready = [&] {  // called with mu held
    while (true) {
      auto it = ready.find(written);
      if (it == ready.end()) break;
      json& r = it->second;
      if (r.is_null()) {  // skipped input
        ready.erase(it);
        ++written;
        continue;
      }
      if (!r.value("error", json()).is_null()) ++failed;
      const std::string line = r.dump() + "\n";
      if (fd >= 0) {
        if (!write_failed && !write_all(fd, line)) {
          write_failed = true;
          std::cerr << "cvtool: error: writing " << o.output_file << ": " << std::strerror(errno) << "\n";
        }
      } else {
        std::cout << line << std::flush;
      }
      if (!o.out_dir.empty()) {
        fs::path p = fs::path(o.out_dir) / out_names[written];
        if (fs::exists(p, ec) && !o.force) {
          std::cerr << "cvtool: warning: " << p.string() << " exists, not overwritten (use --force)\n";
        } else {
          cvt::Status st = cvt::write_file_atomic(p.string(), r.dump(2) + "\n");
          if (!st.is_ok()) std::cerr << "cvtool: error: " << st.message() << "\n";
        }
      }
      ready.erase(it);
      ++written;
      if (show_progress) {
        int width = 30, filled = inputs.empty() ? width : static_cast<int>(width * written / inputs.size());
        std::cerr << "\r[" << std::string(filled, '#') << std::string(width - filled, '.') << "] " << written << "/"
                  << inputs.size() << (failed ? " (" + std::to_string(failed) + " failed)" : "") << std::flush;
      }
    }
  };

  auto worker = [&](int id) {
    while (true) {
      size_t i = next.fetch_add(1);
      if (i >= inputs.size()) break;
      json r;
      if (skipped[i]) {  // done by the earlier run: nothing to write, keep the order moving
        std::lock_guard<std::mutex> lock(mu);
        ready.emplace(i, json());
        flush_ready();
        continue;
      }
      try {
        r = process(i, inputs[i], id);
      } catch (const std::exception& e) {
        r = make_envelope("cvtool/1", inputs[i], i);
        r["error"] = {{"code", "internal"}, {"message", e.what()}};
      }
      std::lock_guard<std::mutex> lock(mu);
      ready.emplace(i, std::move(r));
      flush_ready();
    }
  };
  const int jobs = std::max(1, std::min<int>(o.jobs, static_cast<int>(std::max<size_t>(1, inputs.size()))));
  std::vector<std::thread> pool;
  for (int j = 1; j < jobs; ++j) pool.emplace_back(worker, j);
  worker(0);
  for (auto& t : pool) t.join();
  if (show_progress) std::cerr << "\n";
  if (failed) log_info(o, std::to_string(failed) + " of " + std::to_string(inputs.size()) + " inputs failed");
  if (write_failed) return 1;
  return failed ? 3 : 0;
}
