#!/bin/sh
# Installs the smlocal toolkit into an image: its packages on the system Python's path, and the
# `train` / `serve` commands SageMaker runs, on PATH (as AWS's images have them).
set -eu
TOOLKIT=/opt/smlocal/toolkit
site="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$TOOLKIT/src" > "$site/smlocal-toolkit.pth"
for cmd in train serve; do
    install -m 0755 "$TOOLKIT/bin/$cmd" "/usr/local/bin/$cmd"
done
find "$TOOLKIT" -name __pycache__ -prune -exec rm -rf {} +
python3 -c 'import smlocal_toolkit' 
