"""The PyTorch image's model server (sagemaker-inference conventions): the default TorchScript model.pt
and a user model_fn from /opt/ml/model/code."""

from __future__ import annotations

import io

import numpy as np
import pytest
import requests
from test_images_serving import run_in_image, serving

pytestmark = pytest.mark.docker

TRAIN = """
import os, torch
linear = torch.nn.Linear(2, 1)
with torch.no_grad():
    linear.weight.copy_(torch.tensor([[1.0, 2.0]]))
    linear.bias.fill_(0.5)
torch.jit.script(linear).save("/opt/ml/model/model.pt")
os.makedirs("/opt/ml/model/user", exist_ok=True)
torch.save(linear.state_dict(), "/opt/ml/model/user/weights.pth")
"""
USER_CODE = """
import os, torch

def model_fn(model_dir):
    linear = torch.nn.Linear(2, 1)
    linear.load_state_dict(torch.load(os.path.join(model_dir, "weights.pth")))
    return linear

def predict_fn(data, model):
    with torch.no_grad():
        return model(data) * 10
"""


@pytest.fixture(scope="module")
def pytorch_image(framework_image):
    return framework_image("pytorch")


@pytest.fixture(scope="module")
def models(pytorch_image, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("pytorch-model")
    run_in_image(pytorch_image, model_dir, TRAIN)
    (model_dir / "user" / "code").mkdir()
    (model_dir / "user" / "code" / "inference.py").write_text(USER_CODE)
    return model_dir


def test_default_torchscript_model(pytorch_image, models):
    with serving(pytorch_image, models, {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}) as served:
        answer = served.invoke("[[1, 1], [0, 2]]", "application/json")
        assert (answer.status_code, answer.headers["Content-Type"], answer.json()) == (
            200, "application/json", [[3.5], [4.5]])
        answer = served.invoke("1,1\n0,2", "text/csv", "text/csv")
        assert (answer.status_code, answer.text) == (200, "3.5\n4.5\n")
        buffer = io.BytesIO()
        np.save(buffer, np.array([[1.0, 0.0]], dtype=np.float32))
        answer = served.invoke(buffer.getvalue(), "application/x-npy", "application/x-npy")
        assert answer.status_code == 200 and np.load(io.BytesIO(answer.content)).tolist() == [[1.5]]
        answer = served.invoke("[[1, 1]]", "application/json", "text/html")
        assert answer.status_code == 500
        assert answer.text.startswith("Content type text/html is not supported by this framework.")


def test_user_model_fn_from_model_code(pytorch_image, models):
    env = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
           "SAGEMAKER_MODEL_SERVER_WORKERS": "1"}
    with serving(pytorch_image, models / "user", env) as served:
        answer = served.invoke("[[1, 1]]", "application/json", "text/csv")
        assert (answer.status_code, answer.headers["Content-Type"], answer.text) == (200, "text/csv", "35.0\n")
        assert requests.get(f"{served.url}/ping", timeout=10).status_code == 200
