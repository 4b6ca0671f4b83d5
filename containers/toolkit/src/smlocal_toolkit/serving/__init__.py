"""`serve`: the model server of smlocal's framework images. SAGEMAKER_SERVING_MODULE (set by each image)
picks the framework: sklearn and XGBoost script mode fetch SAGEMAKER_SUBMIT_DIRECTORY into /opt/ml/code
(sagemaker-containers), PyTorch reads /opt/ml/model/code (sagemaker-inference), XGBoost without
SAGEMAKER_PROGRAM is the built-in algorithm."""

from __future__ import annotations

import logging
import os
import sys
import traceback

from smlocal_toolkit.code import CODE_DIR, install_requirements, prepare_code
from smlocal_toolkit.errors import ClientError
from smlocal_toolkit.serving import server
from smlocal_toolkit.serving.environment import ServingEnv

logger = logging.getLogger("smlocal.serving")

CONTAINERS_MAX_BODY = 100 * 1024 * 1024   # nginx has no limit there; batch transform sends at most 100 MB
TORCHSERVE_MAX_BODY = 6553500             # TorchServe's default max_request_size
FRAMEWORKS = {
    "sagemaker_sklearn_container": "sklearn",
    "sagemaker_xgboost_container": "xgboost",
    "sagemaker_pytorch_serving_container": "pytorch",
    "sagemaker_tensorflow_serving_container": "tensorflow",
}


SDK3_DIR = "/opt/smlocal/sdk3"  # the SageMaker SDK 3 serving pieces (containers/sdk3/install.sh)


def use_sdk3_for_model_builder_artifacts(model_dir: str, sdk3_dir: str = SDK3_DIR) -> bool:
    """ModelBuilder's model-object / InferenceSpec artifacts (``code/serve.pkl`` beside the SDK's own
    ``code/inference.py``) import cloudpickle and sagemaker.serve: put the image's copy of those first on
    the path (and on PYTHONPATH, so ``pip install -r requirements.txt`` counts them as installed). Other
    models keep the image's own libraries."""
    if not os.path.isfile(os.path.join(model_dir, "code", "serve.pkl")) or not os.path.isdir(sdk3_dir):
        return False
    if sdk3_dir not in sys.path:
        sys.path.insert(0, sdk3_dir)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (sdk3_dir, os.environ.get("PYTHONPATH")) if p)
    logger.info("ModelBuilder artifacts (code/serve.pkl): serving with the image's SageMaker SDK 3 (%s)", sdk3_dir)
    return True


def framework_of(serving_module: str) -> str | None:
    return FRAMEWORKS.get(serving_module.split(":", 1)[0].split(".", 1)[0])


def _max_body(env: ServingEnv, default: int) -> int:
    return env.max_payload_mb * 1024 * 1024 if env.max_payload_mb else default


def script_app_factory(env: ServingEnv, framework: str):
    """Fetch and import the user's script; return a factory building one worker's WSGI app."""
    from smlocal_toolkit.serving import defaults
    from smlocal_toolkit.serving.handlers import import_user_module, resolve
    from smlocal_toolkit.serving.http import App
    from smlocal_toolkit.serving.script import ScriptService

    use_sdk3_for_model_builder_artifacts(env.model_dir)
    if framework in ("pytorch", "tensorflow"):
        code_dir = os.path.join(env.model_dir, "code")
        if os.path.isdir(code_dir):
            install_requirements(code_dir)
        module = import_user_module(code_dir, env.module_name or "inference", required=False)
        if framework == "pytorch":
            chosen = defaults.PytorchDefaults()
        else:
            from smlocal_toolkit.serving.tensorflow import TensorflowDefaults

            chosen = TensorflowDefaults()
        style, max_body = "toolkit", _max_body(env, TORCHSERVE_MAX_BODY)
    else:
        code_dir = str(prepare_code(env.submit_directory, CODE_DIR))
        install_requirements(code_dir)
        module = import_user_module(code_dir, env.module_name)
        chosen = defaults.SklearnDefaults if framework == "sklearn" else defaults.XGBoostScriptDefaults
        style, max_body = "containers", _max_body(env, CONTAINERS_MAX_BODY)
    handlers = resolve(module, chosen)
    accept = env.default_accept or "application/json"

    def factory():
        service = ScriptService(handlers, env.model_dir, style, accept)
        app = App(service, max_body)
        app.preload = service.model.preload
        return app
    return factory


def algorithm_app_factory(env: ServingEnv):
    from smlocal_toolkit.serving.http import App
    from smlocal_toolkit.serving.xgboost_algorithm import MAX_CONTENT_LENGTH, AlgorithmService

    def factory():
        service = AlgorithmService(env.model_dir, env.batch, env.default_accept)
        app = App(service, MAX_CONTENT_LENGTH, too_large_body="413 Request Entity Too Large")
        app.preload = service.model.preload
        return app
    return factory


def main() -> int:
    server.configure_logging()
    env = ServingEnv.read()
    framework = framework_of(env.serving_module)
    if framework is None:
        logger.error("SAGEMAKER_SERVING_MODULE=%r is not a serving module of smlocal's images", env.serving_module)
        return 1
    if env.multi_model:
        logger.error("SAGEMAKER_MULTI_MODEL=true: multi-model endpoints are not supported by smlocal's %s image",
                     framework)
        return 1
    keepalive = 75
    try:
        sock = server.bind(env.port)
    except OSError as error:
        logger.error("Cannot listen on port %s: %s", env.port, error)
        return 1
    try:
        if framework == "xgboost":
            os.environ.setdefault("OMP_NUM_THREADS", "1")
        if framework == "xgboost" and not env.program:
            factory, keepalive = algorithm_app_factory(env), 60
        else:
            factory = script_app_factory(env, framework)
    except ClientError as error:
        logger.error("%s", error)
        return 1
    except Exception:  # noqa: BLE001 - the user's module failed to import: the container exits, as on AWS
        logger.error("Failed to load the inference code:\n%s", traceback.format_exc())
        return 1
    logger.info("Serving %s on port %s with %s worker(s)", framework, env.port, env.workers)
    return server.run(factory, sock=sock, workers=env.workers, timeout=env.timeout, keepalive=keepalive)
