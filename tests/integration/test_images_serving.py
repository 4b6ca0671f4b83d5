"""The scikit-learn image's model server, run as SageMaker runs it (`serve`, /opt/ml/model mounted,
port 8080 published on loopback): codecs per Content-Type/Accept, error bodies, failing model_fn,
user code from S3 and from /opt/ml/model/code, several workers and keep-alive connections."""

from __future__ import annotations

import http.client
import io
import json
import os
import tarfile
import time
from contextlib import contextmanager
from pathlib import Path

import docker
import numpy as np
import pytest
import requests
from support import free_port

pytestmark = pytest.mark.docker

INFERENCE = """
import os
import joblib

def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""
TRAIN_SKLEARN = """
import joblib, numpy as np
from sklearn.linear_model import LogisticRegression
X = np.array([[0, 0], [0, 1], [1, 0], [4, 4], [4, 5], [5, 4]], dtype=float)
joblib.dump(LogisticRegression().fit(X, [0, 0, 0, 1, 1, 1]), "/opt/ml/model/model.joblib")
"""


def run_in_image(image: str, model_dir: Path, code: str) -> None:
    """Run ``code`` with python3 in ``image`` with ``model_dir`` as /opt/ml/model (as the caller's user)."""
    docker.from_env().containers.run(image, ["python3", "-c", code], remove=True, user=f"{os.getuid()}:{os.getgid()}",
                                     volumes={str(model_dir): {"bind": "/opt/ml/model", "mode": "rw"}},
                                     environment={"HOME": "/tmp"})


class Served:
    def __init__(self, container, port: int):
        self.container, self.port = container, port
        self.url = f"http://127.0.0.1:{port}"

    def invoke(self, body, content_type=None, accept=None):
        headers = {k: v for k, v in (("Content-Type", content_type), ("Accept", accept)) if v}
        return requests.post(f"{self.url}/invocations", data=body, headers=headers, timeout=30)

    def logs(self) -> str:
        return self.container.logs().decode(errors="replace")


@contextmanager
def serving(image: str, model_dir: Path, env: dict | None = None, timeout: float = 120):
    """Start ``image serve`` and wait until /ping answers (any status); removed afterwards."""
    port = free_port()
    container = docker.from_env().containers.run(
        image, "serve", detach=True, environment=env or {}, ports={"8080/tcp": ("127.0.0.1", port)},
        volumes={str(model_dir): {"bind": "/opt/ml/model", "mode": "ro"}},
        extra_hosts={"host.docker.internal": "host-gateway"}, labels={"org.smlocal.test": "serving"})
    served = Served(container, port)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                requests.get(f"{served.url}/ping", timeout=30)
                break
            except requests.ConnectionError:
                container.reload()
                if container.status == "exited" or time.monotonic() > deadline:
                    raise AssertionError(f"the server did not answer /ping:\n{served.logs()}") from None
                time.sleep(0.2)
        yield served
    finally:
        container.remove(force=True)


@pytest.fixture(scope="module")
def sklearn_image(framework_image):
    return framework_image("sklearn")


@pytest.fixture(scope="module")
def sklearn_model(sklearn_image, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("sklearn-model")
    run_in_image(sklearn_image, model_dir, TRAIN_SKLEARN)
    (model_dir / "code").mkdir()
    (model_dir / "code" / "inference.py").write_text(INFERENCE)
    return model_dir


@pytest.fixture(scope="module")
def sklearn_server(sklearn_image, sklearn_model):
    env = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
           "SAGEMAKER_MODEL_SERVER_WORKERS": "2", "SAGEMAKER_REGION": "us-east-1"}
    with serving(sklearn_image, sklearn_model, env) as served:
        yield served


def test_json_csv_and_npy_requests_answer_per_accept(sklearn_server):
    ping = requests.get(f"{sklearn_server.url}/ping", timeout=10)
    assert ping.status_code == 200
    answer = sklearn_server.invoke("[[0, 0], [5, 5]]", "application/json")
    assert (answer.status_code, answer.headers["Content-Type"], answer.json()) == (200, "application/json", [0, 1])
    answer = sklearn_server.invoke("0,0\n5,5\n", "text/csv", "text/csv")
    assert (answer.status_code, answer.headers["Content-Type"], answer.text) == (200, "text/csv", "0\n1\n")
    buffer = io.BytesIO()
    np.save(buffer, np.array([[5.0, 5.0], [0.0, 0.0]]))
    answer = sklearn_server.invoke(buffer.getvalue(), "application/x-npy", "application/x-npy")
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/x-npy"
    assert np.load(io.BytesIO(answer.content)).tolist() == [1, 0]
    answer = sklearn_server.invoke("[[5, 5]]", "application/json", "text/html, text/csv")
    assert (answer.status_code, answer.text) == (200, "1\n")
    assert '"POST /invocations HTTP/1.1" 200' in sklearn_server.logs()


def test_unsupported_content_type_415_and_accept_406(sklearn_server):
    answer = sklearn_server.invoke("hello", "text/plain")
    assert answer.status_code == 415 and answer.headers["Content-Type"] == "application/json"
    error = answer.json()
    assert error["error"] == "UnsupportedFormatError" and set(error) == {"error", "error-message", "stack-trace"}
    assert error["error-message"].startswith("Content type text/plain is not supported by this framework.")
    answer = sklearn_server.invoke("[[0, 0]]", "application/json", "application/xml")
    assert answer.status_code == 406
    assert answer.json()["error-message"].startswith("Content type application/xml is not supported")
    assert requests.get(f"{sklearn_server.url}/execution-parameters", timeout=10).status_code == 404


def test_two_workers_and_keep_alive(sklearn_server):
    processes = [p for p in sklearn_server.container.top()["Processes"] if "serve" in p[-1]]
    assert len(processes) == 3, processes          # the arbiter and SAGEMAKER_MODEL_SERVER_WORKERS=2 workers
    connection = http.client.HTTPConnection("127.0.0.1", sklearn_server.port, timeout=10)
    connection.request("POST", "/invocations", body="[[5, 5]]", headers={"Content-Type": "application/json"})
    first = connection.getresponse()
    assert first.read() == b"[1]" and first.getheader("Connection") != "close"
    sock = connection.sock
    connection.request("GET", "/ping")
    second = connection.getresponse()
    assert second.status == 200 and second.read() == b"" and connection.sock is sock   # same TCP connection
    count, started = 300, time.perf_counter()
    for _ in range(count):
        connection.request("GET", "/ping")
        connection.getresponse().read()
    rate = count / (time.perf_counter() - started)
    connection.close()
    assert rate > 200, f"{rate:.0f} pings/s on one keep-alive connection"


def test_failing_model_fn_fails_ping_and_invocations(sklearn_image, tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text("def model_fn(model_dir):\n    raise ValueError('bad model')\n")
    env = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
           "SAGEMAKER_MODEL_SERVER_WORKERS": "1"}
    with serving(sklearn_image, tmp_path, env) as served:
        ping = requests.get(f"{served.url}/ping", timeout=10)
        assert ping.status_code == 500 and ping.json()["error-message"] == "bad model"
        answer = served.invoke("[[0, 0]]", "application/json")
        assert answer.status_code == 500 and answer.json()["error"] == "ValueError"
        assert "ValueError: bad model" in served.logs()


def test_missing_model_fn_is_a_clear_error(sklearn_image, tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text("X = 1\n")
    env = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
           "SAGEMAKER_MODEL_SERVER_WORKERS": "1"}
    with serving(sklearn_image, tmp_path, env) as served:
        ping = requests.get(f"{served.url}/ping", timeout=10)
        assert ping.status_code == 500 and "Please provide a model_fn implementation" in ping.json()["error-message"]


def test_code_from_an_s3_sourcedir(sklearn_image, sklearn_model, tmp_path, s3, bucket, s3_server, unique):
    source = io.BytesIO()
    with tarfile.open(fileobj=source, mode="w:gz") as tar:
        script = (INFERENCE + "\ndef output_fn(prediction, accept):\n    return 'from-s3:' + str(list(prediction))\n"
                  ).encode()
        info = tarfile.TarInfo("serve_me.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    s3.put_object(Bucket=bucket, Key=f"{unique}/sourcedir.tar.gz", Body=source.getvalue())
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "model.joblib").write_bytes((sklearn_model / "model.joblib").read_bytes())
    env = {"SAGEMAKER_PROGRAM": "serve_me.py", "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/{unique}/sourcedir.tar.gz",
           "SAGEMAKER_MODEL_SERVER_WORKERS": "1", "S3_ENDPOINT_URL": s3_server.container_endpoint,
           "AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
           "AWS_REGION": "us-east-1"}
    with serving(sklearn_image, model_dir, env) as served:
        answer = served.invoke("[[5, 5], [0, 0]]", "application/json")
        assert (answer.status_code, answer.text) == (200, "from-s3:[1, 0]"), served.logs()
        assert answer.headers["Content-Type"] == "application/json"
        assert json.loads(requests.get(f"{served.url}/nothing", timeout=10).text) == {}
