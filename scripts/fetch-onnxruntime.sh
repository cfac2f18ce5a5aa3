#!/usr/bin/env bash
# Fetches ONNX Runtime's libonnxruntime.so.1 out of the onnxruntime-node npm
# package (npm pack runs no install scripts), checks its sha256 and keeps it in
# the ignored cache folder .cache/onnxruntime/<version>/. Idempotent and quiet
# when the library is already there. Prints the library path on stdout.
#   ORT_LIB=/path/to/libonnxruntime.so.1   use that library instead (no fetch).
set -euo pipefail

version=1.30.0
sha256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
member=package/bin/napi-v6/linux/x64/libonnxruntime.so.1

if [ -n "${ORT_LIB:-}" ]; then
  [ -f "$ORT_LIB" ] || { echo "fetch-onnxruntime: ORT_LIB=$ORT_LIB does not exist" >&2; exit 1; }
  echo "$ORT_LIB"
  exit 0
fi

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) echo "fetch-onnxruntime: only linux/x86_64 is fetched; set ORT_LIB for $(uname -s)/$(uname -m)" >&2; exit 1 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.cache/onnxruntime/$version"
lib="$dir/libonnxruntime.so.1"

if [ -f "$lib" ] && echo "$sha256  $lib" | sha256sum --check --status; then
  echo "$lib"
  exit 0
fi

command -v npm >/dev/null || { echo "fetch-onnxruntime: npm not found (apt-get install npm)" >&2; exit 1; }
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "fetch-onnxruntime: fetching onnxruntime-node@$version from the npm registry" >&2
(cd "$tmp" && npm pack --silent "onnxruntime-node@$version" >/dev/null)
tar -xzf "$tmp/onnxruntime-node-$version.tgz" -C "$tmp" "$member"
if ! echo "$sha256  $tmp/$member" | sha256sum --check --status; then
  echo "fetch-onnxruntime: sha256 mismatch for $member (want $sha256)" >&2
  exit 1
fi
mv "$tmp/$member" "$lib"
echo "$lib"
