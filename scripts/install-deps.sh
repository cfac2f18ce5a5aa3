#!/usr/bin/env bash
# Installs the Debian packages a target needs when they are missing (quiet
# when everything is there). Used by `make test`, `make check-generated` and
# .ci/run so that a fresh machine needs nothing installed by hand.
#   install-deps.sh test        libonnx-testdata (the ONNX node tests)
#   install-deps.sh generate    protobuf-compiler, libprotobuf-dev (the well-known
#                               types) and libonnx-dev (make proto)
set -euo pipefail

need=()
for what in "$@"; do
  case "$what" in
    test)
      [ -d /usr/share/libonnx-testdata/data/node ] || need+=(libonnx-testdata)
      command -v npm >/dev/null || need+=(npm)
      ;;
    generate)
      command -v protoc >/dev/null || need+=(protobuf-compiler)
      [ -f /usr/include/google/protobuf/wrappers.proto ] || need+=(libprotobuf-dev)
      [ -f /usr/include/onnx/onnx.proto ] || need+=(libonnx-dev)
      ;;
    *) echo "install-deps: unknown target $what" >&2; exit 2 ;;
  esac
done
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=sudo
  else
    echo "install-deps: missing Debian packages: ${need[*]}; install them with: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
