"""Script mode in the framework images, driven by unmodified SageMaker SDK estimators (SKLearn, PyTorch)
through the emulator: source_dir + requirements.txt, every SM_* variable a script sees, failures as
SageMaker reports them."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import time

import pytest
from tests_support_sdk import sdk_environment

pytestmark = pytest.mark.docker
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
GROUP = "/aws/sagemaker/TrainingJobs"

SKLEARN_TRAIN = """
import argparse, json, os
import joblib, pandas as pd
from sklearn.linear_model import LinearRegression

parser = argparse.ArgumentParser()
parser.add_argument("--fit-intercept", type=lambda s: s == "True", default=True)
parser.add_argument("--alpha", type=float)
parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
args, _ = parser.parse_known_args()
frame = pd.concat(pd.read_csv(os.path.join(args.train, f), header=None) for f in os.listdir(args.train))
model = LinearRegression(fit_intercept=args.fit_intercept).fit(frame.iloc[:, 1:], frame.iloc[:, 0])
joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
dump = {k: v for k, v in os.environ.items() if k.startswith("SM_") or k in (
    "PYTHONPATH", "CURRENT_HOST", "SAGEMAKER_JOB_NAME", "SAGEMAKER_REGION")}
# The helpers scripts written for AWS's images import.
import sagemaker_containers
from sagemaker_containers.beta.framework import content_types, encoders, env, training_env
from sagemaker_training import environment
shims = {"training": environment.Environment().hyperparameters, "legacy": sagemaker_containers.training_env().hosts,
         "beta": [training_env().module_name, env.TrainingEnv().channel_input_dirs["train"], content_types.CSV,
                  encoders.array_to_csv([1, 2]).strip().split("\\n")]}
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "env.json"), "w") as out:
    json.dump({"env": dump, "argv": __import__("sys").argv[1:], "cwd": os.getcwd(), "shims": shims}, out)
