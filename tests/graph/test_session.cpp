// Importer and runtime: errors name the node, the planned arena never changes
// results, dynamic shapes re-plan, untrusted sizes are bounded.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "graph/memory_plan.h"
#include "graph/session.h"
#include "io/npy.h"
#include "io/onnx/importer.h"
#include "onnx_builder.h"
#include "test_util.h"

using namespace cvt;
using cvt::testing::OnnxBuilder;

namespace {

// x -> Relu -> Add(x) -> Sigmoid -> Mul(relu) -> Reshape -> Relu: intermediates
// with overlapping lifetimes and an alias, so a wrong plan would corrupt output.
std::string chain_model(std::vector<int64_t> in_dims) {
  OnnxBuilder b(13);
  b.input("x", in_dims);
  b.initializer_i64("shape", {2}, {0, -1});
  b.node("Relu", {"x"}, {"r"});
  b.node("Add", {"r", "x"}, {"a"});
  b.node("Sigmoid", {"a"}, {"s"});
  b.node("Mul", {"s", "r"}, {"m"});
  b.node("Reshape", {"m", "shape"}, {"flat"});
  b.node("Relu", {"flat"}, {"y"});
  b.output("y");
  return b.bytes();
}

std::vector<float> expected_chain(const Tensor& x) {
  std::vector<float> out;
  for (int64_t i = 0; i < x.numel(); ++i) {
    float v = x.data<float>()[i];
    float r = v > 0 ? v : 0;
    float s = 1.f / (1.f + std::exp(-(r + v)));
    out.push_back(std::max(0.f, s * r));
  }
  return out;
}

}  // namespace

TEST_CASE("session: planned arena gives the same results as heap tensors", "[graph][session]") {
  auto model = import_onnx_bytes(chain_model({2, 3, -1, -1}), ".", "chain");
  REQUIRE_OK(model);
  for (bool plan : {false, true}) {
    SessionOptions so;
    so.plan_memory = plan;
    so.threads = 2;
    auto s = Session::create(model.value(), so);
    REQUIRE_OK(s);
    // Several shapes in a row: each change re-plans; repeats use the arena.
    for (Shape shape : {Shape{2, 3, 5, 7}, Shape{2, 3, 5, 7}, Shape{2, 3, 13, 1}, Shape{2, 3, 5, 7}}) {
      Tensor x = cvt::testing::random_tensor(shape, 7);
      auto out = s.value()->run({x});
      REQUIRE_OK(out);
      REQUIRE(out.value()[0].shape() == Shape{2, 3 * shape[2] * shape[3]});
      auto want = expected_chain(x);
      for (size_t i = 0; i < want.size(); ++i) REQUIRE(out.value()[0].data<float>()[i] == Approx(want[i]).margin(1e-6));
    }
    if (plan) CHECK(s.value()->arena_bytes() > 0);
  }
}

TEST_CASE("session: an output's buffer is reused once the caller lets go of it, never while held", "[graph][session]") {
  auto model = import_onnx_bytes(chain_model({2, 3, -1, -1}), ".", "chain");
  REQUIRE_OK(model);
  auto s = Session::create(model.value(), SessionOptions{});
  REQUIRE_OK(s);
  const Tensor x1 = cvt::testing::random_tensor({2, 3, 5, 7}, 7), x2 = cvt::testing::random_tensor({2, 3, 5, 7}, 8);
  auto first = s.value()->run({x1});
  REQUIRE_OK(first);
  const void* first_data = first.value()[0].raw();
  // Held: the next run writes elsewhere, and the held values stay x1's.
  auto second = s.value()->run({x2});
  REQUIRE_OK(second);
  CHECK(second.value()[0].raw() != first_data);
  const std::vector<float> want1 = expected_chain(x1), want2 = expected_chain(x2);
  for (size_t i = 0; i < want1.size(); ++i) REQUIRE(first.value()[0].data<float>()[i] == Approx(want1[i]).margin(1e-6));
  // Released: the run after reuses the buffer it had, and the values are the new ones.
  // An allocation of the same size in between must not get that buffer (malloc
  // would hand it out again had it been freed).
  const void* second_data = second.value()[0].raw();
  second = Status(ErrorCode::kInternal, "released");
  const Tensor same_size(DType::kFloat32, {2, 105});
  CHECK(same_size.raw() != second_data);
  auto third = s.value()->run({x1});
  REQUIRE_OK(third);
  CHECK(third.value()[0].raw() == second_data);
  for (size_t i = 0; i < want1.size(); ++i) REQUIRE(third.value()[0].data<float>()[i] == Approx(want1[i]).margin(1e-6));
}

