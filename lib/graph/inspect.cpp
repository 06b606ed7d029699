#include "graph/inspect.h"

#include <algorithm>
#include <set>

#include "ops/conv.h"

namespace cvt {
namespace {

struct Field {
  bool known = false, global = false;
  double rf_h = 1, rf_w = 1, jump_h = 1, jump_w = 1;
};

std::string ints_text(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

// Ops that do not change spatial geometry: the field passes through (max over inputs).
bool is_geometry_neutral(const std::string& op) {
  static const std::set<std::string> ops = {
      "Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "Elu", "Selu", "Softplus",
      "Mish", "Add", "Sub", "Mul", "Div", "Sum", "Max", "Min", "Mean", "Pow", "Sqrt", "Exp", "Log", "Neg", "Abs",
      "BatchNormalization", "InstanceNormalization", "LRN", "Dropout", "Identity", "Concat", "Cast", "Softmax", "Split",
      "Pad", "Erf", "Where", "Equal", "Less", "Greater", "Not", "And", "Or", "Gelu", "LogSoftmax"};
  return ops.count(op) != 0;
}

// Grows the receptive field by one windowed op (a conv or a pool) with kernel k,
// strides st and dilations d; a transposed conv divides the jump instead.
void grow_field(Field& f, const std::vector<int64_t>& k, const std::vector<int64_t>& st,
                const std::vector<int64_t>& d, bool transpose) {
  if (k.size() != 2 || st.size() != 2 || d.size() != 2 || !f.known || f.global) return;
  if (transpose) {
    f.jump_h /= double(st[0]);
    f.jump_w /= double(st[1]);
  }
  f.rf_h += (d[0] * (k[0] - 1)) * f.jump_h;
  f.rf_w += (d[1] * (k[1] - 1)) * f.jump_w;
  if (!transpose) {
    f.jump_h *= double(st[0]);
    f.jump_w *= double(st[1]);
  }
}

std::vector<int64_t> ints_or(const Attributes& a, const std::string& name, size_t n, int64_t fill) {
  return a.get_ints(name, std::vector<int64_t>(n, fill));
}

}  // namespace

Result<ModelSummary> inspect_model(Session& session, const std::vector<Shape>& input_shapes) {
  const Graph& g = session.graph();
  if (input_shapes.size() != g.inputs.size()) return invalid_argument("need one shape per model input");
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < input_shapes.size(); ++i) {
    CVT_ASSIGN_OR_RETURN(Tensor t, Tensor::try_alloc(g.inputs[i].dtype, input_shapes[i]));
    inputs.push_back(std::move(t));
  }
  CVT_RETURN_IF_ERROR(session.run(inputs).status());
  const std::vector<Shape>& shapes = session.last_value_shapes();
  auto shape_of = [&](int id) -> Shape {
    if (id < 0) return {};
    if (g.constant(id)) return g.constant(id)->shape();
    return id < static_cast<int>(shapes.size()) ? shapes[id] : Shape{};
  };

  ModelSummary s;
  s.input_shapes = input_shapes;
  std::vector<Field> field(g.num_values());
  if (!g.input_ids.empty()) field[g.input_ids[0]].known = true;