"""
# docs/container-contract.md 2.4: what AWS's toolkit exports to the user process.
DOCUMENTED = {
    "SM_MODEL_DIR", "SM_INPUT_DIR", "SM_INPUT_CONFIG_DIR", "SM_OUTPUT_DIR", "SM_OUTPUT_DATA_DIR",
    "SM_OUTPUT_INTERMEDIATE_DIR", "SM_CHANNELS", "SM_HPS", "SM_USER_ARGS", "SM_USER_ENTRY_POINT", "SM_MODULE_NAME",
    "SM_MODULE_DIR", "SM_FRAMEWORK_MODULE", "SM_FRAMEWORK_PARAMS", "SM_HOSTS", "SM_CURRENT_HOST",
    "SM_NETWORK_INTERFACE_NAME", "SM_CURRENT_INSTANCE_TYPE", "SM_CURRENT_INSTANCE_GROUP",
    "SM_CURRENT_INSTANCE_GROUP_HOSTS", "SM_INSTANCE_GROUPS", "SM_INSTANCE_GROUPS_DICT",
    "SM_DISTRIBUTION_INSTANCE_GROUPS", "SM_IS_HETERO", "SM_NUM_CPUS", "SM_NUM_GPUS", "SM_NUM_NEURONS", "SM_LOG_LEVEL",
    "SM_RESOURCE_CONFIG", "SM_INPUT_DATA_CONFIG", "SM_TRAINING_ENV",
}
# Baked into the image with ENV (docs/container-contract.md 1.7).
IMAGE_ENV = {"SM_INPUT", "SM_INPUT_TRAINING_CONFIG_FILE", "SM_INPUT_DATA_CONFIG_FILE", "SM_CHECKPOINT_CONFIG_FILE"}


def wait(sm, name: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = sm.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] not in ("InProgress", "Stopping"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"{name} still {job['TrainingJobStatus']}/{job['SecondaryStatus']}")


def tarball(s3, uri: str) -> dict[str, bytes]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def log_text(gateway, name: str) -> str:
    logs = gateway.client("logs")
    lines = []
    for stream in logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]:
        events = logs.get_log_events(logGroupName=GROUP, logStreamName=stream["logStreamName"], startFromHead=True)
        lines += [e["message"] for e in events["events"]]
    return "\n".join(lines)


def source_dir(tmp_path, files: dict[str, str]):
    folder = tmp_path / "src"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return str(folder)


def session():
    """A plain SageMaker SDK session: it uploads source_dir with SSE-KMS, which the gateway's S3 endpoint
    accepts (emulator/s3/sse.py)."""
    import sagemaker

    return sagemaker.Session()


@pytest.fixture
def sdk(jobs_gateway, s3_server, bucket, monkeypatch, tmp_path):
    sdk_environment(monkeypatch, tmp_path, jobs_gateway.url, s3_server, bucket)
    return session()


@pytest.fixture
def sm(jobs_gateway):
    return jobs_gateway.client("sagemaker")


@pytest.fixture(scope="module")
def sklearn_job(jobs_gateway, s3_server, bucket, s3, framework_image, tmp_path_factory):
    """One SKLearn estimator fit (source_dir + requirements.txt) shared by the tests reading its results."""
    framework_image("sklearn")
    tmp_path = tmp_path_factory.mktemp("sklearn-job")
    with pytest.MonkeyPatch.context() as monkeypatch:
        sdk_environment(monkeypatch, tmp_path, jobs_gateway.url, s3_server, bucket)
        from sagemaker.sklearn import SKLearn

        rows = "\n".join(f"{2 * x + 1},{x}" for x in range(20)) + "\n"
        s3.put_object(Bucket=bucket, Key="sklearn-train/data.csv", Body=rows.encode())
        estimator = SKLearn(entry_point="train.py", source_dir=source_dir(tmp_path, {
            "train.py": SKLEARN_TRAIN, "requirements.txt": "pandas\n"}), framework_version="1.2-1", role=ROLE,
            instance_type="ml.m5.large", hyperparameters={"fit-intercept": True, "alpha": 0.5},
            sagemaker_session=session())
        estimator.fit({"train": f"s3://{bucket}/sklearn-train/"}, wait=False)
        name = estimator.latest_training_job.name
    job = wait(jobs_gateway.client("sagemaker"), name)
    return job, name


def test_sklearn_script_mode_with_requirements_produces_a_model(sklearn_job, s3, jobs_gateway):
    job, name = sklearn_job
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert sorted(tarball(s3, job["ModelArtifacts"]["S3ModelArtifacts"])) == ["model.joblib"]
    logs = log_text(jobs_gateway, name)
    assert "Requirement already satisfied: pandas" in logs
    assert "/usr/bin/python3 train.py --alpha 0.5 --fit-intercept True" in logs
    assert "Reporting training SUCCESS" in logs


def test_a_script_sees_every_documented_sm_variable(sklearn_job, s3, bucket):
    job, name = sklearn_job
    output = job["ModelArtifacts"]["S3ModelArtifacts"].replace("model.tar.gz", "output.tar.gz")
    seen = json.loads(tarball(s3, output)["env.json"])
    env = seen["env"]
    assert set(env) == DOCUMENTED | IMAGE_ENV | {"SM_CHANNEL_TRAIN", "SM_HP_ALPHA", "SM_HP_FIT-INTERCEPT",
                                                 "PYTHONPATH", "CURRENT_HOST", "SAGEMAKER_JOB_NAME",
                                                 "SAGEMAKER_REGION"}
    source = f"s3://{bucket}/{name}/source/sourcedir.tar.gz"
    resource = json.loads(env["SM_RESOURCE_CONFIG"])
    expected = {
        "SM_MODEL_DIR": "/opt/ml/model", "SM_INPUT_DIR": "/opt/ml/input", "SM_INPUT_CONFIG_DIR": "/opt/ml/input/config",
        "SM_OUTPUT_DIR": "/opt/ml/output", "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data",
        "SM_OUTPUT_INTERMEDIATE_DIR": "/opt/ml/output/intermediate", "SM_CHANNELS": '["train"]',
        "SM_CHANNEL_TRAIN": "/opt/ml/input/data/train", "SM_HPS": '{"alpha":0.5,"fit-intercept":true}',
        "SM_HP_ALPHA": "0.5", "SM_HP_FIT-INTERCEPT": "true",
        "SM_USER_ARGS": '["--alpha","0.5","--fit-intercept","True"]', "SM_USER_ENTRY_POINT": "train.py",
        "SM_MODULE_NAME": "train", "SM_MODULE_DIR": source,
        "SM_FRAMEWORK_MODULE": "sagemaker_sklearn_container.training:main", "SM_FRAMEWORK_PARAMS": "{}",
        "SM_HOSTS": '["algo-1"]', "SM_CURRENT_HOST": "algo-1", "SM_NETWORK_INTERFACE_NAME": "eth0",
        "SM_CURRENT_INSTANCE_TYPE": "ml.m5.large", "SM_CURRENT_INSTANCE_GROUP": "homogeneousCluster",
        "SM_CURRENT_INSTANCE_GROUP_HOSTS": '["algo-1"]', "SM_INSTANCE_GROUPS": '["homogeneousCluster"]',
        "SM_DISTRIBUTION_INSTANCE_GROUPS": "[]", "SM_IS_HETERO": "false", "SM_NUM_GPUS": "0", "SM_NUM_NEURONS": "0",
        "SM_LOG_LEVEL": "20", "SM_INPUT": "/opt/ml/input",
        "SM_INPUT_TRAINING_CONFIG_FILE": "/opt/ml/input/config/hyperparameters.json",
        "SM_INPUT_DATA_CONFIG_FILE": "/opt/ml/input/config/inputdataconfig.json",
        "SM_CHECKPOINT_CONFIG_FILE": "/opt/ml/input/config/checkpointconfig.json",
        "CURRENT_HOST": "algo-1", "SAGEMAKER_JOB_NAME": name, "SAGEMAKER_REGION": "us-east-1",
    }
    assert {k: env[k] for k in expected} == expected
    assert int(env["SM_NUM_CPUS"]) >= 1 and env["PYTHONPATH"].split(":")[0] == "/opt/ml/code"
    assert resource["current_host"] == "algo-1" and resource["hosts"] == ["algo-1"]
    assert json.loads(env["SM_INSTANCE_GROUPS_DICT"])["homogeneousCluster"]["hosts"] == ["algo-1"]
    assert json.loads(env["SM_INPUT_DATA_CONFIG"])["train"]["TrainingInputMode"] == "File"
    training_env = json.loads(env["SM_TRAINING_ENV"])
    assert training_env["job_name"] == name and training_env["is_master"] is True
    assert training_env["hyperparameters"] == {"alpha": 0.5, "fit-intercept": True}
    assert training_env["channel_input_dirs"] == {"train": "/opt/ml/input/data/train"}
    assert seen["argv"] == ["--alpha", "0.5", "--fit-intercept", "True"] and seen["cwd"] == "/opt/ml/code"
    assert seen["shims"] == {"training": {"alpha": 0.5, "fit-intercept": True}, "legacy": ["algo-1"],
                             "beta": ["train", "/opt/ml/input/data/train", "text/csv", ["1", "2"]]}


def test_sklearn_script_exception_fails_the_job_as_sagemaker_words_it(sdk, sm, framework_image, tmp_path):
    from sagemaker.sklearn import SKLearn

    framework_image("sklearn")
    estimator = SKLearn(entry_point="train.py", source_dir=source_dir(tmp_path, {
        "train.py": "raise ValueError('bad data')\n"}), framework_version="1.2-1", role=ROLE,
        instance_type="ml.m5.large", hyperparameters={"epochs": 2}, sagemaker_session=sdk)
    estimator.fit(wait=False)
    job = wait(sm, estimator.latest_training_job.name)
    assert job["TrainingJobStatus"] == "Failed"
    # The scikit-learn image does not capture stderr, so SageMaker's message has an empty ErrorMessage.
    assert job["FailureReason"] == ('AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage ""\n'
                                    'Command "/usr/bin/python3 train.py --epochs 2"')


def test_unavailable_requirements_fail_with_the_reason(sdk, sm, framework_image, tmp_path):
    from sagemaker.sklearn import SKLearn

    framework_image("sklearn")
    estimator = SKLearn(entry_point="train.py", source_dir=source_dir(tmp_path, {
        "train.py": "print('never runs')\n", "requirements.txt": "smlocal-no-such-package==9.9\n"}),
        framework_version="1.2-1", role=ROLE, instance_type="ml.m5.large", sagemaker_session=sdk)
    estimator.fit(wait=False)
    job = wait(sm, estimator.latest_training_job.name)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError: InstallRequirementsError: pip could not install")
    assert "smlocal-no-such-package" in job["FailureReason"]


PYTORCH_TRAIN = """
import argparse, os
import torch
from torch import nn

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--lr", type=float, default=0.1)
args, _ = parser.parse_known_args()
torch.manual_seed(0)
x = torch.linspace(-1, 1, 64).unsqueeze(1)
y = 3 * x + 0.5
model = nn.Linear(1, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
for epoch in range(args.epochs):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    print(f"epoch={epoch} loss={loss.item():.6f}")
if loss.item() > 0.01:
    raise RuntimeError(f"did not converge: loss {loss.item()}")
torch.save(model.state_dict(), os.path.join(os.environ["SM_MODEL_DIR"], "model.pth"))
"""


def test_pytorch_trains_a_tiny_model_and_reports_script_errors(sdk, sm, s3, jobs_gateway, framework_image, tmp_path):
    from sagemaker.pytorch import PyTorch

    framework_image("pytorch")
    common = dict(entry_point="train.py", source_dir=source_dir(tmp_path, {"train.py": PYTORCH_TRAIN}),
                  framework_version="1.13", py_version="py39", role=ROLE, instance_type="ml.m5.large", instance_count=1,
                  sagemaker_session=sdk)
    good = PyTorch(hyperparameters={"epochs": 200, "lr": 0.3}, **common)
    good.fit(wait=False)
    bad = PyTorch(hyperparameters={"epochs": 1, "lr": 0.01}, **common)
    bad.fit(wait=False)
    job = wait(sm, good.latest_training_job.name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert sorted(tarball(s3, job["ModelArtifacts"]["S3ModelArtifacts"])) == ["model.pth"]
    assert "epoch=199 loss=" in log_text(jobs_gateway, good.latest_training_job.name)
    failed = wait(sm, bad.latest_training_job.name)
    assert failed["TrainingJobStatus"] == "Failed"
    # The PyTorch image captures the script's error lines (the traceback from the first error name on).
    assert failed["FailureReason"].startswith('AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage "')
    assert 'raise RuntimeError(f"did not converge: loss {loss.item()}")\n RuntimeError: did not converge: loss ' \
        in failed["FailureReason"]
    assert failed["FailureReason"].endswith('Command "/usr/bin/python3 train.py --epochs 1 --lr 0.01"')
