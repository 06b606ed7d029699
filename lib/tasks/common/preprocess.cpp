#include "tasks/common/preprocess.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace cvt {

Result<Tensor> preprocess_image(const cv::Mat& bgr, const InputContract& c, int net_w, int net_h, ImageTransform* xf) {
  if (bgr.empty() || bgr.type() != CV_8UC3) return invalid_argument("preprocess expects an 8-bit BGR image");
  if (c.resize == "none") {  // the model takes any size (it resizes inside the graph, if at all)
    net_w = bgr.cols;
    net_h = bgr.rows;
  }
  net_w = net_w > 0 ? net_w : c.width;
  net_h = net_h > 0 ? net_h : c.height;
  if (net_w <= 0 || net_h <= 0) return invalid_argument("network input size unknown: the manifest gives none and the model input is dynamic");
  ImageTransform t;
  t.image_w = bgr.cols;
  t.image_h = bgr.rows;
  t.net_w = net_w;
  t.net_h = net_h;

  cv::Mat img;
  if (c.color == "RGB") cv::cvtColor(bgr, img, cv::COLOR_BGR2RGB);
  else if (c.color == "GRAY") cv::cvtColor(bgr, img, cv::COLOR_BGR2GRAY);
  else img = bgr;

  cv::Mat sized;
  if (c.resize == "none") {
    sized = img;
  } else if (c.resize == "stretch") {
    cv::resize(img, sized, cv::Size(net_w, net_h), 0, 0, cv::INTER_LINEAR);
    t.scale_x = float(net_w) / img.cols;
    t.scale_y = float(net_h) / img.rows;
  } else if (c.resize == "shorter_side_crop") {
    // torchvision's Resize(s) + CenterCrop(crop): short side to s, keep aspect, crop the centre.
    int shorter = c.resize_shorter > 0 ? c.resize_shorter : std::min(net_w, net_h);
    double s = double(shorter) / std::min(img.cols, img.rows);
    int rw = std::max(net_w, int(std::lround(img.cols * s)));
    int rh = std::max(net_h, int(std::lround(img.rows * s)));
    cv::Mat r;
    cv::resize(img, r, cv::Size(rw, rh), 0, 0, cv::INTER_LINEAR);
    int x0 = (rw - net_w) / 2, y0 = (rh - net_h) / 2;
    sized = r(cv::Rect(x0, y0, net_w, net_h)).clone();
    t.scale_x = float(rw) / img.cols;
    t.scale_y = float(rh) / img.rows;
    t.pad_x = -float(x0);
    t.pad_y = -float(y0);
  } else {  // letterbox / keep_ratio: fit inside, pad the rest
    double s = std::min(double(net_w) / img.cols, double(net_h) / img.rows);
    int rw = std::max(1, int(std::lround(img.cols * s)));
    int rh = std::max(1, int(std::lround(img.rows * s)));
    cv::Mat r;
    cv::resize(img, r, cv::Size(rw, rh), 0, 0, cv::INTER_LINEAR);
    int x0 = c.letterbox_place == "top_left" ? 0 : (net_w - rw) / 2;
    int y0 = c.letterbox_place == "top_left" ? 0 : (net_h - rh) / 2;
    sized = cv::Mat(net_h, net_w, r.type(), cv::Scalar::all(c.pad_value));
    r.copyTo(sized(cv::Rect(x0, y0, rw, rh)));
    t.scale_x = float(rw) / img.cols;
    t.scale_y = float(rh) / img.rows;
    t.pad_x = float(x0);
    t.pad_y = float(y0);
  }

  const int ch = sized.channels();
  if (ch != c.channels) return invalid_argument("model expects " + std::to_string(c.channels) + " channels, preprocessing produced " + std::to_string(ch));
  const bool planar = c.layout == "NCHW" || c.layout == "CHW";
  Shape shape = c.layout == "NCHW" ? Shape{1, ch, net_h, net_w} : c.layout == "CHW" ? Shape{ch, net_h, net_w} : Shape{1, net_h, net_w, ch};
  CVT_ASSIGN_OR_RETURN(Tensor out, Tensor::try_alloc(DType::kFloat32, shape));
  float* o = out.data<float>();
  const size_t plane = size_t(net_h) * net_w;
  for (int y = 0; y < net_h; ++y) {
    const uint8_t* row = sized.ptr<uint8_t>(y);
    for (int x = 0; x < net_w; ++x)
      for (int k = 0; k < ch; ++k) {
        float v = (row[x * ch + k] * c.scale - c.mean[k]) / c.std[k];
        if (planar) o[k * plane + size_t(y) * net_w + x] = v;
        else o[(size_t(y) * net_w + x) * ch + k] = v;
      }
  }
  if (xf) *xf = t;
  return out;
}

}  // namespace cvt
