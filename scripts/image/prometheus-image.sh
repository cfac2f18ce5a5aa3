#!/usr/bin/env bash
# Builds a Prometheus image (default tag ovms-prometheus:latest) for the
# metrics compose stack (docker-compose.metrics.yml) on a machine that cannot
# pull prom/prometheus: downloads Debian's prometheus package with
# `apt-get download` (no install on the host; kept in the ignored
# .cache/prometheus/), extracts its server binary with dpkg-deb and builds
# deploy/prometheus/Dockerfile on the ovms base image (base-image.sh provides
# it). Does nothing when the image exists and was built from the same package
# and files (a stamp label); called by make image-test.
#
#   prometheus-image.sh [TAG]
#
# Cost here: 19 MB downloaded once; 10 to 21 s cold (download included), 0.4 s when up to date.
set -euo pipefail
cd "$(dirname "$0")/../.."

tag=${1:-ovms-prometheus:latest}
base=${BASE_IMAGE:-debian:bookworm-slim}
cache=.cache/prometheus
ctx=build/prometheus-image
mkdir -p "$cache"

deb=$(ls "$cache"/prometheus_*.deb 2>/dev/null | tail -1 || true)
if [ -z "$deb" ]; then
  echo "prometheus-image: downloading Debian's prometheus package into $cache" >&2
  # apt-get download runs as _apt where it can: give it a folder it may write.
  tmp=$(mktemp -d)
  chmod 0777 "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  if ! (cd "$tmp" && apt-get download -qq prometheus 2>/dev/null); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    $sudo apt-get update -qq
    (cd "$tmp" && apt-get download -qq prometheus)
  fi
  mv "$tmp"/prometheus_*.deb "$cache"/
  deb=$(ls "$cache"/prometheus_*.deb | tail -1)
fi
version=$(dpkg-deb -f "$deb" Version)
stamp=$(cat "$deb" deploy/prometheus/Dockerfile deploy/prometheus/prometheus.yml | sha256sum | cut -c1-16)
full=$tag
case "$tag" in */*) ;; *) full=localhost/$tag ;; esac

if command -v podman >/dev/null; then
  if podman image exists "$full" &&
    [ "$(podman image inspect --format '{{index .Labels "io.ovms.prometheus-image.stamp"}}' "$full")" = "$stamp" ]; then
    exit 0
  fi
  ./scripts/image/podman-setup.sh
  ./scripts/image/base-image.sh "$base"
fi

rm -rf "$ctx" && mkdir -p "$ctx"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$ctx" --strip-components=3 ./usr/bin/prometheus
dpkg-deb --fsys-tarfile "$deb" | tar -x -O ./usr/share/doc/prometheus/copyright >"$ctx/copyright"
cp deploy/prometheus/prometheus.yml "$ctx/"
args=(--build-arg "BASE_IMAGE=$base" --build-arg "PROMETHEUS_VERSION=$version" --build-arg "STAMP=$stamp"
  -f deploy/prometheus/Dockerfile -t "$tag" "$ctx")
if ! command -v podman >/dev/null && docker info >/dev/null 2>&1; then
  exec docker build "${args[@]}"
fi
nofile=$(ulimit -Hn) nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nproc" = unlimited ] && nproc=4194304
pidmax=$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo "$nproc")
[ "$nproc" -gt "$pidmax" ] && nproc=$pidmax
podman build --quiet --pull=never --format docker \
  --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" "${args[@]}" >/dev/null
echo "built $tag (prometheus $version, $(podman image inspect --format '{{.Size}}' "$full" | awk '{printf "%.0f MB", $1/1e6}'))"