TEST_CASE("session: wrong input shape or dtype is a clear error", "[graph][session]") {
  auto model = import_onnx_bytes(chain_model({1, 3, 4, 4}), ".", "chain");
  REQUIRE_OK(model);
  auto s = Session::create(model.value(), {});
  REQUIRE_OK(s);
  auto r = s.value()->run({Tensor(DType::kFloat32, {1, 3, 5, 4})});
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == ErrorCode::kShapeMismatch);
  CHECK_THAT(r.status().message(), Catch::Contains("'x'") && Catch::Contains("[1,3,4,4]"));
  auto r2 = s.value()->run({Tensor(DType::kInt64, {1, 3, 4, 4})});
  CHECK_FALSE(r2.is_ok());
  auto r3 = s.value()->run_named({{"nope", Tensor(DType::kFloat32, {1, 3, 4, 4})}});
  CHECK(r3.status().code() == ErrorCode::kNotFound);
}

TEST_CASE("importer: unsupported op names the node, op and opset", "[graph][importer]") {
  OnnxBuilder b(11);
  b.input("x", {1, 4});
  b.node("FancyNewOp", {"x"}, {"y"}, "my_node_7");
  b.output("y");
  auto m = import_onnx_bytes(b.bytes(), ".", "model.onnx");
  REQUIRE_FALSE(m.is_ok());
  CHECK(m.status().code() == ErrorCode::kUnsupported);
  CHECK_THAT(m.status().message(),
             Catch::Contains("my_node_7") && Catch::Contains("FancyNewOp") && Catch::Contains("opset 11") && Catch::Contains("model.onnx"));
}

TEST_CASE("importer: corrupt, truncated and inconsistent files fail cleanly", "[graph][importer]") {
  std::string good = chain_model({1, 3, 4, 4});
  SECTION("garbage") {
    auto m = import_onnx_bytes("this is not protobuf at all \x01\x02\x03", ".", "junk.onnx");
    CHECK_FALSE(m.is_ok());
  }
  SECTION("every truncation is an error or a valid model, never a crash") {
    for (size_t len = 0; len < good.size(); len += 3) {
      auto m = import_onnx_bytes(good.substr(0, len), ".", "cut.onnx");
      if (m.is_ok()) continue;  // a prefix can be a valid smaller protobuf
      CHECK_FALSE(m.status().message().empty());
    }
  }
  SECTION("initializer smaller than its shape") {
    OnnxBuilder b(13);
    b.input("x", {4});
    b.initializer("w", {1000000, 1000}, {1.f, 2.f});
    b.node("Add", {"x", "w"}, {"y"});
    b.output("y");
    auto m = import_onnx_bytes(b.bytes(), ".", "small.onnx");
    REQUIRE_FALSE(m.is_ok());
    CHECK_THAT(m.status().message(), Catch::Contains("'w'"));
  }
  SECTION("absurd dims are bounded before allocation") {
    OnnxBuilder b(13);
    b.input("x", {4});
    b.initializer("w", {int64_t(1) << 40, int64_t(1) << 40}, {});
    b.node("Add", {"x", "w"}, {"y"});
    b.output("y");
    auto m = import_onnx_bytes(b.bytes(), ".", "huge.onnx");
    REQUIRE_FALSE(m.is_ok());
    CHECK(m.status().code() == ErrorCode::kLimitExceeded);
  }
  SECTION("undefined input and cycles") {
    OnnxBuilder b(13);
    b.input("x", {4});
    b.node("Relu", {"nowhere"}, {"y"}, "reader");
    b.output("y");
    auto m = import_onnx_bytes(b.bytes(), ".", "m.onnx");
    REQUIRE_FALSE(m.is_ok());
    CHECK_THAT(m.status().message(), Catch::Contains("reader") && Catch::Contains("nowhere"));
    OnnxBuilder c(13);
    c.input("x", {4});
    c.node("Add", {"x", "b"}, {"a"});
    c.node("Relu", {"a"}, {"b"});
    c.output("b");
    auto m2 = import_onnx_bytes(c.bytes(), ".", "cycle.onnx");
    REQUIRE_FALSE(m2.is_ok());
    CHECK_THAT(m2.status().message(), Catch::Contains("cycle"));
  }
  SECTION("missing file and empty file") {
    CHECK(import_onnx_file("/nonexistent/model.onnx").status().code() == ErrorCode::kIoError);
    std::string p = std::filesystem::temp_directory_path() / "cvtool_empty.onnx";
    std::ofstream(p).close();
    CHECK_FALSE(import_onnx_file(p).is_ok());
  }
}

