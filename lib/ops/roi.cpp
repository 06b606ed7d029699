// RoiAlign: factory, validation and the fast path. The fast path computes each
// RoI's bilinear taps once and reuses them for every channel, in parallel over
// RoIs; per element it sums in the same order as roi_ref.cpp, so both agree bit
// for bit.
#include "ops/roi.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "ops/registry.h"
#include "ops/tensor_ops.h"

namespace cvt {

void roi_align_fast(const RoiAlignParams& p, const Tensor& x, const Tensor& rois, const std::vector<int64_t>& batch_index,
                    Tensor& y) {
  const int64_t C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t R = rois.dim(0), OH = p.output_height, OW = p.output_width;
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  parallel_for(0, R, 1, [&](int64_t lo, int64_t hi) {
    std::vector<RoiTap> taps;
    for (int64_t r = lo; r < hi; ++r) {
      const RoiBins b = roi_bins(p, rois.data<float>() + r * 4);
      const int64_t samples = b.grid_h * b.grid_w;
      const float count = static_cast<float>(std::max<int64_t>(samples, 1));
      taps.clear();
      for (int64_t ph = 0; ph < OH; ++ph)
        for (int64_t pw = 0; pw < OW; ++pw)
          for (int64_t iy = 0; iy < b.grid_h; ++iy) {
            const float sy = b.start_h + static_cast<float>(ph) * b.bin_h +
                             (static_cast<float>(iy) + 0.5f) * b.bin_h / static_cast<float>(b.grid_h);
            for (int64_t ix = 0; ix < b.grid_w; ++ix) {
              const float sx = b.start_w + static_cast<float>(pw) * b.bin_w +
                               (static_cast<float>(ix) + 0.5f) * b.bin_w / static_cast<float>(b.grid_w);
              taps.push_back(roi_tap(H, W, sy, sx));
            }
          }
      for (int64_t c = 0; c < C; ++c) {
        const float* plane = xp + (batch_index[r] * C + c) * H * W;
        float* out = yp + (r * C + c) * OH * OW;
        const RoiTap* t = taps.data();
        for (int64_t o = 0; o < OH * OW; ++o) {
          float acc = 0;
          if (p.max_mode) {
            for (int64_t s = 0; s < samples; ++s, ++t) {
              const float v = std::max(std::max(std::max(t->w[0] * plane[t->pos[0]], t->w[1] * plane[t->pos[1]]),
                                                t->w[2] * plane[t->pos[2]]),
                                       t->w[3] * plane[t->pos[3]]);
              acc = s == 0 ? v : std::max(acc, v);
            }
            out[o] = acc;
          } else {
            for (int64_t s = 0; s < samples; ++s, ++t)
              acc += t->w[0] * plane[t->pos[0]] + t->w[1] * plane[t->pos[1]] + t->w[2] * plane[t->pos[2]] +
                     t->w[3] * plane[t->pos[3]];
            out[o] = acc / count;
          }
        }
      }
    }
  });
}

namespace {

// Adaptive sampling takes ceil(roi / output) samples per bin: a huge RoI on a
// huge map must not turn into billions of taps.
constexpr int64_t kMaxSamplesPerBin = int64_t(1) << 16;

Status roi_align_run(const RoiAlignParams& p, KernelContext& ctx) {
  CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
  CVT_ASSIGN_OR_RETURN(const Tensor* rois, required_input(ctx, 1, "rois"));
  CVT_ASSIGN_OR_RETURN(const Tensor* bi, required_input(ctx, 2, "batch_indices"));
  if (x->dtype() != DType::kFloat32 || rois->dtype() != DType::kFloat32)
    return unsupported("RoiAlign supports float32 X and rois, got " + std::string(dtype_name(x->dtype())) + " and " +
                       dtype_name(rois->dtype()));
  if (x->rank() != 4) return invalid_argument("RoiAlign X must be [N, C, H, W], got " + shape_str(x->shape()));
  if (rois->rank() != 2 || rois->dim(1) != 4)
    return invalid_argument("RoiAlign rois must be [num_rois, 4], got " + shape_str(rois->shape()));
  if (bi->dtype() != DType::kInt64 && bi->dtype() != DType::kInt32)
    return invalid_argument("RoiAlign batch_indices must be int64 or int32");
  if (bi->rank() != 1 || bi->dim(0) != rois->dim(0))
    return invalid_argument("RoiAlign batch_indices must be [" + std::to_string(rois->dim(0)) + "], got " + shape_str(bi->shape()));
  std::vector<int64_t> batch_index = bi->to_int64_vector();
  for (int64_t b : batch_index)
    if (b < 0 || b >= x->dim(0))
      return invalid_argument("RoiAlign batch index " + std::to_string(b) + " is outside [0, " + std::to_string(x->dim(0)) + ")");
  const int64_t R = rois->dim(0);
  double samples = double(p.sampling_ratio) * double(p.sampling_ratio);  // per bin, summed over RoIs below
  if (p.sampling_ratio == 0 && x->dim(2) > 0 && x->dim(3) > 0) {
    samples = 0;
    for (int64_t r = 0; r < R; ++r) {
      const RoiBins b = roi_bins(p, rois->data<float>() + r * 4);
      const double grid = static_cast<double>(b.grid_h) * static_cast<double>(b.grid_w);
      if (!(grid <= kMaxSamplesPerBin))
        return limit_exceeded("RoiAlign RoI " + std::to_string(r) + " needs more than " + std::to_string(kMaxSamplesPerBin) +
                              " samples per bin");
      samples += grid;
    }
  } else {
    samples *= double(R);
  }
  CVT_RETURN_IF_ERROR(check_node_work(samples * double(x->dim(1)) * double(p.output_height) * double(p.output_width),
                                      "RoiAlign"));
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, {R, x->dim(1), p.output_height, p.output_width}));
  if (y->numel() == 0) return Status::ok();
  if (x->dim(2) == 0 || x->dim(3) == 0) return invalid_argument("RoiAlign X has an empty spatial size " + shape_str(x->shape()));
  if (ctx.use_reference())
    roi_align_ref(p, *x, *rois, batch_index, *y);
  else
    roi_align_fast(p, *x, *rois, batch_index, *y);
  return Status::ok();
}

