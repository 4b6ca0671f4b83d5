"""The XGBoost image's model servers: the built-in algorithm (no SAGEMAKER_PROGRAM) on a Booster trained
in the image, and script mode with the XGBoost defaults."""

from __future__ import annotations

import pytest
import requests
from test_images_serving import run_in_image, serving

pytestmark = pytest.mark.docker

TRAIN = """
import numpy as np, xgboost as xgb
X = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0], [5, 5, 5], [5, 4, 5], [4, 5, 5]] * 5, dtype=float)
y = np.array([0, 0, 0, 1, 1, 1] * 5)
xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(X, label=y), 5).save_model(
    "/opt/ml/model/xgboost-model")
three = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2},
                  xgb.DMatrix(X, label=np.array([0, 1, 2] * 10)), 3)
import os; os.makedirs("/opt/ml/model/softprob", exist_ok=True)
three.save_model("/opt/ml/model/softprob/xgboost-model")
import pickle
os.makedirs("/opt/ml/model/pickled", exist_ok=True)
with open("/opt/ml/model/pickled/xgboost-model", "wb") as f:
    pickle.dump(xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=y), 3), f)
"""


@pytest.fixture(scope="module")
def xgboost_image(framework_image):
    return framework_image("xgboost")


@pytest.fixture(scope="module")
def models(xgboost_image, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("xgboost-model")
    run_in_image(xgboost_image, model_dir, TRAIN)
    return model_dir


def test_builtin_algorithm_serving(xgboost_image, models, tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "xgboost-model").write_bytes((models / "xgboost-model").read_bytes())
    with serving(xgboost_image, model_dir, {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}) as served:
        assert requests.get(f"{served.url}/ping", timeout=10).status_code == 200
        params = requests.get(f"{served.url}/execution-parameters", timeout=10).json()
        assert params["BatchStrategy"] == "MULTI_RECORD" and params["MaxPayloadInMB"] == 6
        answer = served.invoke("0,0,1\n5,5,5\n", "text/csv")
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/csv"
        low, high = (float(v) for v in answer.text.splitlines())
        assert low < 0.5 < high and answer.text.endswith("\n")
        answer = served.invoke("0 0:5 1:5 2:5\n1 0:0 1:0 2:1", "text/libsvm", "application/json")
        scores = [p["score"] for p in answer.json()["predictions"]]
        assert answer.status_code == 200 and scores[0] > 0.5 > scores[1]
        answer = served.invoke("5,5,5", "text/csv", "application/jsonlines")
        assert answer.status_code == 200 and answer.text.startswith('{"score": 0.')
        answer = served.invoke("[[5, 5, 5]]", "application/json")
        assert answer.status_code == 415
        assert answer.text.startswith("application/json is not an accepted ContentType: csv, libsvm,")
        answer = served.invoke("5,5,5", "text/csv", "text/html")
        assert answer.status_code == 406
        assert answer.text.startswith("Accept type text/html is not supported. Please use supported accept types")
        assert served.invoke(b"", "text/csv").status_code == 204
        assert served.invoke("x" * 6_291_457, "text/csv").status_code == 413


def test_builtin_softprob_in_batch(xgboost_image, models):
    env = {"SAGEMAKER_MODEL_SERVER_WORKERS": "1", "SAGEMAKER_BATCH": "true"}
    with serving(xgboost_image, models / "softprob", env) as served:
        answer = served.invoke("0,0,1\n5,5,5", "text/csv", "text/csv")
        lines = answer.text.split("\n")
        assert answer.status_code == 200 and len(lines) == 3 and lines[2] == ""
        assert all(len(eval(line)) == 3 for line in lines[:2])      # one probability list per record


def test_script_mode_with_xgboost_defaults(xgboost_image, models, tmp_path):
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "xgboost-model").write_bytes((models / "xgboost-model").read_bytes())
    (model_dir / "code" / "score.py").write_text(
        "import os, xgboost as xgb\n"
        "def model_fn(model_dir):\n"
        "    booster = xgb.Booster()\n"
        "    booster.load_model(os.path.join(model_dir, 'xgboost-model'))\n"
        "    return booster\n")
    env = {"SAGEMAKER_PROGRAM": "score.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
           "SAGEMAKER_MODEL_SERVER_WORKERS": "1"}
    with serving(xgboost_image, model_dir, env) as served:
        answer = served.invoke("0,0,1\n5,5,5", "text/csv")
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
        low, high = answer.json()
        assert low < 0.5 < high
        answer = served.invoke("[[5, 5, 5]]", "application/json")
        assert answer.status_code == 415 and answer.json()["error"] == "UnsupportedFormatError"
        assert served.invoke("5,5,5", "text/csv", "image/png").status_code == 406


