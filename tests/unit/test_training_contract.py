"""The training container contract as pure data: config files, command, environment, mounts."""

from __future__ import annotations

import json
from pathlib import Path

from emulator.infra.platform import PlatformEnv
from emulator.jobs import training_contract as contract

JOB = {
    "TrainingJobName": "job-1", "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/job-1",
    "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
    "HyperParameters": {"epochs": "10", "sagemaker_program": '"train.py"'},
    "InputDataConfig": [
        {"ChannelName": "train", "ContentType": "text/csv",
         "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/t",
                                         "S3DataDistributionType": "ShardedByS3Key"}}},
        {"ChannelName": "validation", "InputMode": "FastFile", "RecordWrapperType": "RecordIO",
         "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/v"}}},
    ],
    "ResourceConfig": {"InstanceType": "ml.c5.xlarge", "InstanceCount": 3},
    "Environment": {"USER_VAR": "1", "TRAINING_JOB_NAME": "spoofed"},
}
PLATFORM = PlatformEnv("eu-west-1", "http://host.docker.internal:4598", "AK", "SK")


def test_resource_config_shape():
    assert contract.resource_config(JOB, "algo-2") == {
        "current_host": "algo-2", "current_instance_type": "ml.c5.xlarge", "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1", "algo-2", "algo-3"], "network_interface_name": "eth0",
        "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": "ml.c5.xlarge",
                             "hosts": ["algo-1", "algo-2", "algo-3"]}]}


