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
