#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine (idempotent).
#
#   scripts/docker-engine.sh
#
# - If `docker info` already answers: exit 0.
# - Otherwise install Debian's docker.io (and debootstrap, which
#   scripts/build-base-image.sh needs) when missing, start `dockerd` in the
#   background, detached from the calling shell (no systemd needed), and wait
#   up to DOCKERD_WAIT_SECONDS (default 60) for it to answer.
#
# Must run as root when it has to install or start anything. Works on a fresh
# Debian bookworm machine or CI container.
#
# Environment:
#   DOCKERD_LOG           dockerd log file   (default /var/log/smlocal-dockerd.log)
#   DOCKERD_WAIT_SECONDS  how long to wait   (default 60)
#   DOCKERD_EXTRA_ARGS    extra dockerd flags, word-split (e.g. "--storage-driver=vfs")
set -euo pipefail

LOG_FILE="${DOCKERD_LOG:-/var/log/smlocal-dockerd.log}"
WAIT_SECONDS="${DOCKERD_WAIT_SECONDS:-60}"
PID_FILE=/var/run/docker.pid

say() { printf '[docker-engine] %s\n' "$*"; }
die() { printf '[docker-engine] ERROR: %s\n' "$*" >&2; exit 1; }

engine_answers() {
    command -v docker >/dev/null 2>&1 && timeout 15 docker info >/dev/null 2>&1
}

summary() {
    local server driver
    server="$(timeout 15 docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null || echo '?')"
    driver="$(timeout 15 docker info --format '{{.Driver}}' 2>/dev/null || echo '?')"
    say "Docker engine ready: server ${server}, storage driver ${driver}"
}

if engine_answers; then
    say "docker info already answers; nothing to do."
    summary
    exit 0
fi

# --- install what is missing ------------------------------------------------
missing=()
if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    # ca-certificates: TLS to registries; xz-utils: compressed image/context tarballs.
    missing+=(docker.io ca-certificates xz-utils)
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    missing+=(debootstrap)
fi

if ((${#missing[@]})); then
    [[ $(id -u) -eq 0 ]] || die "need root to install: ${missing[*]}"
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install ${missing[*]} by hand"
    export DEBIAN_FRONTEND=noninteractive
    say "installing: ${missing[*]}"
    say "apt-get update ..."
    apt-get -q update
    say "apt-get install ${missing[*]} ..."
    apt-get -q install -y --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${missing[@]}"
    # docker.io's maintainer script may have started the engine (sysvinit).
    if engine_answers; then
        say "engine started by the package's maintainer script."
        summary
        exit 0
    fi
fi

command -v dockerd >/dev/null 2>&1 || die "dockerd still not found after installation"

# --- start dockerd ----------------------------------------------------------
dockerd_pid=""
if pid="$(pgrep -x dockerd 2>/dev/null | head -n1)" && [[ -n $pid ]]; then
    dockerd_pid="$pid"
    # Someone else (a concurrent run, an init script) already started it; wait for it.
    say "dockerd already running (pid ${pid}) but not answering yet; waiting for it."
else
    [[ $(id -u) -eq 0 ]] || die "need root to start dockerd"
    # A stale pid file from a killed dockerd makes a new one refuse to start.
    if [[ -f $PID_FILE ]] && ! kill -0 "$(cat "$PID_FILE" 2>/dev/null || echo 0)" 2>/dev/null; then
        say "removing stale ${PID_FILE}"
        rm -f "$PID_FILE"
    fi
    mkdir -p "$(dirname "$LOG_FILE")"
    printf '\n==== %s: starting dockerd (smlocal docker-engine.sh) ====\n' "$(date -Is)" >>"$LOG_FILE"
    extra_args=()
    if [[ -n ${DOCKERD_EXTRA_ARGS:-} ]]; then
        read -r -a extra_args <<<"$DOCKERD_EXTRA_ARGS"
    fi
    # setsid + nohup: own session, immune to the caller's SIGHUP / process-group kill;
    # all three standard streams redirected so the caller does not wait on them.
    # (--wait: should setsid have to fork, $! still lives exactly as long as dockerd.)
    setsid --wait nohup dockerd "${extra_args[@]}" >>"$LOG_FILE" 2>&1 </dev/null &
    dockerd_pid=$!
    say "started dockerd (pid ${dockerd_pid}), log: ${LOG_FILE}"
fi

show_log() {
    sleep 1 # let dockerd flush its last words
    tail -n 30 "$LOG_FILE" >&2 2>/dev/null || true
}

start=$SECONDS
while ! engine_answers; do
    elapsed=$((SECONDS - start))
    if ((elapsed >= WAIT_SECONDS)); then
        say "dockerd did not answer within ${WAIT_SECONDS}s; last 30 lines of ${LOG_FILE}:" >&2
        show_log
        exit 1
    fi
    if ! kill -0 "$dockerd_pid" 2>/dev/null; then
        say "dockerd (pid ${dockerd_pid}) exited; last 30 lines of ${LOG_FILE}:" >&2
        show_log
        exit 1
    fi
    say "waiting for docker info ... ${elapsed}s"
    sleep 1
done
say "docker info answered after $((SECONDS - start))s"
summary