def test_hosts_sort_lexicographically_like_sagemaker():
    job = {**JOB, "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 11}}
    assert contract.resource_config(job, "algo-1")["hosts"][:3] == ["algo-1", "algo-10", "algo-11"]


def test_input_data_config_always_has_the_three_keys():
    assert contract.input_data_config(JOB) == {
        "train": {"ContentType": "text/csv", "TrainingInputMode": "File", "S3DistributionType": "ShardedByS3Key",
                  "RecordWrapperType": "None"},
        "validation": {"TrainingInputMode": "FastFile", "S3DistributionType": "FullyReplicated",
                       "RecordWrapperType": "RecordIO"}}


def test_config_files_hold_hyperparameters_verbatim_and_checkpoints_only_when_asked():
    files = contract.config_files(JOB, "algo-1")
    assert sorted(files) == ["hyperparameters.json", "inputdataconfig.json", "resourceconfig.json"]
    assert json.loads(files["hyperparameters.json"]) == {"epochs": "10", "sagemaker_program": '"train.py"'}
    with_checkpoints = contract.config_files({**JOB, "CheckpointConfig": {"S3Uri": "s3://b/c"}}, "algo-1")
    assert json.loads(with_checkpoints["checkpointconfig.json"]) == {"S3Uri": "s3://b/c",
                                                                     "LocalPath": "/opt/ml/checkpoints"}


def test_command_follows_dockers_override_rules():
    def spec(**extra):
        return {**JOB, "AlgorithmSpecification": {**JOB["AlgorithmSpecification"], **extra}}
    assert contract.command(JOB) == (None, ["train"])
    assert contract.command(spec(ContainerEntrypoint=["python3", "x.py"])) == (["python3", "x.py"], None)
    assert contract.command(spec(ContainerArguments=["--a", "1"])) == (None, ["--a", "1"])
    assert contract.command(spec(ContainerEntrypoint=["sh"], ContainerArguments=["-c", "x"])) == (["sh"], ["-c", "x"])


def test_environment_is_platform_only_and_job_identity_cannot_be_spoofed():
    env = contract.environment(JOB, PLATFORM)
    assert env["TRAINING_JOB_NAME"] == "job-1" and env["TRAINING_JOB_ARN"] == JOB["TrainingJobArn"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["S3_ENDPOINT_URL"] == env["AWS_ENDPOINT_URL_S3"] == "http://host.docker.internal:4598"
    assert env["USER_VAR"] == "1"
    assert not [key for key in env if key.startswith("SM_")]


def test_container_spec_mounts_and_isolation(tmp_path: Path):
    layout = contract.HostLayout(tmp_path / "algo-1")
    channels = {"train": (tmp_path / "c" / "train", False), "validation": (tmp_path / "c" / "v", True)}
    spec = contract.container_spec(JOB, "algo-1", "img:1", layout, channels, PLATFORM, (2_000_000_000, 8 << 30))
    assert spec.command == ["train"] and spec.entrypoint is None
    assert spec.hostname == "algo-1" and spec.aliases == ["algo-1"] and spec.network == "smlocal-train-job-1"
    targets = {target: (source, ro) for source, target, ro in spec.binds}
    assert targets["/opt/ml/input"] == (str(layout.input), False)
    assert targets["/opt/ml/input/data/validation"] == (str(tmp_path / "c" / "v"), True)
    assert "/opt/ml/code" not in targets  # image content in /opt/ml/code stays visible
    assert spec.labels == {"org.smlocal.kind": "training-job", "org.smlocal.job": "job-1", "org.smlocal.host": "algo-1"}
    assert spec.extra_hosts == {"host.docker.internal": "host-gateway"}
    isolated = contract.container_spec({**JOB, "EnableNetworkIsolation": True}, "algo-1", "img", layout, {},
                                       PLATFORM, (None, None))
    assert isolated.extra_hosts == {}


def test_containers_join_the_configured_network_too_unless_isolated(tmp_path: Path):
    layout = contract.HostLayout(tmp_path)
    spec = contract.container_spec(JOB, "algo-1", "img", layout, {}, PLATFORM, (None, None), "smlocal")
    assert spec.extra_networks == ["smlocal"]
    isolated = contract.container_spec({**JOB, "EnableNetworkIsolation": True}, "algo-1", "img", layout, {},
                                       PLATFORM, (None, None), "smlocal")
    assert isolated.extra_networks == []


def test_network_isolation_withholds_the_s3_endpoint_and_keys():
    isolated = contract.environment({**JOB, "EnableNetworkIsolation": True}, PLATFORM)
    assert not [k for k in isolated if k.startswith(("AWS_ACCESS", "AWS_SECRET", "AWS_ENDPOINT", "S3_"))]
    assert isolated["AWS_REGION"] == "eu-west-1" and isolated["TRAINING_JOB_NAME"] == JOB["TrainingJobName"]
    assert contract.environment(JOB, PLATFORM)["AWS_ACCESS_KEY_ID"]
def test_sdk3_mpi_driver_is_recognised_in_the_staged_drivers_channel(tmp_path):
    """SDK 3 writes sm_train.sh into its sm_drivers channel; only the MPI driver is refused."""
    from emulator.jobs.training_contract import uses_mpi_driver

    drivers = "$SM_PYTHON_CMD /opt/ml/input/data/sm_drivers/distributed_drivers"
    (tmp_path / "sm_train.sh").write_text(f'echo "Running MPI Driver"\n{drivers}/mpi_driver.py\n')
    assert uses_mpi_driver(tmp_path)
    (tmp_path / "sm_train.sh").write_text(f"{drivers}/torchrun_driver.py\n")
    assert not uses_mpi_driver(tmp_path)
    assert not uses_mpi_driver(tmp_path / "missing")


def test_a_single_host_runs_on_its_jobs_own_network_too(tmp_path: Path):
    """Not on the shared bridge: Docker 20.10 deadlocked when several jobs' containers exited on one
    network at once (infra/platform.job_networking)."""
    layout = contract.HostLayout(tmp_path)
    single = {**JOB, "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}
    spec = contract.container_spec(single, "algo-1", "img", layout, {}, PLATFORM, (None, None))
    assert spec.network == "smlocal-train-job-1" and spec.aliases == ["algo-1"] and spec.extra_networks == []
    assert spec.hostname == "algo-1"
    spec = contract.container_spec(single, "algo-1", "img", layout, {}, PLATFORM, (None, None), "compose")
    assert spec.network == "smlocal-train-job-1" and spec.extra_networks == ["compose"]
    isolated = contract.container_spec({**single, "EnableNetworkIsolation": True}, "algo-1", "img", layout, {},
                                       PLATFORM, (None, None), "compose")
    assert isolated.network == "smlocal-train-job-1" and isolated.aliases == ["algo-1"]
    assert isolated.extra_networks == []
