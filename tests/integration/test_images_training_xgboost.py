"""The XGBoost image through the emulator: built-in algorithm mode (CSV, LIBSVM, early stopping, two hosts)
with SageMaker's default metric definitions feeding FinalMetricDataList, script mode with the helpers
XGBoost scripts import, and validation failures with SageMaker's messages."""

from __future__ import annotations

import random
import re

import pytest
from test_images_training import ROLE, log_text, session, source_dir, tarball, wait
from tests_support_sdk import sdk_environment

pytestmark = pytest.mark.docker
XGB = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def rows(count: int, libsvm: bool = False, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        x = [rng.random() for _ in range(3)]
        if libsvm:
            lines.append(f"{int(x[0] + x[1] > 1)} " + " ".join(f"{i}:{v:.4f}" for i, v in enumerate(x)))
        else:
            lines.append(",".join(f"{v:.4f}" for v in [3 * x[0] + x[1], *x]))
    return ("\n".join(lines) + "\n").encode()


def job_request(name: str, bucket: str, hyperparameters: dict, channels: dict[str, str], content_type: str,
                count: int = 1, **extra) -> dict:
    return {
        "TrainingJobName": name, "RoleArn": ROLE, "HyperParameters": hyperparameters,
        "AlgorithmSpecification": {"TrainingImage": XGB, "TrainingInputMode": "File"},
        "InputDataConfig": [{"ChannelName": channel, "ContentType": content_type, "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": extra.pop(f"{channel}_distribution",
                                                                                        "FullyReplicated")}}}
            for channel, uri in channels.items()],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/xgb-output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": count, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600}, **extra,
    }


@pytest.fixture
def sm(jobs_gateway, framework_image):
    framework_image("xgboost")
    return jobs_gateway.client("sagemaker")


def last_round(logs: str) -> dict[str, float]:
    """The metrics of the last ``[n]\\tdata-metric:value...`` line XGBoost printed."""
    line = [ln for ln in logs.splitlines() if re.match(r"^\[\d+\]\t", ln)][-1]
    return {name.replace("-", ":", 1): float(value) for name, value in re.findall(r"\t([\w-]+):([-\d.e]+)", line)}


def test_algorithm_mode_csv_reports_sagemakers_default_metrics(sm, s3, bucket, jobs_gateway, unique):
    s3.put_object(Bucket=bucket, Key=f"{unique}/train/part-0.csv", Body=rows(300))
    s3.put_object(Bucket=bucket, Key=f"{unique}/train/_SUCCESS", Body=b"not data")
    s3.put_object(Bucket=bucket, Key=f"{unique}/validation/part-0.csv", Body=rows(100, seed=1))
    sm.create_training_job(**job_request(unique, bucket, {"num_round": "8", "max_depth": "3", "eta": "0.3"}, {
        "train": f"s3://{bucket}/{unique}/train/", "validation": f"s3://{bucket}/{unique}/validation/"}, "text/csv"))
    job = wait(sm, unique)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    definitions = {d["Name"]: d["Regex"] for d in job["AlgorithmSpecification"]["MetricDefinitions"]}
    assert definitions["validation:rmse"] == \
        r".*\[[0-9]+\].*#011validation-rmse:([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?).*"
    logs = log_text(jobs_gateway, unique)
    assert "[7]\ttrain-rmse:" in logs and "\tvalidation-rmse:" in logs and "[8]" not in logs
    final = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert final == last_round(logs) and set(final) == {"train:rmse", "validation:rmse"}
    assert list(tarball(s3, job["ModelArtifacts"]["S3ModelArtifacts"])) == ["xgboost-model"]


