// The shared batch plumbing through `classify` with the small MNIST model:
// globs, @lists, stdin, shards, resuming, -o / --out-dir, contract checks.
#include "cvtool_test_paths.h"
#include <filesystem>
#include <fstream>
#include <set>

#include "cli_util.h"
#include "test_util.h"

using namespace cvt::testing;
namespace fs = std::filesystem;

namespace {

bool have_mnist() { return exists(mirror_dir() + "/classify/opt-mnist.onnx"); }

// A folder of copies of the shared sample images, in two levels.
std::string image_tree() {
  std::string dir = temp_dir("tree");
  fs::create_directories(dir + "/sub");
  int i = 0;
  for (const auto& e : fs::directory_iterator(shared_dir() + "/data/images")) {
    std::string target = (i++ % 2 ? dir + "/sub/" : dir + "/") + e.path().filename().string();
    fs::copy_file(e.path(), target);
  }
  return dir;
}

std::set<std::string> paths_of(const CliResult& r) {
  std::set<std::string> s;
  for (const auto& rec : r.records()) s.insert(rec["source"]["path"].get<std::string>());
  return s;
}

}  // namespace

TEST_CASE("batch: folders, -r, globs, @lists and stdin expand to the same files", "[batch][cli]") {
  if (!have_mnist()) SKIP("model mirror not found");
  std::string dir = image_tree();
  const std::string m = "classify --model opt-mnist -q ";
  auto flat = run_cli(m + "'" + dir + "'", registry_env());
  auto rec = run_cli(m + "-r '" + dir + "'", registry_env());
  auto glob = run_cli(m + "'" + dir + "/**/*.*'", registry_env());
  INFO(flat.err << rec.err << glob.err);
  REQUIRE(flat.code == 0);
  REQUIRE(rec.code == 0);
  CHECK(rec.records().size() == 13);
  CHECK(flat.records().size() < rec.records().size());
  CHECK(paths_of(glob) == paths_of(rec));
  {
    std::ofstream list(dir + "/list.txt");
    for (const auto& p : paths_of(rec)) list << p << "\n";
  }
  auto at = run_cli(m + "'@" + dir + "/list.txt'", registry_env());
  CHECK(paths_of(at) == paths_of(rec));
  auto stdin_run = run_cli(m + "- < '" + dir + "/list.txt'", registry_env());
  CHECK(paths_of(stdin_run) == paths_of(rec));
  // The records come in input order with their index.
  auto recs = at.records();
  for (size_t i = 0; i < recs.size(); ++i) CHECK(recs[i]["source"]["index"] == i);
}

TEST_CASE("batch: shards split the inputs exactly; --skip-done resumes", "[batch][cli]") {
  if (!have_mnist()) SKIP("model mirror not found");
  std::string dir = image_tree();
  const std::string m = "classify --model opt-mnist -q -r '" + dir + "' ";
  auto all = run_cli(m, registry_env());
  std::set<std::string> united;
  size_t total = 0;
  for (int i = 0; i < 3; ++i) {
    auto part = run_cli(m + "--shard " + std::to_string(i) + "/3", registry_env());
    REQUIRE(part.code == 0);
    auto p = paths_of(part);
    total += p.size();
    united.insert(p.begin(), p.end());
  }
  CHECK(total == all.records().size());
  CHECK(united == paths_of(all));
  CHECK(run_cli(m + "--shard 3/3").code == 2);

  // Resume: a first run over a shard, then the whole set into the same file.
  std::string out = dir + "/out.jsonl";
  REQUIRE(run_cli(m + "--shard 0/2 -o '" + out + "'", registry_env()).code == 0);
  auto second = run_cli(m + "-o '" + out + "' --skip-done '" + out + "'", registry_env());
  REQUIRE(second.code == 0);
  std::ifstream f(out);
  std::multiset<std::string> seen;
  std::string line;
  while (std::getline(f, line)) seen.insert(nlohmann::json::parse(line)["source"]["path"].get<std::string>());
  CHECK(seen.size() == all.records().size());
  CHECK(std::set<std::string>(seen.begin(), seen.end()) == paths_of(all));
  // An existing output is never overwritten without --force.
  CHECK(run_cli(m + "-o '" + out + "'", registry_env()).code == 2);
  CHECK(run_cli(m + "-o '" + out + "' --force", registry_env()).code == 0);
}

TEST_CASE("batch: --out-dir writes one JSON per input", "[batch][cli]") {
  if (!have_mnist()) SKIP("model mirror not found");
  std::string dir = image_tree();
  std::string out = dir + "/json";
  auto r = run_cli("classify --model opt-mnist -q -r '" + dir + "' --out-dir '" + out + "'", registry_env());
  REQUIRE(r.code == 0);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(out)) {
    ++files;
    std::ifstream f(e.path());
    auto j = nlohmann::json::parse(f);
    CHECK(j["topk"].size() == 5);
  }
  CHECK(files == r.records().size());
}

TEST_CASE("classify: a manifest whose input contract does not match the model is refused", "[models][cli]") {
  if (!have_mnist()) SKIP("model mirror not found");
  std::string dir = temp_dir("manifests");
  std::ifstream in(std::string(CVTOOL_SOURCE_DIR) + "/models/opt-mnist.json");
  auto j = nlohmann::json::parse(in);
  j["input"]["size"] = {32, 32};
  std::ofstream(dir + "/opt-mnist.json") << j.dump(2);
  auto r = run_cli("classify --model opt-mnist --manifests '" + dir + "' '" + shared_dir() + "/data/images/dog.jpg'", registry_env());
  CHECK(r.code == 4);
  CHECK(r.err.find("manifest") != std::string::npos);
  CHECK(r.err.find("Input3") != std::string::npos);
}
