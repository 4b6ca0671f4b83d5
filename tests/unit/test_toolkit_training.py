"""The training toolkit on the host (no Docker): hyperparameter decoding, CLI arguments, the SM_* variables
computed from /opt/ml config files, the entry point command, and `train`'s success / failure files."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "containers" / "toolkit" / "src"))

from smlocal_toolkit import environment, mapping, process, training
from smlocal_toolkit.errors import ExecuteUserScriptError

# docs/container-contract.md 2.4: every SM_* variable AWS's toolkit exports (plus SM_CHANNEL_<NAME>, SM_HP_<NAME>).
DOCUMENTED = {
    "SM_MODEL_DIR", "SM_INPUT_DIR", "SM_INPUT_CONFIG_DIR", "SM_OUTPUT_DIR", "SM_OUTPUT_DATA_DIR",
    "SM_OUTPUT_INTERMEDIATE_DIR", "SM_CHANNELS", "SM_HPS", "SM_USER_ARGS", "SM_USER_ENTRY_POINT", "SM_MODULE_NAME",
    "SM_MODULE_DIR", "SM_FRAMEWORK_MODULE", "SM_FRAMEWORK_PARAMS", "SM_HOSTS", "SM_CURRENT_HOST",
    "SM_NETWORK_INTERFACE_NAME", "SM_CURRENT_INSTANCE_TYPE", "SM_CURRENT_INSTANCE_GROUP",
    "SM_CURRENT_INSTANCE_GROUP_HOSTS", "SM_INSTANCE_GROUPS", "SM_INSTANCE_GROUPS_DICT",
    "SM_DISTRIBUTION_INSTANCE_GROUPS", "SM_IS_HETERO", "SM_NUM_CPUS", "SM_NUM_GPUS", "SM_NUM_NEURONS", "SM_LOG_LEVEL",
    "SM_RESOURCE_CONFIG", "SM_INPUT_DATA_CONFIG", "SM_TRAINING_ENV",
}
TRAINING_ENV_KEYS = {
    "additional_framework_parameters", "channel_input_dirs", "current_host", "current_instance_group",
    "current_instance_group_hosts", "current_instance_type", "distribution_hosts", "distribution_instance_groups",
    "framework_module", "hosts", "hyperparameters", "input_config_dir", "input_data_config", "input_dir",
    "instance_groups", "instance_groups_dict", "is_hetero", "is_master", "is_modelparallel_enabled",
    "is_smddpmprun_installed", "is_smddprun_installed", "job_name", "log_level", "master_hostname", "model_dir",
    "module_dir", "module_name", "network_interface_name", "num_cpus", "num_gpus", "num_neurons", "output_data_dir",
    "output_dir", "output_intermediate_dir", "resource_config", "topology", "user_entry_point",
}
RESOURCE = {"current_host": "algo-2", "current_instance_type": "ml.m5.xlarge",
            "current_group_name": "homogeneousCluster", "hosts": ["algo-1", "algo-2"], "network_interface_name": "eth0",
            "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": "ml.m5.xlarge",
                                 "hosts": ["algo-2", "algo-1"]}]}
DATA = {"train": {"ContentType": "text/csv", "TrainingInputMode": "File", "S3DistributionType": "FullyReplicated",
                  "RecordWrapperType": "None"},
        "eval": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}}
HYPERPARAMETERS = {"epochs": "10", "learning-rate": "0.01", "optimizer": "\"adam\"", "name": "plain", "use-bn": "true",
                   "layers": "{\"b\": 2, \"a\": 1}", "sagemaker_program": "\"train.py\"",
                   "sagemaker_submit_directory": "\"s3://bkt/job/source/sourcedir.tar.gz\"",
                   "sagemaker_container_log_level": "10", "sagemaker_job_name": "\"job-7\"",
                   "sagemaker_region": "\"eu-west-1\"", "sagemaker_mpi_enabled": "false"}


@pytest.fixture
def restore_environ():
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def opt_ml(tmp_path, monkeypatch, restore_environ):
    """A fake /opt/ml with the three config files; SAGEMAKER_BASE_DIR points the toolkit at it."""
    config = tmp_path / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(HYPERPARAMETERS))
    (config / "resourceconfig.json").write_text(json.dumps(RESOURCE))
    (config / "inputdataconfig.json").write_text(json.dumps(DATA))
    (tmp_path / "code").mkdir()
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))
    monkeypatch.setenv("TRAINING_JOB_NAME", "job-7")
    monkeypatch.setenv("SAGEMAKER_TRAINING_MODULE", "sagemaker_sklearn_container.training:main")
    return tmp_path


def test_values_decode_as_json_or_stay_strings():
    raw = {"a": "10", "b": "0.5", "c": "\"quoted\"", "d": "abc", "e": "true", "f": "{\"k\": [1, 2]}", "g": "null"}
    assert mapping.decode_hyperparameters(raw) == {"a": 10, "b": 0.5, "c": "quoted", "d": "abc", "e": True,
                                                   "f": {"k": [1, 2]}, "g": None}


def test_reserved_and_sagemaker_prefixed_keys_are_split_off():
    reserved, user = mapping.split_hyperparameters({"sagemaker_program": "t.py", "sagemaker_mpi_enabled": True,
                                                    "_tuning_objective_metric": "m", "lr": 1, "epochs": 2})
    assert user == {"lr": 1, "epochs": 2}
    assert set(reserved) == {"sagemaker_program", "sagemaker_mpi_enabled", "_tuning_objective_metric"}


def test_cli_arguments_are_sorted_and_rendered_like_the_aws_toolkit():
    args = mapping.to_cmd_args({"zeta": 1, "b": True, "alpha": False, "dict": {"y": 2, "x": "s"}, "none": None,
                                "name": "text", "rate": 0.5})
    assert args == ["--alpha", "False", "-b", "True", "--dict", "x=s,y=2", "--name", "text", "--none", "",
                    "--rate", "0.5", "--zeta", "1"]


def test_every_documented_variable_is_set_from_the_config_files(opt_ml):
    env = environment.Environment()
    variables = env.to_env_vars()
    extra = {"SM_CHANNEL_TRAIN", "SM_CHANNEL_EVAL", "SM_HP_EPOCHS", "SM_HP_LEARNING-RATE", "SM_HP_OPTIMIZER",
             "SM_HP_NAME", "SM_HP_USE-BN", "SM_HP_LAYERS"}
    assert set(variables) == DOCUMENTED | extra
    root = str(opt_ml)
    expected = {
        "SM_MODEL_DIR": f"{root}/model", "SM_INPUT_DIR": f"{root}/input", "SM_INPUT_CONFIG_DIR": f"{root}/input/config",
        "SM_OUTPUT_DIR": f"{root}/output", "SM_OUTPUT_DATA_DIR": f"{root}/output/data",
        "SM_OUTPUT_INTERMEDIATE_DIR": f"{root}/output/intermediate", "SM_CHANNELS": '["eval","train"]',
        "SM_CHANNEL_TRAIN": f"{root}/input/data/train", "SM_CHANNEL_EVAL": f"{root}/input/data/eval",
        "SM_HPS": '{"epochs":10,"layers":{"a":1,"b":2},"learning-rate":0.01,"name":"plain","optimizer":"adam",'
                  '"use-bn":true}',
        "SM_HP_EPOCHS": "10", "SM_HP_LEARNING-RATE": "0.01", "SM_HP_OPTIMIZER": "adam", "SM_HP_NAME": "plain",
        "SM_HP_USE-BN": "true", "SM_HP_LAYERS": '{"a":1,"b":2}',
        "SM_USER_ARGS": '["--epochs","10","--layers","a=1,b=2","--learning-rate","0.01","--name","plain",'
                        '"--optimizer","adam","--use-bn","True"]',
        "SM_USER_ENTRY_POINT": "train.py", "SM_MODULE_NAME": "train",
        "SM_MODULE_DIR": "s3://bkt/job/source/sourcedir.tar.gz",
        "SM_FRAMEWORK_MODULE": "sagemaker_sklearn_container.training:main",
        "SM_FRAMEWORK_PARAMS": '{"sagemaker_mpi_enabled":false}', "SM_HOSTS": '["algo-1","algo-2"]',
        "SM_CURRENT_HOST": "algo-2", "SM_NETWORK_INTERFACE_NAME": "eth0", "SM_CURRENT_INSTANCE_TYPE": "ml.m5.xlarge",
        "SM_CURRENT_INSTANCE_GROUP": "homogeneousCluster", "SM_CURRENT_INSTANCE_GROUP_HOSTS": '["algo-2","algo-1"]',
        "SM_INSTANCE_GROUPS": '["homogeneousCluster"]', "SM_DISTRIBUTION_INSTANCE_GROUPS": "[]",
        "SM_IS_HETERO": "false", "SM_NUM_CPUS": str(os.cpu_count()), "SM_NUM_GPUS": "0", "SM_NUM_NEURONS": "0",
        "SM_LOG_LEVEL": "10", "SM_RESOURCE_CONFIG": json.dumps(RESOURCE, sort_keys=True, separators=(",", ":")),
        "SM_INPUT_DATA_CONFIG": json.dumps(DATA, sort_keys=True, separators=(",", ":")),
    }
    assert {k: variables[k] for k in expected} == expected
    assert json.loads(variables["SM_INSTANCE_GROUPS_DICT"]) == {"homogeneousCluster": RESOURCE["instance_groups"][0]}
    training_env = json.loads(variables["SM_TRAINING_ENV"])
    assert set(training_env) == TRAINING_ENV_KEYS
    assert training_env["job_name"] == "job-7" and training_env["is_master"] is False
    assert training_env["master_hostname"] == "algo-1" and training_env["hyperparameters"]["epochs"] == 10
    assert training_env["additional_framework_parameters"] == {"sagemaker_mpi_enabled": False}
    # Building the environment exports what the AWS toolkit exports for the process.
    assert (os.environ["CURRENT_HOST"], os.environ["SAGEMAKER_JOB_NAME"], os.environ["SAGEMAKER_REGION"]) == \
        ("algo-2", "job-7", "eu-west-1")


def test_defaults_without_instance_groups_or_program(opt_ml):
    env = environment.Environment(resource_config={"current_host": "algo-1", "hosts": ["algo-1"]},
                                  input_data_config={}, hyperparameters={"lr": 1})
    variables = env.to_env_vars()
    assert variables["SM_CURRENT_INSTANCE_TYPE"] == "local"
    assert variables["SM_CURRENT_INSTANCE_GROUP"] == "homogeneousCluster"
    assert variables["SM_INSTANCE_GROUPS"] == "[]" and variables["SM_CHANNELS"] == "[]"
    assert variables["SM_USER_ENTRY_POINT"] == "" and variables["SM_MODULE_NAME"] == "None"
    assert variables["SM_MODULE_DIR"] == f"{opt_ml}/code" and variables["SM_LOG_LEVEL"] == "20"
    assert json.loads(variables["SM_TRAINING_ENV"])["is_master"] is True


def test_entry_point_command_depends_on_what_the_code_is(tmp_path):
    assert process.command(tmp_path, "train.py", ["--a", "1"]) == [sys.executable, "train.py", "--a", "1"]
    (tmp_path / "run.sh").write_text("echo hi\n")
    assert process.command(tmp_path, "run.sh", ["--a", "1"]) == ["/bin/sh", "-c", "./run.sh --a 1"]
    assert os.access(tmp_path / "run.sh", os.X_OK)
    (tmp_path / "setup.py").write_text("")
    assert process.command(tmp_path, "train.py", ["-x", "2"]) == [sys.executable, "-m", "train", "-x", "2"]


def test_a_failing_script_raises_with_its_error_lines(tmp_path):
    (tmp_path / "bad.py").write_text("print('working')\nraise ValueError('boom')\n")
    cmd = process.command(tmp_path, "bad.py", ["--k", "v"])
    with pytest.raises(ExecuteUserScriptError) as failure:
        process.run(cmd, cwd=str(tmp_path), capture_error=True)
    assert str(failure.value) == (f'ExecuteUserScriptError:\nExitCode 1\nErrorMessage "raise ValueError(\'boom\')\n'
                                  f' ValueError: boom"\nCommand "{sys.executable} bad.py --k v"')
    with pytest.raises(ExecuteUserScriptError) as uncaptured:
        process.run(cmd, cwd=str(tmp_path))
    assert str(uncaptured.value).startswith('ExecuteUserScriptError:\nExitCode 1\nErrorMessage ""\nCommand')
    with pytest.raises(ExecuteUserScriptError) as legacy:
        process.run(cmd, cwd=str(tmp_path), legacy=True)
    assert str(legacy.value) == f'ExecuteUserScriptError:\nCommand "{sys.executable} bad.py --k v"'


def _write_script(opt_ml: Path, body: str) -> None:
    (opt_ml / "code" / "train.py").write_text(body)
    hps = dict(HYPERPARAMETERS, sagemaker_submit_directory=json.dumps(str(opt_ml / "code")))
    (opt_ml / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hps))


def test_train_runs_the_entry_point_and_writes_success(opt_ml, monkeypatch):
    monkeypatch.delenv("SAGEMAKER_TRAINING_MODULE")
    _write_script(opt_ml, "import os, sys, json\nopen(os.path.join(os.environ['SM_MODEL_DIR'], 'seen.json'), 'w')"
                          ".write(json.dumps([sys.argv[1:], os.getcwd(), os.environ['PYTHONPATH']]))\n")
    (opt_ml / "model").mkdir()
    assert training.main() == 0
    args, cwd, pythonpath = json.loads((opt_ml / "model" / "seen.json").read_text())
    assert args[:4] == ["--epochs", "10", "--layers", "a=1,b=2"] and cwd == str(opt_ml / "code")
    assert pythonpath.split(":")[0] == str(opt_ml / "code")
    assert (opt_ml / "output" / "success").exists() and not (opt_ml / "output" / "failure").exists()


def test_train_reports_a_script_failure_and_keeps_the_scripts_own_failure_file(opt_ml, monkeypatch):
    monkeypatch.delenv("SAGEMAKER_TRAINING_MODULE")
    _write_script(opt_ml, "raise SystemExit(3)\n")
    assert training.main() == 1
    assert (opt_ml / "output" / "failure").read_text().startswith("ExecuteUserScriptError:\nExitCode 3\n")
    _write_script(opt_ml, "import os\nopen(os.environ['SM_OUTPUT_DIR'] + '/failure', 'w').write('my reason')\n"
                          "raise SystemExit(1)\n")
    (opt_ml / "output" / "failure").unlink()
    assert training.main() == 1
    assert (opt_ml / "output" / "failure").read_text() == "my reason"


def test_a_broken_framework_module_is_a_framework_error(opt_ml, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_TRAINING_MODULE", "no_such_framework_module:main")
    assert training.main() == 1
    text = (opt_ml / "output" / "failure").read_text()
    assert text.startswith("Framework Error: \nTraceback (most recent call last):")
    assert text.endswith("No module named 'no_such_framework_module'")


def test_the_error_text_comes_from_stderr_only(tmp_path):
    (tmp_path / "noisy.py").write_text(
        "import sys\nsys.stderr.write('RuntimeError: first\\n'); sys.stderr.flush()\n"
        "print('stdout RuntimeError noise', flush=True)\nsys.stderr.write('second line\\n')\nsys.exit(3)\n")
    with pytest.raises(ExecuteUserScriptError) as failure:
        process.run(process.command(tmp_path, "noisy.py", []), cwd=str(tmp_path), capture_error=True)
    assert 'ErrorMessage "RuntimeError: first\n second line"' in str(failure.value)
