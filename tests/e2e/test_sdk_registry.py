"""The model registry through the unmodified SDK 2: ``Model.register`` (which Searches for the group and
creates it when missing), approval through boto3, then ``ModelPackage(...).deploy()`` to an endpoint that
answers ``predict``."""

from __future__ import annotations

import io
import tarfile
import time

import pytest
from support import ROLE

pytestmark = pytest.mark.docker


def _artifact(s3, bucket: str, key: str, text: bytes) -> str:
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as tar:
        info = tarfile.TarInfo("model.txt")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    s3.put_object(Bucket=bucket, Key=key, Body=packed.getvalue())
    return f"s3://{bucket}/{key}"


def test_register_approve_and_deploy_a_model_package(sdk, s3, bucket, serve_image):
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.model import Model, ModelPackage
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import JSONSerializer

    sm = sdk.sagemaker_client
    group = f"e2e-registry-{int(time.time() * 1000) % 10**8}"
    model = Model(image_uri=serve_image, role=ROLE, sagemaker_session=sdk,
                  model_data=_artifact(s3, bucket, "e2e/registry/model.tar.gz", b"model from the registry"))
    register = {"content_types": ["application/json"], "response_types": ["application/json"],
                "inference_instances": ["ml.m5.large"], "transform_instances": ["ml.m5.large"],
                "model_package_group_name": group}
    first = model.register(description="first", **register)
    # the group did not exist: register() searched for it, found nothing and created it
    assert sm.describe_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupStatus"] == "Completed"
    second = model.register(approval_status="Rejected", customer_metadata_properties={"why": "test"}, **register)
    assert first.model_package_arn.endswith(f":model-package/{group}/1")
    assert second.model_package_arn.endswith(f":model-package/{group}/2")
    described = sm.describe_model_package(ModelPackageName=first.model_package_arn)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["InferenceSpecification"]["Containers"][0]["Image"] == serve_image
    assert described["ModelPackageDescription"] == "first"

    sm.update_model_package(ModelPackageArn=first.model_package_arn, ModelApprovalStatus="Approved",
                            ApprovalDescription="e2e")
    approved = sm.list_model_packages(ModelPackageGroupName=group, ModelApprovalStatus="Approved")
    assert [p["ModelPackageArn"] for p in approved["ModelPackageSummaryList"]] == [first.model_package_arn]
    found = sm.search(Resource="ModelPackage", SearchExpression={"Filters": [
        {"Name": "ModelPackageGroupName", "Operator": "Equals", "Value": group},
        {"Name": "ModelApprovalStatus", "Operator": "Equals", "Value": "Approved"}]})
    assert [r["ModelPackage"]["ModelPackageVersion"] for r in found["Results"]] == [1]

    package = ModelPackage(role=ROLE, model_package_arn=first.model_package_arn, sagemaker_session=sdk,
                           predictor_cls=Predictor)
    predictor = package.deploy(initial_instance_count=1, instance_type="ml.m5.large",
                               serializer=JSONSerializer(), deserializer=JSONDeserializer(), wait=False)
    # wait=False + a 1 s waiter: deploy(wait=True) sleeps 30 s before it looks (docs/sdk.md)
    sdk.sagemaker_client.get_waiter("endpoint_in_service").wait(
        EndpointName=predictor.endpoint_name, WaiterConfig={"Delay": 1, "MaxAttempts": 240})
    try:
        assert predictor.predict([[1, 1], [2, 3]]) == {"predictions": [2.0, 5.0], "model": "model from the registry"}
        created = sm.describe_model(ModelName=package.name)
        container = (created.get("Containers") or [created.get("PrimaryContainer")])[0]
        assert container["ModelPackageName"] == first.model_package_arn
        assert container["Image"] == serve_image
    finally:
        predictor.delete_model()
        predictor.delete_endpoint()
    for version in (second, first):
        sm.delete_model_package(ModelPackageName=version.model_package_arn)
    sm.delete_model_package_group(ModelPackageGroupName=group)


def test_estimator_register_into_an_existing_group_and_list_by_approval(sdk, s3, bucket, train_image, serve_image):
    from sagemaker.estimator import Estimator

    sm = sdk.sagemaker_client
    group = f"e2e-estimator-{int(time.time() * 1000) % 10**8}"
    sm.create_model_package_group(ModelPackageGroupName=group, ModelPackageGroupDescription="made first")
    s3.put_object(Bucket=bucket, Key="e2e/registry-train/rows.csv", Body=b"1,2\n")
    estimator = Estimator(image_uri=train_image, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                          output_path=f"s3://{bucket}/e2e-registry-output", sagemaker_session=sdk)
    estimator.fit({"train": f"s3://{bucket}/e2e/registry-train/"}, logs="None")
    package = estimator.register(content_types=["text/csv"], response_types=["application/json"],
                                 inference_instances=["ml.m5.large"], transform_instances=["ml.m5.large"],
                                 image_uri=serve_image, model_package_group_name=group,
                                 approval_status="Approved")
    described = sm.describe_model_package(ModelPackageName=package.model_package_arn)
    container = described["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == estimator.model_data and container["Image"] == serve_image
    assert described["ModelApprovalStatus"] == "Approved" and described["ModelPackageVersion"] == 1
    # the group was found by Search, so register() did not create it again
    assert sm.describe_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupDescription"] == "made first"
    latest = sm.list_model_packages(ModelPackageGroupName=group, ModelApprovalStatus="Approved",
                                    SortBy="CreationTime", SortOrder="Descending", MaxResults=1)
    assert latest["ModelPackageSummaryList"][0]["ModelPackageArn"] == package.model_package_arn