def test_algorithm_mode_libsvm_with_early_stopping_through_the_sdk(jobs_gateway, s3_server, s3, bucket, sm,
                                                                   monkeypatch, tmp_path, unique):
    sdk_environment(monkeypatch, tmp_path, jobs_gateway.url, s3_server, bucket)
    import sagemaker
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput

    s3.put_object(Bucket=bucket, Key=f"{unique}/train/data.libsvm", Body=rows(400, libsvm=True))
    s3.put_object(Bucket=bucket, Key=f"{unique}/validation/data.libsvm", Body=rows(100, libsvm=True, seed=2))
    image = sagemaker.image_uris.retrieve("xgboost", "us-east-1", "1.7-1")
    assert image == XGB
    estimator = Estimator(image_uri=image, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                          output_path=f"s3://{bucket}/xgb-sdk", sagemaker_session=sagemaker.Session(),
                          hyperparameters={"objective": "binary:logistic", "num_round": 60, "max_depth": 4,
                                           "eval_metric": "auc,error", "early_stopping_rounds": 3})
    estimator.fit({channel: TrainingInput(f"s3://{bucket}/{unique}/{channel}/", content_type="text/libsvm")
                   for channel in ("train", "validation")}, wait=False)
    name = estimator.latest_training_job.name
    job = wait(sm, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    logs = log_text(jobs_gateway, name)
    rounds = [int(n) for n in re.findall(r"^\[(\d+)\]\t", logs, re.MULTILINE)]
    assert rounds == list(range(len(rounds))) and len(rounds) < 60  # early stopping ended it
    final = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert set(final) == {"train:auc", "train:error", "validation:auc", "validation:error"}
    assert final == last_round(logs) and final["validation:auc"] > 0.9
    assert list(tarball(s3, job["ModelArtifacts"]["S3ModelArtifacts"])) == ["xgboost-model"]


def test_algorithm_mode_on_two_hosts_with_weights_trains_one_model(sm, s3, bucket, jobs_gateway, unique):
    for part in range(2):
        s3.put_object(Bucket=bucket, Key=f"{unique}/train/part-{part}.csv", Body=rows(200, seed=part))
    sm.create_training_job(**job_request(unique, bucket, {"num_round": "5", "csv_weights": "1"},
                                         {"train": f"s3://{bucket}/{unique}/train/"}, "csv", count=2,
                                         train_distribution="ShardedByS3Key"))
    job = wait(sm, unique)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    logs = log_text(jobs_gateway, unique)
    assert "[4]\ttrain-rmse:" in logs
    # Each host reads its own shard; with csv_weights=1 the second column is the weight, not a feature.
    assert logs.count("Train matrix has 200 rows and 2 columns") == 2
    assert list(tarball(s3, job["ModelArtifacts"]["S3ModelArtifacts"])) == ["xgboost-model"]


XGB_SCRIPT = """
import argparse, os
import xgboost as xgb
from sagemaker_xgboost_container import distributed
from sagemaker_xgboost_container.data_utils import get_dmatrix

def train(params, dtrain, evals, num_boost_round, model_dir, is_master):
    booster = xgb.train(params=params, dtrain=dtrain, evals=evals, num_boost_round=num_boost_round)
    if is_master:
        booster.save_model(os.path.join(model_dir, "xgboost-model"))

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_round", type=int)
    parser.add_argument("--max_depth", type=int)
    parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
    parser.add_argument("--model_dir", default=os.environ["SM_MODEL_DIR"])
    args, _ = parser.parse_known_args()
    dtrain = get_dmatrix(args.train, "csv")
    distributed.rabit_run(exec_fun=train, args=dict(params={"max_depth": args.max_depth}, dtrain=dtrain,
                          evals=[(dtrain, "train")], num_boost_round=args.num_round, model_dir=args.model_dir),
                          include_in_training=dtrain is not None, hosts=[os.environ["SM_CURRENT_HOST"]],
                          current_host=os.environ["SM_CURRENT_HOST"], update_rabit_args=True)
"""


def test_script_mode_with_the_helpers_xgboost_scripts_import(jobs_gateway, s3_server, s3, bucket, sm, monkeypatch,
                                                             tmp_path, unique):
    sdk_environment(monkeypatch, tmp_path, jobs_gateway.url, s3_server, bucket)
    from sagemaker.xgboost import XGBoost

    s3.put_object(Bucket=bucket, Key=f"{unique}/train/data.csv", Body=rows(200))
    estimator = XGBoost(entry_point="train.py", source_dir=source_dir(tmp_path, {"train.py": XGB_SCRIPT}),
                        framework_version="1.7-1", role=ROLE, instance_count=1, instance_type="ml.m5.large",
                        hyperparameters={"num_round": 4, "max_depth": 2}, sagemaker_session=session())
    estimator.fit({"train": f"s3://{bucket}/{unique}/train/"}, wait=False)
    name = estimator.latest_training_job.name
    job = wait(sm, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert "MetricDefinitions" not in job["AlgorithmSpecification"]  # script mode: no built-in metrics
    logs = log_text(jobs_gateway, name)
    assert "/usr/bin/python3 -m train --max_depth 2 --num_round 4" in logs and "[3]\ttrain-rmse:" in logs
    assert list(tarball(s3, job["ModelArtifacts"]["S3ModelArtifacts"])) == ["xgboost-model"]


@pytest.mark.parametrize("hyperparameters, channel, message", [
    ({"num_round": "5", "epochs": "3"}, "train", "Extraneous hyperparameter found: epochs"),
    ({"objective": "reg:squarederror"}, "train", "Missing required hyperparameter: num_round"),
    ({"num_round": "5", "eta": "2"}, "train", "Hyperparameter eta: 2.0 is not in [0, 1]"),
    ({"num_round": "5"}, "test", "Extraneous channel found: test"),
])
def test_validation_failures_carry_sagemakers_message(sm, s3, bucket, unique, hyperparameters, channel, message):
    s3.put_object(Bucket=bucket, Key=f"{unique}/data.csv", Body=rows(20))
    channels = {"train": f"s3://{bucket}/{unique}/"} if channel == "train" else {
        "train": f"s3://{bucket}/{unique}/", channel: f"s3://{bucket}/{unique}/"}
    sm.create_training_job(**job_request(unique, bucket, hyperparameters, channels, "text/csv"))
    job = wait(sm, unique)
    assert job["TrainingJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith("AlgorithmError: framework error: \nTraceback (most recent call last):\n")
    assert f"sagemaker_algorithm_toolkit.exceptions.UserError: {message}\n\n{message}" in reason


XGB_1_0 = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.0-1-cpu-py3"
UNPICKLE = """
import pickle, xgboost
with open("/opt/ml/model/xgboost-model", "rb") as handle:
    booster = pickle.load(handle)
assert isinstance(booster, xgboost.Booster)
open("/opt/ml/model/unpickled", "w").write(str(booster.num_features()))
"""


def test_xgboost_1_0_1_as_aws_examples_use_it(sm, s3, bucket, jobs_gateway, framework_image, unique, tmp_path):
    """AWS's examples still ask for 1.0-1: `silent` accepted, `tree_method=exact` on two instances, the Booster
    pickled (evaluation scripts `pickle.load` it) and a transform request without Content-Type read as CSV,
    on the local 1.7 image (docs/images.md, "Older versions")."""
    from test_images_serving import run_in_image
    from test_transform import read, start
    from test_transform import wait as wait_transform

    for part in range(2):
        s3.put_object(Bucket=bucket, Key=f"{unique}/train/part-{part}.csv", Body=rows(200, seed=part))
    request = job_request(unique, bucket, {"num_round": "6", "silent": "1", "tree_method": "exact",
                                           "objective": "reg:squarederror", "max_depth": "3"},
                          {"train": f"s3://{bucket}/{unique}/train/"}, "text/csv", count=2,
                          train_distribution="ShardedByS3Key")
    request["AlgorithmSpecification"]["TrainingImage"] = XGB_1_0
    sm.create_training_job(**request)
    job = wait(sm, unique)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    logs = log_text(jobs_gateway, unique)
    assert "smlocal has no local image for sagemaker-xgboost:1.0-1-cpu-py3 (version 1.0-1)" in logs
    assert "only able to proceed with the approximate algorithm ('approx') in distributed training" in logs
    assert "[5]\ttrain-rmse:" in logs
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "xgboost-model").write_bytes(tarball(s3, job["ModelArtifacts"]["S3ModelArtifacts"])["xgboost-model"])
    assert (model_dir / "xgboost-model").read_bytes()[:2] == b"\x80\x04"   # a pickle, not XGBoost's format
    run_in_image(framework_image("xgboost"), model_dir, UNPICKLE)
    assert (model_dir / "unpickled").read_text() == "3"

    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": XGB_1_0, "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"]})
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/rows.csv", Body=b"0.1,0.1,0.1\n0.9,0.9,0.9\n")
    start(sm, unique, unique, f"s3://{bucket}/{unique}/in/", f"s3://{bucket}/{unique}/out",
          TransformInput={"ContentType": None})
    described = wait_transform(sm, unique, timeout=240)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert "ContentType" not in described["TransformInput"]
    low, high = (float(v) for v in read(s3, bucket, f"{unique}/out/rows.csv.out").decode().split())
    assert low < high
