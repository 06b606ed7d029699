// Batch safety end to end: a folder full of hostile files processes every good
// one and reports every bad one; outputs are never overwritten without --force;
// a run killed midway and resumed with --skip-done ends with the same output as
// an uninterrupted run. (The table of bad inputs lives in docs/robustness.md.)
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "cli_util.h"
#include "test_util.h"

using namespace cvt::testing;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

bool have_models() { return exists(mirror_dir() + "/classify/tiny_darknet_from_ml5.onnx"); }
std::string img(const std::string& name) { return shared_dir() + "/data/images/" + name; }

std::string read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void write_all(const std::string& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

// Records without the fields that legitimately differ between runs (timings).
std::vector<json> stable_records(const std::string& jsonl) {
  std::vector<json> out;
  std::istringstream in(jsonl);
  std::string line;
  while (std::getline(in, line)) {
    json r = json::parse(line);
    r.erase("timings");
    r.erase("timing_ms");
    out.push_back(r);
  }
  return out;
}

}  // namespace

TEST_CASE("batch safety: a folder of corrupt, truncated, empty, huge and mislabelled files", "[robust][batch][cli]") {
  if (!have_models()) SKIP("model mirror not found at " + mirror_dir());
  const std::string dir = temp_dir("hostile");
  fs::copy_file(img("dog.jpg"), dir + "/a_good.jpg");
  fs::copy_file(img("cat.bmp"), dir + "/b_good.bmp");
  fs::copy_file(img("dog.jpg"), dir + "/c_jpeg_named.png");  // content decides, not the extension
  write_all(dir + "/d_corrupt.jpg", "\xff\xd8\xff\xe0 garbage after a JPEG signature");
  const std::string dog = read_all(img("dog.jpg"));
  write_all(dir + "/e_truncated.jpg", dog.substr(0, 600));
  write_all(dir + "/f_empty.jpg", "");
  // A PNG header declaring 100000 x 100000 pixels: rejected from the header, before decoding.
  // Signature, IHDR length and type, width, height, depth/colour/..., CRC (not checked): 33 bytes.
  write_all(dir + "/g_huge.png",
            std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\x01\x86\xa0\0\x01\x86\xa0\x08\x02\0\0\0\0\0\0\0", 33));
  write_all(dir + "/h_text.jpg", "this is not an image\n");
  fs::copy_file(img("dog.jpg"), dir + "/i_unreadable.jpg");
  ::chmod((dir + "/i_unreadable.jpg").c_str(), 0);
  const bool root = ::geteuid() == 0;  // root reads any file: then it is a good one
  ::mkfifo((dir + "/j_fifo.jpg").c_str(), 0644);  // not listed from a folder; named explicitly it must not block

  auto r = run_cli("classify -q --jobs 2 '" + dir + "' '" + dir + "/j_fifo.jpg' '" + dir + "/k_missing.jpg'", registry_env());
  INFO(r.err);
  CHECK(r.code == 3);
  auto recs = r.records();
  std::map<std::string, json> by_name;
  for (const json& rec : recs) by_name[fs::path(rec["source"]["path"].get<std::string>()).filename().string()] = rec;
  REQUIRE(recs.size() == 11);  // 9 listed files + the fifo + the missing file, one record each
  auto code = [&](const std::string& n) { return by_name.at(n)["error"].is_null() ? std::string("ok") : by_name.at(n)["error"]["code"].get<std::string>(); };
  CHECK(code("a_good.jpg") == "ok");
  CHECK(code("b_good.bmp") == "ok");
  CHECK(code("c_jpeg_named.png") == "ok");
  CHECK(code("d_corrupt.jpg") == "decode_failed");
  CHECK(code("e_truncated.jpg") == "decode_failed");
  CHECK(code("f_empty.jpg") == "decode_failed");
  CHECK(code("g_huge.png") == "limit_exceeded");
  CHECK(code("h_text.jpg") == "decode_failed");
  CHECK(code("i_unreadable.jpg") == (root ? "ok" : "io_error"));
  CHECK(code("j_fifo.jpg") == "io_error");
  CHECK(code("k_missing.jpg") == "io_error");
  for (const json& rec : recs) {
    if (!rec["error"].is_null()) CHECK(!rec["error"]["message"].get<std::string>().empty());
  }
  // Records stay in input order: the folder sorted by name, then the explicit files.
  CHECK(fs::path(recs.front()["source"]["path"].get<std::string>()).filename() == "a_good.jpg");
  CHECK(fs::path(recs.back()["source"]["path"].get<std::string>()).filename() == "k_missing.jpg");
  ::chmod((dir + "/i_unreadable.jpg").c_str(), 0644);
}

TEST_CASE("batch safety: existing outputs are kept unless --force", "[robust][batch][cli]") {
  if (!have_models()) SKIP("model mirror not found at " + mirror_dir());
  const std::string dir = temp_dir("noclobber");
  write_all(dir + "/out.jsonl", "precious\n");
  fs::create_directories(dir + "/per");
  write_all(dir + "/per/dog.json", "precious\n");
  auto r = run_cli("classify -q -o '" + dir + "/out.jsonl' '" + img("dog.jpg") + "'", registry_env());
  CHECK(r.code == 2);
  CHECK(r.err.find("--force") != std::string::npos);
  CHECK(read_all(dir + "/out.jsonl") == "precious\n");
  r = run_cli("classify -q --out-dir '" + dir + "/per' '" + img("dog.jpg") + "'", registry_env());
  CHECK(r.code == 0);
  CHECK(read_all(dir + "/per/dog.json") == "precious\n");
  CHECK(r.err.find("not overwritten") != std::string::npos);
  r = run_cli("classify -q --force -o '" + dir + "/out.jsonl' --out-dir '" + dir + "/per' '" + img("dog.jpg") + "'", registry_env());
  CHECK(r.code == 0);
  CHECK(json::parse(read_all(dir + "/per/dog.json"))["error"].is_null());
  CHECK(stable_records(read_all(dir + "/out.jsonl")).size() == 1);
  // No temporary files left behind by the atomic writes.
  for (const auto& e : fs::directory_iterator(dir + "/per")) CHECK(e.path().filename() == "dog.json");
}

TEST_CASE("batch safety: a run killed midway and resumed with --skip-done equals an uninterrupted run", "[robust][batch][cli]") {
  if (!have_models()) SKIP("model mirror not found at " + mirror_dir());
  const std::string dir = temp_dir("resume");
  fs::create_directories(dir + "/in");
  const std::vector<std::string> samples = {"dog.jpg", "eagle.jpg", "cat.bmp", "giraffe.jpg", "horses.jpg"};
  for (int i = 0; i < 60; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "/in/img%03d", i);
    const std::string& s = samples[i % samples.size()];
    fs::copy_file(img(s), dir + name + fs::path(s).extension().string());
  }
  write_all(dir + "/in/img999.jpg", "broken");  // a failed input is retried on resume, not duplicated
  const std::string base = "classify -q --threads 1 ";
  auto full = run_cli(base + "-o '" + dir + "/full.jsonl' '" + dir + "/in'", registry_env());
  REQUIRE(full.code == 3);

  // Start the same run, SIGKILL it once it has written 10 records.
  const std::string cmd = registry_env() + " '" + cvtool_binary() + "' " + base + "-o '" + dir + "/part.jsonl' '" + dir +
                          "/in' 2>/dev/null & pid=$!; while kill -0 $pid 2>/dev/null && [ \"$(cat '" + dir +
                          "/part.jsonl' 2>/dev/null | wc -l)\" -lt 10 ]; do sleep 0.005; done; kill -9 $pid; wait $pid";
  const int killed = std::system(cmd.c_str());
  const size_t lines_at_kill = stable_records(read_all(dir + "/part.jsonl")).size();
  INFO("lines when killed: " << lines_at_kill << ", shell status " << killed);
  CHECK(lines_at_kill >= 10);
  CHECK(lines_at_kill < 61);  // really interrupted
  // A torn last line, as a kill during a write on another system could leave.
  { std::ofstream(dir + "/part.jsonl", std::ios::app) << "{\"schema\":\"cvtool.classify/1\",\"source\":{\"pa"; }

  auto resumed = run_cli(base + "--skip-done '" + dir + "/part.jsonl' -o '" + dir + "/part.jsonl' '" + dir + "/in'",
                         registry_env());
  INFO(resumed.err);
  CHECK(resumed.code == 3);
  auto a = stable_records(read_all(dir + "/full.jsonl")), b = stable_records(read_all(dir + "/part.jsonl"));
  REQUIRE(a.size() == 61);
  REQUIRE(b.size() == 61);
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("record " << i);
    CHECK(a[i] == b[i]);
  }
}
