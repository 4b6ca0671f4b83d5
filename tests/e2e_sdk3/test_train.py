"""SDK 3 ``ModelTrainer`` against smlocal, unmodified: SourceCode (entry script, source_dir, requirements),
Compute with ml.* types and two instances, InputData from S3 and from a local directory, hyperparameters,
environment, checkpoints, train(wait=True, logs=True) on the scikit-learn, PyTorch (with the Torchrun
distributed driver) and XGBoost images and a bring-your-own image, and the failure path."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from conftest import CODE, ROLE


def _artifact(s3, uri: str) -> dict[str, bytes]:
    bucket, key = uri[len("s3://"):].split("/", 1)
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_sklearn_source_code_two_instances_s3_and_local_channels_checkpoints(
        session, s3, bucket, sm, unique, tmp_path, shown):
    from sagemaker.core import image_uris
    from sagemaker.core.training.configs import CheckpointConfig, Compute, InputData, SourceCode, StoppingCondition
    from sagemaker.serve import ModelBuilder
    from sagemaker.train import ModelTrainer

    rows = [f"{int(x > 0)},{x},{x / 2}" for x in (-3, -2, -1.5, -1, -0.5, 0.5, 1, 1.5, 2, 3)]
    s3.put_object(Bucket=bucket, Key=f"v3/{unique}/train/train.csv", Body="\n".join(rows).encode())
    local = tmp_path / "extra"
    local.mkdir()
    (local / "notes.txt").write_text("uploaded by ModelTrainer from a local directory")
    image = image_uris.retrieve(framework="sklearn", region=session.boto_region_name, version="1.2-1",
                                instance_type="ml.m5.large")
    assert image.endswith("/sagemaker-scikit-learn:1.2-1-cpu-py3"), image
    trainer = ModelTrainer(
        training_image=image, role=ROLE, base_job_name="v3-sklearn", sagemaker_session=session,
        source_code=SourceCode(source_dir=str(CODE / "sklearn"), entry_script="train.py",
                               requirements="requirements.txt"),
        compute=Compute(instance_type="ml.m5.large", instance_count=2),
        hyperparameters={"regularization": 10.0, "label": "v3 run"},
        environment={"STAGE": "sdk3"},
        stopping_condition=StoppingCondition(max_runtime_in_seconds=600),
        checkpoint_config=CheckpointConfig(s3_uri=f"s3://{bucket}/v3/{unique}/checkpoints"),
    )
    trainer.train(input_data_config=[InputData(channel_name="train", data_source=f"s3://{bucket}/v3/{unique}/train/"),
                                     InputData(channel_name="extra", data_source=str(local))],
                  wait=True, logs=True)
    job = trainer._latest_training_job
    assert job.training_job_status == "Completed", job.failure_reason
    assert "training accuracy=1.000" in shown()  # the container's log, streamed by train()

    described = sm.describe_training_job(TrainingJobName=job.training_job_name)
    assert described["ResourceConfig"]["InstanceCount"] == 2
    assert described["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    assert described["Environment"]["STAGE"] == "sdk3"
    assert {c["ChannelName"] for c in described["InputDataConfig"]} >= {"train", "extra", "code", "sm_drivers"}
    evidence = json.loads(_artifact(s3, job.model_artifacts.s3_model_artifacts)["evidence.json"])
    assert evidence["hosts"] == ["algo-1", "algo-2"]
    assert evidence["regularization"] == 10.0 and evidence["label"] == "v3 run" and evidence["stage"] == "sdk3"
    assert evidence["extra"] == ["notes.txt"]
    assert evidence["extra_text"] == "uploaded by ModelTrainer from a local directory"
    assert evidence["instance_type"] == "ml.m5.large"
    checkpoints = s3.list_objects_v2(Bucket=bucket, Prefix=f"v3/{unique}/checkpoints/")["Contents"]
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in checkpoints) == ["algo-1.txt", "algo-2.txt"]

    # the trained model, served: ModelBuilder(model=<the ModelTrainer>) with an inference script. SDK 3.27
    # repacks from s3_model_data_url, which build() sets to an empty default prefix unless it is given
    # (on AWS too: HeadObject 404), so it is passed (docs/sdk.md).
    builder = ModelBuilder(model=trainer, s3_model_data_url=job.model_artifacts.s3_model_artifacts,
                           image_uri=image, role_arn=ROLE, instance_type="ml.m5.large",
                           source_code=SourceCode(source_dir=str(CODE / "serve_sklearn"), entry_script="inference.py"),
                           sagemaker_session=session)
    builder.build(model_name=unique)
    endpoint = builder.deploy(endpoint_name=unique, initial_instance_count=1)
    try:
        answer = endpoint.invoke(body=json.dumps([[2.0, 1.0], [-2.0, -1.0]]), content_type="application/json")
        assert json.loads(answer.body.read()) == {"classes": [1, 0], "source": "inference.py"}
    finally:
        endpoint.delete()


def test_pytorch_and_xgboost_images(session, s3, bucket, unique, shown):
    from sagemaker.core import image_uris
    from sagemaker.core.training.configs import Compute, InputData, SourceCode
    from sagemaker.train import ModelTrainer

    region = session.boto_region_name
    pytorch = ModelTrainer(
        training_image=image_uris.retrieve(framework="pytorch", region=region, version="1.13.1", py_version="py39",
                                           instance_type="ml.m5.large", image_scope="training"),
        role=ROLE, sagemaker_session=session, base_job_name="v3-pytorch",
        source_code=SourceCode(source_dir=str(CODE / "pytorch"), entry_script="train.py"),
        compute=Compute(instance_type="ml.m5.large", instance_count=1), hyperparameters={"epochs": 150})
    pytorch.train(wait=True, logs=True)
    assert pytorch._latest_training_job.training_job_status == "Completed"
    assert "model.pt" in _artifact(s3, pytorch._latest_training_job.model_artifacts.s3_model_artifacts)

    rows = "\n".join(f"{2 * x + 1},{x}" for x in range(30))
    s3.put_object(Bucket=bucket, Key=f"v3/{unique}/xgb/train.csv", Body=rows.encode())
    xgboost = ModelTrainer(
        training_image=image_uris.retrieve(framework="xgboost", region=region, version="1.7-1"),
        role=ROLE, sagemaker_session=session, base_job_name="v3-xgboost",
        source_code=SourceCode(source_dir=str(CODE / "xgboost"), entry_script="train.py"),
        compute=Compute(instance_type="ml.m5.xlarge", instance_count=1), hyperparameters={"num_round": 25})
    xgboost.train(input_data_config=[InputData(channel_name="train", data_source=f"s3://{bucket}/v3/{unique}/xgb/")],
                  wait=True, logs=True)
    assert xgboost._latest_training_job.training_job_status == "Completed"
    printed = shown()
    assert "final loss=" in printed and "f(10)=" in printed
    assert "xgboost-model" in _artifact(s3, xgboost._latest_training_job.model_artifacts.s3_model_artifacts)


def test_torchrun_distributed_on_two_instances(session, s3, shown):
    """SDK 3's Torchrun driver runs torchrun on each host with the master address of algo-1."""
    from sagemaker.core import image_uris
    from sagemaker.core.training.configs import Compute, SourceCode
    from sagemaker.train import ModelTrainer
    from sagemaker.train.distributed import Torchrun

    trainer = ModelTrainer(
        training_image=image_uris.retrieve(framework="pytorch", region=session.boto_region_name, version="1.13.1",
                                           py_version="py39", instance_type="ml.m5.large", image_scope="training"),
        role=ROLE, sagemaker_session=session, base_job_name="v3-torchrun",
        source_code=SourceCode(source_dir=str(CODE / "pytorch"), entry_script="distributed.py"),
        distributed=Torchrun(process_count_per_node=1),
        compute=Compute(instance_type="ml.m5.large", instance_count=2))
    trainer.train(wait=True, logs=True)
    job = trainer._latest_training_job
    assert job.training_job_status == "Completed", job.failure_reason
    assert _artifact(s3, job.model_artifacts.s3_model_artifacts)["world.txt"] == b"2 1"


