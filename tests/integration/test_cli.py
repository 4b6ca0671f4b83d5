"""The `smlocal` CLI as users run it: up --detach, env, status, the real clients, crash, down.

Real processes, the real embedded S3 server (SeaweedFS), the AWS CLI and the SageMaker SDK in
subprocesses that only see what `eval "$(smlocal env)"` sets.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from support import free_port

from emulator.procs import pid_alive

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


def smlocal(*args: str, data_dir: Path, timeout: float = 180, env: dict | None = None
            ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emulator.cli.main", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def exported(env_output: str) -> dict[str, str]:
    values = {}
    for line in env_output.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            values[key] = shlex.split(value)[0]
    return values


def client_env(exports: dict[str, str]) -> dict[str, str]:
    """A user's shell after eval "$(smlocal env)": no other AWS settings leak in."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAGEMAKER_"))}
    return {**base, **exports, "PATH": f"{BIN}:{os.environ['PATH']}", "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
            "HOME": os.environ.get("HOME", "/root")}


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("smlocal-data")
    port, s3_port = free_port(), free_port()
    started = time.monotonic()
    up = smlocal("up", "--detach", "--port", str(port), "--s3-port", str(s3_port), data_dir=data_dir)
    assert up.returncode == 0, up.stdout + up.stderr
    info = {"data_dir": data_dir, "port": port, "s3_port": s3_port, "startup": time.monotonic() - started,
            "up": up}
    yield info
    smlocal("down", data_dir=data_dir)


def test_up_detach_reports_where_it_runs(instance):
    assert f"http://127.0.0.1:{instance['port']}" in instance["up"].stdout
    assert instance["startup"] < 60
    runtime = json.loads((instance["data_dir"] / "runtime.json").read_text())
    assert pid_alive(runtime["pid"]) and pid_alive(runtime["s3_pid"])
    assert oct((instance["data_dir"] / "runtime.json").stat().st_mode)[-3:] == "600"


def test_up_prints_the_env_command_of_this_instance(instance):
    """`up --data-dir X` names X in the `env` command it prints: a bare `smlocal env` would read
    ~/.smlocal and point at whatever instance runs there."""
    stdout = instance["up"].stdout
    assert f"data dir {instance['data_dir']}" in stdout.replace("\n", "")
    line = next(line for line in stdout.splitlines() if "eval" in line)
    command = line.split('eval "$(', 1)[1].rsplit(')"', 1)[0]
    assert command == f"smlocal env --data-dir {instance['data_dir']}"
    shell = subprocess.run(["bash", "-c", f'eval "$({command})" && echo "$AWS_ENDPOINT_URL $SMLOCAL_DATA_DIR"'],
                           capture_output=True, text=True, timeout=60,
                           env={**client_env({}), "SMLOCAL_DATA_DIR": "/nonexistent/other-instance"})
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.split() == [f"http://127.0.0.1:{instance['port']}", str(instance["data_dir"])]
    assert f"data dir {instance['data_dir']}" in shell.stderr   # env says which instance it read


def test_logs_status_and_down_name_their_data_dir(instance, tmp_path):
    missing = smlocal("logs", "no-such-job", data_dir=instance["data_dir"])
    assert missing.returncode == 1
    said = " ".join(missing.stderr.split())
    assert "no training, processing or transform job named no-such-job" in said
    assert f"data dir {instance['data_dir']}" in said
    assert "transform" in smlocal("logs", "--help", data_dir=instance["data_dir"]).stdout
    status = smlocal("status", data_dir=instance["data_dir"])
    assert str(instance["data_dir"]) in status.stdout.replace("\n", "")
    nowhere = tmp_path / "nowhere"
    for command in ("logs", "status"):
        stopped = smlocal(command, *(["some-job"] if command == "logs" else []), data_dir=nowhere)
        assert stopped.returncode == 1 and f"data dir {nowhere}" in " ".join((stopped.stdout + stopped.stderr).split())
    down = smlocal("down", data_dir=nowhere)
    assert f"not running (data dir {nowhere})" in " ".join(down.stdout.split())


def test_up_again_is_idempotent(instance):
    again = smlocal("up", "--detach", "--port", str(instance["port"]), "--s3-port", str(instance["s3_port"]),
                    data_dir=instance["data_dir"])
    assert again.returncode == 0 and "already running" in again.stdout