TEST_CASE("constant folding removes shape arithmetic on initializers", "[graph][passes]") {
  OnnxBuilder b(13);
  b.input("x", {2, 6});
  b.initializer_i64("s", {2}, {3, 4});
  b.node("Identity", {"s"}, {"s2"});
  b.node("Reshape", {"x", "s2"}, {"y"});
  b.node("Relu", {"y"}, {"unused"});  // dead: not an output
  b.output("y");
  auto folded = import_onnx_bytes(b.bytes(), ".", "f");
  REQUIRE_OK(folded);
  CHECK(folded.value()->graph->nodes.size() == 1);  // only Reshape remains
  OnnxImportOptions plain;
  plain.optimize = false;
  auto unfolded = import_onnx_bytes(b.bytes(), ".", "f", plain);
  REQUIRE_OK(unfolded);
  CHECK(unfolded.value()->graph->nodes.size() == 3);
  Tensor x = cvt::testing::random_tensor({2, 6}, 3);
  auto s1 = Session::create(folded.value(), {});
  auto s2 = Session::create(unfolded.value(), {});
  auto o1 = s1.value()->run({x});
  auto o2 = s2.value()->run({x});
  REQUIRE_OK(o1);
  REQUIRE_OK(o2);
  CHECK_TENSOR_NEAR(o1.value()[0], o2.value()[0], 0, 0);
  CHECK(o1.value()[0].shape() == Shape{3, 4});
}

TEST_CASE("npy round trip and corrupt npy", "[io][npy]") {
  std::string p = std::filesystem::temp_directory_path() / "cvtool_rt.npy";
  Tensor t = cvt::testing::random_tensor({2, 3, 5}, 1);
  REQUIRE(write_npy(p, t).is_ok());
  auto back = read_npy(p);
  REQUIRE_OK(back);
  CHECK_TENSOR_NEAR(back.value(), t, 0, 0);
  Tensor i64 = Tensor::from_vector<int64_t>({3}, {1, -2, 3});
  REQUIRE(write_npy(p, i64).is_ok());
  CHECK(read_npy(p).value().to_int64_vector() == std::vector<int64_t>{1, -2, 3});
  CHECK_FALSE(parse_npy("\x93NUMPY\x01\x00", "x").is_ok());
  CHECK_FALSE(parse_npy(std::string("\x93NUMPY\x01\x00\x20\x00{'descr': '<f4', 'shape': (9999999,), }", 42), "x").is_ok());
}

