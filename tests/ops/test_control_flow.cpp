// If and Loop through the importer and a Session (they need a graph runtime):
// branches reading outer values, loop-carried values that grow every
// iteration (the torchvision mask-pasting pattern), scan outputs, early exit on
// the body condition, zero trips, nested control flow reading values two
// scopes up, repeated runs with changing sizes, and malformed bodies.
#include "test_util.h"

#include "graph/session.h"
#include "io/onnx/importer.h"
#include "onnx_builder.h"

using namespace cvt;
using cvt::testing::OnnxBuilder;
using TP = onnx::TensorProto;

namespace {

std::unique_ptr<Session> session_of(const OnnxBuilder& b, bool reference = false) {
  auto model = import_onnx_bytes(b.bytes(), ".", "control-flow-test");
  REQUIRE_OK(model);
  SessionOptions so;
  so.use_reference = reference;
  auto s = Session::create(model.value(), so);
  REQUIRE_OK(s);
  return std::move(s).value();
}

// then: x + 1, else: x * 2 (both read the outer x).
OnnxBuilder if_model() {
  OnnxBuilder b(11);
  b.input("cond", {}, TP::BOOL);
  b.input("x", {-1});
  b.output("y", {-1});
  b.initializer("one", {1}, {1.0f});
  b.initializer("two", {1}, {2.0f});
  OnnxBuilder then_b, else_b;
  then_b.node("Add", {"x", "one"}, {"t_out"});
  then_b.output("t_out", {-1});
  else_b.node("Mul", {"x", "two"}, {"e_out"});
  else_b.output("e_out", {-1});
  auto& n = b.node("If", {"cond"}, {"y"});
  OnnxBuilder::attr_graph(n, "then_branch", then_b.graph());
  OnnxBuilder::attr_graph(n, "else_branch", else_b.graph());
  return b;
}

// Loop(M, cond, acc0): acc = Concat(acc, x * (i + 1)) every iteration; scan output i; stops
// when i + 1 >= limit (the body's cond output).
OnnxBuilder loop_model() {
  OnnxBuilder b(11);
  b.input("M", {}, TP::INT64);
  b.input("limit", {}, TP::INT64);
  b.input("x", {-1});
  b.input("acc0", {-1});
  b.output("acc", {-1});
  b.output("iters", {-1}, TP::INT64);
  b.initializer_i64("one_i", {}, {1});
  b.initializer("cond_true_f", {}, {1.0f});
  b.node("Cast", {"cond_true_f"}, {"cond0"}).add_attribute()->CopyFrom([] {
    onnx::AttributeProto a;
    a.set_name("to");
    a.set_type(onnx::AttributeProto::INT);
    a.set_i(TP::BOOL);
    return a;
  }());
  OnnxBuilder body;
  body.input("i", {}, TP::INT64);
  body.input("c_in", {}, TP::BOOL);
  body.input("acc_in", {-1});
  body.node("Add", {"i", "one_i"}, {"i1"});
  body.node("Less", {"i1", "limit"}, {"c_out"});
  auto& cast = body.node("Cast", {"i1"}, {"i1f"});
  OnnxBuilder::attr_int(cast, "to", TP::FLOAT);
  body.node("Mul", {"x", "i1f"}, {"xi"});
  auto& cat = body.node("Concat", {"acc_in", "xi"}, {"acc_out"});
  OnnxBuilder::attr_int(cat, "axis", 0);
  body.node("Identity", {"i"}, {"scan_i"});
  body.output("c_out", {}, TP::BOOL);
  body.output("acc_out", {-1});
  body.output("scan_i", {}, TP::INT64);
  auto& n = b.node("Loop", {"M", "cond0", "acc0"}, {"acc", "iters"});
  OnnxBuilder::attr_graph(n, "body", body.graph());
  return b;
}

}  // namespace