Result<std::unique_ptr<Kernel>> make_roi_align(const NodeDesc& node) {
  RoiAlignParams p;
  const std::string mode = node.attrs.get_string("mode", "avg");
  if (mode != "avg" && mode != "max") return invalid_model("RoiAlign mode must be 'avg' or 'max', got '" + mode + "'");
  p.max_mode = mode == "max";
  p.output_height = node.attrs.get_int("output_height", 1);
  p.output_width = node.attrs.get_int("output_width", 1);
  p.sampling_ratio = node.attrs.get_int("sampling_ratio", 0);
  p.spatial_scale = node.attrs.get_float("spatial_scale", 1.0f);
  if (p.output_height < 1 || p.output_width < 1 || p.output_height > 4096 || p.output_width > 4096)
    return invalid_model("RoiAlign output size " + std::to_string(p.output_height) + "x" + std::to_string(p.output_width) +
                         " is outside 1..4096");
  if (p.sampling_ratio < 0 || p.sampling_ratio > 1024)
    return invalid_model("RoiAlign sampling_ratio " + std::to_string(p.sampling_ratio) + " is outside 0..1024");
  if (!(p.spatial_scale > 0) || !std::isfinite(p.spatial_scale))
    return invalid_model("RoiAlign spatial_scale must be a positive number");
  if (node.opset >= 16) {
    const std::string ctm = node.attrs.get_string("coordinate_transformation_mode", "half_pixel");
    if (ctm != "half_pixel" && ctm != "output_half_pixel")
      return invalid_model("RoiAlign coordinate_transformation_mode must be 'half_pixel' or 'output_half_pixel', got '" + ctm + "'");
    p.half_pixel = ctm == "half_pixel";
  }
  return make_kernel([p](KernelContext& ctx) { return roi_align_run(p, ctx); },
                     p.max_mode ? "roi_align_f32_max" : "roi_align_f32_avg");
}

}  // namespace

void register_roi_ops(std::vector<OpSchema>& t) { t.push_back({"", "RoiAlign", 10, 21, make_roi_align}); }

}  // namespace cvt