def test_bring_your_own_image_failure_carries_the_failure_reason(session, train_image, sm):
    """A failing job: train(wait=True) raises, and the exception names the job's FailureReason."""
    from sagemaker.core.training.configs import Compute
    from sagemaker.train import ModelTrainer

    trainer = ModelTrainer(training_image=train_image, role=ROLE, sagemaker_session=session,
                           base_job_name="v3-byo-fail", compute=Compute(instance_type="ml.c5.xlarge"),
                           hyperparameters={"mode": "fail-file", "message": "v3 bad input: column 7 missing"})
    with pytest.raises(Exception) as raised:
        trainer.train(wait=True, logs=True)
    assert "v3 bad input: column 7 missing" in str(raised.value), repr(raised.value)
    job = trainer._latest_training_job
    described = sm.describe_training_job(TrainingJobName=job.training_job_name)
    assert described["TrainingJobStatus"] == "Failed"
    assert "v3 bad input: column 7 missing" in described["FailureReason"]


def test_mpi_distributed_is_refused_clearly(session, sm):
    """smlocal's images have no MPI: the job fails at once with a ClientError saying so and naming Torchrun."""
    from sagemaker.core import image_uris
    from sagemaker.core.training.configs import Compute, SourceCode
    from sagemaker.train import ModelTrainer
    from sagemaker.train.distributed import MPI

    trainer = ModelTrainer(
        training_image=image_uris.retrieve(framework="pytorch", region=session.boto_region_name, version="1.13.1",
                                           py_version="py39", instance_type="ml.m5.large", image_scope="training"),
        role=ROLE, sagemaker_session=session, base_job_name="v3-mpi",
        source_code=SourceCode(source_dir=str(CODE / "pytorch"), entry_script="distributed.py"),
        distributed=MPI(process_count_per_node=1), compute=Compute(instance_type="ml.m5.large", instance_count=2))
    with pytest.raises(Exception) as raised:
        trainer.train(wait=True, logs=False)
    assert "MPI driver, which needs mpirun, sshd and paramiko" in str(raised.value)
    described = sm.describe_training_job(TrainingJobName=trainer._latest_training_job.training_job_name)
    assert described["FailureReason"].startswith("ClientError: ModelTrainer(distributed=MPI(...))")
    assert "distributed=Torchrun(...)" in described["FailureReason"]
