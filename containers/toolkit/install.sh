#!/bin/sh
# Installs the smlocal toolkit into an image: its packages on the system Python's path, and the
# `train` / `serve` commands SageMaker runs, on PATH (as AWS's images have them). Then a current
# boto3/botocore/s3transfer from wheels the image builder fetched on the host (no index in the build;
# their dependencies are Debian's): Debian's botocore 1.29 ignores AWS_ENDPOINT_URL_S3.
set -eu
TOOLKIT=/opt/smlocal/toolkit
site="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$TOOLKIT/src" > "$site/smlocal-toolkit.pth"
for cmd in train serve; do
    install -m 0755 "$TOOLKIT/bin/$cmd" "/usr/local/bin/$cmd"
done
# AWS's framework images answer to `python` too: FrameworkProcessor's runproc.sh (TensorFlowProcessor,
# PyTorchProcessor, ...) runs `python <script>`
command -v python >/dev/null 2>&1 || ln -s "$(command -v python3)" /usr/local/bin/python
if ls "$TOOLKIT"/wheels/boto3-*.whl >/dev/null 2>&1; then
    python3 -m pip install --no-index --no-deps --no-cache-dir "$TOOLKIT"/wheels/*.whl
else
    echo "smlocal toolkit: no boto3 wheels (the host could not download them); keeping Debian's boto3" >&2
fi
rm -rf "$TOOLKIT/wheels"
find "$TOOLKIT" -name __pycache__ -prune -exec rm -rf {} +
python3 -c 'import smlocal_toolkit, boto3, botocore; print("boto3", boto3.__version__, "botocore", botocore.__version__)'
