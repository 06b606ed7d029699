#!/usr/bin/env bash
# Installs what is missing (Debian 12 packages), then configures and builds
# cvtool in Release. Usage: scripts/setup.sh [--asserts] [--build-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=build
ASSERTS=OFF
while [ $# -gt 0 ]; do
  case "$1" in
    --asserts) ASSERTS=ON ;;
    --build-dir) BUILD_DIR="$2"; shift ;;
    *) echo "usage: scripts/setup.sh [--asserts] [--build-dir DIR]" >&2; exit 2 ;;
  esac
  shift
done

PACKAGES=(build-essential cmake ninja-build pkg-config libopencv-dev libtbb-dev libcli11-dev nlohmann-json3-dev
          catch2 libonnx-dev libprotobuf-dev protobuf-compiler libssl-dev)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

LAUNCHER=()
command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCVTOOL_KEEP_ASSERTS="$ASSERTS" "${LAUNCHER[@]}" >&2
ninja -C "$BUILD_DIR" >&2
echo "setup: built $BUILD_DIR/cvtool" >&2
