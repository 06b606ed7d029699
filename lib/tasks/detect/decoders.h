// Raw network outputs -> candidate boxes (before NMS), one function per head
// family. Boxes are corners in network-input pixels; the detector maps them
// back to the image. Each decoder validates the tensor shape it is given.
#pragma once
#include <vector>

#include "core/tensor.h"
#include "io/darknet/importer.h"
#include "tasks/detect/detection.h"

namespace cvt {

struct DecodeFilter {
  float conf = 0.25f;                // keep scores strictly above this
  std::vector<bool> allowed;         // per class id; empty = every class
  bool multi_label = false;          // one candidate per class above conf, not only the best class
  bool keep(int cls) const { return allowed.empty() || (cls < int(allowed.size()) && allowed[cls]); }
};

/// Darknet [yolo] / [region] head: out [1, A*(coords+1+C), H, W] as the layer receives it.
/// [yolo]: xy = (cell + sigmoid(t) * scale_x_y - (scale_x_y - 1) / 2) / grid, wh = exp(t) * anchor / net
/// (new_coords: values are already sigmoided, wh = 4 t^2 * anchor / net); score = sigmoid(obj) * sigmoid(cls).
/// [region]: anchors in grid cells, classes softmaxed when `softmax`.
Result<std::vector<Detection>> decode_darknet(const Tensor& out, const DarknetHead& head, int net_w, int net_h,
                                              const DecodeFilter& f);

/// YOLOX: out [1, N, 5+C] over grids of `strides` (row-major cells, stride by stride):
/// xy = (t + cell) * stride, wh = exp(t) * stride; obj and classes already sigmoided.
/// With `decoded` the boxes are already (cx, cy, w, h) pixels.
Result<std::vector<Detection>> decode_yolox(const Tensor& out, const std::vector<int>& strides, int net_w, int net_h,
                                            bool decoded, const DecodeFilter& f);

/// FastestDet: out [1, 5+C, H, W]: obj (sigmoided), dx, dy (tanh applied here), w, h (sigmoid
/// applied here, fractions of the input), classes (softmaxed); score = obj^obj_pow * cls^cls_pow.
Result<std::vector<Detection>> decode_fastestdet(const Tensor& out, int net_w, int net_h, float obj_pow, float cls_pow,
                                                 const DecodeFilter& f);

/// YOLOv5-style export: out [1, N, 5+C] rows (cx, cy, w, h, obj, classes...) in input pixels; score = obj * cls.
Result<std::vector<Detection>> decode_yolov5(const Tensor& out, const DecodeFilter& f);

/// YOLOv8-style export: out [1, 4+C, N] columns (cx, cy, w, h, classes...) in input pixels.
/// A [1, N, 4+C] tensor is accepted too when N != 4+C.
Result<std::vector<Detection>> decode_yolov8(const Tensor& out, int num_classes, const DecodeFilter& f);

/// torchvision detection export (Faster / Mask R-CNN, RetinaNet, SSD...): the graph already decoded and
/// suppressed; boxes [N, 4] x1y1x2y2 in input pixels, labels [N] (int64 class ids), scores [N].
/// Keeps rows above f.conf whose class f allows; Detection::source is the row.
Result<std::vector<Detection>> decode_torchvision_rcnn(const Tensor& boxes, const Tensor& labels, const Tensor& scores,
                                                       const DecodeFilter& f);

}  // namespace cvt