TEST_CASE("If runs the branch the condition picks, with outer values", "[ops][control_flow]") {
  auto s = session_of(if_model());
  const Tensor x = Tensor::from_vector<float>({3}, {1, 2, 3});
  for (int rep = 0; rep < 2; ++rep) {  // second run reuses the memory plan
    auto t = s->run({Tensor::scalar<bool>(true), x});
    REQUIRE_OK(t);
    CHECK(t.value()[0].to_float_vector() == std::vector<float>{2, 3, 4});
    auto e = s->run({Tensor::scalar<bool>(false), x});
    REQUIRE_OK(e);
    CHECK(e.value()[0].to_float_vector() == std::vector<float>{2, 4, 6});
  }
  // A longer input after planning for a short one: outputs follow the data.
  auto big = s->run({Tensor::scalar<bool>(true), Tensor::from_vector<float>({5}, {0, 0, 0, 0, 1})});
  REQUIRE_OK(big);
  CHECK(big.value()[0].to_float_vector() == std::vector<float>{1, 1, 1, 1, 2});
  // cond must be a single value.
  CHECK(!s->run({Tensor::from_vector<bool>({2}, {true, false}), x}).is_ok());
}

TEST_CASE("Loop carries growing values, stacks scan outputs, honours M and cond", "[ops][control_flow]") {
  // The fast path appends the Concat'ed pieces once at the end; the reference runs the body as written.
  const bool reference = GENERATE(false, true);
  auto s = session_of(loop_model(), reference);
  if (!reference) CHECK(s->graph().nodes.back().kernel->impl_name() == "loop_subgraph_append");
  const Tensor x = Tensor::from_vector<float>({2}, {1, 10});
  const Tensor acc0 = Tensor::from_vector<float>({1}, {-1});
  auto run = [&](int64_t m, int64_t limit) {
    auto r = s->run({Tensor::scalar<int64_t>(m), Tensor::scalar<int64_t>(limit), x, acc0});
    REQUIRE_OK(r);
    return std::move(r).value();
  };
  // M = 3 trips, cond never false before that.
  auto out = run(3, 100);
  CHECK(out[0].to_float_vector() == std::vector<float>{-1, 1, 10, 2, 20, 3, 30});
  CHECK(out[1].shape() == Shape{3});
  CHECK(out[1].to_int64_vector() == std::vector<int64_t>{0, 1, 2});
  // The body's cond stops it after 2 trips (i + 1 < 2 fails at i = 1).
  out = run(10, 2);
  CHECK(out[0].to_float_vector() == std::vector<float>{-1, 1, 10, 2, 20});
  CHECK(out[1].to_int64_vector() == std::vector<int64_t>{0, 1});
  // Zero trips: the initial value passes through, scan outputs are empty.
  out = run(0, 100);
  CHECK(out[0].to_float_vector() == std::vector<float>{-1});
  CHECK(out[1].shape() == Shape{0});
  // Planned again after the zero-trip run: sizes grow back.
  out = run(4, 100);
  CHECK(out[0].numel() == 9);
}

