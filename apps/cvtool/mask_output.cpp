#include "mask_output.h"

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "eval/rle.h"

namespace cvt_cli {

nlohmann::ordered_json mask_rle_json(const cv::Mat& mask) {
  // COCO RLE runs go down columns: transpose so each column is a contiguous row.
  cv::Mat t;
  cv::transpose(mask, t);
  if (!t.isContinuous()) t = t.clone();
  const cvt::eval::Rle rle = cvt::eval::rle_encode(t.ptr<uint8_t>(), uint64_t(mask.rows), uint64_t(mask.cols));
  return {{"size", {mask.rows, mask.cols}}, {"counts", cvt::eval::rle_to_string(rle)}};
}

nlohmann::ordered_json mask_polygons_json(const cv::Mat& mask, double epsilon) {
  std::vector<std::vector<cv::Point>> contours;
  cv::Mat work = mask.clone();  // findContours may modify its input in older OpenCV
  cv::findContours(work, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
  nlohmann::ordered_json polys = nlohmann::ordered_json::array();
  for (const auto& c : contours) {
    std::vector<cv::Point> simple;
    cv::approxPolyDP(c, simple, epsilon, true);
    if (simple.size() < 3) continue;
    nlohmann::ordered_json xy = nlohmann::ordered_json::array();
    for (const cv::Point& p : simple) {
      xy.push_back(p.x + 0.5);
      xy.push_back(p.y + 0.5);
    }
    polys.push_back(std::move(xy));
  }
  return polys;
}

int64_t mask_area(const cv::Mat& mask) { return cv::countNonZero(mask); }

void draw_mask(cv::Mat& img, const cv::Mat& mask, const cv::Scalar& colour, double alpha, int thickness) {
  if (mask.empty() || mask.size() != img.size()) return;
  cv::Mat fill(img.size(), img.type(), colour);
  cv::Mat blended;
  cv::addWeighted(img, 1.0 - alpha, fill, alpha, 0.0, blended);
  blended.copyTo(img, mask);
  std::vector<std::vector<cv::Point>> contours;
  cv::Mat work = mask.clone();
  cv::findContours(work, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
  cv::drawContours(img, contours, -1, colour, thickness, cv::LINE_AA);
}

}  // namespace cvt_cli
