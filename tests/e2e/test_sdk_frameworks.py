"""The framework images through unmodified SageMaker SDK code: SKLearn, XGBoost (built-in algorithm
from image_uris.retrieve) and PyTorch estimators fit, deploy and predict against the emulator, which
resolves AWS's ECR URIs to the local images. The only setup is what `smlocal env` exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.docker
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
CODE = Path(__file__).parent / "frameworks"


def _wait_in_service(sdk, name: str) -> None:
    sdk.sagemaker_client.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 240})


def test_sklearn_script_mode_fit_deploy_predict_json_csv_npy(sdk, s3, bucket, framework_image, capsys):
    from sagemaker.deserializers import CSVDeserializer, JSONDeserializer, NumpyDeserializer
    from sagemaker.serializers import CSVSerializer, JSONSerializer, NumpySerializer
    from sagemaker.sklearn import SKLearn

    framework_image("sklearn")
    rows = [f"{int(x > 0)},{x},{x / 2}" for x in np.linspace(-3, 3, 40).round(3) if x != 0]
    s3.put_object(Bucket=bucket, Key="sklearn/train/train.csv", Body="\n".join(rows).encode())
    estimator = SKLearn(entry_point="train.py", source_dir=str(CODE / "sklearn"), framework_version="1.2-1",
                        py_version="py3", instance_type="ml.m5.large", instance_count=1, role=ROLE,
                        hyperparameters={"regularization": 10.0}, sagemaker_session=sdk)
    estimator.fit({"train": f"s3://{bucket}/sklearn/train/"}, logs="All")
    assert "training accuracy=1.000" in capsys.readouterr().out
    predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large",
                                 serializer=JSONSerializer(), deserializer=JSONDeserializer(), wait=False)
    _wait_in_service(sdk, predictor.endpoint_name)  # deploy(wait=True) sleeps 30 s before it looks (docs/sdk.md)
    try:
        assert predictor.predict([[-2.0, -1.0], [2.0, 1.0]]) == [0, 1]
        predictor.serializer, predictor.deserializer = CSVSerializer(), CSVDeserializer()
        assert predictor.predict([[-2.0, -1.0], [2.0, 1.0]]) == [["0"], ["1"]]
        predictor.serializer, predictor.deserializer = NumpySerializer(), NumpyDeserializer()
        assert predictor.predict(np.array([[-2.0, -1.0], [2.0, 1.0]])).tolist() == [0, 1]
        runtime = sdk.sagemaker_runtime_client  # the container's 415 surfaces as the runtime's ModelError
        with pytest.raises(runtime.exceptions.ModelError) as error:
            runtime.invoke_endpoint(EndpointName=predictor.endpoint_name, Body=b"<x/>", ContentType="text/xml")
        assert error.value.response["OriginalStatusCode"] == 415
        assert error.value.response["Error"]["Message"].startswith(
            "Received client error (415) from primary with message")
    finally:
        predictor.delete_endpoint()


def test_xgboost_builtin_algorithm_fit_metrics_deploy_predict(sdk, s3, bucket, framework_image):
    from sagemaker import image_uris
    from sagemaker.deserializers import CSVDeserializer
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer

    framework_image("xgboost")
    xs = np.linspace(0, 10, 200)
    rows = "\n".join(f"{3 * x + 1:.4f},{x:.4f}" for x in xs).encode()
    s3.put_object(Bucket=bucket, Key="xgb/train/train.csv", Body=rows)
    s3.put_object(Bucket=bucket, Key="xgb/validation/validation.csv", Body=rows)
    image = image_uris.retrieve("xgboost", region="us-east-1", version="1.7-1")
    assert image == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    estimator = Estimator(image_uri=image, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                          hyperparameters={"objective": "reg:squarederror", "num_round": 50, "max_depth": 3},
                          sagemaker_session=sdk)
    estimator.fit({"train": TrainingInput(f"s3://{bucket}/xgb/train/", content_type="text/csv"),
                   "validation": TrainingInput(f"s3://{bucket}/xgb/validation/", content_type="text/csv")})
    described = sdk.describe_training_job(estimator.latest_training_job.name)
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert set(metrics) == {"train:rmse", "validation:rmse"} and metrics["validation:rmse"] < 1.0
    name = estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large", wait=False).endpoint_name
    _wait_in_service(sdk, name)
    predictor = Predictor(name, sagemaker_session=sdk, serializer=CSVSerializer(), deserializer=CSVDeserializer())
    try:
        answer = predictor.predict([[2.0], [5.0]])
        assert [round(float(row[0])) for row in answer] == [7, 16]
    finally:
        predictor.delete_endpoint()


def test_pytorch_estimator_fit_then_pytorch_model_from_the_artifact(sdk, bucket, framework_image):
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.predictor import Predictor
    from sagemaker.pytorch import PyTorch, PyTorchModel
    from sagemaker.serializers import JSONSerializer

    framework_image("pytorch")
    estimator = PyTorch(entry_point="train.py", source_dir=str(CODE / "pytorch"), framework_version="1.13",
                        py_version="py39", instance_type="ml.m5.large", instance_count=1, role=ROLE,
                        hyperparameters={"epochs": 300}, sagemaker_session=sdk)
    estimator.fit(logs="None")
    # the SDK repacks model.tar.gz with code/inference.py and serves it from /opt/ml/model/code
    model = PyTorchModel(model_data=estimator.model_data, role=ROLE, entry_point="inference.py",
                         source_dir=str(CODE / "pytorch"), framework_version="1.13", py_version="py39",
                         sagemaker_session=sdk)
    name = model.deploy(initial_instance_count=1, instance_type="ml.m5.large", wait=False).endpoint_name
    _wait_in_service(sdk, name)
    predictor = Predictor(name, sagemaker_session=sdk, serializer=JSONSerializer(), deserializer=JSONDeserializer())
    try:
        answer = np.array(predictor.predict([[0.0], [1.0]]))
        assert np.allclose(answer, [[0.0, 1.0], [1.0, 3.0]], atol=0.05), answer
    finally:
        predictor.delete_endpoint()


def test_tensorflow_estimator_fit_and_serving_savedmodel(sdk, framework_image, capsys):
    from sagemaker.tensorflow import TensorFlow

    framework_image("tensorflow")
    estimator = TensorFlow(entry_point="train.py", source_dir=str(CODE / "tensorflow"), framework_version="2.13",
                           py_version="py310", instance_type="ml.m5.large", instance_count=1, role=ROLE,
                           hyperparameters={"epochs": 150}, sagemaker_session=sdk)
    estimator.fit(logs="All")
    assert "final loss=" in capsys.readouterr().out
    predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large", wait=False)
    _wait_in_service(sdk, predictor.endpoint_name)
    try:
        answer = predictor.predict({"instances": [[0.0], [1.0]]})
        assert np.allclose(answer["predictions"], [[1.0], [3.0]], atol=0.05), answer
    finally:
        predictor.delete_endpoint()
