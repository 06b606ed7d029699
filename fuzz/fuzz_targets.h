// Fuzz entry points: each takes untrusted bytes through the same code path the
// CLI uses and must return without crashing, hanging or exhausting memory.
// Built into libFuzzer binaries (scripts/fuzz.sh, CVTOOL_FUZZ=ON) and replayed
// over the regression corpus tests/data/fuzz/<target>/ by the normal test suite.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cvt::fuzz {

using FuzzFn = int (*)(const uint8_t* data, size_t size);

struct FuzzTarget {
  const char* name;
  FuzzFn fn;
};

// ONNX bytes -> import (shape checks, passes) -> one run on small inputs.
int onnx_model(const uint8_t* data, size_t size);
// A Darknet .cfg, then (after the first "\n#@weights\n" marker) a .weights file.
int darknet_model(const uint8_t* data, size_t size);
// A model manifest (JSON).
int model_manifest(const uint8_t* data, size_t size);
// The first byte picks the reader: COCO JSON, cvtool JSONL, YOLO txt, VOC XML, RLE string.
int eval_readers(const uint8_t* data, size_t size);
// Image bytes through the CLI's decode path (header probe, limits, OpenCV decode).
int image_decode(const uint8_t* data, size_t size);

const std::vector<FuzzTarget>& all_targets();

// Limits the fuzzers run under (smaller than production, so a run fits in memory).
void set_fuzz_limits();

}  // namespace cvt::fuzz
