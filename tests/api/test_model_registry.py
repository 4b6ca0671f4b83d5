"""The model registry through boto3: package groups, versioned and unversioned packages, approval and
metadata updates, BatchDescribe, tags, CreateModel from a package, and Search."""

from __future__ import annotations

import datetime as dt
import time

import botocore.exceptions
import pytest

from emulator.domain.families import TRAINING_JOB
from emulator.domain.records import Records

ACCOUNT_REGION = "us-east-1:123456789012"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def spec(model_data: str = "s3://b/model.tar.gz", **container) -> dict:
    return {"Containers": [{"Image": IMAGE, "ModelDataUrl": model_data, **container}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["application/json"]}


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def test_group_lifecycle_describe_by_name_and_arn_list_tags_delete(sm, unique):
    name = unique.title()
    arn = sm.create_model_package_group(ModelPackageGroupName=name, ModelPackageGroupDescription="d",
                                        Tags=[{"Key": "team", "Value": "ml"}])["ModelPackageGroupArn"]
    assert arn == f"arn:aws:sagemaker:{ACCOUNT_REGION}:model-package-group/{name.lower()}"
    by_name = sm.describe_model_package_group(ModelPackageGroupName=name)
    assert by_name["ModelPackageGroupName"] == name and by_name["ModelPackageGroupStatus"] == "Completed"
    assert by_name["ModelPackageGroupDescription"] == "d"
    assert abs(by_name["CreationTime"] - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(seconds=30)
    assert sm.describe_model_package_group(ModelPackageGroupName=arn)["ModelPackageGroupArn"] == arn
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    sm.create_model_package_group(ModelPackageGroupName=name + "-b")
    listed = sm.list_model_package_groups(NameContains=unique[:30], SortBy="Name", SortOrder="Ascending",
                                          MaxResults=1)
    assert [g["ModelPackageGroupName"] for g in listed["ModelPackageGroupSummaryList"]] == [name]
    assert set(listed["ModelPackageGroupSummaryList"][0]) == {
        "ModelPackageGroupName", "ModelPackageGroupArn", "ModelPackageGroupDescription", "CreationTime",
        "ModelPackageGroupStatus"}
    rest = sm.list_model_package_groups(NameContains=unique[:30], SortBy="Name", SortOrder="Ascending",
                                        NextToken=listed["NextToken"])
    assert [g["ModelPackageGroupName"] for g in rest["ModelPackageGroupSummaryList"]] == [name + "-b"]
    assert "NextToken" not in rest
    code, message = error_of(sm.create_model_package_group, ModelPackageGroupName=name.lower())
    assert (code, message) == ("ValidationException", f"Model Package Group already exists: {arn}")
    sm.delete_model_package_group(ModelPackageGroupName=name)
    code, message = error_of(sm.describe_model_package_group, ModelPackageGroupName=name)
    assert (code, message) == ("ValidationException", f"ModelPackageGroup {arn} does not exist.")
    with pytest.raises(botocore.exceptions.ClientError):
        sm.list_tags(ResourceArn=arn)


def test_versioned_packages_are_numbered_per_group_and_described_three_ways(sm, unique):
    sm.create_model_package_group(ModelPackageGroupName=unique)
    sm.create_model_package_group(ModelPackageGroupName=unique + "-other")
    arns = [sm.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=spec(f"s3://b/{i}.tar.gz"),
                                    ModelPackageDescription=f"v{i}")["ModelPackageArn"] for i in (1, 2, 3)]
    other = sm.create_model_package(ModelPackageGroupName=unique + "-other", InferenceSpecification=spec())
    assert arns == [f"arn:aws:sagemaker:{ACCOUNT_REGION}:model-package/{unique.lower()}/{v}" for v in (1, 2, 3)]
    assert other["ModelPackageArn"].endswith(f"/{unique.lower()}-other/1")
    described = sm.describe_model_package(ModelPackageName=arns[1])
    assert described["ModelPackageVersion"] == 2 and described["ModelPackageGroupName"] == unique
    assert described["ModelPackageName"] == f"{unique}/2"
    assert described["ModelPackageStatus"] == "Completed"
    assert described["ModelPackageStatusDetails"] == {"ValidationStatuses": [], "ImageScanStatuses": []}
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["CertifyForMarketplace"] is False
    assert described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == "s3://b/2.tar.gz"
    assert sm.describe_model_package(ModelPackageName=f"{unique}/3")["ModelPackageDescription"] == "v3"
    # versions are never reused: after deleting 3 the next one is 4
    sm.delete_model_package(ModelPackageName=arns[2])
    code, message = error_of(sm.describe_model_package, ModelPackageName=arns[2])
    assert (code, message) == ("ValidationException", f"ModelPackage {arns[2]} does not exist.")
    fourth = sm.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=spec(),
                                     ModelApprovalStatus="Approved")["ModelPackageArn"]
    assert fourth.endswith(f"/{unique.lower()}/4")