TEST_CASE("Nested control flow reads values from two scopes up", "[ops][control_flow]") {
  // Loop body holds an If whose branches read the top-level input `x` and the body's `i`.
  OnnxBuilder b(11);
  b.input("M", {}, TP::INT64);
  b.input("x", {1});
  b.output("sum", {1});
  b.initializer("zero", {1}, {0.0f});
  b.initializer_i64("two_i", {}, {2});
  OnnxBuilder then_b, else_b, body;
  then_b.node("Add", {"acc_in", "x"}, {"t"});  // even i: acc + x
  then_b.output("t", {1});
  else_b.node("Sub", {"acc_in", "x"}, {"e"});  // odd i: acc - 2x (two Subs)
  else_b.node("Sub", {"e", "x"}, {"e2"});
  else_b.output("e2", {1});
  body.input("i", {}, TP::INT64);
  body.input("c", {}, TP::BOOL);
  body.input("acc_in", {1});
  body.node("Mod", {"i", "two_i"}, {"parity"});
  body.node("Cast", {"parity"}, {"odd"}).add_attribute()->CopyFrom([] {
    onnx::AttributeProto a;
    a.set_name("to");
    a.set_type(onnx::AttributeProto::INT);
    a.set_i(TP::BOOL);
    return a;
  }());
  body.node("Not", {"odd"}, {"even"});
  auto& inner = body.node("If", {"even"}, {"acc_out"});
  OnnxBuilder::attr_graph(inner, "then_branch", then_b.graph());
  OnnxBuilder::attr_graph(inner, "else_branch", else_b.graph());
  body.node("Identity", {"c"}, {"c_out"});
  body.output("c_out", {}, TP::BOOL);
  body.output("acc_out", {1});
  auto& loop = b.node("Loop", {"M", "", "zero"}, {"sum"});
  OnnxBuilder::attr_graph(loop, "body", body.graph());
  auto s = session_of(b);
  // i = 0..4: +x, -2x, +x, -2x, +x = -x
  auto r = s->run({Tensor::scalar<int64_t>(5), Tensor::from_vector<float>({1}, {3})});
  REQUIRE_OK(r);
  CHECK(r.value()[0].to_float_vector() == std::vector<float>{-3});
}

TEST_CASE("Malformed If and Loop nodes are rejected at load", "[ops][control_flow]") {
  {  // If with one branch missing
    OnnxBuilder b(11);
    b.input("cond", {}, TP::BOOL);
    b.output("y", {1});
    OnnxBuilder then_b;
    then_b.initializer("c", {1}, {1.0f});
    then_b.node("Identity", {"c"}, {"t"});
    then_b.output("t", {1});
    auto& n = b.node("If", {"cond"}, {"y"});
    OnnxBuilder::attr_graph(n, "then_branch", then_b.graph());
    auto m = import_onnx_bytes(b.bytes(), ".", "bad-if");
    CHECK(!m.is_ok());
  }
  {  // Loop body with the wrong number of inputs
    OnnxBuilder b(11);
    b.input("M", {}, TP::INT64);
    b.input("v", {1});
    b.output("out", {1});
    OnnxBuilder body;
    body.input("i", {}, TP::INT64);
    body.input("c", {}, TP::BOOL);
    body.node("Identity", {"c"}, {"c_out"});
    body.node("Identity", {"v"}, {"v_out"});
    body.output("c_out", {}, TP::BOOL);
    body.output("v_out", {1});
    auto& n = b.node("Loop", {"M", "", "v"}, {"out"});
    OnnxBuilder::attr_graph(n, "body", body.graph());
    auto m = import_onnx_bytes(b.bytes(), ".", "bad-loop");
    REQUIRE(!m.is_ok());
    CHECK(m.status().to_string().find("Loop body takes 2 inputs") != std::string::npos);
  }
}

TEST_CASE("An unsupported op inside a sub-graph fails at load, naming the inner node", "[ops][control_flow]") {
  OnnxBuilder b(13);
  b.input("cond", {}, TP::BOOL);
  b.input("x", {1});
  b.output("y", {1});
  OnnxBuilder then_b;
  then_b.node("NotARealOp", {"x"}, {"t"}, "inner_bad_node");
  then_b.output("t", {1});
  OnnxBuilder else_b;
  else_b.node("Identity", {"x"}, {"e"});
  else_b.output("e", {1});
  auto& n = b.node("If", {"cond"}, {"y"});
  OnnxBuilder::attr_graph(n, "then_branch", then_b.graph());
  OnnxBuilder::attr_graph(n, "else_branch", else_b.graph());
  auto m = import_onnx_bytes(b.bytes(), ".", "bad-inner-op");
  REQUIRE(!m.is_ok());
  const std::string msg = m.status().to_string();
  CHECK(msg.find("inner_bad_node") != std::string::npos);
  CHECK(msg.find("NotARealOp") != std::string::npos);
}
