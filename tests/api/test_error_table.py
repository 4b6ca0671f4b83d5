"""Every row of docs/errors.md, replayed through a real client and compared exactly."""

from __future__ import annotations

import datetime
import json
import re
import time
from pathlib import Path
from unittest import mock
from xml.etree import ElementTree

import boto3
import botocore.exceptions
import httpx
import pytest
import rawclient as raw
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.parsers import create_parser
from fake_container import fake_container
from support import S3_ACCESS, S3_SECRET, live_gateway

from emulator.api.service_models import service_model
from emulator.config import S3Settings, Settings
from emulator.domain import families
from emulator.domain.records import Context, Records
from emulator.hosting.routing import Instance, Route, Target, VariantRoute
from emulator.state.db import Database
from emulator.state.resources import ResourceStore

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
ROW = re.compile(r"^\| (?P<id>[A-Z]{2}\d{2}) \| (?P<op>[^|]+) \| (?P<situation>[^|]+) \| (?P<code>\w+) \| "
                 r"(?P<status>\d{3}) \| `(?P<message>.*)` \| [^|]+ \|$")
ACCOUNT = "123456789012"
IMAGE = {"Image": "123.dkr.ecr.us-east-1.amazonaws.com/img:1"}


def doc_rows() -> dict[str, dict[str, str]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        match = ROW.match(line)
        if match:
            rows[match["id"]] = match.groupdict()
    return rows


def pattern_of(service: str, operation: str, *path: str) -> str:
    shape = service_model(service).operation_model(operation).input_shape
    for step in path:
        shape = shape.member if step == "member" else shape.members[step]
    return shape.metadata["pattern"]


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:{kind}/{name}"


def client_error(call, *args, **kwargs) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(*args, **kwargs)
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], \
        response["Error"].get("Message", "")


# --- one function per row: returns ((code, status, message), substitutions) ---------------------
CASES = {}


def case(row_id):
    def register(fn):
        CASES[row_id] = fn
        return fn
    return register


@case("SM01")
def _(c, name):
    return client_error(c.sm.describe_training_job, TrainingJobName=name), {}


@case("SM02")
def _(c, name):
    return client_error(c.sm.describe_processing_job, ProcessingJobName=name), {"<name>": name}


@case("SM03")
def _(c, name):
    return client_error(c.sm.describe_transform_job, TransformJobName=name), {"<name>": name}


@case("SM04")
def _(c, name):
    return client_error(c.sm.describe_model, ModelName=name), {"<arn>": arn("model", name.lower())}


@case("SM05")
def _(c, name):
    return client_error(c.sm.delete_model, ModelName=name), {"<arn>": arn("model", name.lower())}


@case("SM06")
def _(c, name):
    c.sm.create_model(ModelName=name, PrimaryContainer=IMAGE)
    return client_error(c.sm.create_model, ModelName=name.upper(), PrimaryContainer=IMAGE), \
        {"<arn>": arn("model", name.lower())}


@case("SM07")
def _(c, name):
    return client_error(c.sm.describe_endpoint_config, EndpointConfigName=name), \
        {"<arn>": arn("endpoint-config", name.lower())}


@case("SM08")
def _(c, name):
    return client_error(c.sm.delete_endpoint_config, EndpointConfigName=name), \
        {"<arn>": arn("endpoint-config", name.lower())}


def _variant(model: str, variant: str = "AllTraffic") -> dict:
    return {"VariantName": variant, "ModelName": model, "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}


@case("SM09")
def _(c, name):
    c.sm.create_model(ModelName=name, PrimaryContainer=IMAGE)
    c.sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[_variant(name)])
    return client_error(c.sm.create_endpoint_config, EndpointConfigName=name,
                        ProductionVariants=[_variant(name)]), {"<arn>": arn("endpoint-config", name.lower())}


@case("SM10")
def _(c, name):
    return client_error(c.sm.create_endpoint_config, EndpointConfigName=name,
                        ProductionVariants=[_variant(name + "-missing")]), \
        {"<arn>": arn("model", name.lower() + "-missing")}


@case("SM11")
def _(c, name):
    return client_error(c.sm.describe_endpoint, EndpointName=name), {"<arn>": arn("endpoint", name.lower())}


def _domain_duplicate(c, family, name):
    records = Records(c.domain, family)
    records.create(name, {})
    with pytest.raises(Exception) as info:
        records.create(name, {})
    err = info.value
    return (err.code, err.status, err.message), {"<arn>": arn(family.kind, name)}


def _training(name: str, **overrides) -> dict:
    request = {"TrainingJobName": name, "RoleArn": "arn:aws:iam::123456789012:role/R",
               "AlgorithmSpecification": {"TrainingImage": "smlocal-test/no-such-image:1", "TrainingInputMode": "File"},
               "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
               "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1}}
    request.update(overrides)
    return request


@case("SM12")
def _(c, name):
    c.sm.create_training_job(**_training(name))
    return client_error(c.sm.create_training_job, **_training(name.upper())), \
        {"<arn>": arn("training-job", name)}


@case("TR01")
def _(c, name):
    return client_error(c.sm.stop_training_job, TrainingJobName=name), {}


@case("TR02")
def _(c, name):
    c.sm.create_training_job(**_training(name))  # fails at once: the image does not exist
    deadline = time.monotonic() + 60
    while c.sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] != "Failed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return client_error(c.sm.stop_training_job, TrainingJobName=name), {}


@case("TR03")
def _(c, name):
    return client_error(c.sm.create_training_job, **_training(name, AlgorithmSpecification={
        "TrainingImage": "img", "TrainingInputMode": "Pipe"})), {}


@case("TR04")
def _(c, name):
    return client_error(c.sm.create_training_job, **_training(name, AlgorithmSpecification={
        "AlgorithmName": "my-algorithm", "TrainingInputMode": "File"})), {}


@case("TR05")
def _(c, name):
    return client_error(c.sm.create_training_job, **_training(name, ResourceConfig={
        "InstanceType": "ml.m5.large", "InstanceCount": 17, "VolumeSizeInGB": 1})), {}


@case("TR06")
def _(c, name):
    efs = {"ChannelName": "train", "DataSource": {"FileSystemDataSource": {
        "FileSystemId": "fs-12345678", "FileSystemAccessMode": "ro", "FileSystemType": "EFS",
        "DirectoryPath": "/data"}}}
    return client_error(c.sm.create_training_job, **_training(name, InputDataConfig=[efs])), {"<name>": "train"}