def test_list_model_packages_filters_sorts_and_pages(sm, unique):
    sm.create_model_package_group(ModelPackageGroupName=unique)
    for status in ("Approved", "Rejected", "Approved"):
        sm.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=spec(),
                                ModelApprovalStatus=status)
    solo = sm.create_model_package(ModelPackageName=unique + "-solo", InferenceSpecification=spec())
    group = sm.list_model_packages(ModelPackageGroupName=unique)["ModelPackageSummaryList"]
    assert [p["ModelPackageVersion"] for p in group] == [3, 2, 1]          # CreationTime, Descending
    # a versioned package's summary has no ModelPackageName (aws/sagemaker-python-sdk#5606)
    assert set(group[0]) == {"ModelPackageGroupName", "ModelPackageVersion",
                             "ModelPackageArn", "CreationTime", "ModelPackageStatus", "ModelApprovalStatus"}
    approved = sm.list_model_packages(ModelPackageGroupName=unique, ModelApprovalStatus="Approved",
                                      SortOrder="Ascending")["ModelPackageSummaryList"]
    assert [p["ModelPackageVersion"] for p in approved] == [1, 3]
    first = sm.list_model_packages(ModelPackageGroupName=unique, MaxResults=2, SortBy="CreationTime",
                                   SortOrder="Ascending")
    second = sm.list_model_packages(ModelPackageGroupName=unique, MaxResults=2, SortBy="CreationTime",
                                    SortOrder="Ascending", NextToken=first["NextToken"])
    assert [p["ModelPackageVersion"] for p in first["ModelPackageSummaryList"] + second["ModelPackageSummaryList"]] \
        == [1, 2, 3]
    # without a group the default type is Unversioned
    unversioned = sm.list_model_packages(NameContains=unique)["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in unversioned] == [solo["ModelPackageArn"]]
    both = sm.list_model_packages(NameContains=unique, ModelPackageType="Both", SortBy="Name",
                                  SortOrder="Ascending")["ModelPackageSummaryList"]
    # names: "<group>-solo" sorts before "<group>/1" ("-" < "/")
    assert len(both) == 4 and both[0]["ModelPackageName"] == unique + "-solo"
    assert [p["ModelPackageArn"][-2:] for p in both[1:]] == ["/1", "/2", "/3"]
    versioned = sm.list_model_packages(NameContains=unique, ModelPackageType="Versioned")["ModelPackageSummaryList"]
    assert len(versioned) == 3


def test_a_retried_create_with_the_same_client_token_returns_the_same_package(sm, unique):
    sm.create_model_package_group(ModelPackageGroupName=unique)
    token = f"t-{time.time_ns()}"
    first = sm.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=spec(), ClientToken=token)
    again = sm.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=spec(), ClientToken=token)
    other = sm.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=spec())
    assert again["ModelPackageArn"] == first["ModelPackageArn"]
    assert other["ModelPackageArn"].endswith("/2")


