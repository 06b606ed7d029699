// Shared plumbing of every image subcommand: input expansion (files, folders,
// globs, @lists, stdin), sharding, resuming, parallel jobs, ordered JSON Lines
// output, per-input files, progress and exit codes.
#pragma once
#include <CLI/CLI.hpp>
#include <chrono>
#include <opencv2/core.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "tasks/common/stage_times.h"

// Output records keep their keys in insertion order (schema, tool, source, ... first).
using Record = nlohmann::ordered_json;

struct BatchOptions {
  std::vector<std::string> inputs;
  bool recursive = false;
  std::string output_file;   // -o: JSON Lines file instead of stdout
  std::string out_dir;       // --out-dir: one <stem>.json per input
  bool force = false;        // overwrite existing output files
  int jobs = 1;              // images in parallel
  int threads = 0;           // threads inside one image (0 = all cores / jobs)
  std::string shard;         // "i/n"
  std::string skip_done;     // JSONL of an earlier run: skip inputs it processed without error
  std::string progress = "auto";
  bool quiet = false;
  int verbose = 0;
};

void add_batch_options(CLI::App* cmd, BatchOptions& o);

// Expands inputs in order: folders sorted by name (recursing with -r), globs
// (quoted, with * ? [..] and **), @list files, "-" for paths on stdin.
cvt::Result<std::vector<std::string>> expand_inputs(const BatchOptions& o);

// The record every image task starts from (schema, tool, source, model ...).
Record make_envelope(const std::string& schema, const std::string& path, size_t index);
Record error_json(const cvt::Status& st);

// Decodes an input image for a task record (decode time measured from t0). On success
// fills source.width/height; on failure sets the record's error and decode-only
// timing_ms (pre/infer/post null), so the caller only has to return the record.
cvt::Result<cv::Mat> decode_input(Record& r, const std::string& path, std::chrono::steady_clock::time_point t0,
                                  double* decode_ms);

// After a task ran on a decoded input: sets timing_ms (decode, pre, infer, post, and total
// since t0) and, when `st` failed, the record's error. Returns st.is_ok(); false means the
// record is complete and the caller only has to return it.
bool finish_stages(Record& r, const cvt::Status& st, const cvt::StageTimes& times, double decode_ms,
                   std::chrono::steady_clock::time_point t0);

// True, with a warning on stderr, when `path` exists and --force was not given: the
// caller keeps that file. Called from concurrent jobs, so it shares no state.
bool keep_existing_output(const std::string& path, bool force);

// Runs process(index, path, worker) for every input over `jobs` workers and
// writes the returned records in input order. Returns the exit code:
// 0 all fine, 3 when some record has a non-null "error".
using ProcessFn = std::function<Record(size_t index, const std::string& path, int worker)>;
int run_batch(const BatchOptions& o, const std::vector<std::string>& inputs, const ProcessFn& process);

// Threads per job so that jobs x threads does not oversubscribe the machine.
int threads_per_job(const BatchOptions& o);

// Logging to stderr honouring -q / -v.
void log_info(const BatchOptions& o, const std::string& msg);
void log_warn(const std::string& msg);