def _processing(name: str, image: str = "smlocal-test/no-such-image:1", **overrides) -> dict:
    request = {"ProcessingJobName": name, "RoleArn": "arn:aws:iam::123456789012:role/R",
               "AppSpecification": {"ImageUri": image},
               "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                                         "VolumeSizeInGB": 1}}}
    request.update(overrides)
    return request


def _processing_input(name: str, local_path: str = "/opt/ml/processing/x", **extra) -> dict:
    return {"InputName": name, "S3Input": {"S3Uri": "s3://b/in", "LocalPath": local_path, "S3DataType": "S3Prefix",
                                           "S3InputMode": "File", **extra}}


@case("SM13")
def _(c, name):
    c.sm.create_processing_job(**_processing(name))
    return client_error(c.sm.create_processing_job, **_processing(name.upper())), \
        {"<arn>": arn("processing-job", name)}


@case("PJ01")
def _(c, name):
    return client_error(c.sm.stop_processing_job, ProcessingJobName=name), {"<name>": name}


@case("PJ02")
def _(c, name):
    c.sm.create_processing_job(**_processing(name))  # fails at once: the image does not exist
    deadline = time.monotonic() + 60
    while c.sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] != "Failed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return client_error(c.sm.stop_processing_job, ProcessingJobName=name), {}


@case("PJ03")
def _(c, name):
    athena = {"InputName": "query", "DatasetDefinition": {"AthenaDatasetDefinition": {
        "Catalog": "c", "Database": "d", "QueryString": "select 1", "OutputS3Uri": "s3://b/q",
        "OutputFormat": "PARQUET"}, "LocalPath": "/opt/ml/processing/q"}}
    return client_error(c.sm.create_processing_job, **_processing(name, ProcessingInputs=[athena])), \
        {"<name>": "query"}


@case("PJ04")
def _(c, name):
    return client_error(c.sm.create_processing_job, **_processing(
        name, ProcessingInputs=[_processing_input("data", "/tmp/x")])), {"<name>": "data"}


@case("PJ05")
def _(c, name):
    return client_error(c.sm.create_processing_job, **_processing(
        name, ProcessingInputs=[_processing_input("data", S3InputMode="Pipe")])), {"<name>": "data"}


@case("PJ06")
def _(c, name):
    spark = "173754725891.dkr.ecr.us-east-1.amazonaws.com/sagemaker-spark-processing:3.3-cpu"
    return client_error(c.sm.create_processing_job, **_processing(name, spark)), {"<image>": spark}


@case("PJ07")
def _(c, name):
    return client_error(c.sm.create_processing_job, **_processing(name, ProcessingResources={"ClusterConfig": {
        "InstanceType": "ml.m5.large", "InstanceCount": 17, "VolumeSizeInGB": 1}})), {}


