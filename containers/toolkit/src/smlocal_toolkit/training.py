"""`train`: what runs in a training container (docs/container-contract.md 2.1). With
SAGEMAKER_TRAINING_MODULE (``pkg.module:func``, set by the image) the framework function runs;
otherwise the user's entry point. Success writes /opt/ml/output/success; a failure writes
/opt/ml/output/failure (unless the script wrote one) which the platform turns into FailureReason
"AlgorithmError: ..."."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import traceback

from smlocal_toolkit import entry_point, environment
from smlocal_toolkit.errors import ClientError

log = logging.getLogger("smlocal_toolkit")
# The XGBoost image's `train` comes from the legacy sagemaker-containers, which words framework errors so.
LEGACY_FRAMEWORKS = ("sagemaker_xgboost_container",)


def _output_dir() -> str:
    return os.path.join(environment.base_dir(), "output")


def write_failure(message: str) -> None:
    path = os.path.join(_output_dir(), "failure")
    if not os.path.exists(path):
        os.makedirs(_output_dir(), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(message)


def write_success() -> None:
    os.makedirs(_output_dir(), exist_ok=True)
    open(os.path.join(_output_dir(), "success"), "w").close()


def configure_logging(level: int) -> None:
    logging.basicConfig(format="%(asctime)s %(name)-12s %(levelname)-8s %(message)s", level=level, force=True)
    for noisy in ("boto3", "botocore", "s3transfer", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_framework(spec: str) -> None:
    module_name, _, function_name = spec.partition(":")
    framework = importlib.import_module(module_name)
    log.info("Imported framework %s", module_name)
    try:
        getattr(framework, function_name or "main")()
    except SystemExit as done:  # framework mains may sys.exit(0) when done
        if done.code not in (None, 0):
            raise


def main() -> int:
    framework = os.environ.get("SAGEMAKER_TRAINING_MODULE", "")
    try:
        env = environment.Environment()
        configure_logging(env.log_level)
        if framework:
            run_framework(framework)
        else:
            entry_point.run(env.module_dir, env.user_entry_point, env.to_cmd_args(), env.to_env_vars())
        log.info("Reporting training SUCCESS")
        write_success()
        return 0
    except ClientError as error:
        write_failure(str(error))
        log.error("Reporting training FAILURE")
        log.error(str(error))
        return 1
    except Exception as error:  # noqa: BLE001 - everything else is a framework error, reported the same way
        prefix = "framework error: " if framework.startswith(LEGACY_FRAMEWORKS) else "Framework Error: "
        # The innermost frames only, so the error itself fits in the 1024 characters FailureReason keeps.
        message = f"{prefix}\n{traceback.format_exc(limit=-3, chain=False)}\n{error}"
        write_failure(message)
        log.error("Reporting training FAILURE")
        log.error(message)
        code = getattr(error, "errno", 1)
        return code if isinstance(code, int) and 0 < code < 256 else 1


if __name__ == "__main__":
    sys.exit(main())
