"""Serving a user script (framework "script mode"): /ping loads the model, /invocations runs
transform_fn or input_fn -> predict_fn -> output_fn. Two error dialects:

- ``containers`` (sagemaker-containers: sklearn, XGBoost script mode): missing Content-Type means
  JSON; an undecodable content type answers 415 and an unsupported Accept 406, both with the JSON body
  ``{"error", "error-message", "stack-trace"}``; any other failure 500 (same body shape).
- ``toolkit`` (sagemaker-inference: PyTorch): every failure answers 500, or the status of a
  BaseInferenceToolkitError, with the text body ``<message>\\n<stack trace>``.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback

from smlocal_toolkit import encoders
from smlocal_toolkit.encoders import UnsupportedFormatError
from smlocal_toolkit.serving.handlers import BaseInferenceToolkitError, Handlers, ModelHolder, call
from smlocal_toolkit.serving.http import Response, error_response

logger = logging.getLogger("smlocal.serving")


class Context:
    """The ``context`` handed to inference-toolkit handlers that ask for one."""

    def __init__(self, model_dir: str):
        self.system_properties = {"model_dir": model_dir, "gpu_id": None}
        self.request_headers: dict = {}


def to_response(result, accept: str) -> Response:
    if isinstance(result, Response):
        return result
    if hasattr(result, "status_code") and hasattr(result, "get_data"):  # a Flask/Werkzeug response
        return Response(result.get_data(), status=result.status_code,
                        content_type=getattr(result, "content_type", None) or accept)
    if isinstance(result, tuple) and len(result) == 2:
        return Response(result[0], content_type=result[1] or accept)
    if isinstance(result, (str, bytes, bytearray)):
        return Response(result, content_type=accept)
    raise TypeError("The handlers must return bytes, str, a (body, content_type) tuple or a Response; "
                    f"got {type(result).__name__}")


class ScriptService:
    def __init__(self, handlers: Handlers, model_dir: str, style: str, default_accept: str):
        self.handlers = handlers
        self.style = style
        self.default_accept = default_accept
        self.context = Context(model_dir) if style == "toolkit" else None
        self.model = ModelHolder(lambda: self._load(model_dir))
        self._predict_lock = threading.Lock()   # one prediction at a time per worker process

    def _load(self, model_dir):
        h = self.handlers
        if h.pre_model_fn is not None and self.style == "toolkit":
            call(h.pre_model_fn, model_dir, context=self.context)
        model = call(h.model_fn, model_dir, context=self.context)
        if h.model_warmup_fn is not None and self.style == "toolkit":
            call(h.model_warmup_fn, model_dir, model, context=self.context)
        return model

    # --- errors -----------------------------------------------------------------------------------
    def _failure(self, error: BaseException, status: int = 500) -> Response:
        stack = traceback.format_exc()
        logger.error("%s", stack.rstrip())
        if self.style == "containers":
            return error_response(error, status, stack)
        if isinstance(error, BaseInferenceToolkitError):
            status, message = error.status_code, error.message
        else:
            message = str(error)
        return Response(f"{message}\n{stack}", status=status, mimetype="text/plain")

    # --- routes -----------------------------------------------------------------------------------
    def ping(self) -> Response:
        try:
            self.model.get()
        except Exception as error:  # noqa: BLE001 - the model cannot load: unhealthy
            return self._failure(error)
        return Response(status=200)

    def execution_parameters(self) -> Response | None:
        fn = self.handlers.execution_parameters_fn
        if fn is None:
            return None
        try:
            result = fn()
            if isinstance(result, dict):
                return Response(json.dumps(result), mimetype=encoders.JSON)
            return to_response(result, encoders.JSON)
        except Exception as error:  # noqa: BLE001
            return self._failure(error)

    def _content_type(self, request) -> str | None:
        if self.style == "containers":
            return request.header("ContentType") or request.header("Content-Type") or encoders.JSON
        return request.header("Content-Type")

    def invocations(self, request) -> Response:
        content_type = self._content_type(request)
        accept = request.header("Accept")
        if not accept or accept.strip() == encoders.ANY:
            accept = self.default_accept
        body = request.body
        if encoders.media_type(content_type) in encoders.UTF8_TYPES:
            body = body.decode("utf-8", errors="replace")
        try:
            model = self.model.get()
            with self._predict_lock:
                if self.context is not None:
                    self.context.request_headers = {k[5:].replace("_", "-").title(): v
                                                    for k, v in request.environ.items() if k.startswith("HTTP_")}
                return to_response(self._transform(model, body, content_type, accept), accept)
        except Exception as error:  # noqa: BLE001 - user code: any exception is a 500 (or its status)
            return self._failure(error)

    def _transform(self, model, body, content_type, accept):
        h, ctx = self.handlers, self.context
        if h.transform_fn is not None:
            return call(h.transform_fn, model, body, content_type, accept, context=ctx)
        try:
            data = call(h.input_fn, body, content_type, context=ctx)
        except UnsupportedFormatError as error:
            if self.style != "containers":
                raise
            return self._failure(error, 415)
        prediction = call(h.predict_fn, data, model, context=ctx)
        try:
            return call(h.output_fn, prediction, accept, context=ctx)
        except UnsupportedFormatError as error:
            if self.style != "containers":
                raise
            return self._failure(error, 406)
