#!/usr/bin/env bash
# What the console ring (tests/console) needs besides Python: Debian's chromium (Playwright drives it;
# Playwright's own browser download is never used) and npm (the test that rebuilds the console's assets
# from frontend/package-lock.json). Installs only what is missing; needs root (CI runs as root).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium fonts-liberation)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
    echo "[browser-deps] installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "[browser-deps] $(chromium --version 2>/dev/null | head -1); npm $(npm --version)"