def test_unversioned_package_and_create_errors(sm, unique):
    arn = sm.create_model_package(ModelPackageName=unique, InferenceSpecification=spec(),
                                  CertifyForMarketplace=True)["ModelPackageArn"]
    assert arn == f"arn:aws:sagemaker:{ACCOUNT_REGION}:model-package/{unique.lower()}"
    described = sm.describe_model_package(ModelPackageName=unique)
    assert described["ModelPackageArn"] == arn and described["CertifyForMarketplace"] is True
    assert "ModelPackageVersion" not in described and "ModelApprovalStatus" not in described
    assert error_of(sm.create_model_package, ModelPackageName=unique, InferenceSpecification=spec()) == (
        "ValidationException", f"Model Package already exists: {arn}")
    assert error_of(sm.create_model_package, ModelPackageName=unique + "x", ModelPackageGroupName=unique,
                    InferenceSpecification=spec()) == (
        "ValidationException", "Both ModelPackageName and ModelPackageGroupName are provided in the input. "
                               "Cannot determine which one to use.")
    assert error_of(sm.create_model_package, InferenceSpecification=spec()) == ("ValidationException", "Missing ARN.")
    assert error_of(sm.create_model_package, ModelPackageGroupName=unique + "-none",
                    InferenceSpecification=spec()) == ("ValidationException", "Model Package Group does not exist.")
    sm.delete_model_package(ModelPackageName=unique)
    assert error_of(sm.describe_model_package, ModelPackageName=unique)[0] == "ValidationException"


def test_update_approval_description_and_customer_metadata(sm, unique):
    sm.create_model_package_group(ModelPackageGroupName=unique)
    arn = sm.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=spec(),
                                  CustomerMetadataProperties={"a": "1", "b": "2"})["ModelPackageArn"]
    before = sm.describe_model_package(ModelPackageName=arn)
    time.sleep(0.01)
    assert sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved",
                                   ApprovalDescription="looks good",
                                   CustomerMetadataProperties={"c": "3", "a": "one"},
                                   CustomerMetadataPropertiesToRemove=["b"])["ModelPackageArn"] == arn
    after = sm.describe_model_package(ModelPackageName=arn)
    assert after["ModelApprovalStatus"] == "Approved" and after["ApprovalDescription"] == "looks good"
    assert after["CustomerMetadataProperties"] == {"a": "one", "c": "3"}
    assert after["LastModifiedTime"] > before["LastModifiedTime"]
    assert after["CreationTime"] == before["CreationTime"]
    code, message = error_of(sm.update_model_package, ModelPackageArn=arn, CustomerMetadataProperties={"x": "1"},
                             CustomerMetadataPropertiesToRemove=["x"])
    assert code == "ValidationException" and "['x']" in message
    solo = sm.create_model_package(ModelPackageName=unique + "-solo", InferenceSpecification=spec())
    assert error_of(sm.update_model_package, ModelPackageArn=solo["ModelPackageArn"],
                    ModelApprovalStatus="Approved")[0] == "ValidationException"
    missing = arn[:-1] + "9"
    assert error_of(sm.update_model_package, ModelPackageArn=missing, ModelApprovalStatus="Approved") == (
        "ValidationException", f"ModelPackage {missing} does not exist.")


def test_group_with_packages_cannot_be_deleted(sm, unique):
    sm.create_model_package_group(ModelPackageGroupName=unique)
    arn = sm.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=spec())["ModelPackageArn"]
    code, message = error_of(sm.delete_model_package_group, ModelPackageGroupName=unique)
    assert code == "ConflictException" and unique in message
    sm.delete_model_package(ModelPackageName=arn)
    sm.delete_model_package_group(ModelPackageGroupName=unique)
    assert not sm.list_model_package_groups(NameContains=unique)["ModelPackageGroupSummaryList"]


def test_batch_describe_and_tags_on_a_package(sm, unique):
    sm.create_model_package_group(ModelPackageGroupName=unique)
    arn = sm.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=spec(),
                                  Tags=[{"Key": "stage", "Value": "dev"}])["ModelPackageArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "owner", "Value": "me"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "stage", "Value": "dev"},
                                                     {"Key": "owner", "Value": "me"}]
    missing = arn[:-1] + "7"
    batch = sm.batch_describe_model_package(ModelPackageArnList=[arn, missing])
    summary = batch["ModelPackageSummaries"][arn]
    assert summary["ModelPackageGroupName"] == unique and summary["ModelPackageVersion"] == 1
    assert summary["InferenceSpecification"]["Containers"][0]["Image"] == IMAGE
    assert batch["BatchDescribeModelPackageErrorMap"] == {
        missing: {"ErrorCode": "ValidationException", "ErrorResponse": f"ModelPackage {missing} does not exist."}}


