// Every op with a backward is checked against central finite differences in
// float64 on small odd shapes: loss = sum(r * y) for a random r, so the
// analytic gradient is backward(dy = r).
#include <functional>
#include <random>

#include "autograd/grad_ops.h"
#include "ops/op_runner.h"
#include "test_util.h"

using namespace cvt;
using namespace cvt::autograd;

namespace {

using Vec = std::vector<double>;
using Fwd = std::function<void(const Vec& v, Vec& y)>;

Vec random_vec(size_t n, uint32_t seed, double lo = -1, double hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Vec v(n);
  for (double& x : v) x = u(rng);
  return v;
}

// d(sum(r * fwd(v)))/dv by central differences.
Vec numeric_grad(Vec v, size_t ny, const Vec& r, const Fwd& fwd) {
  const double h = 1e-6;
  Vec g(v.size()), y(ny);
  for (size_t i = 0; i < v.size(); ++i) {
    const double keep = v[i];
    double lp = 0, lm = 0;
    v[i] = keep + h;
    fwd(v, y);
    for (size_t k = 0; k < ny; ++k) lp += r[k] * y[k];
    v[i] = keep - h;
    fwd(v, y);
    for (size_t k = 0; k < ny; ++k) lm += r[k] * y[k];
    v[i] = keep;
    g[i] = (lp - lm) / (2 * h);
  }
  return g;
}

void check_close(const Vec& analytic, const Vec& numeric, const std::string& what) {
  REQUIRE(analytic.size() == numeric.size());
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < analytic.size(); ++i) {
    const double err = std::abs(analytic[i] - numeric[i]) / (1e-6 + 1e-6 * std::abs(numeric[i]));
    if (err > worst) worst = err, at = i;
  }
  INFO(what << ": worst element " << at << " analytic " << analytic[at] << " numeric " << numeric[at]);
  CHECK(worst <= 1.0);
}

ConvParams conv_params(Shape x, Shape w, std::vector<int64_t> strides, std::vector<int64_t> pads,
                       std::vector<int64_t> dil, int64_t group) {
  ConvAttrs a;
  a.strides = strides;
  a.pads = pads;
  a.dilations = dil;
  a.group = group;
  auto p = resolve_conv(a, x, w);
  REQUIRE(p.is_ok());
  return p.value();
}

}  // namespace