TEST_CASE("importer: external data files are read, and may not escape the model folder", "[graph][importer]") {
  namespace fs = std::filesystem;
  std::string dir = (fs::temp_directory_path() / "cvtool_extdata").string();
  fs::create_directories(dir);
  std::vector<float> w = {1.5f, -2.f, 3.25f, 4.f};
  {
    std::ofstream f(dir + "/weights.bin", std::ios::binary);
    float pad = 0;
    f.write(reinterpret_cast<const char*>(&pad), 4);  // data starts at offset 4
    f.write(reinterpret_cast<const char*>(w.data()), 16);
  }
  auto make = [&](const std::string& location) {
    OnnxBuilder b(13);
    b.input("x", {4});
    auto* t = b.graph().add_initializer();
    t->set_name("w");
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(4);
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* kv = t->add_external_data();
    kv->set_key("location");
    kv->set_value(location);
    kv = t->add_external_data();
    kv->set_key("offset");
    kv->set_value("4");
    b.node("Add", {"x", "w"}, {"y"});
    b.output("y");
    return b.bytes();
  };
  auto m = import_onnx_bytes(make("weights.bin"), dir, "ext.onnx");
  REQUIRE_OK(m);
  auto s = Session::create(m.value(), {});
  auto out = s.value()->run({Tensor::from_vector<float>({4}, {1, 1, 1, 1})});
  REQUIRE_OK(out);
  CHECK(out.value()[0].to_float_vector() == std::vector<float>{2.5f, -1.f, 4.25f, 5.f});
  CHECK_FALSE(import_onnx_bytes(make("../etc/passwd"), dir, "ext.onnx").is_ok());
  CHECK_FALSE(import_onnx_bytes(make("/etc/passwd"), dir, "ext.onnx").is_ok());
  CHECK_FALSE(import_onnx_bytes(make("missing.bin"), dir, "ext.onnx").is_ok());
}

static std::vector<float> values_of(int64_t n, uint32_t seed) {
  Tensor t = cvt::testing::random_tensor({n}, seed);
  return std::vector<float>(t.data<float>(), t.data<float>() + n);
}

TEST_CASE("import: weights freed after packing give the same outputs and keep their shapes", "[graph][session]") {
  // Conv (packed im2col), Conv 3x3 (Winograd: keeps W), a depthwise conv (never
  // packed: keeps W), Gemm and MatMul (packed B). The first conv's W is also a
  // graph output, so it must stay.
  OnnxBuilder b(13);
  b.input("x", {1, 8, 6, 6});
  b.initializer("w1", {8, 8, 1, 1}, values_of(64, 1));
  b.initializer("w3", {8, 8, 3, 3}, values_of(576, 2));
  b.initializer("wd", {8, 1, 3, 3}, values_of(72, 3));
  b.initializer_i64("flat", {2}, {1, -1});
  b.initializer("gb", {288, 5}, values_of(1440, 4));
  b.initializer("mb", {5, 3}, values_of(15, 5));
  b.node("Conv", {"x", "w1"}, {"c1"});
  auto& c3 = b.node("Conv", {"c1", "w3"}, {"c3"});
  OnnxBuilder::attr_ints(c3, "pads", {1, 1, 1, 1});
  auto& dw = b.node("Conv", {"c3", "wd"}, {"cd"});
  OnnxBuilder::attr_ints(dw, "pads", {1, 1, 1, 1});
  OnnxBuilder::attr_int(dw, "group", 8);
  b.node("Reshape", {"cd", "flat"}, {"f"});
  b.node("Gemm", {"f", "gb"}, {"g"});
  b.node("MatMul", {"g", "mb"}, {"y"});
  b.output("y");
  b.output("w1");
  const std::string bytes = b.bytes();
  Tensor x = cvt::testing::random_tensor({1, 8, 6, 6}, 9);

  // One session per call, so nothing packed by an earlier run is reused.
  auto run_once = [&](const std::shared_ptr<Model>& m, const SessionOptions& so) {
    auto s = Session::create(m, so);
    REQUIRE_OK(s);
    auto out = s.value()->run({x});
    REQUIRE_OK(out);
    REQUIRE(out.value().size() == 2);
    return out.value();
  };

  OnnxImportOptions keep;
  keep.release_packed_weights = false;
  auto kept = import_onnx_bytes(bytes, ".", "kept", keep);
  REQUIRE_OK(kept);
  SessionOptions ref_opts;
  ref_opts.use_reference = true;
  const std::vector<Tensor> want = run_once(kept.value(), ref_opts);
  const std::vector<Tensor> fast_kept = run_once(kept.value(), {});
  CHECK_TENSOR_NEAR(fast_kept[0], want[0], 1e-4, 1e-4);

  auto model = import_onnx_bytes(bytes, ".", "released");  // releases by default
  REQUIRE_OK(model);
  const Graph& g = *model.value()->graph;
  for (int threads : {1, 2}) {
    SessionOptions so;
    so.threads = threads;
    const std::vector<Tensor> got = run_once(model.value(), so);
    CHECK_TENSOR_NEAR(got[0], fast_kept[0], 0, 0);
    CHECK_TENSOR_NEAR(got[1], fast_kept[1], 0, 0);
  }
  auto released = [&](const char* name) {
    const auto& c = g.constant(g.find_value(name));
    REQUIRE(c);
    return is_released(*c);
  };
  CHECK(released("gb"));
  CHECK(released("mb"));
  CHECK_FALSE(released("w1"));  // also a graph output
  CHECK_FALSE(released("w3"));  // 3x3: Winograd or im2col is packed at first run, from W
  CHECK_FALSE(released("wd"));  // depthwise reads W directly
  CHECK(g.constant(g.find_value("gb"))->shape() == Shape{288, 5});

  // The reference kernels need the freed weights: a clear error, not a crash.
  auto s_ref = Session::create(model.value(), ref_opts);
  REQUIRE_OK(s_ref);
  auto bad = s_ref.value()->run({x});
  REQUIRE_FALSE(bad.is_ok());
  CHECK_THAT(bad.status().message(), Catch::Contains("freed after packing"));
}

