#!/usr/bin/env bash
# Makes `docker` work on a machine with no Docker engine: installs Debian's
# podman (4.3), runc, mmdebstrap and docker-compose (1.29) when missing,
# writes /etc/containers/containers.conf as this machine kind needs it, and
# starts podman's Docker-compatible API on unix:///run/podman/podman.sock
# (export DOCKER_HOST=unix:///run/podman/podman.sock for the docker CLI and
# docker-compose) plus a loop that runs the containers' health checks (without
# systemd, podman runs them only through `podman healthcheck run`).
# Idempotent and quiet when everything is in place; needs root (or sudo -n).
#
#   podman-setup.sh          install, configure, start (what make image needs)
#   podman-setup.sh stop     stop the API service and the health-check loop
#
# Measured on this machine kind (Debian 12 in a container, cgroup v1, no
# systemd): crun's setrlimit is refused unless default_ulimits stay within the
# current hard limits, and runc is what works; events go to a file (no
# journald); cgroups are managed directly (no systemd).
set -euo pipefail

sock=/run/podman/podman.sock
state=/run/ovms-podman
conf=/etc/containers/containers.conf
marker="# written by ovms scripts/image/podman-setup.sh"

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=sudo
  else
    echo "podman-setup: needs root (or password-less sudo) to install and configure podman" >&2
    exit 1
  fi
fi

stop() {
  for f in "$state/service.pid" "$state/healthloop.pid"; do
    if [ -f "$f" ]; then
      pid=$(cat "$f")
      $sudo kill "$pid" 2>/dev/null || true
      $sudo rm -f "$f"
    fi
  done
}
if [ "${1:-}" = stop ]; then
  stop
  exit 0
fi

# 1. Packages.
need=()
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v newuidmap >/dev/null || need+=(uidmap)
command -v iptables >/dev/null || need+=(iptables)
[ -x /usr/lib/podman/netavark ] || [ -x /usr/libexec/podman/netavark ] || need+=(netavark)
[ -x /usr/lib/podman/aardvark-dns ] || [ -x /usr/libexec/podman/aardvark-dns ] || need+=(aardvark-dns)
# The docker CLI: this machine kind ships it in /usr/local/bin; elsewhere
# Debian's docker.io carries it (its daemon is never started here).
command -v docker >/dev/null || need+=(docker.io)
if [ ${#need[@]} -gt 0 ]; then
  echo "podman-setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if [[ " ${need[*]} " == *" docker.io "* ]]; then
    # docker.io's postinst may start dockerd where systemd runs; podman serves the API here.
    $sudo systemctl disable --now docker.service docker.socket >/dev/null 2>&1 || true
  fi
fi

# 2. containers.conf (kept when someone else wrote one without our marker).
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nproc" = unlimited ] && nproc=4194304
# podman lowers its own (and so conmon's and runc's) nproc limit to
# kernel.pid_max: a larger value is refused like one above the hard limit.
pidmax=$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo "$nproc")
[ "$nproc" -gt "$pidmax" ] && nproc=$pidmax
want="$marker
[containers]
default_ulimits = [
  \"nofile=$nofile:$nofile\",
  \"nproc=$nproc:$nproc\",
]

[engine]
runtime = \"runc\"
cgroup_manager = \"cgroupfs\"
events_logger = \"file\"
"
if [ ! -f "$conf" ] || { head -1 "$conf" | grep -qF "$marker" && [ "$(cat "$conf")" != "$(printf '%s' "$want")" ]; }; then
  $sudo mkdir -p /etc/containers
  printf '%s' "$want" | $sudo tee "$conf" >/dev/null
  stop # a running service would keep the old settings
elif ! head -1 "$conf" | grep -qF "$marker"; then
  echo "podman-setup: keeping $conf (not written by this script)" >&2
fi

# 3. The API service and the health-check loop, started from / : they
# outlive this script, and conmon, which the service starts for every
# container, fails ("Failed to get working directory") once the folder they
# were started in is removed (a checkout or CI clone deleted while the
# service runs).
cd /
$sudo mkdir -p "$state" /run/podman
alive() { [ -f "$1" ] && $sudo kill -0 "$(cat "$1")" 2>/dev/null; }
# One started (by an earlier version of this script) in a folder since
# removed is restarted.
for f in "$state/service.pid" "$state/healthloop.pid"; do
  if alive "$f" && [[ "$($sudo readlink "/proc/$(cat "$f")/cwd" 2>/dev/null)" == *" (deleted)" ]]; then
    echo "podman-setup: restarting the API service and the health-check loop (their working folder was removed)" >&2
    stop
    sleep 0.5
    break
  fi
done
if ! alive "$state/service.pid"; then
  $sudo rm -f "$sock"
  $sudo setsid podman system service --time=0 "unix://$sock" \
    </dev/null >>"$state/service.log" 2>&1 &
  echo $! | $sudo tee "$state/service.pid" >/dev/null
fi
if ! alive "$state/healthloop.pid"; then
  # Every 2 s, run the health check of each running container that has one;
  # podman keeps the start period, interval and retries of the image's HEALTHCHECK.
  $sudo setsid bash -c '
    while sleep 2; do
      for id in $(podman ps -q --filter health=starting --filter health=healthy --filter health=unhealthy 2>/dev/null | sort -u); do
        podman healthcheck run "$id" >/dev/null 2>&1 || true
      done
    done' </dev/null >>"$state/healthloop.log" 2>&1 &
  echo $! | $sudo tee "$state/healthloop.pid" >/dev/null
fi
for _ in $(seq 1 100); do
  if DOCKER_HOST="unix://$sock" docker version >/dev/null 2>&1; then
    exit 0
  fi
  sleep 0.1
done
echo "podman-setup: the podman API did not answer on $sock; see $state/service.log" >&2
tail -20 "$state/service.log" >&2 || true
exit 1
