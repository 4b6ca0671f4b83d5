"""The in-container serving toolkit on the host (no Docker): codecs, Accept negotiation, handler
resolution, the WSGI routes and the error bodies of each framework dialect."""

from __future__ import annotations

import io
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "containers" / "toolkit" / "src"))

from smlocal_toolkit import encoders
from smlocal_toolkit.errors import ClientError
from smlocal_toolkit.serving import defaults, framework_of
from smlocal_toolkit.serving.environment import ServingEnv
from smlocal_toolkit.serving.handlers import GenericInferenceToolkitError, call, resolve
from smlocal_toolkit.serving.http import App
from smlocal_toolkit.serving.script import ScriptService


def wsgi(app, method, path, body=b"", headers=None):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(body),
               "CONTENT_LENGTH": str(len(body))}
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else "HTTP_" + key] = value
    started = {}

    def start_response(status, response_headers):
        started["status"], started["headers"] = status, dict(response_headers)
    data = b"".join(app(environ, start_response))
    return int(started["status"].split()[0]), started["headers"], data


class Doubler:
    def predict(self, data):
        return np.asarray(data).sum(axis=-1) * 2


def module(**functions):
    return types.SimpleNamespace(**functions)


def sklearn_app(user, style="containers", max_body=None):
    handlers = resolve(user, defaults.SklearnDefaults)
    return App(ScriptService(handlers, "/nonexistent", style, "application/json"), max_body)


SKLEARN_USER = module(model_fn=lambda model_dir: Doubler())


# --- codecs -----------------------------------------------------------------------------------------

def test_json_csv_npy_round_trips():
    array = np.array([[1.5, 2.0], [3.0, 4.25]])
    assert encoders.json_to_numpy(encoders.array_to_json(array)).tolist() == array.tolist()
    assert encoders.array_to_csv(array) == "1.5,2.0\n3.0,4.25\n"
    assert encoders.csv_to_numpy("1.5,2.0\n3.0,4.25\n", dtype=float).tolist() == array.tolist()
    assert np.array_equal(encoders.npy_to_numpy(encoders.array_to_npy(array)), array)
    assert encoders.array_to_csv([1, 0]) == "1\n0\n"                  # 1-D: one value per line
    assert encoders.csv_to_numpy("1,2,3", dtype=np.float32).shape == (3,)   # one row is squeezed
    assert encoders.decode("[1, 2]", "application/json; charset=utf-8").tolist() == [1, 2]
    with pytest.raises(encoders.UnsupportedFormatError, match="Content type text/plain is not supported"):
        encoders.decode("x", "text/plain")
    with pytest.raises(ClientError, match="Error while writing numpy array"):
        encoders.csv_to_numpy("a,b", dtype=float)


def test_npy_with_objects_is_refused():
    with pytest.raises(ValueError):
        encoders.npy_to_numpy(encoders.array_to_npy(np.array([{"a": 1}], dtype=object)))


@pytest.mark.parametrize("accept, chosen", [
    (None, "application/json"), ("*/*", "application/json"), ("text/csv", "text/csv"),
    ("text/html, text/csv;q=0.9, application/json", "text/csv"), ("text/html, */*", "application/json"),
])
def test_accept_negotiation_takes_the_first_supported_type(accept, chosen):
    assert encoders.negotiate(accept, encoders.ENCODERS, "application/json") == chosen


def test_accept_negotiation_fails_when_nothing_is_supported():
    with pytest.raises(encoders.UnsupportedFormatError, match="text/html, image/png"):
        encoders.negotiate("text/html, image/png", encoders.ENCODERS, "application/json")


def test_toolkit_codecs_match_the_inference_toolkit():
    assert defaults.toolkit_decode("1,2\n3,4", "text/csv").tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert defaults.toolkit_encode([[1, 2], [3, 4]], "text/csv") == "1,2\n3,4\n"
    assert defaults.ToolkitDefaults().default_output_fn([1], "text/html, text/csv") == ("1\n", "text/csv")


# --- handlers ---------------------------------------------------------------------------------------

def test_transform_fn_excludes_the_trio():
    with pytest.raises(ClientError, match="Cannot use transform_fn implementation with input_fn"):
        resolve(module(transform_fn=lambda *a: "", input_fn=lambda *a: None), defaults.SklearnDefaults)


def test_missing_handlers_fall_back_to_the_framework_defaults():
    def predict_fn(data, model):
        return data
    handlers = resolve(module(predict_fn=predict_fn), defaults.SklearnDefaults)
    assert handlers.predict_fn is predict_fn
    assert handlers.input_fn is defaults.SklearnDefaults.default_input_fn
    assert handlers.model_fn is defaults.SklearnDefaults.default_model_fn and handlers.transform_fn is None
    assert resolve(None, defaults.SklearnDefaults).output_fn is defaults.SklearnDefaults.default_output_fn


def test_handlers_may_take_a_trailing_context():
    assert call(lambda data, model, context: (data, model, context), 1, 2, context="ctx") == (1, 2, "ctx")
    assert call(lambda data, model: (data, model), 1, 2, context="ctx") == (1, 2)