@case("PJ09")
def _(c, name):
    return client_error(c.sm.create_processing_job, **_processing(name, ProcessingResources={"ClusterConfig": {
        "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}})), {}


@case("PJ08")
def _(c, name):
    output = {"OutputName": "features", "FeatureStoreOutput": {"FeatureGroupName": "fg"}}
    return client_error(c.sm.create_processing_job, **_processing(
        name, ProcessingOutputConfig={"Outputs": [output]})), {"<name>": "features"}


def _transform(name: str, model: str, **overrides) -> dict:
    request = {"TransformJobName": name, "ModelName": model,
               "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}},
                                  "ContentType": "text/csv", "SplitType": "Line"},
               "TransformOutput": {"S3OutputPath": "s3://b/out", "AssembleWith": "Line"},
               "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}
    request.update(overrides)
    return request


def _transform_model(c, name: str) -> str:
    c.sm.create_model(ModelName=name, PrimaryContainer={"Image": "smlocal-test/no-such-image:1"})
    return name


@case("SM14")
def _(c, name):
    c.sm.create_transform_job(**_transform(name, _transform_model(c, name)))
    return client_error(c.sm.create_transform_job, **_transform(name.upper(), name)), \
        {"<arn>": arn("transform-job", name)}


@case("TJ01")
def _(c, name):
    return client_error(c.sm.stop_transform_job, TransformJobName=name), {"<name>": name}


@case("TJ02")
def _(c, name):
    c.sm.create_transform_job(**_transform(name, _transform_model(c, name)))  # fails at once: no such image
    deadline = time.monotonic() + 60
    while c.sm.describe_transform_job(TransformJobName=name)["TransformJobStatus"] != "Failed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return client_error(c.sm.stop_transform_job, TransformJobName=name), {}


@case("TJ03")
def _(c, name):
    return client_error(c.sm.create_transform_job, **_transform(name, name)), {"<arn>": arn("model", name.lower())}


@case("TJ04")
def _(c, name):
    request = _transform(name, _transform_model(c, name))
    request["TransformInput"]["SplitType"] = "TFRecord"
    return client_error(c.sm.create_transform_job, **request), {}


@case("TJ05")
def _(c, name):
    return client_error(c.sm.create_transform_job, **_transform(
        name, _transform_model(c, name), MaxConcurrentTransforms=20, MaxPayloadInMB=6)), {}


@case("TJ06")
def _(c, name):
    request = _transform(name, _transform_model(c, name), DataProcessing={"JoinSource": "Input"})
    request["TransformInput"]["SplitType"] = "None"
    return client_error(c.sm.create_transform_job, **request), {}


@case("TJ07")
def _(c, name):
    return client_error(c.sm.create_transform_job, **_transform(name, _transform_model(c, name), TransformResources={
        "InstanceType": "ml.m5.large", "InstanceCount": 17})), {}


@case("TJ08")
def _(c, name):
    c.sm.create_model(ModelName=name, Containers=[IMAGE, IMAGE])
    return client_error(c.sm.create_transform_job, **_transform(name, name)), {"<name>": name}


@case("TJ09")
def _(c, name):
    return client_error(c.sm.create_transform_job, **_transform(
        name, _transform_model(c, name), DataProcessing={"InputFilter": "$..a"})), {}


@case("TJ10")
def _(c, name):
    request = _transform(name, _transform_model(c, name), DataProcessing={"InputFilter": "$[1:]"})
    request["TransformInput"]["ContentType"] = "image/png"
    return client_error(c.sm.create_transform_job, **request), {}


@case("SM15")
def _(c, name):
    return client_error(c.sm.create_model, ModelName=name), {}


@case("SM16")
def _(c, name):
    c.sm.create_model(ModelName=name, PrimaryContainer=IMAGE)
    return client_error(c.sm.create_endpoint_config, EndpointConfigName=name,
                        ProductionVariants=[_variant(name, "v1"), _variant(name, "V1")]), {"<name>": "V1"}


@case("TG01")
def _(c, name):
    return client_error(c.sm.list_tags, ResourceArn=arn("model", name)), {}


@case("TG02")
def _(c, name):
    return client_error(c.sm.add_tags, ResourceArn=arn("model", name), Tags=[{"Key": "k", "Value": "v"}]), {}


@case("TG03")
def _(c, name):
    return client_error(c.sm.delete_tags, ResourceArn=arn("model", name), TagKeys=["k"]), {}


@case("TG04")
def _(c, name):
    model_arn = c.sm.create_model(ModelName=name, PrimaryContainer=IMAGE,
                                  Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(45)])["ModelArn"]
    error = client_error(c.sm.add_tags, ResourceArn=model_arn,
                         Tags=[{"Key": f"n{i}", "Value": "v"} for i in range(6)])
    assert len(c.sm.list_tags(ResourceArn=model_arn, MaxResults=100)["Tags"]) == 45  # nothing added
    return error, {"<arn>": model_arn, "<count>": "51"}


@case("TG05")
def _(c, name):
    model_arn = c.sm.create_model(ModelName=name, PrimaryContainer=IMAGE)["ModelArn"]
    return client_error(c.sm.add_tags, ResourceArn=model_arn, Tags=[{"Key": "aws:x", "Value": "v"}]), \
        {"<name>": "aws:x"}


# --- model registry ------------------------------------------------------------------------------
PACKAGE_SPEC = {"Containers": [{"Image": IMAGE["Image"], "ModelDataUrl": "s3://b/m.tar.gz"}],
                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}


def _group_with_package(c, name) -> str:
    c.sm.create_model_package_group(ModelPackageGroupName=name)
    return c.sm.create_model_package(ModelPackageGroupName=name, InferenceSpecification=PACKAGE_SPEC)[
        "ModelPackageArn"]


@case("MR01")
def _(c, name):
    return client_error(c.sm.describe_model_package_group, ModelPackageGroupName=name), \
        {"<arn>": arn("model-package-group", name.lower())}


@case("MR02")
def _(c, name):
    c.sm.create_model_package_group(ModelPackageGroupName=name)
    return client_error(c.sm.create_model_package_group, ModelPackageGroupName=name.upper()), \
        {"<arn>": arn("model-package-group", name.lower())}


@case("MR03")
def _(c, name):
    _group_with_package(c, name)
    return client_error(c.sm.delete_model_package_group, ModelPackageGroupName=name), {"<name>": name}


@case("MR04")
def _(c, name):
    return client_error(c.sm.describe_model_package, ModelPackageName=f"{name}/3"), \
        {"<arn>": arn("model-package", f"{name.lower()}/3")}


@case("MR05")
def _(c, name):
    return client_error(c.sm.create_model_package, ModelPackageGroupName=name,
                        InferenceSpecification=PACKAGE_SPEC), {}


@case("MR06")
def _(c, name):
    return client_error(c.sm.create_model_package, ModelPackageGroupName=name, ModelPackageName=name,
                        InferenceSpecification=PACKAGE_SPEC), {}


@case("MR07")
def _(c, name):
    return client_error(c.sm.create_model_package, InferenceSpecification=PACKAGE_SPEC), {}


@case("MR08")
def _(c, name):
    c.sm.create_model_package(ModelPackageName=name, InferenceSpecification=PACKAGE_SPEC)
    return client_error(c.sm.create_model_package, ModelPackageName=name, InferenceSpecification=PACKAGE_SPEC), \
        {"<arn>": arn("model-package", name.lower())}


@case("MR09")
def _(c, name):
    package = c.sm.create_model_package(ModelPackageName=name, InferenceSpecification=PACKAGE_SPEC)
    return client_error(c.sm.update_model_package, ModelPackageArn=package["ModelPackageArn"],
                        ModelApprovalStatus="Approved"), {"<arn>": package["ModelPackageArn"]}


@case("MR10")
def _(c, name):
    package = _group_with_package(c, name)
    return client_error(c.sm.update_model_package, ModelPackageArn=package, CustomerMetadataProperties={"k": "v"},
                        CustomerMetadataPropertiesToRemove=["k"]), {"<name>": "k"}


@case("MR11")
def _(c, name):
    missing = arn("model-package", f"{name.lower()}/1")
    return client_error(c.sm.update_model_package, ModelPackageArn=missing, ModelApprovalStatus="Approved"), \
        {"<arn>": missing}


@case("MR12")
def _(c, name):
    return client_error(c.sm.delete_model_package, ModelPackageName=name), {"<arn>": arn("model-package", name.lower())}


@case("MR13")
def _(c, name):
    missing = arn("model-package", f"{name.lower()}/2")
    return client_error(c.sm.create_model, ModelName=name, PrimaryContainer={"ModelPackageName": missing}), \
        {"<arn>": missing}


@case("MR14")
def _(c, name):
    package = c.sm.create_model_package(ModelPackageName=name, SourceAlgorithmSpecification={
        "SourceAlgorithms": [{"AlgorithmName": "some-algorithm", "ModelDataUrl": "s3://b/m.tar.gz"}]})
    return client_error(c.sm.create_model, ModelName=name, PrimaryContainer={"ModelPackageName": name}), \
        {"<arn>": package["ModelPackageArn"]}


@case("MR15")
def _(c, name):
    return client_error(c.sm.search, Resource="ModelPackageGroup", SearchExpression={
        "Filters": [{"Name": "ModelPackageGroupName", "Operator": "Equals"}]}), {"<name>": "ModelPackageGroupName"}


@case("MR16")
def _(c, name):
    return client_error(c.sm.search, Resource="ModelPackageGroup", SearchExpression={"Operator": "And"}), {}


@case("VA01")
def _(c, name):
    return client_error(c.sm.describe_model, ModelName="bad_name!"), \
        {"<name>": "bad_name!", "<pattern>": pattern_of("sagemaker", "DescribeModel", "ModelName")}


@case("VA02")
def _(c, name):
    bad = "x_" * 40
    return client_error(c.sm.create_model, ModelName=bad, PrimaryContainer=IMAGE), \
        {"<name>": bad, "<pattern>": pattern_of("sagemaker", "CreateModel", "ModelName")}


@case("VA03")
def _(c, name):
    return client_error(c.sm.list_models, SortOrder="Sideways"), {"<name>": "Sideways"}


@case("VA04")
def _(c, name):
    return client_error(c.sm.list_training_jobs, MaxResults=101), {}


@case("VA05")
def _(c, name):
    return c.raw("SageMaker.CreateModel", {"PrimaryContainer": IMAGE}), {}


@case("VA06")
def _(c, name):
    c.sm.create_model(ModelName=name, PrimaryContainer=IMAGE)
    return client_error(c.sm.create_endpoint_config, EndpointConfigName=name,
                        ProductionVariants=[_variant(name, "bad_variant")]), \
        {"<name>": "bad_variant",
         "<pattern>": pattern_of("sagemaker", "CreateEndpointConfig", "ProductionVariants", "member",
                                 "VariantName")}


@case("VA07")
def _(c, name):
    env = {"BIG": "v" * 1025}
    return client_error(c.sm.create_model, ModelName=name, PrimaryContainer={**IMAGE, "Environment": env}), \
        {"<value>": "{BIG=" + "v" * 1019 + "..."}


@case("VA08")
def _(c, name):
    return client_error(c.sm.list_models, NextToken="not-a-token"), {}


@case("PR01")
def _(c, name):
    return c.raw("SageMaker.ListModels", b"{not json"), {"<detail>": None}


@case("PR02")
def _(c, name):
    return c.raw("SageMaker.DescribeModel", {"ModelName": 5}), {}


@case("PR03")
def _(c, name):
    return c.raw("SageMaker.NoSuchOperation", {}), {}


@case("PR04")
def _(c, name):
    return client_error(c.sm.create_algorithm, AlgorithmName=name, TrainingSpecification={
        "TrainingImage": "img", "SupportedTrainingInstanceTypes": ["ml.m5.large"],
        "TrainingChannels": [{"Name": "train", "SupportedContentTypes": ["text/csv"],
                              "SupportedInputModes": ["File"]}]}), {}


@case("PR05")
def _(c, name):
    return c.raw("DynamoDB_20120810.ListTables", {}), {}


@case("PR06")
def _(c, name):
    body = b'{"x": "' + b"a" * (16 * 1024 * 1024) + b'"}'
    return c.raw("SageMaker.ListModels", body), {"<count>": str(len(body))}


@case("PR07")
def _(c, name):
    return c.raw("SageMaker.ListModels", []), {}


@case("RT01")
def _(c, name):
    return client_error(c.runtime.invoke_endpoint, EndpointName=name, Body=b"1,2", ContentType="text/csv"), \
        {"<name>": name, "<account>": ACCOUNT}


@case("RT02")
def _(c, name):
    return client_error(c.runtime.invoke_endpoint, EndpointName="bad_name", Body=b"1"), \
        {"<name>": "bad_name", "<pattern>": pattern_of("sagemaker-runtime", "InvokeEndpoint", "EndpointName")}


# --- endpoints: records put straight into the gateway's store fake states that take containers ----
def _endpoint_record(c, name: str, status: str) -> str:
    """An endpoint record in ``status`` (no containers behind it); returns its ARN."""
    c.sm.create_model(ModelName=name, PrimaryContainer=IMAGE)
    c.sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[_variant(name)])
    created = Records(c.live, families.ENDPOINT).create(name, {"EndpointConfigName": name, "EndpointStatus": status})
    return created["EndpointArn"]


@case("HO01")
def _(c, name):
    return client_error(c.sm.create_endpoint, EndpointName=name, EndpointConfigName=name), \
        {"<arn>": arn("endpoint-config", name.lower())}


@case("HO02")
def _(c, name):
    endpoint_arn = _endpoint_record(c, name, "InService")
    return client_error(c.sm.create_endpoint, EndpointName=name.upper(), EndpointConfigName=name), \
        {"<arn>": endpoint_arn}


@case("HO03")
def _(c, name):
    return client_error(c.sm.delete_endpoint, EndpointName=name), {"<arn>": arn("endpoint", name.lower())}


@case("HO04")
def _(c, name):
    return client_error(c.sm.update_endpoint, EndpointName=name, EndpointConfigName=name), \
        {"<arn>": arn("endpoint", name.lower())}


@case("HO05")
def _(c, name):
    _endpoint_record(c, name, "InService")
    return client_error(c.sm.update_endpoint, EndpointName=name, EndpointConfigName=name + "-new"), \
        {"<arn>": arn("endpoint-config", name.lower() + "-new")}


@case("HO06")
def _(c, name):
    endpoint_arn = _endpoint_record(c, name, "Creating")
    return client_error(c.sm.update_endpoint, EndpointName=name, EndpointConfigName=name), {"<arn>": endpoint_arn}


@case("HO07")
def _(c, name):
    endpoint_arn = _endpoint_record(c, name, "Updating")
    return client_error(c.sm.delete_endpoint, EndpointName=name), {"<arn>": endpoint_arn}


@case("HO08")
def _(c, name):
    endpoint_arn = _endpoint_record(c, name, "Failed")
    return client_error(c.sm.update_endpoint, EndpointName=name, EndpointConfigName=name), {"<arn>": endpoint_arn}


@case("HO09")
def _(c, name):
    endpoint_arn = _endpoint_record(c, name, "InService")
    return client_error(c.sm.update_endpoint_weights_and_capacities, EndpointName=name, DesiredWeightsAndCapacities=[
        {"VariantName": "Nope", "DesiredWeight": 1}]), {"<arn>": endpoint_arn, "<name>": "Nope"}


@case("HO10")
def _(c, name):
    c.sm.create_model(ModelName=name, PrimaryContainer=IMAGE)
    return client_error(c.sm.create_endpoint_config, EndpointConfigName=name, ProductionVariants=[_variant(name)],
                        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://b/out"}}), {}


@case("HO11")
def _(c, name):
    c.sm.create_model(ModelName=name, PrimaryContainer=IMAGE)
    return client_error(c.sm.create_endpoint_config, EndpointConfigName=name,
                        ProductionVariants=[{**_variant(name), "InitialInstanceCount": 17}]), {"<name>": "AllTraffic"}


@case("HO12")
def _(c, name):
    c.sm.create_model(ModelName=name, PrimaryContainer=IMAGE)
    c.sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[_variant(name)])
    c.sm.delete_model(ModelName=name)
    return client_error(c.sm.create_endpoint, EndpointName=name, EndpointConfigName=name), \
        {"<arn>": arn("model", name.lower())}


def _routed(c, name: str) -> str:
    """A live route for ``name`` to the in-process fake container (tests/api/fake_container.py)."""
    c.gateway.emulator.hosting.router.publish(Route(name, [VariantRoute("AllTraffic", 1.0, [Instance([Target(
        "fake", "primary", "127.0.0.1", c.fake_port, "AllTraffic/fake")])])]))
    return name


@case("RT03")
def _(c, name):
    _routed(c, name)
    return client_error(c.runtime.invoke_endpoint, EndpointName=name, Body=b"status:415:no such type"), \
        {"<status>": "415", "<body>": "no such type", "<name>": name, "<account>": ACCOUNT}


@case("RT04")
def _(c, name):
    _routed(c, name)
    return client_error(c.runtime.invoke_endpoint, EndpointName=name, Body=b"status:500:Traceback: boom"), \
        {"<status>": "500", "<body>": "Traceback: boom", "<name>": name, "<account>": ACCOUNT}


@case("RT05")
def _(c, name):
    _routed(c, name)
    return client_error(c.runtime.invoke_endpoint, EndpointName=name, Body=b"x" * 6291457), {}


@case("RT06")
def _(c, name):
    _routed(c, name)
    return client_error(c.runtime.invoke_endpoint, EndpointName=name, Body=b"1", TargetVariant="Other"), \
        {"<name>": name, "<variant>": "Other"}


@case("RT07")
def _(c, name):
    _routed(c, name)
    return client_error(c.runtime.invoke_endpoint, EndpointName=name, Body=b"1", TargetModel="m.tar.gz"), \
        {"<name>": name}


@case("RT08")
def _(c, name):
    _endpoint_record(c, name, "InService")
    return client_error(c.runtime.invoke_endpoint_async, EndpointName=name, InputLocation="s3://b/in.csv"), \
        {"<name>": name}


@case("RT09")
def _(c, name):
    _endpoint_record(c, name, "InService")
    return client_error(c.runtime.invoke_endpoint_with_response_stream, EndpointName=name, Body=b"1"), \
        {"<name>": name}


@case("RT10")
def _(c, name):
    from emulator.sagemaker import invocations

    _routed(c, name)
    saved, invocations.TIMEOUT_SECONDS = invocations.TIMEOUT_SECONDS, 0.3   # 60 s in earnest
    try:
        return client_error(c.runtime.invoke_endpoint, EndpointName=name, Body=b"sleep:1"), \
            {"<name>": name, "<account>": ACCOUNT}
    finally:
        invocations.TIMEOUT_SECONDS = saved


@case("LG01")
def _(c, name):
    return client_error(c.logs.get_log_events, logGroupName=f"/missing/{name}", logStreamName="s"), {}


@case("LG02")
def _(c, name):
    c.logs.create_log_group(logGroupName=f"/g/{name}")
    return client_error(c.logs.get_log_events, logGroupName=f"/g/{name}", logStreamName="missing"), {}


@case("LG03")
def _(c, name):
    return client_error(c.logs.describe_log_streams, logGroupName=f"/missing/{name}"), {}


@case("LG04")
def _(c, name):
    return client_error(c.logs.filter_log_events, logGroupName=f"/missing/{name}"), {}


@case("LG05")
def _(c, name):
    c.logs.create_log_group(logGroupName=f"/g/{name}")
    c.logs.create_log_stream(logGroupName=f"/g/{name}", logStreamName="s")
    return client_error(c.logs.get_log_events, logGroupName=f"/g/{name}", logStreamName="s",
                        nextToken="garbage"), {}


@case("LG06")
def _(c, name):
    return client_error(c.logs.get_log_events, logGroupName="/g", logStreamName="s", limit=10001), {}


@case("LG07")
def _(c, name):
    c.logs.create_log_group(logGroupName=f"/g/{name}")
    return client_error(c.logs.create_log_group, logGroupName=f"/g/{name}"), {}


@case("LG08")
def _(c, name):
    c.logs.create_log_group(logGroupName=f"/g/{name}")
    return client_error(c.logs.describe_log_streams, logGroupName=f"/g/{name}", logStreamNamePrefix="a",
                        orderBy="LastEventTime"), {}


@case("LG09")
def _(c, name):
    c.logs.create_log_group(logGroupName=f"/g/{name}")
    c.logs.create_log_stream(logGroupName=f"/g/{name}", logStreamName="s")
    return client_error(c.logs.put_log_events, logGroupName=f"/g/{name}", logStreamName="s",
                        logEvents=[{"timestamp": 2000, "message": "b"}, {"timestamp": 1000, "message": "a"}]), {}


@case("IA01")
def _(c, name):
    return client_error(c.iam.create_user, UserName="someone"), {}


@case("IA03")
def _(c, name):
    response = raw.post_form(c.url, {"RoleName": "x"})
    error = raw.parse_query_error(response)["Error"]
    return (error["Code"], response.status_code, error["Message"]), {}


@case("SP01")
def _(c, name):
    s3 = S3Settings(endpoint="http://127.0.0.1:9", access_key="k", secret_key="s")   # never reached
    with live_gateway(c.scratch / name, s3=s3) as gateway:
        url = gateway.url + "/bucket/key%00.txt"
        request = AWSRequest(method="GET", url=url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
        S3SigV4Auth(Credentials(S3_ACCESS, S3_SECRET), "s3", "us-east-1").add_auth(request)   # as S3 clients sign
        response = httpx.get(url, headers=dict(request.headers.items()))
    error = create_parser("rest-xml").parse({"status_code": response.status_code, "headers": dict(response.headers),
                                             "body": response.content}, None)["Error"]
    return (error["Code"], response.status_code, error["Message"]), {}


@case("IA02")
def _(c, name):
    return client_error(c.iam.get_role, RoleName="bad role!"), \
        {"<name>": "bad role!", "<pattern>": pattern_of("iam", "GetRole", "RoleName")}


# --- hyperparameter tuning jobs and CloudWatch --------------------------------------------------------
def _tuning_name(name: str) -> str:
    return "hp-" + name[-24:].lstrip("-")


def _tuning_request(name: str, strategy: str = "Random", ranges: dict | None = None, **limits) -> dict:
    return {"HyperParameterTuningJobName": name,
            "HyperParameterTuningJobConfig": {
                "Strategy": strategy,
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1, **limits},
                "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
                "ParameterRanges": ranges if ranges is not None else {
                    "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.1", "MaxValue": "1"}]}},
            "TrainingJobDefinition": {
                "AlgorithmSpecification": {"TrainingImage": "123.dkr.ecr.us-east-1.amazonaws.com/img:1",
                                           "TrainingInputMode": "File",
                                           "MetricDefinitions": [{"Name": "loss", "Regex": "loss=(.*)"}]},
                "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
                "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
                "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
                "StoppingCondition": {"MaxRuntimeInSeconds": 60}}}