  for (const Node& n : g.nodes) {
    LayerInfo L;
    L.name = n.desc.name;
    L.op_type = n.desc.op_type;
    L.impl = n.kernel ? n.kernel->impl_name() : "";
    for (int in : n.inputs) L.input_shapes.push_back(shape_of(in));
    if (!n.outputs.empty()) L.output_shape = shape_of(n.outputs[0]);
    for (size_t i = 0; i < n.inputs.size(); ++i)
      if (n.inputs[i] >= 0 && g.constant(n.inputs[i]) && g.constant(n.inputs[i])->dtype() == DType::kFloat32 &&
          (n.desc.op_type == "Conv" || n.desc.op_type == "ConvTranspose" || n.desc.op_type == "Gemm" ||
           n.desc.op_type == "MatMul" || n.desc.op_type == "BatchNormalization" || n.desc.op_type == "PRelu" ||
           n.desc.op_type == "InstanceNormalization"))
        // Running statistics of BatchNormalization are buffers, not parameters.
        // Nor is a fused residual (Conv input 3, see ops/conv.h).
        if (!((n.desc.op_type == "BatchNormalization" || n.desc.op_type == "Conv") && i >= 3))
          L.params += g.constant(n.inputs[i])->numel();

    // Field of the data input.
    Field in_field;
    for (int in : n.inputs)
      if (in >= 0 && !g.constant(in) && field[in].known) {
        const Field& f = field[in];
        if (!in_field.known) in_field = f;
        else {
          in_field.global = in_field.global || f.global;
          in_field.rf_h = std::max(in_field.rf_h, f.rf_h);
          in_field.rf_w = std::max(in_field.rf_w, f.rf_w);
          in_field.jump_h = std::max(in_field.jump_h, f.jump_h);
          in_field.jump_w = std::max(in_field.jump_w, f.jump_w);
        }
      }
    Field out = in_field;
    const std::string& op = n.desc.op_type;
    const Shape& x = L.input_shapes.empty() ? Shape{} : L.input_shapes[0];
    if (op == "Conv" || op == "MaxPool" || op == "AveragePool" || op == "ConvTranspose" || op == "LpPool") {
      std::vector<int64_t> k = n.desc.attrs.get_ints("kernel_shape");
      if (k.empty() && L.input_shapes.size() > 1 && L.input_shapes[1].size() >= 3)
        k.assign(L.input_shapes[1].begin() + 2, L.input_shapes[1].end());
      std::vector<int64_t> st = n.desc.attrs.get_ints("strides", std::vector<int64_t>(k.size(), 1));
      std::vector<int64_t> d = n.desc.attrs.get_ints("dilations", std::vector<int64_t>(k.size(), 1));
      std::vector<int64_t> p = n.desc.attrs.get_ints("pads");
      L.params_text = "k=" + ints_text(k) + " s=" + ints_text(st) + " d=" + ints_text(d) +
                      (p.empty() ? std::string(" auto_pad=") + n.desc.attrs.get_string("auto_pad", "NOTSET") : " p=" + ints_text(p));
      if (op == "Conv" || op == "ConvTranspose") L.params_text += " g=" + std::to_string(n.desc.attrs.get_int("group", 1));
      grow_field(out, k, st, d, op == "ConvTranspose");
      // A Conv carrying the MaxPool after it (graph/passes/fuse_maxpool.cpp): its
      // output is the pooled one; the field grows by the pool too.
      const bool pooled = op == "Conv" && n.desc.attrs.has(kFusedMaxPoolAttr);
      if (pooled) {
        const std::string mp = std::string(kFusedMaxPoolAttr) + ".";
        const std::vector<int64_t> pk = n.desc.attrs.get_ints(mp + "kernel_shape");
        const std::vector<int64_t> ps = ints_or(n.desc.attrs, mp + "strides", pk.size(), 1);
        const std::vector<int64_t> pd = ints_or(n.desc.attrs, mp + "dilations", pk.size(), 1);
        L.params_text += " +MaxPool k=" + ints_text(pk) + " s=" + ints_text(ps) + " d=" + ints_text(pd) + " p=" +
                         ints_text(ints_or(n.desc.attrs, mp + "pads", 2 * pk.size(), 0));
        grow_field(out, pk, ps, pd, false);
      }
      if (op == "Conv" && L.input_shapes.size() > 1 && !L.output_shape.empty()) {
        const Shape& w = L.input_shapes[1];
        int64_t per_out = 1;
        for (size_t i = 1; i < w.size(); ++i) per_out *= w[i];
        Shape conv_out = L.output_shape;  // before the fused pool, if any
        if (pooled) {
          auto attrs = parse_conv_attrs(n.desc, false);
          auto params = attrs.is_ok() ? resolve_conv(attrs.value(), x, w) : Result<ConvParams>(attrs.status());
          if (params.is_ok()) conv_out = params.value().output_shape();
        }
        L.macs = shape_numel(conv_out) * per_out;
      } else if (op == "ConvTranspose" && L.input_shapes.size() > 1 && !x.empty()) {
        const Shape& w = L.input_shapes[1];  // (C, K/g, R, S): every input element scatters K/g*R*S products
        int64_t per_in = 1;
        for (size_t i = 1; i < w.size(); ++i) per_in *= w[i];
        L.macs = shape_numel(x) * per_in;
      }
    } else if (op == "GlobalAveragePool" || op == "GlobalMaxPool" || op == "Gemm" || op == "MatMul" || op == "Flatten" ||
               op == "ReduceMean" || op == "ReduceMax") {
      if (op == "Gemm" || op == "MatMul") {
        // Gemm: (M,K) x (K,N); MatMul: batched.
        if (L.input_shapes.size() >= 2 && !L.output_shape.empty()) {
          const Shape& a = L.input_shapes[0];
          int64_t K = a.empty() ? 0 : (op == "Gemm" && n.desc.attrs.get_int("transA", 0) ? a[0] : a.back());
          L.macs = shape_numel(L.output_shape) * K;
        }
      }
      // Every output sees the whole input once spatial dims collapse.
      if (op != "Flatten" || (x.size() == 4 && (x[2] > 1 || x[3] > 1))) out.global = out.known;
      if (op == "Flatten" && x.size() == 4 && x[2] == 1 && x[3] == 1) out = in_field;
    } else if (op == "Resize" || op == "Upsample") {
      if (x.size() == 4 && L.output_shape.size() == 4 && out.known) {
        out.jump_h *= double(x[2]) / double(L.output_shape[2]);
        out.jump_w *= double(x[3]) / double(L.output_shape[3]);
      }
    } else if (!is_geometry_neutral(op)) {
      out.known = false;  // reshapes, slicing, detection heads: no spatial meaning to report
    }
    for (int o : n.outputs)
      if (o >= 0) field[o] = out;
    L.rf_known = out.known;
    L.rf_global = out.global;
    L.rf_h = out.rf_h;
    L.rf_w = out.rf_w;
    L.stride_h = out.jump_h;
    L.stride_w = out.jump_w;
    s.total_params += L.params;
    s.total_macs += L.macs;
    s.layers.push_back(std::move(L));
  }
  return s;
}

}  // namespace cvt
