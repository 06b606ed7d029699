#!/usr/bin/env bash
# The whole test suite: Release build with assertions, reference networks
# exported from PyTorch (seeded random weights), then every Catch2 test.
# Model files come from the mirror ($CVTOOL_MODEL_MIRROR, default ../shared/models).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CVTOOL_MODEL_MIRROR="${CVTOOL_MODEL_MIRROR:-$(cd "$ROOT/.." && pwd)/shared/models}"
export CVTOOL_SHARED_DIR="${CVTOOL_SHARED_DIR:-$(dirname "$CVTOOL_MODEL_MIRROR")}"
export CVTOOL_MODELS_DIR="${CVTOOL_MODELS_DIR:-$ROOT/.cache/models}"
export CVTOOL_REFNETS_DIR="${CVTOOL_REFNETS_DIR:-$ROOT/.cache/refnets}"

scripts/setup.sh --asserts --build-dir build-test

# PyTorch reference networks (python3-torch from Debian; /usr/bin/python3 has it).
PY=/usr/bin/python3
if ! $PY -c "import torch, torchvision, onnx, cv2" 2>/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends python3-torch python3-torchvision python3-onnx python3-numpy python3-opencv >&2
fi
if [ ! -d /usr/share/libonnx-testdata/data ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends libonnx-testdata >&2
fi
if [ -x scripts/export_reference_nets.py ]; then
  $PY scripts/export_reference_nets.py --out "$CVTOOL_REFNETS_DIR" --models "${CVTOOL_REFNETS:-ci}" >&2
fi

if [ ! -f /usr/share/darknet/cfg/yolov3-tiny.cfg ]; then  # Debian's cfgs, loaded by the Darknet tests
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends darknet >&2
fi
# Darknet cross-check data: Debian's cfgs with seeded weights run by OpenCV's importer.
if [ -f /usr/share/darknet/cfg/yolov3-tiny.cfg ]; then
  export CVTOOL_DARKNET_REFS="${CVTOOL_DARKNET_REFS:-$ROOT/.cache/darknet_opencv}"
  [ -f "$CVTOOL_DARKNET_REFS/alexnet/outputs.json" ] || $PY scripts/darknet_opencv_refs.py --out "$CVTOOL_DARKNET_REFS" >&2
fi

# ONNX Runtime (npm onnxruntime-node) for the [ort] cross-checks; they skip when it cannot be installed.
if command -v npm >/dev/null; then
  scripts/setup_ort.sh || echo "test.sh: ONNX Runtime unavailable; the [ort] tests will skip" >&2
fi

cd build-test
ctest --output-on-failure