def _tuning_record(c, name: str, status: str) -> None:
    """A tuning job record in ``status`` with no runner behind it (nothing starts trials)."""
    request = _tuning_request(name)
    Records(c.live, families.TUNING_JOB).create(name, {**request, "HyperParameterTuningJobStatus": status})


def _create_tuning(c, request: dict):
    return client_error(c.sm.create_hyper_parameter_tuning_job, **request)


GRID_RANGES = {"IntegerParameterRanges": [{"Name": "depth", "MinValue": "1", "MaxValue": "3"}],
               "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}]}


@case("HP01")
def _(c, name):
    name = _tuning_name(name)
    return client_error(c.sm.describe_hyper_parameter_tuning_job, HyperParameterTuningJobName=name), {"<name>": name}


@case("HP02")
def _(c, name):
    name = _tuning_name(name)
    _tuning_record(c, name, "Completed")
    return _create_tuning(c, _tuning_request(name.upper())), {"<name>": name.upper()}


@case("HP03")
def _(c, name):
    long_name = "t" * 33
    return _create_tuning(c, _tuning_request(long_name)), \
        {"<name>": long_name, "<pattern>": pattern_of("sagemaker", "CreateHyperParameterTuningJob",
                                                      "HyperParameterTuningJobName")}


@case("HP04")
def _(c, name):
    request = _tuning_request(_tuning_name(name))
    request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"] = "validation:auc"
    return _create_tuning(c, request), {}


@case("HP05")
def _(c, name):
    return _create_tuning(c, _tuning_request(_tuning_name(name), ranges=GRID_RANGES, MaxNumberOfTrainingJobs=10)), {}


@case("HP06")
def _(c, name):
    ranges = {"ContinuousParameterRanges": [{"Name": "lr", "MinValue": "1", "MaxValue": "0.1"}]}
    return _create_tuning(c, _tuning_request(_tuning_name(name), ranges=ranges)), {}


@case("HP07")
def _(c, name):
    ranges = {"ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0", "MaxValue": "1",
                                             "ScalingType": "Logarithmic"}]}
    return _create_tuning(c, _tuning_request(_tuning_name(name), ranges=ranges)), {}


