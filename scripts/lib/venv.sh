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
