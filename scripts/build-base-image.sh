#!/usr/bin/env bash
# Build the local image smlocal/base:bookworm (Debian bookworm + python3 +
# ca-certificates, minimal). Idempotent: does nothing if the image exists.
#
#   scripts/build-base-image.sh [--force] [--strategy auto|registry|debootstrap]
#
# Strategies (auto picks the first that works):
#   registry     `docker pull debian:bookworm-slim` answers within ~20 s ->
#                `docker build containers/base`
#   debootstrap  no registry -> `debootstrap --variant=minbase` into a temporary
#                directory, slim it down like debian:*-slim, `docker import` it
#                with the same ENV / LABEL / CMD as containers/base/Dockerfile.
#
# Environment:
#   SMLOCAL_BASE_IMAGE      image tag            (default smlocal/base:bookworm)
#   SMLOCAL_BASE_STRATEGY   same as --strategy   (default auto)
#   SMLOCAL_DEBIAN_MIRROR   mirror for debootstrap (default http://deb.debian.org/debian);
#                           the image's own apt sources always name deb.debian.org
#   SMLOCAL_CACHE_DIR       .deb cache for debootstrap (default /var/cache/smlocal/debootstrap)
set -euo pipefail

IMAGE="${SMLOCAL_BASE_IMAGE:-smlocal/base:bookworm}"
STRATEGY="${SMLOCAL_BASE_STRATEGY:-auto}"
MIRROR="${SMLOCAL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CACHE_DIR="${SMLOCAL_CACHE_DIR:-/var/cache/smlocal/debootstrap}"
SUITE=bookworm
UPSTREAM=debian:bookworm-slim
PULL_TIMEOUT=20
FORCE=0

# Keep in sync with containers/base/Dockerfile.
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
IMAGE_ENV=(
    "PATH=${IMAGE_PATH}"
    "LANG=C.UTF-8"
    "PYTHONUNBUFFERED=1"
    "PYTHONDONTWRITEBYTECODE=1"
)
IMAGE_LABEL_KEY=org.smlocal.image
IMAGE_LABEL_VALUE=base
METHOD_LABEL_KEY=org.smlocal.base.method   # which strategy built it (informational)

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONTEXT_DIR="${REPO_ROOT}/containers/base"

say() { printf '[build-base-image] %s\n' "$*"; }
die() { printf '[build-base-image] ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while (($#)); do
    case "$1" in
        --force | -f) FORCE=1 ;;
        --strategy) [[ $# -ge 2 ]] || die "--strategy needs a value"; STRATEGY="$2"; shift ;;
        --strategy=*) STRATEGY="${1#--strategy=}" ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
done
case "$STRATEGY" in
    auto | registry | debootstrap) ;;
    *) die "unknown strategy '${STRATEGY}' (auto, registry or debootstrap)" ;;
esac