@case("HP08")
def _(c, name):
    return _create_tuning(c, _tuning_request(_tuning_name(name), strategy="Hyperband")), {}


@case("HP21")
def _(c, name):
    request = _tuning_request(_tuning_name(name), strategy="Hyperband")
    request["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = "Auto"
    request["HyperParameterTuningJobConfig"]["StrategyConfig"] = {"HyperbandStrategyConfig": {"MaxResource": 9}}
    return _create_tuning(c, request), {}


@case("HP09")
def _(c, name):
    return _create_tuning(c, _tuning_request(_tuning_name(name), strategy="Grid")), {}


@case("HP10")
def _(c, name):
    request = _tuning_request(_tuning_name(name), strategy="Grid", ranges=GRID_RANGES, MaxNumberOfTrainingJobs=5)
    return _create_tuning(c, request), {}


@case("HP11")
def _(c, name):
    return _create_tuning(c, _tuning_request(_tuning_name(name), MaxNumberOfTrainingJobs=501)), {}


@case("HP12")
def _(c, name):
    name = _tuning_name(name)
    _tuning_record(c, name, "Completed")
    return client_error(c.sm.stop_hyper_parameter_tuning_job, HyperParameterTuningJobName=name), {}


@case("HP13")
def _(c, name):
    name = _tuning_name(name)
    return client_error(c.sm.stop_hyper_parameter_tuning_job, HyperParameterTuningJobName=name), {"<name>": name}


@case("HP14")
def _(c, name):
    name = _tuning_name(name)
    _tuning_record(c, name, "InProgress")
    return client_error(c.sm.delete_hyper_parameter_tuning_job, HyperParameterTuningJobName=name), {"<name>": name}


@case("HP15")
def _(c, name):
    name = _tuning_name(name)
    return client_error(c.sm.list_training_jobs_for_hyper_parameter_tuning_job,
                        HyperParameterTuningJobName=name), {"<name>": name}


@case("HP16")
def _(c, name):
    request = _tuning_request(_tuning_name(name))
    request["TrainingJobDefinitions"] = [{**request["TrainingJobDefinition"], "DefinitionName": "d"}]
    return _create_tuning(c, request), {}


@case("HP17")
def _(c, name):
    request = _tuning_request(_tuning_name(name))
    parent = _tuning_name(name) + "-p"
    request["WarmStartConfig"] = {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
                                  "WarmStartType": "TransferLearning"}
    return _create_tuning(c, request), {"<name>": parent}


@case("HP18")
def _(c, name):
    request = _tuning_request(_tuning_name(name))
    request["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] = {
        "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}}
    return _create_tuning(c, request), {}


@case("HP19")
def _(c, name):
    request = _tuning_request(_tuning_name(name))
    del request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"]
    return _create_tuning(c, request), {}


@case("HP20")
def _(c, name):
    request = _tuning_request(_tuning_name(name))
    request["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingInputMode"] = "Pipe"
    return _create_tuning(c, request), {}


def _statistics_request(**changes) -> dict:
    return {"Namespace": "/aws/sagemaker/TrainingJobs", "MetricName": "loss",
            "Dimensions": [{"Name": "TrainingJobName", "Value": "job"}],
            "StartTime": 1_700_000_000, "EndTime": 1_700_003_600, "Period": 60, **changes}


@case("CW01")
def _(c, name):
    return client_error(c.cloudwatch.get_metric_statistics, **_statistics_request()), {}


@case("CW02")
def _(c, name):
    return client_error(c.cloudwatch.get_metric_statistics, **_statistics_request(Period=1, Statistics=["Sum"])), \
        {"<count>": "3600"}


@case("CW03")
def _(c, name):
    return client_error(c.cloudwatch.get_metric_data, StartTime=1_700_000_000, EndTime=1_700_003_600,
                        MetricDataQueries=[{"Id": "e1", "Expression": "m1 * 2"}]), {}


@case("CW04")
def _(c, name):
    return c.raw("GraniteServiceVersion20100801.GetMetricStatistics",
                 _statistics_request(Period=0, Statistics=["Sum"])), {}


@case("CW05")
def _(c, name):
    form = {"Action": "GetMetricStatistics", "Version": "2010-08-01", "Namespace": "/aws/sagemaker/TrainingJobs",
            "MetricName": "loss", "StartTime": "2023-11-14T22:13:20Z", "EndTime": "2023-11-14T23:13:20Z",
            "Period": "60", "Dimensions.member.1.Name": "TrainingJobName", "Dimensions.member.1.Value": "job"}
    response = raw.post_form(c.url, form)
    error = raw.parse_query_error(response)["Error"]
    return (error["Code"], response.status_code, error["Message"]), {}


# --- pipelines ------------------------------------------------------------------------------------------
PIPELINE_ROLE = "arn:aws:iam::123456789012:role/R"


def _pipeline_body(steps=(), parameters=()) -> str:
    return json.dumps({"Version": "2020-12-01", "Parameters": list(parameters), "Steps": list(steps)})


def _processing_step(name: str, **extra) -> dict:
    return {"Name": name, "Type": "Processing", "Arguments": {}, **extra}


def _create_pipeline(c, name, body=None):
    return c.sm.create_pipeline(PipelineName=name, RoleArn=PIPELINE_ROLE, PipelineDefinition=body or _pipeline_body())


def _ended_execution(c, name) -> str:
    _create_pipeline(c, name)
    execution = c.sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    deadline = time.monotonic() + 30
    while c.sm.describe_pipeline_execution(PipelineExecutionArn=execution)["PipelineExecutionStatus"] != "Succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return execution


@case("PL01")
def _(c, name):
    _create_pipeline(c, name)
    return client_error(_create_pipeline, c, name), {"<name>": name}


@case("PL02")
def _(c, name):
    return client_error(c.sm.describe_pipeline, PipelineName=name), {"<arn>": arn("pipeline", name.lower())}


@case("PL03")
def _(c, name):
    missing = arn("pipeline", f"{name.lower()}/execution/abcdefghijkl")
    return client_error(c.sm.describe_pipeline_execution, PipelineExecutionArn=missing), {"<arn>": missing}


@case("PL04")
def _(c, name):
    body = _pipeline_body([_processing_step("A"), _processing_step("A")])
    return client_error(_create_pipeline, c, name, body), {"<name>": "A"}


@case("PL05")
def _(c, name):
    body = _pipeline_body([_processing_step("A", DependsOn=["Nowhere"])])
    return client_error(_create_pipeline, c, name, body), {"<name>": "A", "<step>": "Nowhere"}


@case("PL06")
def _(c, name):
    body = _pipeline_body([_processing_step("A", DependsOn=["B"]), _processing_step("B", DependsOn=["A"])])
    return client_error(_create_pipeline, c, name, body), {"<steps>": "A -> B -> A"}


@case("PL07")
def _(c, name):
    body = _pipeline_body([_processing_step("A", Arguments={"Environment": {"X": {"Get": "Parameters.P"}}})])
    return client_error(_create_pipeline, c, name, body), {"<name>": "A", "<parameter>": "P"}


@case("PL08")
def _(c, name):
    _create_pipeline(c, name)
    return client_error(c.sm.start_pipeline_execution, PipelineName=name,
                        PipelineParameters=[{"Name": "P", "Value": "1"}]), {"<parameter>": "P"}


@case("PL09")
def _(c, name):
    _create_pipeline(c, name, _pipeline_body(parameters=[{"Name": "P", "Type": "String"}]))
    return client_error(c.sm.start_pipeline_execution, PipelineName=name), {"<parameter>": "P"}


@case("PL10")
def _(c, name):
    _create_pipeline(c, name, _pipeline_body(parameters=[{"Name": "P", "Type": "Float", "DefaultValue": 1.0}]))
    return client_error(c.sm.start_pipeline_execution, PipelineName=name,
                        PipelineParameters=[{"Name": "P", "Value": "high"}]), {"<parameter>": "P", "<value>": "high"}


@case("PL11")
def _(c, name):
    execution = _ended_execution(c, name)
    return client_error(c.sm.stop_pipeline_execution, PipelineExecutionArn=execution), \
        {"<arn>": execution, "<status>": "Succeeded"}


@case("PL12")
def _(c, name):
    execution = _ended_execution(c, name)
    return client_error(c.sm.retry_pipeline_execution, PipelineExecutionArn=execution), \
        {"<arn>": execution, "<status>": "Succeeded"}


class _NoLauncher:
    """Leaves a started execution Executing (no runtime behind the domain)."""

    def launch(self, family, name):
        return None

    def stop(self, family, name):
        return None


@case("PL13")
def _(c, name):
    from emulator.domain import pipelines

    pipelines.create(c.domain, {"PipelineName": name, "RoleArn": PIPELINE_ROLE}, _pipeline_body())
    pipelines.start(c.domain, {"PipelineName": name}, _NoLauncher())
    with pytest.raises(Exception) as info:
        pipelines.delete(c.domain, {"PipelineName": name})
    err = info.value
    return (err.code, err.status, err.message), {"<arn>": arn("pipeline", name.lower())}
@case("PL14")
def _(c, name):
    function_step = {"Name": "Fn", "Type": "Training", "Arguments": {"AlgorithmSpecification": {
        "TrainingImage": "img", "TrainingInputMode": "File",
        "ContainerEntrypoint": ["/bin/bash", "/opt/ml/input/data/sagemaker_remote_function_bootstrap/job_driver.sh"],
        "ContainerArguments": ["--pipeline_step_name", "Fn"]}}}
    _create_pipeline(c, name, _pipeline_body([function_step]))
    return client_error(c.sm.start_pipeline_execution, PipelineName=name), {"<name>": "Fn"}


@case("PL15")
def _(c, name):
    for_each = {"Name": "Fan", "Type": "ForEach", "Arguments": {
        "IterableItems": ["a", "b"], "MaxConcurrency": 2,
        "ForEachBody": [_processing_step("Item", Arguments={"Environment": {"X": {"Get": "ForEach.CurrentItem"}}})]}}
    _create_pipeline(c, name, _pipeline_body([for_each]))
    return client_error(c.sm.start_pipeline_execution, PipelineName=name), {"<name>": "Fan"}


# --- authentication, Host and origin ---------------------------------------------------------------
def _client_with(c, service: str, access: str = S3_ACCESS, secret: str = S3_SECRET, **config):
    return boto3.client(service, endpoint_url=c.url, region_name="us-east-1", aws_access_key_id=access,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}, **config))


