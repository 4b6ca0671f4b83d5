"""SDK 3 ``ModelBuilder`` against smlocal: build() then deploy() to an smlocal endpoint (SageMaker endpoint
mode, not the SDK's local container mode), then invoke it. The image URI, the S3 uploads and the model
repacking all happen offline."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from conftest import CODE, ROLE, ecr


def _tar(files: dict[str, bytes]) -> bytes:
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return packed.getvalue()


def test_model_path_with_an_inference_script_build_deploy_invoke(session, s3, bucket, sm, unique):
    """An artifact in S3 plus SourceCode(inference.py): build() repacks the code into the artifact
    (code/inference.py) and creates the Model, deploy() the endpoint config and the endpoint."""
    from sagemaker.core.resources import Endpoint
    from sagemaker.core.training.configs import SourceCode
    from sagemaker.serve import ModelBuilder
    from sagemaker.serve.builder.schema_builder import SchemaBuilder

    model_json = json.dumps({"weights": [1.0, 0.5], "bias": 0.0}).encode()
    s3.put_object(Bucket=bucket, Key=f"v3/{unique}/model/model.tar.gz", Body=_tar({"model.json": model_json}))
    artifact = f"s3://{bucket}/v3/{unique}/model/model.tar.gz"
    builder = ModelBuilder(
        model_path=artifact, s3_model_data_url=artifact,  # both: SDK 3.27 repacks from s3_model_data_url
        image_uri=ecr("sagemaker-scikit-learn", "1.2-1-cpu-py3"),
        source_code=SourceCode(source_dir=str(CODE / "serve_sklearn"), entry_script="inference.py"),
        schema_builder=SchemaBuilder(sample_input=[[1.0, 2.0]], sample_output={"classes": [1], "source": "x"}),
        role_arn=ROLE, instance_type="ml.m5.large", sagemaker_session=session)
    model = builder.build(model_name=unique)
    container = sm.describe_model(ModelName=unique)["PrimaryContainer"]
    assert model.model_name == unique and container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    repacked_uri = container["ModelDataUrl"]
    bucket_name, key = repacked_uri[len("s3://"):].split("/", 1)
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket_name, Key=key)["Body"].read())) as tar:
        assert {"model.json", "code/inference.py"} <= set(tar.getnames())

    endpoint = builder.deploy(endpoint_name=unique, initial_instance_count=1, instance_type="ml.m5.large")
    try:
        assert isinstance(endpoint, Endpoint)
        assert sm.describe_endpoint(EndpointName=unique)["EndpointStatus"] == "InService"
        answer = endpoint.invoke(body=json.dumps([[2.0, 1.0], [-2.0, -1.0]]), content_type="application/json",
                                 accept="application/json")
        assert json.loads(answer.body.read()) == {"classes": [1, 0], "source": "inference.py"}
    finally:
        endpoint.delete()
        endpoint.wait_for_delete(poll=1, timeout=120)


# ModelBuilder with a model object or an InferenceSpec (TorchServe-style artifacts): build() cloudpickles the
# object with the SchemaBuilder into code/serve.pkl next to the SDK's own code/inference.py, which imports
# cloudpickle and sagemaker.serve inside the serving container (smlocal's framework images carry both,
# docs/images.md). Two SDK 3.27 bugs are side-stepped as a user would (docs/sdk.md): an explicit image_uri
# (the scikit-learn image detection raises InvalidVersion) and configure_for_torchserve(dependencies={"auto":
# False}) (the dependency capture subprocess runs with an empty environment and fails with NoRegionError).
X = [[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0], [4.0, 3.0]]
Y = [1.0, 2.0, 5.0, 5.0, 8.5]
QUERY = [[1.0, 1.0], [2.5, -1.0], [10.0, 4.0]]


def _sklearn_image() -> str:
    return ecr("sagemaker-scikit-learn", "1.2-1-cpu-py3")


def _predict(endpoint, rows) -> list:
    answer = endpoint.invoke(body=json.dumps(rows), content_type="application/json", accept="application/json")
    return json.loads(answer.body.read())


def test_inference_spec_with_schema_builder_build_deploy_predict(session, sm, unique, tmp_path):
    """InferenceSpec + SchemaBuilder: load() rebuilds a scikit-learn model from the model directory (the
    client's fitted coefficients), invoke() predicts with it in the container; the endpoint's answers equal
    the client's own model's predictions."""
    from sagemaker.serve import InferenceSpec, ModelBuilder
    from sagemaker.serve.builder.schema_builder import SchemaBuilder
    from sklearn.linear_model import LinearRegression

    local = LinearRegression().fit(X, Y)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "coefficients.json").write_text(json.dumps(
        {"coef": local.coef_.tolist(), "intercept": float(local.intercept_)}))

    class LinearFromJson(InferenceSpec):  # defined here, so cloudpickle stores the class by value
        def load(self, model_dir):
            import json as json_
            import os

            import numpy as np
            from sklearn.linear_model import LinearRegression as Regression

            with open(os.path.join(model_dir, "coefficients.json")) as f:
                saved = json_.load(f)
            model = Regression()
            model.coef_, model.intercept_ = np.array(saved["coef"]), saved["intercept"]
            model.n_features_in_ = len(saved["coef"])
            return model

        def invoke(self, input_object, model):
            return model.predict(input_object).tolist()

    builder = ModelBuilder(
        inference_spec=LinearFromJson(), model_path=str(model_dir), image_uri=_sklearn_image(),
        schema_builder=SchemaBuilder(sample_input=QUERY[:1], sample_output=[1.0]),
        role_arn=ROLE, instance_type="ml.m5.large", sagemaker_session=session,
    ).configure_for_torchserve(dependencies={"auto": False})
    builder.build(model_name=unique)
    environment = sm.describe_model(ModelName=unique)["PrimaryContainer"]["Environment"]
    assert environment["SAGEMAKER_PROGRAM"] == "inference.py"
    endpoint = builder.deploy(endpoint_name=unique, initial_instance_count=1, instance_type="ml.m5.large")
    try:
        assert sm.describe_endpoint(EndpointName=unique)["EndpointStatus"] == "InService"
        predicted = _predict(endpoint, QUERY)
        assert predicted == pytest.approx(local.predict(QUERY).tolist(), rel=1e-9)
    finally:
        endpoint.delete()
        endpoint.wait_for_delete(poll=1, timeout=120)


def test_model_object_with_schema_builder_build_deploy_predict(session, sm, unique):
    """A model object with scikit-learn's API + SchemaBuilder: build() cloudpickles the object, the container
    unpickles it (scikit-learn framework, the image's scikit-learn) and answers with its predict(); the
    answers equal the client's LinearRegression's. The object holds its fitted coefficients as Python floats
    and derives from RegressorMixin only: this ring's client has scikit-learn 1.9 and NumPy 2, and their
    pickles (a fitted LinearRegression: ``numpy._core``; a BaseEstimator subclass:
    ``sklearn.utils._metadata_requests``) do not load in the image's scikit-learn 1.2 / NumPy 1.24, nor in
    AWS's 1.2-1 image without the SDK's requirements install (docs/sdk.md)."""
    from sagemaker.serve import ModelBuilder
    from sagemaker.serve.builder.schema_builder import SchemaBuilder
    from sklearn.base import RegressorMixin
    from sklearn.linear_model import LinearRegression

    class Linear(RegressorMixin):  # defined here, so cloudpickle stores the class by value
        def fit(self, X, y):
            fitted = LinearRegression().fit(X, y)
            self.coef, self.intercept = [float(c) for c in fitted.coef_], float(fitted.intercept_)
            return self

        def predict(self, X):
            return [sum(c * x for c, x in zip(self.coef, row, strict=True)) + self.intercept for row in X]

    local = LinearRegression().fit(X, Y)
    builder = ModelBuilder(
        model=Linear().fit(X, Y), image_uri=_sklearn_image(),
        schema_builder=SchemaBuilder(sample_input=QUERY[:1], sample_output=[1.0]),
        role_arn=ROLE, instance_type="ml.m5.large", sagemaker_session=session,
    ).configure_for_torchserve(dependencies={"auto": False})
    builder.build(model_name=unique)
    container = sm.describe_model(ModelName=unique)["PrimaryContainer"]
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    endpoint = builder.deploy(endpoint_name=unique, initial_instance_count=1, instance_type="ml.m5.large")
    try:
        assert sm.describe_endpoint(EndpointName=unique)["EndpointStatus"] == "InService"
        assert _predict(endpoint, QUERY) == pytest.approx(local.predict(QUERY).tolist(), rel=1e-9)
    finally:
        endpoint.delete()
        endpoint.wait_for_delete(poll=1, timeout=120)