image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
# Mount points below a directory, deepest first.
mounts_under() {
    awk -v w="$1" 'index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

timeout 15 docker info >/dev/null 2>&1 \
    || die "Docker engine does not answer (docker info failed); run scripts/docker-engine.sh first"

# One build at a time; a concurrent caller waits, then finds the image built.
if command -v flock >/dev/null 2>&1; then
    lock_dir=/run/lock
    [[ -d $lock_dir && -w $lock_dir ]] || lock_dir="${TMPDIR:-/tmp}"
    exec 9>"${lock_dir}/smlocal-build-base-image.lock"
    if ! flock -n 9; then
        say "another build is running; waiting for its lock ..."
        flock 9
    fi
fi

OLD_ID="$(image_id "$IMAGE")"
if [[ -n $OLD_ID && $FORCE -eq 0 ]]; then
    say "image ${IMAGE} already exists (${OLD_ID:7:12}); skipping (use --force to rebuild)."
    exit 0
fi

T0=$SECONDS
WORK=""
cleanup() {
    local rc=$? mnt
    if [[ -n $WORK && -d $WORK ]]; then
        # debootstrap mounts proc/sys/dev inside the target; if it died halfway they
        # may still be mounted. Unmount (deepest first) before deleting anything.
        while read -r mnt; do
            umount -l "$mnt" 2>/dev/null || true
        done < <(mounts_under "$WORK")
        rm -rf --one-file-system "$WORK" || say "could not fully remove ${WORK}"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- strategy: registry ------------------------------------------------------
build_from_registry() {
    local t=$SECONDS
    say "strategy: registry (docker build ${CONTEXT_DIR#"$REPO_ROOT"/})"
    docker build \
        --label "${METHOD_LABEL_KEY}=registry" \
        --tag "$IMAGE" \
        "$CONTEXT_DIR"
    say "docker build took $((SECONDS - t))s"
}

# --- strategy: debootstrap ---------------------------------------------------
write_rootfs_config() {
    local r="$1"

    # apt sources exactly like debian:bookworm-slim (deb822, incl. updates + security).
    rm -f "$r/etc/apt/sources.list"
    mkdir -p "$r/etc/apt/sources.list.d"
    cat >"$r/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: ${SUITE} ${SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: ${SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

    # The container-friendly apt/dpkg settings the official Debian images carry,
    # so images built FROM this one behave the same whichever strategy made it.
    mkdir -p "$r/etc/apt/apt.conf.d" "$r/etc/dpkg/dpkg.cfg.d"
    cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
# Container images: do not keep apt's binary package caches (wasted layer space).
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    cat >"$r/etc/apt/apt.conf.d/docker-gzip-indexes" <<'EOF'
# Keep downloaded package indexes compressed on disk.
Acquire::GzipIndexes "true";
EOF
    cat >"$r/etc/apt/apt.conf.d/docker-no-languages" <<'EOF'
# Do not download translated package descriptions.
Acquire::Languages "none";
EOF
    cat >"$r/etc/apt/apt.conf.d/docker-autoremove-suggests" <<'EOF'
# Let "apt-get purge --auto-remove" remove packages that are only Suggested.
Apt::AutoRemove::SuggestsImportant "false";
EOF
    cat >"$r/etc/dpkg/dpkg.cfg.d/docker-apt-speedup" <<'EOF'
# Image builds are throw-away on failure; skip fsync for speed.
force-unsafe-io
EOF
    cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# "slim" image: keep documentation, manuals and translations out of the image.
path-exclude /usr/share/doc/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
path-include /usr/share/doc/*/copyright
path-include /usr/share/locale/locale.alias
EOF
    # Package installs inside image builds must not try to start services.
    cat >"$r/usr/sbin/policy-rc.d" <<'EOF'
#!/bin/sh
# Containers have no init system: tell maintainer scripts not to start services.
exit 101
EOF
    chmod 0755 "$r/usr/sbin/policy-rc.d"
}

upgrade_rootfs() {
    # debootstrap installs the suite's point release only; the registry path gets
    # bookworm-updates/-security through debian:bookworm-slim + apt. Apply them here
    # too so both paths end up with the same package versions.
    local r="$1" log="$WORK/upgrade.log" t=$SECONDS rc=0
    say "apt-get dist-upgrade in the rootfs (${SUITE}-updates, ${SUITE}-security) ..."
    mount -t proc proc "$r/proc"
    mount --bind /dev "$r/dev"
    chroot "$r" /usr/bin/env -i PATH="$IMAGE_PATH" LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
        /bin/sh -c 'apt-get -q update && apt-get -q -y -o Dpkg::Options::=--force-confold dist-upgrade && apt-get clean' \
        >"$log" 2>&1 || rc=$?
    umount "$r/dev"
    umount "$r/proc"
    if ((rc == 0)); then
        awk '/ upgraded, /{ print "  " $0 }' "$log"
        say "upgrade took $((SECONDS - t))s"
    else
        say "WARNING: upgrade failed (exit ${rc}); the image keeps ${SUITE}'s point-release packages. Last lines:" >&2
        tail -n 15 "$log" >&2 || true
    fi
}

slim_rootfs() {
    local r="$1"
    # Never delete through a mount (a leftover bind mount of the host's /dev, say).
    [[ -z "$(mounts_under "$WORK")" ]] || die "still mounted under ${WORK}: $(mounts_under "$WORK" | tr '\n' ' ')"
    # What the dpkg path-excludes above would have kept out in the first place.
    find "$r/usr/share/doc" -xdev -mindepth 1 ! -type d ! -name copyright -delete 2>/dev/null || true
    find "$r/usr/share/doc" -xdev -mindepth 1 -type d -empty -delete 2>/dev/null || true
    find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
    rm -rf "$r"/usr/share/{man,info,groff,linda}/* "$r"/usr/share/lintian/overrides/*

    # Caches, logs and host leftovers (debootstrap copies the host's resolv.conf/hostname;
    # Docker provides both at run time).
    rm -rf "$r"/var/lib/apt/lists/* \
        "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/archives/partial/* \
        "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old \
        "$r"/var/log/*.log "$r"/var/log/apt/* \
        "$r"/tmp/* "$r"/var/tmp/* "$r"/root/.cache \
        "$r"/etc/resolv.conf "$r"/etc/hostname "$r"/etc/machine-id
    # Docker mounts its own /dev; ship an empty one like the official images.
    find "$r/dev" -xdev -mindepth 1 -delete 2>/dev/null || true
}

build_with_debootstrap() {
    command -v debootstrap >/dev/null 2>&1 \
        || die "debootstrap not installed (apt-get install -y debootstrap, or run scripts/docker-engine.sh)"
    [[ $(id -u) -eq 0 ]] || die "debootstrap needs root"

    say "strategy: debootstrap (offline-registry path; mirror ${MIRROR})"
    mkdir -p "$CACHE_DIR"
    WORK="$(mktemp -d /var/tmp/smlocal-base.XXXXXX)"
    local rootfs="$WORK/rootfs" log="$WORK/debootstrap.log" t=$SECONDS rc=0
    mkdir -p "$rootfs"

    say "debootstrap --variant=minbase --include=python3,ca-certificates ${SUITE} (cache ${CACHE_DIR}) ..."
    # Full output goes to the log; only the stage lines are shown.
    debootstrap --variant=minbase --include=python3,ca-certificates \
        --cache-dir="$CACHE_DIR" "$SUITE" "$rootfs" "$MIRROR" 2>&1 \
        | tee "$log" \
        | awk '!/^I: (Retrieving|Validating|Extracting|Unpacking|Configuring|Checking component) /{ print "  " $0; fflush() }' \
        || rc=$?
    if ((rc != 0)); then
        say "debootstrap failed (exit ${rc}); last 30 lines of its logs:" >&2
        tail -n 30 "$log" >&2 || true
        [[ -f $rootfs/debootstrap/debootstrap.log ]] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
        exit 1
    fi
    say "debootstrap took $((SECONDS - t))s"

    t=$SECONDS
    [[ -x $rootfs/usr/bin/python3 ]] || die "python3 missing from the bootstrapped rootfs"
    write_rootfs_config "$rootfs"
    upgrade_rootfs "$rootfs"
    slim_rootfs "$rootfs"
    say "rootfs prepared: $(du -sh --one-file-system "$rootfs" | cut -f1) ($((SECONDS - t))s)"

    t=$SECONDS
    local changes=() kv
    for kv in "${IMAGE_ENV[@]}"; do
        changes+=(--change "ENV ${kv}")
    done
    changes+=(
        --change "LABEL ${IMAGE_LABEL_KEY}=${IMAGE_LABEL_VALUE}"
        --change "LABEL ${METHOD_LABEL_KEY}=debootstrap"
        --change 'CMD ["/bin/bash"]'
    )
    say "docker import -> ${IMAGE} ..."
    tar -C "$rootfs" --numeric-owner -c . \
        | docker import "${changes[@]}" \
            --message "smlocal base: debootstrap --variant=minbase ${SUITE} + python3, ca-certificates" \
            - "$IMAGE" >/dev/null
    say "docker import took $((SECONDS - t))s"
}

# --- choose and run ----------------------------------------------------------
if [[ $STRATEGY == auto ]]; then
    say "probing registry: docker pull ${UPSTREAM} (timeout ${PULL_TIMEOUT}s) ..."
    t=$SECONDS
    if timeout "$PULL_TIMEOUT" docker pull -q "$UPSTREAM" >/dev/null 2>&1; then
        say "registry reachable ($((SECONDS - t))s)"
        STRATEGY=registry
    else
        say "no registry ($((SECONDS - t))s); falling back to debootstrap"
        STRATEGY=debootstrap
    fi
elif [[ $STRATEGY == registry ]]; then
    say "pulling ${UPSTREAM} ..."
    timeout "$PULL_TIMEOUT" docker pull -q "$UPSTREAM" >/dev/null || die "cannot pull ${UPSTREAM}"
fi

case "$STRATEGY" in
    registry) build_from_registry ;;
    debootstrap) build_with_debootstrap ;;
esac

NEW_ID="$(image_id "$IMAGE")"
[[ -n $NEW_ID ]] || die "build finished but ${IMAGE} does not exist"
if [[ -n $OLD_ID && $OLD_ID != "$NEW_ID" ]]; then
    # --force rebuild: drop the previous image if nothing uses it any more.
    if docker image rm "$OLD_ID" >/dev/null 2>&1; then
        say "removed previous image ${OLD_ID:7:12}"
    fi
fi
size_mb="$(docker image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f", $1 / 1000000 }')"
say "built ${IMAGE} (${NEW_ID:7:12}, ${size_mb} MB, strategy ${STRATEGY}) in $((SECONDS - T0))s"
