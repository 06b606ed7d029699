// PR plot renderer on OpenCV: fixed 1000x760 canvas, axes 0..1 with 0.1 grid.
#include "eval/pr_plot.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdio>

namespace cvt::eval {

namespace {

constexpr int kW = 1000, kH = 760;
constexpr int kLeft = 90, kRight = 260, kTop = 60, kBottom = 80;  // right margin holds the legend

cv::Scalar palette(size_t i) {
  // distinct hues, fixed order so plots are reproducible
  static const cv::Scalar c[] = {{180, 119, 31}, {14, 127, 255}, {44, 160, 44},  {40, 39, 214},  {189, 103, 148},
                                 {75, 86, 140},  {194, 119, 227}, {127, 127, 127}, {34, 189, 188}, {207, 190, 23}};
  return c[i % 10];
}

cv::Point to_px(double r, double p) {
  const int pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  return {kLeft + int(std::clamp(r, 0.0, 1.0) * pw + .5), kTop + int((1 - std::clamp(p, 0.0, 1.0)) * ph + .5)};
}

void draw_curve(cv::Mat& img, const PrCurve& c, const cv::Scalar& col, int thick) {
  std::vector<cv::Point> pts;
  for (size_t i = 0; i < c.recall.size() && i < c.precision.size(); ++i) pts.push_back(to_px(c.recall[i], c.precision[i]));
  if (pts.size() >= 2) cv::polylines(img, pts, false, col, thick, cv::LINE_AA);
  else if (pts.size() == 1) cv::circle(img, pts[0], thick + 1, col, cv::FILLED, cv::LINE_AA);
}

}  // namespace

Status write_pr_plot(const std::string& path, const std::vector<PrCurve>& classes, const PrCurve& mean,
                     const std::string& title) {
  cv::Mat img(kH, kW, CV_8UC3, cv::Scalar(255, 255, 255));
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  // grid and ticks
  for (int i = 0; i <= 10; ++i) {
    const double v = i / 10.0;
    const cv::Scalar grid(225, 225, 225);
    cv::line(img, to_px(v, 0), to_px(v, 1), grid, 1);
    cv::line(img, to_px(0, v), to_px(1, v), grid, 1);
    char buf[8];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    const cv::Point bx = to_px(v, 0), by = to_px(0, v);
    cv::putText(img, buf, {bx.x - 12, bx.y + 22}, font, 0.45, cv::Scalar(60, 60, 60), 1, cv::LINE_AA);
    cv::putText(img, buf, {by.x - 36, by.y + 5}, font, 0.45, cv::Scalar(60, 60, 60), 1, cv::LINE_AA);
  }
  cv::rectangle(img, to_px(0, 1), to_px(1, 0), cv::Scalar(0, 0, 0), 1);
  // axis labels: "Recall" below, "Precision" rotated on the left
  cv::putText(img, "Recall", {kLeft + (kW - kLeft - kRight) / 2 - 30, kH - 30}, font, 0.7, cv::Scalar(0, 0, 0), 2,
              cv::LINE_AA);
  {
    cv::Mat lab(40, 160, CV_8UC3, cv::Scalar(255, 255, 255));
    cv::putText(lab, "Precision", {10, 28}, font, 0.7, cv::Scalar(0, 0, 0), 2, cv::LINE_AA);
    cv::Mat rot;
    cv::rotate(lab, rot, cv::ROTATE_90_COUNTERCLOCKWISE);
    const int y = kTop + (kH - kTop - kBottom) / 2 - rot.rows / 2;
    rot.copyTo(img(cv::Rect(8, y, rot.cols, rot.rows)));
  }
  cv::putText(img, title, {kLeft, 38}, font, 0.7, cv::Scalar(0, 0, 0), 2, cv::LINE_AA);
  for (size_t i = 0; i < classes.size(); ++i) draw_curve(img, classes[i], palette(i), 1);
  draw_curve(img, mean, cv::Scalar(0, 0, 0), 3);
  // legend: mean first, then as many classes as fit
  int y = kTop + 10;
  const int lx = kW - kRight + 20;
  auto entry = [&](const std::string& text, const cv::Scalar& col, int thick) {
    cv::line(img, {lx, y - 5}, {lx + 28, y - 5}, col, thick, cv::LINE_AA);
    cv::putText(img, text.substr(0, 26), {lx + 36, y}, font, 0.42, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    y += 20;
  };
  entry(mean.label, cv::Scalar(0, 0, 0), 3);
  const size_t room = size_t((kH - kBottom - y) / 20);
  for (size_t i = 0; i < classes.size(); ++i) {
    if (i + 1 == room && classes.size() > room) {
      entry("... " + std::to_string(classes.size() - i) + " more", cv::Scalar(255, 255, 255), 1);
      break;
    }
    entry(classes[i].label, palette(i), 2);
  }
  try {
    if (!cv::imwrite(path, img)) return io_error("cannot write plot '" + path + "'");
  } catch (const cv::Exception& e) {
    return io_error("cannot write plot '" + path + "': " + e.what());
  }
  return Status::ok();
}

}  // namespace cvt::eval
