#!/usr/bin/env bash
# Provides the Dockerfile's base image (BASE_IMAGE, default
# debian:bookworm-slim) in podman's local storage on a machine that cannot
# pull images: builds a minimal Debian 12 root file system with mmdebstrap from
# Debian's packages (minbase variant, documentation and locales left out as in
# the slim image), keeps the tarball in the ignored folder .cache/base-image/,
# and `podman import`s it under the base image's name. Does nothing when the
# image is already there; reuses the cached tarball when it exists.
#
#   base-image.sh [IMAGE]      IMAGE defaults to $BASE_IMAGE or debian:bookworm-slim
#
# A cold build takes 1.5 to 9 minutes here (download and unpack of ~90
# packages); the import of a cached tarball about 10 s.
set -euo pipefail
cd "$(dirname "$0")/../.."

image=${1:-${BASE_IMAGE:-debian:bookworm-slim}}
case "$image" in
  */*) full=$image ;;
  *) full=docker.io/library/$image ;;
esac
if podman image exists "$full"; then
  exit 0
fi
case "$image" in
  debian:bookworm-slim|debian:bookworm|debian:12-slim|debian:12) suite=bookworm ;;
  *) echo "base-image: cannot build $image locally (only Debian bookworm); pull it or pass BASE_IMAGE=debian:bookworm-slim" >&2; exit 1 ;;
esac

cache=.cache/base-image
tar=$cache/debian-$suite-slim.tar
mkdir -p "$cache"
if [ ! -s "$tar" ]; then
  command -v mmdebstrap >/dev/null || { echo "base-image: mmdebstrap missing (scripts/image/podman-setup.sh installs it)" >&2; exit 1; }
  echo "base-image: building Debian $suite (minbase) with mmdebstrap into $tar (1.5 to 9 minutes)" >&2
  mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
  security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
  mode=root
  [ "$(id -u)" -eq 0 ] || mode=unshare
  tmp=$(mktemp "$cache/.build.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  mmdebstrap --quiet --mode="$mode" --variant=minbase --format=tar \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --aptopt='Acquire::Languages "none"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log' \
    "$suite" "$tmp" \
    "deb $mirror $suite main" \
    "deb $mirror $suite-updates main" \
    "deb $security $suite-security main"
  mv "$tmp" "$tar"
  trap - EXIT
fi
echo "base-image: importing $tar as $full" >&2
podman import --quiet --change 'CMD ["/bin/bash"]' "$tar" "$full" >/dev/null
