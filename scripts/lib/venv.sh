# Sourced by scripts/smlocal and scripts/test: make sure .venv exists with the project installed.
# Usage: ensure_venv [extra]   (extra = "test" installs the test dependencies too, "examples" the
# SageMaker SDK the examples use; the "fast" extra, uvloop + httptools for the gateway, is always
# installed). Installs when pyproject.toml changed since the last install or the extra is missing;
# extras installed before are kept.

ensure_venv() {
    local extra="${1:-}" extras root venv python stamp want
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    venv="${SMLOCAL_VENV:-$root/.venv}"
    python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
        echo "smlocal needs Python >= 3.10 ($python is $("$python" --version 2>&1))" >&2
        return 1
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
        echo "[smlocal] creating virtualenv $venv" >&2
        "$python" -m venv "$venv"
    fi
    stamp="$venv/.smlocal-installed"   # "<pyproject hash>-<extras>"
    hash="$(sha256sum "$root/pyproject.toml" | cut -c1-16)"
    installed_hash="" installed=""
    if [[ -f "$stamp" ]]; then
        installed_hash="$(cut -d- -f1 "$stamp")" installed="$(cut -d- -f2- "$stamp")"
    fi
    # extras installed before stay: scripts/test, scripts/smlocal and scripts/example share one .venv
    extras="$(printf '%s\n' fast $extra ${installed//,/ } | sort -u | paste -sd, -)"
    covered=no
    if [[ ",$installed," == *",${extra:-fast},"* ]] || { [[ "$extra" == examples ]] && [[ ",$installed," == *",test,"* ]]; }; then
        covered=yes   # (the test extra holds everything the examples need)
    fi
    if [[ "$installed_hash" != "$hash" || "$covered" == no ]]; then
        echo "[smlocal] installing smlocal[$extras] into $venv" >&2
        "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
        "$venv/bin/python" -m pip install --quiet -e "$root[$extras]" >&2
        echo "$hash-$extras" > "$stamp"
    fi
    VENV="$venv"
    export VENV
}

# The SageMaker Python SDK 3 ring's own venv (SDK 3 and 2 are both the `sagemaker` package, so they
# cannot share .venv). Pins: tests/e2e_sdk3/requirements.txt; a hash of that file is stored in the venv
# and the venv is reinstalled only when it changes. A lock keeps two callers (./scripts/test starting
# it early, the ring's fixture) from installing at once. Sets SDK3_VENV.
ensure_sdk3_venv() {
    local root venv python pins stamp want log
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    venv="${SMLOCAL_SDK3_VENV:-$root/.venv-sdk3}"
    python="${PYTHON:-python3}"
    pins="$root/tests/e2e_sdk3/requirements.txt"
    stamp="$venv/.smlocal-pins"
    log="$root/.venv-sdk3.install.log"
    want="$(sha256sum "$pins" | cut -c1-16)"
    mkdir -p "$(dirname "$venv")"
    (
        flock 9
        if [[ -x "$venv/bin/python" ]] && grep -qx -- "$want" "$stamp" 2>/dev/null; then
            exit 0
        fi
        echo "[smlocal] installing the SDK 3 ring's venv $venv from ${pins#"$root"/} (about 3 minutes; log: $log)" >&2
        rm -rf "$venv"
        local started=$SECONDS
        if ! { "$python" -m venv "$venv" && "$venv/bin/python" -m pip install --upgrade pip \
               && "$venv/bin/python" -m pip install -r "$pins"; } >"$log" 2>&1; then
            echo "[smlocal] installing $venv failed; the last lines of $log:" >&2
            tail -n 20 "$log" >&2
            exit 1
        fi
        echo "$want" > "$stamp"
        echo "[smlocal] SDK 3 venv ready in $((SECONDS - started)) s" >&2
    ) 9>"$root/.venv-sdk3.lock"
    SDK3_VENV="$venv"
    export SDK3_VENV
}
