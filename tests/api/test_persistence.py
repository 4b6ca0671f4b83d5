"""Everything a user created survives a restart of the emulator (SQLite WAL in the data dir)."""

from __future__ import annotations

from support import live_gateway

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/img:1"


def test_records_tags_and_logs_survive_restart(tmp_path):
    with live_gateway(tmp_path) as first:
        sm, logs = first.client("sagemaker"), first.client("logs")
        arn = sm.create_model(ModelName="Kept", PrimaryContainer={"Image": IMAGE},
                              Tags=[{"Key": "k", "Value": "v"}])["ModelArn"]
        sm.create_endpoint_config(EndpointConfigName="kept-cfg", ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "Kept", "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large"}])
        logs.create_log_group(logGroupName="/aws/sagemaker/TrainingJobs")
        logs.create_log_stream(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName="job/algo-1")
        logs.put_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName="job/algo-1",
                            logEvents=[{"timestamp": 1000, "message": "hello"}])
        before = sm.describe_model(ModelName="Kept")
    with live_gateway(tmp_path) as second:
        sm, logs = second.client("sagemaker"), second.client("logs")
        after = sm.describe_model(ModelName="kept")
        assert {k: v for k, v in after.items() if k != "ResponseMetadata"} == \
            {k: v for k, v in before.items() if k != "ResponseMetadata"}
        assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
        config = sm.describe_endpoint_config(EndpointConfigName="kept-cfg")
        assert config["ProductionVariants"][0]["ModelName"] == "Kept"
        events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName="job/algo-1",
                                     startFromHead=True)["events"]
        assert [e["message"] for e in events] == ["hello"]
    assert (tmp_path / "state.db").exists()


def test_the_registry_survives_restart_and_keeps_numbering_versions(tmp_path):
    spec = {"Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://b/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}
    with live_gateway(tmp_path) as first:
        sm = first.client("sagemaker")
        sm.create_model_package_group(ModelPackageGroupName="kept-group")
        one = sm.create_model_package(ModelPackageGroupName="kept-group", InferenceSpecification=spec,
                                      ModelApprovalStatus="Approved")["ModelPackageArn"]
        two = sm.create_model_package(ModelPackageGroupName="kept-group", InferenceSpecification=spec)
        sm.delete_model_package(ModelPackageName=two["ModelPackageArn"])
    with live_gateway(tmp_path) as second:
        sm = second.client("sagemaker")
        assert sm.describe_model_package(ModelPackageName=one)["ModelApprovalStatus"] == "Approved"
        three = sm.create_model_package(ModelPackageGroupName="kept-group", InferenceSpecification=spec)
        assert three["ModelPackageArn"].endswith("/kept-group/3")
        arn = sm.describe_model_package_group(ModelPackageGroupName="kept-group")["ModelPackageGroupArn"]
        sm.delete_model_package(ModelPackageName=one)
        sm.delete_model_package(ModelPackageName=three["ModelPackageArn"])
        sm.delete_model_package_group(ModelPackageGroupName=arn)   # by ARN
        assert sm.list_model_package_groups(NameContains="kept-group")["ModelPackageGroupSummaryList"] == []