def test_env_points_every_client_at_the_instance(instance):
    env = smlocal("env", data_dir=instance["data_dir"])
    assert env.returncode == 0, env.stderr
    values = exported(env.stdout)
    assert values["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{instance['port']}"
    assert values["AWS_ENDPOINT_URL_S3"] == f"http://127.0.0.1:{instance['port']}"  # S3 through the gateway
    assert values["AWS_DEFAULT_REGION"] == "us-east-1"
    assert set(values) >= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "SAGEMAKER_USER_CONFIG_OVERRIDE"}
    config = Path(values["SAGEMAKER_USER_CONFIG_OVERRIDE"]).read_text()
    assert "DefaultS3Bucket: sagemaker-us-east-1-123456789012" in config and "TelemetryOptOut: true" in config


def test_aws_cli_answers(instance):
    exports = exported(smlocal("env", data_dir=instance["data_dir"]).stdout)
    listed = subprocess.run(["aws", "sagemaker", "list-training-jobs"], capture_output=True, text=True,
                            env=client_env(exports), timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {"TrainingJobSummaries": []}
    missing = subprocess.run(["aws", "sagemaker", "describe-training-job", "--training-job-name", "nope"],
                             capture_output=True, text=True, env=client_env(exports), timeout=60)
    assert missing.returncode in (254, 255)  # AWS CLI v2 and v1 exit codes for a service error
    assert "An error occurred (ValidationException) when calling the DescribeTrainingJob operation: " \
           "Requested resource not found." in missing.stderr


def test_sdk_default_bucket_exists_in_the_embedded_s3(instance):
    exports = exported(smlocal("env", data_dir=instance["data_dir"]).stdout)
    script = "import sagemaker; print(sagemaker.Session().default_bucket())"
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=client_env(exports), timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "sagemaker-us-east-1-123456789012"
    s3 = boto3.client("s3", endpoint_url=exports["AWS_ENDPOINT_URL_S3"], region_name="us-east-1",
                      aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"])
    assert "sagemaker-us-east-1-123456789012" in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_sdk_code_without_a_role_gets_the_role_from_the_defaults_file(instance):
    """`get_execution_role()` asks STS at AWS's own URL (no variable redirects it), so what works
    locally is a role ARN string or no role at all: the defaults file `up` writes names one."""
    exports = exported(smlocal("env", data_dir=instance["data_dir"]).stdout)
    script = "\n".join([
        "from sagemaker.estimator import Estimator",
        "from sagemaker.sklearn.processing import SKLearnProcessor",
        "from sagemaker.model import Model",
        "e = Estimator(image_uri='img:1', instance_type='ml.m5.large', instance_count=1)",
        "p = SKLearnProcessor(framework_version='1.2-1', instance_type='ml.m5.large', instance_count=1)",
        "m = Model(image_uri='img:1')",
        "print(e.role, p.role, m.role)",
    ])
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=client_env(exports), timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[-3:] == ["arn:aws:iam::123456789012:role/SageMakerRole"] * 3


def test_s3_credentials_are_enforced(instance):
    exports = exported(smlocal("env", data_dir=instance["data_dir"]).stdout)
    s3 = boto3.client("s3", endpoint_url=exports["AWS_ENDPOINT_URL_S3"], region_name="us-east-1",
                      aws_access_key_id=exports["AWS_ACCESS_KEY_ID"], aws_secret_access_key="wrong")
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.list_buckets()
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_s3_through_the_gateway_url_alone(instance):
    """A client that only sets AWS_ENDPOINT_URL reaches S3 through the gateway (signatures intact)."""
    exports = exported(smlocal("env", data_dir=instance["data_dir"]).stdout)
    s3 = boto3.client("s3", endpoint_url=exports["AWS_ENDPOINT_URL"], region_name="us-east-1",
                      aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"])
    payload = os.urandom(9 * 1024 * 1024)  # > 8 MiB: multipart upload and ranged reads
    s3.upload_fileobj(__import__("io").BytesIO(payload), "sagemaker-us-east-1-123456789012", "proxy/big.bin")
    body = s3.get_object(Bucket="sagemaker-us-east-1-123456789012", Key="proxy/big.bin")["Body"].read()
    assert body == payload


def test_status_shows_a_healthy_instance(instance):
    status = smlocal("status", data_dir=instance["data_dir"])
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"127.0.0.1:{instance['port']}" in status.stdout and status.stdout.count("ok") >= 2


def test_console_prints_its_url_and_the_instance_serves_it(instance):
    shown = smlocal("console", "--no-open", data_dir=instance["data_dir"])
    assert shown.returncode == 0, shown.stderr
    url = shown.stdout.strip()
    assert url == f"http://127.0.0.1:{instance['port']}/_smlocal/"
    with urllib.request.urlopen(url, timeout=10) as response:
        page = response.read().decode()
    assert response.status == 200 and "<h1>Overview</h1>" in page
    credentials = json.loads((instance["data_dir"] / "credentials.json").read_text())
    assert credentials["secret_key"] not in page and credentials["access_key"] not in page
    stopped = smlocal("console", "--no-open", data_dir=instance["data_dir"] / "nowhere")
    assert stopped.returncode == 1 and "not running" in stopped.stderr


def test_a_taken_port_is_named(instance, tmp_path):
    clash = smlocal("up", "--port", str(instance["port"]), "--s3-port", str(free_port()), data_dir=tmp_path)
    assert clash.returncode == 1
    assert f"port {instance['port']} on 127.0.0.1 is already in use" in clash.stderr.replace("\n", " ")
    clash = smlocal("up", "--port", str(free_port()), "--s3-port", str(instance["s3_port"]), data_dir=tmp_path)
    assert clash.returncode == 1 and f"port {instance['s3_port']}" in clash.stderr


def test_a_killed_gateway_restarts_with_everything_kept(instance):
    data_dir = instance["data_dir"]
    exports = exported(smlocal("env", data_dir=data_dir).stdout)
    sm = boto3.client("sagemaker", endpoint_url=exports["AWS_ENDPOINT_URL"], region_name="us-east-1",
                      aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"])
    sm.create_model(ModelName="survivor", PrimaryContainer={"Image": "img:1"})
    s3 = boto3.client("s3", endpoint_url=exports["AWS_ENDPOINT_URL_S3"], region_name="us-east-1",
                      aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"])
    s3.put_object(Bucket="sagemaker-us-east-1-123456789012", Key="kept.txt", Body=b"kept")
    runtime = json.loads((data_dir / "runtime.json").read_text())
    os.kill(runtime["pid"], signal.SIGKILL)  # no clean shutdown at all
    deadline = time.monotonic() + 10
    while pid_alive(runtime["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    up = smlocal("up", "--detach", "--port", str(instance["port"]), "--s3-port", str(instance["s3_port"]),
                 data_dir=data_dir)
    assert up.returncode == 0, up.stdout + up.stderr
    assert sm.describe_model(ModelName="survivor")["ModelName"] == "survivor"
    assert s3.get_object(Bucket="sagemaker-us-east-1-123456789012", Key="kept.txt")["Body"].read() == b"kept"
    assert not pid_alive(runtime["s3_pid"]) or runtime["s3_pid"] == json.loads(
        (data_dir / "runtime.json").read_text())["s3_pid"]


def test_down_stops_everything(tmp_path):
    port, s3_port = free_port(), free_port()
    assert smlocal("up", "--detach", "--port", str(port), "--s3-port", str(s3_port), data_dir=tmp_path).returncode == 0
    runtime = json.loads((tmp_path / "runtime.json").read_text())
    down = smlocal("down", data_dir=tmp_path)
    assert down.returncode == 0 and f"smlocal stopped (data dir {tmp_path})" in " ".join(down.stdout.split())
    assert not pid_alive(runtime["pid"]) and not pid_alive(runtime["s3_pid"])
    assert not (tmp_path / "runtime.json").exists()
    assert smlocal("status", data_dir=tmp_path).returncode == 1
    assert smlocal("env", data_dir=tmp_path).returncode == 1
    assert "not running" in smlocal("down", data_dir=tmp_path).stdout


def test_scripts_example_says_what_to_start_when_nothing_runs(tmp_path):
    """The README's first run, `./scripts/example timeseries`, in a shell not pointed anywhere and with no
    instance in the data directory: it names the data directory and the command that starts one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMLOCAL_"))}
    run = subprocess.run([str(ROOT / "scripts" / "example"), "timeseries"], capture_output=True, text=True,
                         timeout=300, env={**env, "SMLOCAL_DATA_DIR": str(tmp_path), "SMLOCAL_VENV": sys.prefix})
    assert run.returncode == 1, run.stdout + run.stderr
    said = " ".join(run.stderr.split())
    assert f"smlocal is not running (data dir {tmp_path})" in said and "smlocal up --detach" in said
    usage = subprocess.run([str(ROOT / "scripts" / "example")], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "images text timeseries" in usage.stderr