def test_create_model_from_a_package_takes_image_and_data_from_it(sm, unique):
    sm.create_model_package_group(ModelPackageGroupName=unique)
    arn = sm.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=spec(
        "s3://b/pkg.tar.gz", Environment={"FROM": "package", "KEEP": "1"}))["ModelPackageArn"]
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE,
                    PrimaryContainer={"ModelPackageName": arn, "Environment": {"FROM": "model"}})
    container = sm.describe_model(ModelName=unique)["PrimaryContainer"]
    assert container["ModelPackageName"] == arn and container["Image"] == IMAGE
    assert container["ModelDataUrl"] == "s3://b/pkg.tar.gz"
    assert container["Environment"] == {"FROM": "model", "KEEP": "1"}
    sm.create_model(ModelName=unique + "-c", ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": f"{unique}/1"}])
    assert sm.describe_model(ModelName=unique + "-c")["Containers"][0]["Image"] == IMAGE
    missing = arn[:-1] + "5"
    assert error_of(sm.create_model, ModelName=unique + "-x", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"ModelPackageName": missing}) == (
        "ValidationException", f"ModelPackage {missing} does not exist.")
    with pytest.raises(botocore.exceptions.ClientError):
        sm.describe_model(ModelName=unique + "-x")


def _search(sm, resource, *filters, operator=None, **kwargs):
    expression: dict = {"Filters": list(filters)}
    if operator:
        expression["Operator"] = operator
    return sm.search(Resource=resource, SearchExpression=expression, **kwargs)


def test_search_model_package_groups_and_packages(sm, unique):
    for suffix in ("a", "b", "c"):
        sm.create_model_package_group(ModelPackageGroupName=f"{unique}-{suffix}",
                                      Tags=[{"Key": "letter", "Value": suffix}])
    found = _search(sm, "ModelPackageGroup", {"Name": "ModelPackageGroupName", "Operator": "Equals",
                                              "Value": f"{unique}-b"})
    assert [r["ModelPackageGroup"]["ModelPackageGroupName"] for r in found["Results"]] == [f"{unique}-b"]
    assert found["Results"][0]["ModelPackageGroup"]["Tags"] == [{"Key": "letter", "Value": "b"}]
    assert found["TotalHits"] == {"Value": 1, "Relation": "EqualTo"}
    assert _search(sm, "ModelPackageGroup", {"Name": "ModelPackageGroupName", "Operator": "Equals",
                                             "Value": f"{unique}-z"})["Results"] == []
    contains = {"Name": "ModelPackageGroupName", "Operator": "Contains", "Value": unique}
    named = _search(sm, "ModelPackageGroup", contains, SortBy="ModelPackageGroupName", SortOrder="Ascending")
    assert [r["ModelPackageGroup"]["ModelPackageGroupName"][-1] for r in named["Results"]] == ["a", "b", "c"]
    page = _search(sm, "ModelPackageGroup", contains, SortBy="ModelPackageGroupName", SortOrder="Ascending",
                   MaxResults=2)
    rest = _search(sm, "ModelPackageGroup", contains, SortBy="ModelPackageGroupName", SortOrder="Ascending",
                   MaxResults=2, NextToken=page["NextToken"])
    assert [r["ModelPackageGroup"]["ModelPackageGroupName"][-1] for r in page["Results"] + rest["Results"]] \
        == ["a", "b", "c"]
    tagged = _search(sm, "ModelPackageGroup", contains, {"Name": "Tags.letter", "Operator": "In", "Value": "a,c"})
    assert sorted(r["ModelPackageGroup"]["ModelPackageGroupName"][-1] for r in tagged["Results"]) == ["a", "c"]
    not_b = _search(sm, "ModelPackageGroup", contains, {"Name": "Tags.letter", "Operator": "NotEquals", "Value": "b"})
    assert len(not_b["Results"]) == 2
    either = sm.search(Resource="ModelPackageGroup", SearchExpression={"SubExpressions": [
        {"Filters": [{"Name": "ModelPackageGroupName", "Operator": "Equals", "Value": f"{unique}-a"}]},
        {"Filters": [{"Name": "ModelPackageGroupName", "Operator": "Equals", "Value": f"{unique}-c"}]}],
        "Operator": "Or"})
    assert len(either["Results"]) == 2

    for status in ("Approved", "Rejected"):
        sm.create_model_package(ModelPackageGroupName=f"{unique}-a", InferenceSpecification=spec(),
                                ModelApprovalStatus=status, CustomerMetadataProperties={"score": "0.9"})
    group = {"Name": "ModelPackageGroupName", "Operator": "Equals", "Value": f"{unique}-a"}
    approved = _search(sm, "ModelPackage", group, {"Name": "ModelApprovalStatus", "Value": "Approved"})
    assert [r["ModelPackage"]["ModelPackageVersion"] for r in approved["Results"]] == [1]
    newer = _search(sm, "ModelPackage", group, {"Name": "ModelPackageVersion", "Operator": "GreaterThan", "Value": "1"})
    assert [r["ModelPackage"]["ModelPackageVersion"] for r in newer["Results"]] == [2]
    by_version = _search(sm, "ModelPackage", group, SortBy="ModelPackageVersion", SortOrder="Descending")
    assert [r["ModelPackage"]["ModelPackageVersion"] for r in by_version["Results"]] == [2, 1]
    metadata = _search(sm, "ModelPackage", group, {"Name": "CustomerMetadataProperties.score",
                                                   "Operator": "GreaterThanOrEqualTo", "Value": "0.5"})
    assert len(metadata["Results"]) == 2
    nested = sm.search(Resource="ModelPackage", SearchExpression={
        "Filters": [group],
        "NestedFilters": [{"NestedPropertyName": "InferenceSpecification.Containers", "Filters": [
            {"Name": "InferenceSpecification.Containers.Image", "Operator": "Equals", "Value": IMAGE},
            {"Name": "InferenceSpecification.Containers.ModelDataUrl", "Operator": "Contains", "Value": "model"}]}]})
    assert len(nested["Results"]) == 2
    exists = _search(sm, "ModelPackage", group, {"Name": "ApprovalDescription", "Operator": "Exists"})
    assert exists["Results"] == []
    created = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    recent = _search(sm, "ModelPackage", group, {"Name": "CreationTime", "Operator": "GreaterThan",
                                                 "Value": created.isoformat()})
    assert len(recent["Results"]) == 2