def _json_reply(response) -> tuple[str, int, str]:
    parsed = raw.parse_json_error(response)
    return parsed["Error"]["Code"], response.status_code, parsed["Error"].get("Message", "")


def _xml_reply(response) -> tuple[str, int, str]:
    root = ElementTree.fromstring(response.content)
    error = root.find("Error") if root.tag != "Error" else root
    assert error is not None
    return error.findtext("Code") or "", response.status_code, error.findtext("Message") or ""


@case("AU01")
def _(c, name):
    return _json_reply(raw.post(c.url, "SageMaker.ListModels", b"{}", sign_it=False)), {}


@case("AU02")
def _(c, name):
    return client_error(_client_with(c, "sagemaker", secret="not-the-secret").list_models), {}


@case("AU03")
def _(c, name):
    return client_error(_client_with(c, "sagemaker", access="AKIAUNKNOWN000000000").list_models), {}


@case("AU04")
def _(c, name):
    return client_error(_client_with(c, "logs", secret="not-the-secret").describe_log_groups), {}


@case("AU05")
def _(c, name):
    response = raw.request("POST", c.url + "/endpoints/x/invocations", "sagemaker", b"1",
                           {"Content-Type": "text/csv"}, sign_it=False)
    return _json_reply(response), {}


@case("AU06")
def _(c, name):
    return client_error(_client_with(c, "sts", secret="not-the-secret").get_caller_identity), {}


