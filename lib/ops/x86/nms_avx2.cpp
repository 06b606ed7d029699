// NonMaxSuppression's inner test on AVX2: does a candidate overlap any kept box
// by more than the threshold? Eight kept boxes per step, IoU as torchvision
// computes it, with the multiply and adds of the scalar formula kept separate (no
// FMA contraction), so the same boxes are selected as by the scalar loop.
#include <immintrin.h>

#include "ops/nms.h"

namespace cvt {

__attribute__((optimize("fp-contract=off"))) bool nms_overlaps__avx2(const NmsBox& a, const NmsKept& kept,
                                                                      float iou_threshold) noexcept {
  const __m256 ax1 = _mm256_set1_ps(a.x1), ay1 = _mm256_set1_ps(a.y1), ax2 = _mm256_set1_ps(a.x2);
  const __m256 ay2 = _mm256_set1_ps(a.y2), aarea = _mm256_set1_ps(a.area), thr = _mm256_set1_ps(iou_threshold);
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t k = 0; k < kept.size(); k += 8) {  // padded to 8 with boxes at +inf: IoU 0
    // Operand order as std::min(a, b) = b < a ? b : a and std::max(a, b) = a < b ? b : a,
    // so NaN coordinates go the way the scalar formula sends them.
    const __m256 w = _mm256_max_ps(_mm256_sub_ps(_mm256_min_ps(_mm256_loadu_ps(kept.x2.data() + k), ax2),
                                                 _mm256_max_ps(_mm256_loadu_ps(kept.x1.data() + k), ax1)),
                                   zero);
    const __m256 h = _mm256_max_ps(_mm256_sub_ps(_mm256_min_ps(_mm256_loadu_ps(kept.y2.data() + k), ay2),
                                                 _mm256_max_ps(_mm256_loadu_ps(kept.y1.data() + k), ay1)),
                                   zero);
    const __m256 inter = _mm256_mul_ps(w, h);
    const __m256 uni = _mm256_sub_ps(_mm256_add_ps(aarea, _mm256_loadu_ps(kept.area.data() + k)), inter);
    // iou = inter / uni where inter > 0 and uni > 0, else 0 (then never above a threshold >= 0).
    const __m256 valid = _mm256_and_ps(_mm256_cmp_ps(inter, zero, _CMP_GT_OQ), _mm256_cmp_ps(uni, zero, _CMP_GT_OQ));
    const __m256 iou = _mm256_and_ps(valid, _mm256_div_ps(inter, uni));
    if (_mm256_movemask_ps(_mm256_cmp_ps(iou, thr, _CMP_GT_OQ))) return true;
  }
  return false;
}

}  // namespace cvt
