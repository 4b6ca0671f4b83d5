#!/bin/sh
# Installs the SageMaker Python SDK 3 serving pieces (emulator/images.py SDK3_SERVE_WHEELS, fetched on the
# host: no index inside the build) into /opt/smlocal/sdk3, a directory of its own: the serving toolkit puts it
# first on the path only for ModelBuilder artifacts (code/serve.pkl), so jobs and other models keep Debian's
# libraries. --no-deps: the wheels are the import closure of the SDK's serving code over what the image has.
set -eu
HERE="$(dirname "$0")"
TARGET=/opt/smlocal/sdk3
if ls "$HERE"/wheels/*.whl >/dev/null 2>&1; then
    python3 -m pip install --no-index --no-deps --no-cache-dir --no-compile --target "$TARGET" "$HERE"/wheels/*.whl
    find "$TARGET" -name __pycache__ -prune -exec rm -rf {} +
    # what the SDK's code/inference.py imports (sagemaker.serve pulls in ModelBuilder); its import needs a region
    PYTHONPATH="$TARGET" AWS_DEFAULT_REGION=us-east-1 python3 -c '
import cloudpickle, sagemaker.serve.validations.check_integrity, sagemaker.serve.spec.inference_spec
import sagemaker.serve.detector.image_detector, sagemaker.serve.detector.pickler, sagemaker.serve.constants
from importlib.metadata import version
print("sagemaker-serve", version("sagemaker-serve"), "sagemaker-core", version("sagemaker-core"), "cloudpickle", version("cloudpickle"))'
else
    echo "smlocal sdk3: no SageMaker SDK 3 wheels (the host could not download them); ModelBuilder model objects and InferenceSpecs cannot be served" >&2
fi
