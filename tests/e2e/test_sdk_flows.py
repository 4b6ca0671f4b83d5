"""The SageMaker SDK's main flows, unmodified, with the flags users set: a generic Estimator from fit
to delete_endpoint, Model(model_data=...) from an artifact, a re-attached Predictor, Estimator.attach,
Session.logs_for_job, XGBoost script mode and Session.default_bucket()."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import docker
import pytest
from support import ROLE

pytestmark = pytest.mark.docker
CODE = Path(__file__).parent / "frameworks"


def _evidence(s3, model_data: str) -> dict:
    bucket, key = model_data[len("s3://"):].split("/", 1)
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as tar:
        return json.load(tar.extractfile("evidence-algo-1.json"))


def test_generic_estimator_flags_fit_deploy_predict_delete(sdk, s3, bucket, train_image, serve_image, capsys):
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.estimator import Estimator
    from sagemaker.serializers import CSVSerializer

    s3.put_object(Bucket=bucket, Key="e2e/train/rows.csv", Body=b"1,2\n3,4\n")
    estimator = Estimator(
        image_uri=train_image, role=ROLE, instance_count=1, instance_type="ml.c5.xlarge",
        output_path=f"s3://{bucket}/e2e-output", checkpoint_s3_uri=f"s3://{bucket}/e2e-checkpoints",
        max_run=900, environment={"STAGE": "e2e"}, tags=[{"Key": "team", "Value": "ml"}],
        metric_definitions=[{"Name": "train:loss", "Regex": "train-loss=([0-9.]+)"}],
        hyperparameters={"epochs": 3}, enable_network_isolation=True, sagemaker_session=sdk)
    estimator.fit({"train": f"s3://{bucket}/e2e/train/"}, logs="All")
    printed = capsys.readouterr().out
    assert "epoch 2:\ttrain-loss=0.3333" in printed and "Completed - Training job completed" in printed
    name = estimator.latest_training_job.name
    job = sdk.describe_training_job(name)
    assert job["ResourceConfig"]["InstanceType"] == "ml.c5.xlarge"
    assert job["StoppingCondition"]["MaxRuntimeInSeconds"] == 900
    assert job["CheckpointConfig"]["S3Uri"] == f"s3://{bucket}/e2e-checkpoints"
    assert job["EnableNetworkIsolation"] is True
    assert job["FinalMetricDataList"][0]["MetricName"] == "train:loss"
    assert job["FinalMetricDataList"][0]["Value"] == pytest.approx(0.3333)
    assert {"Key": "team", "Value": "ml"} in sdk.sagemaker_client.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]
    assert estimator.model_data == f"s3://{bucket}/e2e-output/{name}/output/model.tar.gz"
    evidence = _evidence(s3, estimator.model_data)
    assert evidence["env"]["STAGE"] == "e2e" and evidence["channels"]["train"] == {"rows.csv": "1,2\n3,4\n"}
    # network isolation: the container is told of no S3 and holds no keys (issue 18)
    assert evidence["s3"] == "no S3_ENDPOINT_URL", "network isolation: the container reaches no S3"
    assert "AWS_SECRET_ACCESS_KEY" not in evidence["env"] and "AWS_ACCESS_KEY_ID" not in evidence["env"]
    assert evidence["checkpointconfig"]["S3Uri"] == f"s3://{bucket}/e2e-checkpoints"
    checkpoints = s3.list_objects_v2(Bucket=bucket, Prefix="e2e-checkpoints/")["Contents"]
    assert [o["Key"] for o in checkpoints] == ["e2e-checkpoints/algo-1-step.txt"]

    sdk.logs_for_job(name)  # Session.logs_for_job on a finished job prints its logs
    assert "done on algo-1" in capsys.readouterr().out
    attached = Estimator.attach(name, sagemaker_session=sdk)
    assert attached.model_data == estimator.model_data and attached.instance_type == "ml.c5.xlarge"

    predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large", image_uri=serve_image,
                                 serializer=CSVSerializer(), deserializer=JSONDeserializer(), wait=False)
    # wait=False + a 1 s waiter: deploy(wait=True) sleeps 30 s before it looks (docs/sdk.md)
    sdk.sagemaker_client.get_waiter("endpoint_in_service").wait(
        EndpointName=predictor.endpoint_name, WaiterConfig={"Delay": 1, "MaxAttempts": 240})
    try:
        answer = predictor.predict([[1, 2], [3, 4]])
        assert answer == {"predictions": [3.0, 7.0], "model": "model from algo-1"}
    finally:
        predictor.delete_model()
        predictor.delete_endpoint()
    sdk.sagemaker_client.get_waiter("endpoint_deleted").wait(EndpointName=predictor.endpoint_name,
                                                             WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    # sparse: one list call, no inspect per container (one removed meanwhile, by another test, raised NotFound)
    leftovers = docker.from_env().containers.list(all=True, sparse=True,
                                                  filters={"label": "org.smlocal.managed=true"})
    assert not [c for c in leftovers if predictor.endpoint_name.lower() in json.dumps(c.attrs["Labels"]).lower()]


def test_model_from_an_artifact_and_a_reattached_predictor(sdk, s3, bucket, serve_image):
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import JSONSerializer

    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as tar:
        data = b"model uploaded by hand"
        info = tarfile.TarInfo("model.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    s3.put_object(Bucket=bucket, Key="e2e/artifact/model.tar.gz", Body=packed.getvalue())
    model = Model(image_uri=serve_image, model_data=f"s3://{bucket}/e2e/artifact/model.tar.gz", role=ROLE,
                  env={"STAGE": "from-artifact"}, sagemaker_session=sdk)
    model.deploy(initial_instance_count=1, instance_type="ml.m5.large", wait=False)
    name = model.endpoint_name
    sdk.sagemaker_client.get_waiter("endpoint_in_service").wait(EndpointName=name,
                                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    again = Predictor(name, sagemaker_session=sdk, serializer=JSONSerializer(), deserializer=JSONDeserializer())
    try:
        assert again.predict([[1, 1], [2, 2]]) == {"predictions": [2.0, 4.0], "model": "model uploaded by hand"}
        inspected = sdk.sagemaker_runtime_client.invoke_endpoint(EndpointName=name, Body=b"inspect",
                                                                ContentType="text/plain")
        assert json.loads(inspected["Body"].read())["env"]["STAGE"] == "from-artifact"
    finally:
        again.delete_endpoint()


def test_xgboost_script_mode_fit_deploy_predict(sdk, s3, bucket, framework_image):
    from sagemaker.deserializers import CSVDeserializer
    from sagemaker.serializers import CSVSerializer
    from sagemaker.xgboost import XGBoost

    framework_image("xgboost")
    rows = "\n".join(f"{2 * x + 1},{x}" for x in range(50)).encode()
    s3.put_object(Bucket=bucket, Key="e2e/xgb-script/train.csv", Body=rows)
    estimator = XGBoost(entry_point="train.py", source_dir=str(CODE / "xgboost"), framework_version="1.7-1",
                        py_version="py3", instance_type="ml.m5.large", instance_count=1, role=ROLE,
                        hyperparameters={"num_round": 30}, sagemaker_session=sdk)
    estimator.fit({"train": f"s3://{bucket}/e2e/xgb-script/"}, logs="None")
    predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large", wait=False,
                                 serializer=CSVSerializer(), deserializer=CSVDeserializer())
    sdk.sagemaker_client.get_waiter("endpoint_in_service").wait(EndpointName=predictor.endpoint_name,
                                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    try:
        answer = predictor.predict([[10.0], [20.0]])
        assert [float(row[0]) for row in answer] == pytest.approx([21, 41], abs=2), answer  # trees: a step fit
    finally:
        predictor.delete_endpoint()


def test_default_bucket_is_the_accounts_and_is_created(jobs_gateway, s3_server, monkeypatch, tmp_path, s3):
    """`smlocal env` names SageMaker's default bucket for the account in the SDK config: the SDK's own way
    to find it calls STS at https://sts.<region>.amazonaws.com, an explicit URL AWS_ENDPOINT_URL cannot
    redirect (docs: known differences)."""
    from tests_support_sdk import sdk_environment

    sdk_environment(monkeypatch, tmp_path, jobs_gateway.url, s3_server, "sagemaker-us-east-1-123456789012")
    import sagemaker

    session = sagemaker.Session()
    assert session.default_bucket() == "sagemaker-us-east-1-123456789012"
    s3.head_bucket(Bucket="sagemaker-us-east-1-123456789012")