TEST_CASE("conv gradients match finite differences", "[autograd][gradcheck]") {
  struct Case {
    Shape x, w;
    std::vector<int64_t> strides, pads, dil;
    int64_t group;
  };
  auto c = GENERATE(Case{{2, 3, 5, 7}, {4, 3, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1},
                    Case{{1, 3, 7, 6}, {2, 3, 3, 2}, {2, 2}, {0, 1, 1, 0}, {2, 1}, 1},
                    Case{{1, 4, 5, 5}, {6, 2, 3, 3}, {1, 2}, {1, 1, 1, 1}, {1, 1}, 2},
                    Case{{1, 5, 3, 4}, {3, 5, 1, 1}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1},
                    Case{{2, 2, 9}, {3, 2, 3}, {2}, {1, 1}, {1}, 1});
  const ConvParams p = conv_params(c.x, c.w, c.strides, c.pads, c.dil, c.group);
  const Shape ys = p.output_shape();
  const size_t nx = size_t(shape_numel(c.x)), nw = size_t(shape_numel(c.w)), ny = size_t(shape_numel(ys));
  const Vec x = random_vec(nx, 1), w = random_vec(nw, 2), b = random_vec(size_t(p.out_channels), 3), r = random_vec(ny, 4);
  Vec dx(nx, 0), dw(nw, 0), db(b.size(), 0);
  conv_backward<double>(p, x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data());
  check_close(dx, numeric_grad(x, ny, r, [&](const Vec& v, Vec& y) { conv_forward<double>(p, v.data(), w.data(), b.data(), y.data()); }), "dx");
  check_close(dw, numeric_grad(w, ny, r, [&](const Vec& v, Vec& y) { conv_forward<double>(p, x.data(), v.data(), b.data(), y.data()); }), "dw");
  check_close(db, numeric_grad(b, ny, r, [&](const Vec& v, Vec& y) { conv_forward<double>(p, x.data(), w.data(), v.data(), y.data()); }), "db");

  // The forward the gradient is taken of is the engine's Conv.
  NodeDesc node;
  node.op_type = "Conv";
  node.opset = 13;
  node.outputs = {"y"};
  Attribute ints;
  ints.kind = Attribute::Kind::kInts;
  ints.ints = c.strides;
  node.attrs.set("strides", ints);
  ints.ints = c.pads;
  node.attrs.set("pads", ints);
  ints.ints = c.dil;
  node.attrs.set("dilations", ints);
  Attribute g;
  g.ints = {};
  g.i = c.group;
  node.attrs.set("group", g);
  Tensor xt = testing::random_tensor(c.x, 5), wt = testing::random_tensor(c.w, 6);
  auto engine = run_single_op(node, {xt, wt});
  REQUIRE(engine.is_ok());
  Tensor mine(DType::kFloat32, ys);
  conv_forward<float>(p, xt.data<float>(), wt.data<float>(), nullptr, mine.data<float>());
  CHECK_TENSOR_NEAR(mine, engine.value()[0], 1e-5, 1e-5);
}

TEST_CASE("activation gradients match finite differences", "[autograd][gradcheck]") {
  const double alpha = GENERATE(0.0, 0.1);
  Vec x = random_vec(3 * 5 * 7, 7);
  for (double& v : x)
    if (std::abs(v) < 1e-3) v = 0.5;  // keep clear of the kink
  const Vec r = random_vec(x.size(), 8);
  Vec dx(x.size(), 0);
  leaky_relu_backward<double>(int64_t(x.size()), alpha, x.data(), r.data(), dx.data());
  check_close(dx, numeric_grad(x, x.size(), r, [&](const Vec& v, Vec& y) { leaky_relu_forward<double>(int64_t(v.size()), alpha, v.data(), y.data()); }), "dx");
}

TEST_CASE("pool gradients match finite differences", "[autograd][gradcheck]") {
  struct Case {
    PoolKind kind;
    Shape x;
    std::vector<int64_t> kernel, strides, pads;
    bool ceil, include_pad;
  };
  auto c = GENERATE(Case{PoolKind::kMax, {2, 3, 6, 6}, {2, 2}, {2, 2}, {0, 0, 0, 0}, false, false},
                    Case{PoolKind::kMax, {1, 2, 7, 5}, {3, 3}, {2, 2}, {1, 1, 1, 1}, true, false},
                    Case{PoolKind::kAverage, {1, 3, 7, 5}, {3, 2}, {2, 1}, {1, 0, 1, 1}, false, false},
                    Case{PoolKind::kAverage, {2, 2, 5, 5}, {3, 3}, {2, 2}, {1, 1, 1, 1}, true, true});
  PoolParams p;
  p.kind = c.kind;
  p.kernel = c.kernel;
  p.strides = c.strides;
  p.dilations = {1, 1};
  p.pads = c.pads;
  p.ceil_mode = c.ceil;
  p.count_include_pad = c.include_pad;
  auto geo = pool_geometry(p, c.x);
  REQUIRE(geo.is_ok());
  const size_t nx = size_t(shape_numel(c.x)), ny = size_t(shape_numel(geo.value().out_shape));
  const Vec x = random_vec(nx, 9), r = random_vec(ny, 10);  // distinct values: no ties for max
  Vec dx(nx, 0);
  pool_backward<double>(p, geo.value(), x.data(), r.data(), dx.data());
  check_close(dx, numeric_grad(x, ny, r, [&](const Vec& v, Vec& y) { pool_forward<double>(p, geo.value(), v.data(), y.data()); }), "dx");

  // Same forward as the engine's reference pool.
  Tensor xt = testing::random_tensor(c.x, 11), engine(DType::kFloat32, geo.value().out_shape), mine(DType::kFloat32, geo.value().out_shape);
  pool_ref(p, geo.value(), xt, engine, nullptr);
  pool_forward<float>(p, geo.value(), xt.data<float>(), mine.data<float>());
  CHECK_TENSOR_NEAR(mine, engine, 1e-6, 1e-6);
}

TEST_CASE("global average pool, batchnorm, add, concat gradients match finite differences", "[autograd][gradcheck]") {
  SECTION("GlobalAveragePool") {
    const Vec x = random_vec(2 * 3 * 5 * 3, 12), r = random_vec(6, 13);
    Vec dx(x.size(), 0);
    global_avg_pool_backward<double>(6, 15, r.data(), dx.data());
    check_close(dx, numeric_grad(x, 6, r, [&](const Vec& v, Vec& y) { global_avg_pool_forward<double>(6, 15, v.data(), y.data()); }), "dx");
  }
  SECTION("BatchNormalization (inference)") {
    const ChannelAffine f = batchnorm_affine({1.5, -0.5, 2}, {0.1, 0.2, -0.3}, {0.3, -1, 0}, {0.5, 2, 0.01}, 1e-3);
    const Vec x = random_vec(2 * 3 * 4 * 3, 14), r = random_vec(x.size(), 15);
    Vec dx(x.size(), 0);
    channel_affine_backward<double>(f, 2, 3, 12, r.data(), dx.data());
    check_close(dx, numeric_grad(x, x.size(), r, [&](const Vec& v, Vec& y) { channel_affine_forward<double>(f, 2, 3, 12, v.data(), y.data()); }), "dx");
  }
  SECTION("Add with broadcasting") {
    const Shape as{2, 3, 4, 5}, bs{3, 1, 1};
    const Vec a = random_vec(120, 16), b = random_vec(3, 17), r = random_vec(120, 18);
    Vec da(120, 0), db(3, 0);
    add_backward<double>(as, r.data(), as, da.data());
    add_backward<double>(as, r.data(), bs, db.data());
    check_close(da, numeric_grad(a, 120, r, [&](const Vec& v, Vec& y) { add_forward<double>(as, v.data(), bs, b.data(), as, y.data()); }), "da");
    check_close(db, numeric_grad(b, 120, r, [&](const Vec& v, Vec& y) { add_forward<double>(as, a.data(), bs, v.data(), as, y.data()); }), "db");
  }
  SECTION("Concat on the channel axis") {
    const std::vector<Shape> shapes{{2, 1, 3, 2}, {2, 3, 3, 2}, {2, 2, 3, 2}};
    const Vec a = random_vec(12, 19), b = random_vec(36, 20), c = random_vec(24, 21), r = random_vec(72, 22);
    Vec db(36, 0);
    concat_backward<double>(shapes, 1, r.data(), {nullptr, db.data(), nullptr});
    check_close(db, numeric_grad(b, 72, r, [&](const Vec& v, Vec& y) { concat_forward<double>(shapes, {a.data(), v.data(), c.data()}, 1, y.data()); }), "db");
  }
}