TEST_CASE("session: Concat inputs planned in place give the same results, and only where allowed", "[graph][session]") {
  // a = Relu(x), b = Sigmoid(x), read again after the Concats (Mul), so their
  // slices must stay intact while p and q, made after the Concat, look for room
  // in the arena; x is a graph input (copied, not planned); the
  // axis-2 Concat has two channels outside its axis (copied); m is a graph output
  // concatenated with itself (copied).
  OnnxBuilder bld(13);
  bld.input("x", {1, 2, 4, 4});
  bld.node("Relu", {"x"}, {"a"});
  bld.node("Sigmoid", {"x"}, {"b"});
  OnnxBuilder::attr_int(bld.node("Concat", {"a", "b", "x"}, {"c"}, "channels"), "axis", 1);
  bld.node("Neg", {"c"}, {"e"});
  OnnxBuilder::attr_int(bld.node("Concat", {"a", "b"}, {"f"}, "rows"), "axis", 2);
  bld.node("Exp", {"x"}, {"p"});
  bld.node("Mul", {"p", "p"}, {"q"});
  bld.node("Mul", {"b", "q"}, {"bq"});  // needs q: runs after p and q whatever the node order
  bld.node("Add", {"bq", "a"}, {"g"});
  bld.node("Abs", {"x"}, {"m"});
  OnnxBuilder::attr_int(bld.node("Concat", {"m", "m"}, {"k"}, "twice"), "axis", 1);
  for (const char* out : {"e", "f", "g", "m", "k"}) bld.output(out);
  auto model = import_onnx_bytes(bld.bytes(), ".", "concat");
  REQUIRE_OK(model);
  Tensor x = cvt::testing::random_tensor({1, 2, 4, 4}, 3, -3.f, 3.f);
  const float* xv = x.data<float>();
  auto relu = [](float v) { return v > 0 ? v : 0.f; };
  auto sig = [](float v) { return 1.f / (1.f + std::exp(-v)); };
  std::vector<float> want_e, want_f, want_g, want_k;
  for (int part = 0; part < 3; ++part)
    for (int i = 0; i < 32; ++i) want_e.push_back(-(part == 0 ? relu(xv[i]) : part == 1 ? sig(xv[i]) : xv[i]));
  for (int ch = 0; ch < 2; ++ch)
    for (int part = 0; part < 2; ++part)
      for (int i = 0; i < 16; ++i) want_f.push_back(part == 0 ? relu(xv[ch * 16 + i]) : sig(xv[ch * 16 + i]));
  for (int i = 0; i < 32; ++i) want_g.push_back(sig(xv[i]) * (std::exp(xv[i]) * std::exp(xv[i])) + relu(xv[i]));
  for (int rep = 0; rep < 2; ++rep)
    for (int i = 0; i < 32; ++i) want_k.push_back(std::fabs(xv[i]));
  SessionOptions so;
  so.threads = 2;
  so.profile = true;
  auto s = Session::create(model.value(), so);
  REQUIRE_OK(s);
  for (int run = 0; run < 3; ++run) {  // the first run records, the next ones use the plan
    CAPTURE(run);
    auto out = s.value()->run({x});
    REQUIRE_OK(out);
    auto check = [](const Tensor& t, const std::vector<float>& want) {
      REQUIRE(t.numel() == static_cast<int64_t>(want.size()));
      for (size_t i = 0; i < want.size(); ++i)
        REQUIRE(t.data<float>()[i] == Approx(want[i]).epsilon(1e-5).margin(1e-6));
    };
    check(out.value()[0], want_e);
    check(out.value()[1], want_f);
    check(out.value()[2], want_g);
    check(out.value()[4], want_k);
    if (run == 0) continue;
    std::map<std::string, std::string> impl;
    for (const NodeProfile& p : s.value()->last_profile()) impl[p.name] = p.impl;
    CHECK(impl["channels"] == "concat_partly_in_place");  // a and b in place, x copied
    CHECK(impl["rows"] == "concat_copy");
    CHECK(impl["twice"] == "concat_copy");
  }
}