@case("AU07")
def _(c, name):
    return client_error(_client_with(c, "sts", access="AKIAUNKNOWN000000000").get_caller_identity), {}


@case("AU08")
def _(c, name):
    return _xml_reply(httpx.get(c.url + "/")), {}


@case("AU09")
def _(c, name):
    s3 = _client_with(c, "s3", secret="not-the-secret", s3={"addressing_style": "path"})
    return client_error(s3.list_objects_v2, Bucket="some-bucket"), {}


@case("AU10")
def _(c, name):
    s3 = _client_with(c, "s3", access="AKIAUNKNOWN000000000", s3={"addressing_style": "path"})
    return client_error(s3.list_objects_v2, Bucket="some-bucket"), {}


@case("AU11")
def _(c, name):
    past = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=20)
    with mock.patch("botocore.auth.get_current_datetime", return_value=past):
        return client_error(_client_with(c, "sagemaker").list_models), {"<stamp>": None}


@case("AU12")
def _(c, name):
    port = c.url.rsplit(":", 1)[1]
    response = raw.request("POST", c.url + "/", "sagemaker", b"{}", {
        "X-Amz-Target": "SageMaker.ListModels", "Content-Type": raw.JSON_11,
        "Host": f"rebound.example:{port}"})
    return _json_reply(response), {"<port>": port, "<names>": None}