def test_pickled_booster_with_selectable_output(xgboost_image, models):
    env = {"SAGEMAKER_MODEL_SERVER_WORKERS": "1", "SAGEMAKER_INFERENCE_OUTPUT": "predicted_label,probability",
           "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/json"}
    with serving(xgboost_image, models / "pickled", env) as served:
        answer = served.invoke("5,5,5\n0,0,1", "text/csv")
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
        first, second = answer.json()["predictions"]
        assert (first["predicted_label"], second["predicted_label"]) == (1, 0)
        assert first["probability"] > 0.5 > second["probability"]
        answer = served.invoke("5,5,5", "text/csv", "text/csv")
        label, probability = answer.text.split(",")
        assert label == "1" and float(probability) > 0.5
        answer = served.invoke("5", "text/csv")              # fewer features than the pickled model
        assert answer.status_code == 400 and answer.text.startswith("Unable to evaluate payload provided: "
                                                                    "Feature size of csv inference data 1")


# The inference script of AWS's XGBoost examples (abalone), as published: it imports the container's encoder.
AWS_STYLE_INFERENCE = """
import json
import os
import pickle as pkl

import numpy as np
import sagemaker_xgboost_container.encoder as xgb_encoders


def model_fn(model_dir):
    model_file = "xgboost-model"
    booster = pkl.load(open(os.path.join(model_dir, model_file), "rb"))
    return booster


def input_fn(request_body, request_content_type):
    if request_content_type == "text/libsvm":
        return xgb_encoders.libsvm_to_dmatrix(request_body)
    elif request_content_type == "application/json":
        return xgb_encoders.json_to_dmatrix(request_body)
    else:
        return xgb_encoders.decode(request_body, request_content_type)


def predict_fn(input_data, model):
    return model.predict(input_data)


def output_fn(predictions, content_type):
    if content_type == "application/jsonlines":
        return xgb_encoders.json_to_jsonlines({"predictions": predictions.tolist()})
    return ",".join(str(x) for x in predictions)
"""


def test_a_script_written_for_awss_container_imports_its_encoder(xgboost_image, models, tmp_path):
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "xgboost-model").write_bytes((models / "pickled" / "xgboost-model").read_bytes())
    (model_dir / "code" / "inference.py").write_text(AWS_STYLE_INFERENCE)
    env = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
           "SAGEMAKER_MODEL_SERVER_WORKERS": "1"}
    with serving(xgboost_image, model_dir, env) as served:
        assert requests.get(f"{served.url}/ping", timeout=10).status_code == 200
        answers = {}
        for body, content_type in (("0 0:5 1:5 2:5\n0 0:0 1:0 2:1", "text/libsvm"), ("5,5,5\n0,0,1", "text/csv"),
                                   ("5;5;5\n0;0;1", "text/csv; charset=utf-8"), ("[[5, 5, 5], [0, 0, 1]]",
                                                                                   "application/json")):
            answer = served.invoke(body, content_type, "text/csv")
            assert answer.status_code == 200, (content_type, answer.text, served.logs()[-2000:])
            answers[content_type] = [float(v) for v in answer.text.split(",")]
        for scores in answers.values():
            assert scores[0] > 0.5 > scores[1]
            assert scores == answers["text/libsvm"]
        lines = served.invoke("5,5,5\n0,0,1", "text/csv", "application/jsonlines").text.splitlines()
        assert len(lines) == 2 and float(lines[0]) > 0.5
        refused = served.invoke("5,5,5", "application/x-recordio-protobuf", "text/csv")
        assert refused.status_code >= 400 and "RecordIO-protobuf" in refused.text


def test_the_aws_style_script_serves_predictions_from_an_endpoint(xgboost_image, models, jobs_gateway, s3, bucket,
                                                                   unique):
    """The same script through CreateModel / CreateEndpoint / InvokeEndpoint, as the SDK's
    XGBoostModel(entry_point="inference.py").deploy() sets it up (code under code/ in model.tar.gz)."""
    from hosting_support import delete, deploy, model_tarball

    s3.put_object(Bucket=bucket, Key=f"{unique}/model.tar.gz", Body=model_tarball({
        "xgboost-model": (models / "pickled" / "xgboost-model").read_bytes(),
        "code/inference.py": AWS_STYLE_INFERENCE.encode()}))
    sm = jobs_gateway.client("sagemaker")
    described = deploy(sm, unique, "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                       env={"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
                       model_data=f"s3://{bucket}/{unique}/model.tar.gz")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    try:
        answer = jobs_gateway.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=unique, Body=b"0 0:5 1:5 2:5\n0 0:0 1:0 2:1", ContentType="text/libsvm", Accept="text/csv")
        high, low = (float(v) for v in answer["Body"].read().decode().split(","))
        assert high > 0.5 > low
    finally:
        delete(sm, unique)
