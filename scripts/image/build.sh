#!/usr/bin/env bash
# Builds the ovms image from the binaries of `make build` (called by make image
# and make image-cuda; the Makefile stages build/image/ first).
#
#   build.sh TARGET TAG        TARGET ovms or cuda
#
# With podman (installed and set up by podman-setup.sh where there is no
# Docker engine): `podman build --format docker` (the OCI format drops
# HEALTHCHECK), on the base image that base-image.sh provides. Where a Docker
# engine answers and podman is absent: docker build.
# BASE_IMAGE, VERSION and REVISION override the build arguments.
set -euo pipefail
cd "$(dirname "$0")/../.."

target=$1 tag=$2
base=${BASE_IMAGE:-debian:bookworm-slim}
args=(
  --build-arg "BASE_IMAGE=$base"
  --build-arg "VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
  --build-arg "REVISION=${REVISION:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}"
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  --target "$target" -t "$tag" .
)
if ! command -v podman >/dev/null && docker info >/dev/null 2>&1; then
  exec docker build "${args[@]}"
fi
./scripts/image/podman-setup.sh
./scripts/image/base-image.sh "$base"
# RUN steps get buildah's own rlimits, not containers.conf's: keep them
# within the current hard limits (runc's setrlimit is refused otherwise).
nofile=$(ulimit -Hn) nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nproc" = unlimited ] && nproc=4194304
# podman lowers its own (and so conmon's and runc's) nproc limit to
# kernel.pid_max: a larger value is refused like one above the hard limit.
pidmax=$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo "$nproc")
[ "$nproc" -gt "$pidmax" ] && nproc=$pidmax
podman build --quiet --pull=never --format docker \
  --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" "${args[@]}" >/dev/null
echo "built $tag ($(podman image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