@case("AU13")
def _(c, name):
    response = raw.post(c.url, "SageMaker.ListModels", b"{}", headers={"Origin": "http://evil.example"})
    return _json_reply(response), {}


@case("AU14")
def _(c, name):
    response = httpx.request("OPTIONS", c.url + "/some-bucket/key", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "PUT"})
    assert not any(k.lower().startswith("access-control-") for k in response.headers)
    return _xml_reply(response), {}


@case("AU15")
def _(c, name):
    s3 = _client_with(c, "s3", s3={"addressing_style": "path"}, signature_version="s3v4")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "some-bucket", "Key": "k"}, ExpiresIn=1)
    time.sleep(2.1)
    return _xml_reply(httpx.get(url)), {}


@case("AU16")
def _(c, name):
    import socket

    port = int(c.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"PUT /some-bucket/big HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                     f"Content-Length: {6 * 1024 ** 3}\r\n\r\n".encode())
        answer = b""
        while b"</Error>" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    root = ElementTree.fromstring(body)
    return (root.findtext("Code") or "", status, root.findtext("Message") or ""), {}


# --- the harness ---------------------------------------------------------------------------------------
class Clients:
    def __init__(self, gateway, domain: Context, fake_port: int = 0) -> None:
        self.gateway = gateway
        self.live = gateway.emulator.ctx          # the gateway's own records
        self.fake_port = fake_port
        self.sm = gateway.client("sagemaker")
        self.logs = gateway.client("logs")
        self.runtime = gateway.client("sagemaker-runtime")
        self.iam = gateway.client("iam")
        self.cloudwatch = gateway.client("cloudwatch")
        self.url = gateway.url
        self.domain = domain
        self.scratch = domain.settings.data_dir

    def raw(self, target: str, body) -> tuple[str, int, str]:
        """A request no botocore client would send (bad JSON, wrong types), parsed like boto3 does."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = raw.post(self.url, target, data)
        parsed = raw.parse_json_error(response)
        return parsed["Error"]["Code"], response.status_code, parsed["Error"].get("Message", "")


@pytest.fixture(scope="module")
def clients(gateway, tmp_path_factory):
    domain = Context(Settings(data_dir=tmp_path_factory.mktemp("domain")),
                     ResourceStore(Database(tmp_path_factory.mktemp("db") / "state.db")))
    with fake_container() as port:
        yield Clients(gateway, domain, port)


def test_every_row_has_a_case_and_every_case_a_row():
    rows = doc_rows()
    id_lines = [line for line in DOC.read_text().splitlines() if re.match(r"^\| [A-Z]{2}\d{2} \|", line)]
    assert len(rows) == len(id_lines), "a row of docs/errors.md does not parse"
    assert sorted(rows) == sorted(CASES)


@pytest.mark.parametrize("row_id", sorted(doc_rows()))
def test_error_row(row_id, clients, unique):
    row = doc_rows()[row_id]
    (code, status, message), subs = CASES[row_id](clients, unique)
    assert (code, status) == (row["code"], int(row["status"]))
    assert set(re.findall(r"<[a-z]+>", row["message"])) <= set(subs), "unfilled placeholder"
    expected = re.escape(row["message"])
    for placeholder, value in subs.items():
        expected = expected.replace(re.escape(placeholder), ".+" if value is None else re.escape(value))
    assert re.fullmatch(expected, message), f"{row_id}: {message!r} != {row['message']!r}"