def test_serving_module_selects_the_framework_and_env_defaults():
    assert framework_of("sagemaker_sklearn_container.serving:main") == "sklearn"
    assert framework_of("sagemaker_pytorch_serving_container.serving:main") == "pytorch"
    assert framework_of("something.else:main") is None
    env = ServingEnv.read({"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
    assert (env.module_name, env.workers, env.timeout, env.port) == ("inference", 2, 60, 8080)
    assert ServingEnv.read({}).workers >= 1


# --- routes and error bodies (sagemaker-containers dialect) --------------------------------------

def test_invocations_decode_predict_and_encode_per_accept():
    app = sklearn_app(SKLEARN_USER)
    assert wsgi(app, "GET", "/ping")[0] == 200
    status, headers, body = wsgi(app, "POST", "/invocations", b"[[1, 2], [3, 4]]",
                                 {"Content-Type": "application/json"})
    assert (status, headers["Content-Type"], json.loads(body)) == (200, "application/json", [6.0, 14.0])
    status, headers, body = wsgi(app, "POST", "/invocations", b"1,2\n3,4", {"Content-Type": "text/csv",
                                                                            "Accept": "text/csv"})
    assert (status, headers["Content-Type"], body) == (200, "text/csv", b"6.0\n14.0\n")
    npy = encoders.array_to_npy(np.array([[1.0, 1.0]]))
    status, headers, body = wsgi(app, "POST", "/invocations", npy, {"Content-Type": "application/x-npy",
                                                                    "Accept": "application/x-npy"})
    assert status == 200 and encoders.npy_to_numpy(body).tolist() == [4.0]


def test_unsupported_content_type_is_415_and_unsupported_accept_406_with_json_bodies():
    app = sklearn_app(SKLEARN_USER)
    status, headers, body = wsgi(app, "POST", "/invocations", b"x", {"Content-Type": "text/plain"})
    error = json.loads(body)
    assert status == 415 and headers["Content-Type"] == "application/json"
    assert set(error) == {"error", "error-message", "stack-trace"}
    assert error["error"] == "UnsupportedFormatError" and "Content type text/plain" in error["error-message"]
    status, _, body = wsgi(app, "POST", "/invocations", b"[[1, 2]]", {"Content-Type": "application/json",
                                                                      "Accept": "text/html"})
    assert status == 406 and "Content type text/html is not supported" in json.loads(body)["error-message"]


def test_failing_model_fn_fails_ping_and_invocations_with_its_message():
    def model_fn(model_dir):
        raise RuntimeError("no model here")
    app = sklearn_app(module(model_fn=model_fn))
    for method, path in (("GET", "/ping"), ("POST", "/invocations")):
        status, _, body = wsgi(app, method, path, b"[1]", {"Content-Type": "application/json"})
        assert status == 500 and json.loads(body)["error-message"] == "no model here"
    status, _, body = wsgi(sklearn_app(None), "GET", "/ping")
    assert status == 500 and "Please provide a model_fn implementation" in json.loads(body)["error-message"]


def test_transform_fn_tuple_sets_the_content_type_and_execution_parameters_route():
    user = module(model_fn=lambda d: "m", transform_fn=lambda m, body, ct, accept: (f"{m}:{body}:{accept}", "x/y"),
                  execution_parameters_fn=lambda: {"BatchStrategy": "SINGLE_RECORD"})
    app = sklearn_app(user)
    status, headers, body = wsgi(app, "POST", "/invocations", b"[1]", {"Content-Type": "application/json",
                                                                       "Accept": "*/*"})
    assert (status, headers["Content-Type"], body) == (200, "x/y", b"m:[1]:application/json")
    assert json.loads(wsgi(app, "GET", "/execution-parameters")[2]) == {"BatchStrategy": "SINGLE_RECORD"}
    assert wsgi(sklearn_app(SKLEARN_USER), "GET", "/execution-parameters")[:3:2] == (404, b"{}")
    assert wsgi(app, "GET", "/other")[0] == 404 and wsgi(app, "GET", "/invocations")[0] == 405


def test_request_larger_than_the_limit_is_413():
    status, _, _ = wsgi(sklearn_app(SKLEARN_USER, max_body=10), "POST", "/invocations", b"[" + b"1," * 20 + b"1]",
                        {"Content-Type": "application/json"})
    assert status == 413


# --- inference-toolkit dialect (PyTorch) -------------------------------------------------------------

def test_toolkit_errors_are_text_with_status_500_or_the_error_status():
    def predict_fn(data, model, context):
        assert context.system_properties["model_dir"] == "/nonexistent"
        raise GenericInferenceToolkitError(422, "bad input")
    handlers = resolve(module(model_fn=lambda d: "m", predict_fn=predict_fn), defaults.ToolkitDefaults())
    app = App(ScriptService(handlers, "/nonexistent", "toolkit", "application/json"), None)
    status, headers, body = wsgi(app, "POST", "/invocations", b"[1]", {"Content-Type": "application/json"})
    assert status == 422 and body.decode().startswith("bad input\nTraceback")
    status, _, body = wsgi(app, "POST", "/invocations", b"x", {"Content-Type": "text/plain"})
    assert status == 500 and body.decode().startswith("Content type text/plain is not supported")


def test_the_sdk3_directory_goes_on_the_path_only_for_model_builder_artifacts(tmp_path, monkeypatch):
    from smlocal_toolkit.serving import use_sdk3_for_model_builder_artifacts

    sdk3, model = tmp_path / "sdk3", tmp_path / "model"
    (model / "code").mkdir(parents=True)
    sdk3.mkdir()
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    (model / "code" / "inference.py").write_text("")   # an inference script of one's own: the image's libraries
    assert not use_sdk3_for_model_builder_artifacts(str(model), str(sdk3))
    assert str(sdk3) not in sys.path
    (model / "code" / "serve.pkl").write_bytes(b"")     # ModelBuilder's model object / InferenceSpec
    assert use_sdk3_for_model_builder_artifacts(str(model), str(sdk3))
    assert sys.path[0] == str(sdk3)
    import os
    assert os.environ["PYTHONPATH"] == f"{sdk3}{os.pathsep}/elsewhere"
    assert not use_sdk3_for_model_builder_artifacts(str(model), str(tmp_path / "absent"))  # an image without it
