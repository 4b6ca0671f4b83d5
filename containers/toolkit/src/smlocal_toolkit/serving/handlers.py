"""The user's inference script: importing it, resolving its handler functions against a framework's
defaults (transform_fn excludes input_fn/predict_fn/output_fn), calling handlers that may take a
trailing ``context``, and loading the model once per worker."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smlocal_toolkit.errors import ClientError

logger = logging.getLogger("smlocal.serving")

TRIO = ("input_fn", "predict_fn", "output_fn")
TRANSFORM_AND_TRIO = "Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn"


class BaseInferenceToolkitError(Exception):
    """sagemaker-inference's error carrying the HTTP status to answer with."""

    def __init__(self, status_code, message, phrase):
        self.status_code, self.message, self.phrase = status_code, message, phrase
        super().__init__(status_code, message, phrase)


class GenericInferenceToolkitError(BaseInferenceToolkitError):
    def __init__(self, status_code, message=None, phrase=None):
        message = message or "Invalid Request"
        super().__init__(status_code, message, phrase or message)


@dataclass
class Handlers:
    model_fn: Callable
    input_fn: Callable
    predict_fn: Callable
    output_fn: Callable
    transform_fn: Callable | None = None
    execution_parameters_fn: Callable | None = None
    pre_model_fn: Callable | None = None
    model_warmup_fn: Callable | None = None


def import_user_module(code_dir: str, module_name: str | None, required: bool = True):
    """Import ``module_name`` from ``code_dir`` (None when not required and absent)."""
    if not module_name:
        return None
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    if not required and importlib.util.find_spec(module_name) is None:
        return None
    return importlib.import_module(module_name)


def resolve(module, defaults) -> Handlers:
    """The handlers to run: the user's where defined, the framework's ``default_*`` otherwise."""
    def user(name):
        return getattr(module, name, None) if module is not None else None

    transform_fn = user("transform_fn")
    if transform_fn is not None and any(user(name) for name in TRIO):
        raise ClientError(TRANSFORM_AND_TRIO)
    return Handlers(
        model_fn=user("model_fn") or defaults.default_model_fn,
        input_fn=user("input_fn") or defaults.default_input_fn,
        predict_fn=user("predict_fn") or defaults.default_predict_fn,
        output_fn=user("output_fn") or defaults.default_output_fn,
        transform_fn=transform_fn,
        execution_parameters_fn=user("execution_parameters_fn"),
        pre_model_fn=user("pre_model_fn"),
        model_warmup_fn=user("model_warmup_fn"),
    )


def call(fn: Callable, *args, context: Any = None):
    """Call a handler; inference-toolkit handlers may declare one extra trailing ``context`` argument."""
    if context is None:
        return fn(*args)
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return fn(*args)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) == len(args) + 1:
        return fn(*args, context)
    return fn(*args)


class ModelHolder:
    """The model of this worker, loaded once (by the first caller; a failed load is retried by the
    next request, as the AWS toolkits do)."""

    def __init__(self, load: Callable[[], Any]):
        self._load = load
        self._lock = threading.Lock()
        self._loaded = False
        self._model = None

    @property
    def loaded(self) -> bool:
        return self._loaded

    def get(self):
        if not self._loaded:
            with self._lock:
                if not self._loaded:
                    self._model = self._load()
                    self._loaded = True
        return self._model

    def preload(self) -> None:
        """Start loading in the background so the first ping does not wait for a cold worker."""
        def run():
            try:
                self.get()
                logger.info("Model loaded")
            except Exception:
                logger.exception("Model loading failed")
        threading.Thread(target=run, name="model-loader", daemon=True).start()