TEST_CASE("session: every Concat of SqueezeNet-like fire modules runs in place", "[graph][session]") {
  // squeeze -> (expand1x1, expand3x3) -> Concat, twice in a row: the second
  // fire's squeeze reads the first Concat.
  OnnxBuilder bld(13);
  bld.input("x", {1, 4, 8, 8});
  std::vector<float> w1(4 * 4), w3(4 * 4 * 9);
  for (size_t i = 0; i < w1.size(); ++i) w1[i] = 0.05f * float(i % 7) - 0.1f;
  for (size_t i = 0; i < w3.size(); ++i) w3[i] = 0.02f * float(i % 11) - 0.1f;
  bld.initializer("w1", {4, 4, 1, 1}, w1);
  std::vector<float> w1b(4 * 8);
  for (size_t i = 0; i < w1b.size(); ++i) w1b[i] = 0.03f * float(i % 5) - 0.05f;
  bld.initializer("w1b", {4, 8, 1, 1}, w1b);
  bld.initializer("w3", {4, 4, 3, 3}, w3);
  std::string in = "x";
  for (int fire = 0; fire < 2; ++fire) {
    const std::string f = std::to_string(fire);
    bld.node("Conv", {in, fire == 0 ? "w1" : "w1b"}, {"s" + f});
    bld.node("Relu", {"s" + f}, {"sr" + f});
    bld.node("Conv", {"sr" + f, "w1"}, {"e1" + f});
    OnnxBuilder::attr_ints(bld.node("Conv", {"sr" + f, "w3"}, {"e3" + f}), "pads", {1, 1, 1, 1});
    OnnxBuilder::attr_int(bld.node("Concat", {"e1" + f, "e3" + f}, {"cat" + f}, "cat" + f), "axis", 1);
    in = "cat" + f;
  }
  bld.node("Relu", {in}, {"y"});
  bld.output("y");
  auto model = import_onnx_bytes(bld.bytes(), ".", "fire");
  REQUIRE_OK(model);
  Tensor x = cvt::testing::random_tensor({1, 4, 8, 8}, 5);
  SessionOptions heap_only;
  heap_only.plan_memory = false;
  auto ref = Session::create(model.value(), heap_only);
  REQUIRE_OK(ref);
  auto want = ref.value()->run({x});
  REQUIRE_OK(want);
  SessionOptions so;
  so.profile = true;
  auto s = Session::create(model.value(), so);
  REQUIRE_OK(s);
  for (int run = 0; run < 3; ++run) {
    auto out = s.value()->run({x});
    REQUIRE_OK(out);
    CHECK(std::memcmp(out.value()[0].raw(), want.value()[0].raw(), want.value()[0].nbytes()) == 0);
    if (run == 0) continue;
    int in_place = 0;
    for (const NodeProfile& p : s.value()->last_profile()) in_place += p.impl == "concat_in_place";
    CHECK(in_place == 2);
  }
}
