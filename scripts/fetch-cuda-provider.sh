#!/usr/bin/env bash
# Fetches ONNX Runtime's CUDA execution provider for the CUDA device plugin
# (ovms-device-cuda) and puts it beside the ONNX Runtime library, where the
# plugin and ONNX Runtime look for it. Opt-in: about 180 MB from the npm
# registry, and useful only on a machine with an NVIDIA GPU.
#
#   scripts/fetch-cuda-provider.sh [DIR]
#
# DIR defaults to the folder of the library that scripts/fetch-onnxruntime.sh
# gives (ORT_LIB's, where set). The provider is ONNX Runtime 1.29.0's, built for
# CUDA 13 (it links libcudart.so.13, libcublas.so.13, libcublasLt.so.13 and
# libcurand.so.10; cuDNN 9 is loaded when a model needs it), out of the npm
# package com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9: npm carries no
# other build of it, and onnxruntime-node's own install script fetches it from
# NuGet. ONNX Runtime 1.30 (what fetch-onnxruntime.sh fetches) registers it as
# a plugin execution provider; docs/devices.md says how that was checked on an
# NVIDIA H200. Checks both files' sha256; idempotent. Prints DIR on stdout.
set -euo pipefail

pkg=com.github.asus4.onnxruntime.linux-x64-gpu
version=0.4.9
declare -A sha256=(
  [libonnxruntime_providers_cuda.so]=56cf3254b118ad837ccc4ed8f6d1b23504bbf7ef91b34cbc0b289cb7f10b3037
  [libonnxruntime_providers_shared.so]=c6a12593396095f5670160e284c35d1700b7708cf3037b7042e2a5200ccae772
)

here=$(cd "$(dirname "$0")" && pwd)
if [ $# -gt 0 ]; then
  dir=$1
else
  dir=$(dirname "$(readlink -f "$("$here/fetch-onnxruntime.sh")")")
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

have() {
  local f
  for f in "${!sha256[@]}"; do
    echo "${sha256[$f]}  $dir/$f" | sha256sum --check --status 2>/dev/null || return 1
  done
}
if have; then
  echo "$dir"
  exit 0
fi

command -v npm >/dev/null || { echo "fetch-cuda-provider: npm not found (apt-get install npm)" >&2; exit 1; }
tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "fetch-cuda-provider: fetching $pkg@$version (about 180 MB) from the npm registry" >&2
(cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
for f in "${!sha256[@]}"; do
  tar --no-same-owner -xzf "$tmp/$pkg-$version.tgz" -C "$tmp" "package/Plugins/Linux/x64/$f"
  if ! echo "${sha256[$f]}  $tmp/package/Plugins/Linux/x64/$f" | sha256sum --check --status; then
    echo "fetch-cuda-provider: sha256 mismatch for $f (want ${sha256[$f]})" >&2
    exit 1
  fi
done
for f in "${!sha256[@]}"; do
  chmod 0755 "$tmp/package/Plugins/Linux/x64/$f"
  mv "$tmp/package/Plugins/Linux/x64/$f" "$dir/$f"
done
echo "$dir"
