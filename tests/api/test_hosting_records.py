"""Models and endpoint configs through boto3: create, describe, list, delete, tags."""

from __future__ import annotations

import datetime as dt

import botocore.exceptions
import pytest

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def test_model_lifecycle(sm, unique):
    name = unique.title()
    created = sm.create_model(ModelName=name, ExecutionRoleArn=ROLE,
                              PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://b/m.tar.gz",
                                                "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}})
    assert created["ModelArn"] == f"arn:aws:sagemaker:us-east-1:123456789012:model/{name.lower()}"
    described = sm.describe_model(ModelName=name.lower())  # names are case-insensitive
    assert described["ModelName"] == name
    assert described["PrimaryContainer"]["Environment"] == {"SAGEMAKER_PROGRAM": "inference.py"}
    assert described["EnableNetworkIsolation"] is False
    assert abs(described["CreationTime"] - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(seconds=30)
    listed = sm.list_models(NameContains=unique[:20])["Models"]
    assert [m["ModelName"] for m in listed] == [name]
    assert set(listed[0]) == {"ModelName", "ModelArn", "CreationTime"}
    sm.delete_model(ModelName=name)
    with pytest.raises(botocore.exceptions.ClientError):
        sm.describe_model(ModelName=name)


def test_serial_pipeline_model_keeps_container_order(sm, unique):
    sm.create_model(ModelName=unique, Containers=[{"Image": IMAGE, "ContainerHostname": "first"},
                                                  {"Image": IMAGE, "ContainerHostname": "second"}],
                    InferenceExecutionConfig={"Mode": "Serial"})
    described = sm.describe_model(ModelName=unique)
    assert [c["ContainerHostname"] for c in described["Containers"]] == ["first", "second"]
    assert "PrimaryContainer" not in described


def test_endpoint_config_lifecycle(sm, unique):
    sm.create_model(ModelName=unique, PrimaryContainer={"Image": IMAGE})
    arn = sm.create_endpoint_config(
        EndpointConfigName=unique,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": unique, "InitialInstanceCount": 1,
                             "InstanceType": "ml.m5.large"}],
        Tags=[{"Key": "team", "Value": "ml"}])["EndpointConfigArn"]
    described = sm.describe_endpoint_config(EndpointConfigName=unique)
    assert described["EndpointConfigArn"] == arn
    assert described["ProductionVariants"][0]["ModelName"] == unique
    assert described["ProductionVariants"][0]["InitialVariantWeight"] == 1.0
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    sm.delete_endpoint_config(EndpointConfigName=unique)
    with pytest.raises(botocore.exceptions.ClientError):
        sm.list_tags(ResourceArn=arn)  # tags go with the resource


def test_serverless_variant_needs_no_instances(sm, unique):
    sm.create_model(ModelName=unique, PrimaryContainer={"Image": IMAGE})
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[
        {"VariantName": "v", "ModelName": unique, "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 2}}])
    with pytest.raises(botocore.exceptions.ClientError, match="InstanceType and InitialInstanceCount"):
        sm.create_endpoint_config(EndpointConfigName=unique + "-b",
                                  ProductionVariants=[{"VariantName": "v", "ModelName": unique}])


def test_tags_add_overwrite_list_page_delete(sm, unique):
    arn = sm.create_model(ModelName=unique, PrimaryContainer={"Image": IMAGE},
                          Tags=[{"Key": "a", "Value": "1"}])["ModelArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "a", "Value": "2"}] + [{"Key": f"k{i:02d}", "Value": "v"}
                                                                      for i in range(49)])
    pages = list(sm.get_paginator("list_tags").paginate(ResourceArn=arn, PaginationConfig={"PageSize": 50}))
    tags = [t for p in pages for t in p["Tags"]]
    assert len(pages) == 1 and len(tags) == 50 and tags[0] == {"Key": "a", "Value": "2"}
    sm.delete_tags(ResourceArn=arn, TagKeys=["a", "k00", "not-there"])
    keys = [t["Key"] for t in sm.list_tags(ResourceArn=arn, MaxResults=100)["Tags"]]
    assert "a" not in keys and "k00" not in keys and len(keys) == 48


def test_list_pagination_sorting_and_time_filters(sm, unique):
    names = [f"{unique}-{i}" for i in range(13)]
    for name in names:
        sm.create_model(ModelName=name, PrimaryContainer={"Image": IMAGE})
    paginator = sm.get_paginator("list_models")
    pages = list(paginator.paginate(NameContains=unique[-12:], SortBy="Name", SortOrder="Ascending",
                                    PaginationConfig={"PageSize": 5}))
    assert [len(p["Models"]) for p in pages] == [5, 5, 3]
    assert [m["ModelName"] for p in pages for m in p["Models"]] == sorted(names, key=str.lower)
    newest = sm.list_models(NameContains=unique[-12:], MaxResults=1)["Models"][0]
    assert newest["ModelName"] == names[-1]
    # botocore sends whole seconds, so compare against bounds a second away
    earlier = newest["CreationTime"] - dt.timedelta(seconds=61)
    later = newest["CreationTime"] + dt.timedelta(seconds=2)
    assert sm.list_models(NameContains=unique[-12:], CreationTimeAfter=later)["Models"] == []
    assert sm.list_models(NameContains=unique[-12:], CreationTimeBefore=earlier)["Models"] == []
    assert len(sm.list_models(NameContains=unique[-12:], CreationTimeAfter=earlier, CreationTimeBefore=later,
                              MaxResults=100)["Models"]) == 13


@pytest.mark.parametrize("operation, key", [
    ("list_training_jobs", "TrainingJobSummaries"), ("list_processing_jobs", "ProcessingJobSummaries"),
    ("list_transform_jobs", "TransformJobSummaries"), ("list_endpoints", "Endpoints"),
    ("list_endpoint_configs", "EndpointConfigs"), ("list_models", "Models"),
])
def test_every_family_lists(sm, operation, key):
    assert key in getattr(sm, operation)(MaxResults=5)
