// Instance masks in the output formats of `cvtool segment`: COCO compressed RLE
// (column-major, `counts` as pycocotools' string), simplified OpenCV polygons,
// and translucent overlays for --annotate. Masks are CV_8U, 0 / non-zero.
#pragma once
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <vector>

namespace cvt_cli {

/// {"size": [h, w], "counts": "<pycocotools string>"}: what pycocotools' decode() and loadRes() take.
nlohmann::ordered_json mask_rle_json(const cv::Mat& mask);
/// [[x0, y0, x1, y1, ...], ...]: outer contours (OpenCV findContours), simplified with
/// approxPolyDP at `epsilon` px, in continuous pixel coordinates (a pixel centre is at +0.5).
/// Pieces with fewer than 3 points are dropped.
nlohmann::ordered_json mask_polygons_json(const cv::Mat& mask, double epsilon = 1.0);
/// Foreground pixel count.
int64_t mask_area(const cv::Mat& mask);
/// Blends `colour` into `img` where `mask` is set (alpha 0..1) and outlines it.
void draw_mask(cv::Mat& img, const cv::Mat& mask, const cv::Scalar& colour, double alpha, int thickness);

}  // namespace cvt_cli
