#include "tasks/style/optim.h"

#include <algorithm>
#include <cmath>
#include <deque>

namespace cvt {

namespace {

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (float v : a) m = std::max(m, double(std::fabs(v)));
  return m;
}

struct Pair {
  std::vector<float> s, y;
  double rho;
};

// d = -H g by the two-loop recursion; H0 = gamma I with gamma = s'y / y'y of the newest pair.
std::vector<float> direction(const std::deque<Pair>& mem, const std::vector<float>& g) {
  std::vector<double> q(g.begin(), g.end());
  std::vector<double> alpha(mem.size());
  for (int i = int(mem.size()) - 1; i >= 0; --i) {
    double a = 0;
    for (size_t k = 0; k < q.size(); ++k) a += mem[i].s[k] * q[k];
    alpha[i] = a * mem[i].rho;
    for (size_t k = 0; k < q.size(); ++k) q[k] -= alpha[i] * mem[i].y[k];
  }
  const Pair& last = mem.back();
  const double gamma = 1.0 / (last.rho * dot(last.y, last.y));
  for (double& v : q) v *= gamma;
  for (size_t i = 0; i < mem.size(); ++i) {
    double b = 0;
    for (size_t k = 0; k < q.size(); ++k) b += mem[i].y[k] * q[k];
    b *= mem[i].rho;
    for (size_t k = 0; k < q.size(); ++k) q[k] += (alpha[i] - b) * mem[i].s[k];
  }
  std::vector<float> d(q.size());
  for (size_t k = 0; k < q.size(); ++k) d[k] = float(-q[k]);
  return d;
}

}  // namespace

Status minimize_lbfgs(std::vector<float>& x, const Objective& f, const LbfgsOptions& o, const StepCallback& on_step) {
  std::vector<float> g(x.size()), g_new(x.size()), x_new(x.size());
  CVT_ASSIGN_OR_RETURN(double fx, f(x, g));
  int evals = 1;
  std::deque<Pair> mem;
  for (int it = 1; it <= o.iterations; ++it) {
    std::vector<float> d;
    double t = 1.0;
    if (!mem.empty()) d = direction(mem, g);
    double gd = d.empty() ? 0 : dot(g, d);
    if (d.empty() || !(gd < 0)) {  // no usable curvature yet: a scaled gradient step
      mem.clear();
      d.resize(g.size());
      for (size_t k = 0; k < g.size(); ++k) d[k] = -g[k];
      gd = dot(g, d);
      const double m = max_abs(g);
      if (m == 0) return Status::ok();
      t = o.first_step / m;
    }
    bool accepted = false;
    double f_new = 0;
    for (int tries = 0; tries < 30; ++tries) {
      for (size_t k = 0; k < x.size(); ++k) x_new[k] = float(x[k] + t * d[k]);
      CVT_ASSIGN_OR_RETURN(f_new, f(x_new, g_new));
      ++evals;
      if (std::isfinite(f_new) && f_new <= fx + 1e-4 * t * gd && f_new < fx) {
        accepted = true;
        break;
      }
      t *= 0.5;
    }
    if (!accepted) return Status::ok();  // converged as far as float precision allows
    Pair p;
    p.s.resize(x.size());
    p.y.resize(x.size());
    for (size_t k = 0; k < x.size(); ++k) {
      p.s[k] = x_new[k] - x[k];
      p.y[k] = g_new[k] - g[k];
    }
    const double sy = dot(p.s, p.y);
    if (sy > 1e-10 * dot(p.y, p.y)) {
      p.rho = 1.0 / sy;
      mem.push_back(std::move(p));
      if (int(mem.size()) > o.history) mem.pop_front();
    }
    x.swap(x_new);
    g.swap(g_new);
    fx = f_new;
    if (on_step) on_step(it, fx, evals);
  }
  return Status::ok();
}

Status minimize_adam(std::vector<float>& x, const Objective& f, const AdamOptions& o, const StepCallback& on_step) {
  std::vector<float> g(x.size());
  std::vector<double> m(x.size(), 0.0), v(x.size(), 0.0);
  for (int it = 1; it <= o.iterations; ++it) {
    CVT_ASSIGN_OR_RETURN(double fx, f(x, g));
    const double c1 = 1 - std::pow(o.beta1, it), c2 = 1 - std::pow(o.beta2, it);
    for (size_t k = 0; k < x.size(); ++k) {
      m[k] = o.beta1 * m[k] + (1 - o.beta1) * g[k];
      v[k] = o.beta2 * v[k] + (1 - o.beta2) * double(g[k]) * g[k];
      x[k] -= float(o.learning_rate * (m[k] / c1) / (std::sqrt(v[k] / c2) + o.eps));
    }
    if (on_step) on_step(it, fx, it);
  }
  return Status::ok();
}

}  // namespace cvt