def test_search_training_jobs_by_hyperparameters_metrics_and_nested_inputs(sm, gateway, unique):
    jobs = Records(gateway.emulator.ctx, TRAINING_JOB)
    for lr, loss in (("0.1", 0.5), ("0.01", 0.2)):
        jobs.create(f"{unique}-{lr.replace('.', '')}", {
            "TrainingJobStatus": "Completed", "HyperParameters": {"learning_rate": lr},
            "FinalMetricDataList": [{"MetricName": "validation:loss", "Value": loss, "Timestamp": time.time()}],
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://b/{lr}/train"}}}],
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "RoleArn": ROLE, "StoppingCondition": {"MaxRuntimeInSeconds": 60},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1}})
    mine = {"Name": "TrainingJobName", "Operator": "Contains", "Value": unique}
    best = _search(sm, "TrainingJob", mine, SortBy="Metrics.validation:loss", SortOrder="Ascending")
    assert [r["TrainingJob"]["HyperParameters"]["learning_rate"] for r in best["Results"]] == ["0.01", "0.1"]
    assert best["Results"][0]["TrainingJob"]["TrainingJobStatus"] == "Completed"
    fast = _search(sm, "TrainingJob", mine, {"Name": "HyperParameters.learning_rate", "Operator": "GreaterThan",
                                             "Value": "0.05"})
    assert [r["TrainingJob"]["HyperParameters"]["learning_rate"] for r in fast["Results"]] == ["0.1"]
    nested = sm.search(Resource="TrainingJob", SearchExpression={"Filters": [mine], "NestedFilters": [
        {"NestedPropertyName": "InputDataConfig", "Filters": [
            {"Name": "InputDataConfig.ChannelName", "Operator": "Equals", "Value": "train"},
            {"Name": "InputDataConfig.DataSource.S3DataSource.S3Uri", "Operator": "Contains", "Value": "0.01/"}]}]})
    assert [r["TrainingJob"]["HyperParameters"]["learning_rate"] for r in nested["Results"]] == ["0.01"]
    # a resource type smlocal holds no records of answers nothing
    assert sm.search(Resource="FeatureGroup")["Results"] == []
