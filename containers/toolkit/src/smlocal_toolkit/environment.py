"""The training environment as AWS's training toolkit presents it (docs/container-contract.md
2.1-2.4): /opt/ml's three config files, hyperparameters decoded and split, and the SM_* variables a
user script sees.

``SAGEMAKER_BASE_DIR`` moves /opt/ml elsewhere (the AWS toolkit honours it too); tests use it."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import subprocess
from collections.abc import Mapping
from typing import Any

from smlocal_toolkit import mapping

log = logging.getLogger("smlocal_toolkit")


def base_dir() -> str:
    return os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")


def _read_json(path: str) -> dict[str, Any]:
    with open(path) as handle:
        return json.load(handle)


def read_hyperparameters(root: str | None = None) -> dict[str, Any]:
    path = os.path.join(root or base_dir(), "input", "config", "hyperparameters.json")
    return mapping.decode_hyperparameters(_read_json(path)) if os.path.exists(path) else {}


def read_resource_config(root: str | None = None) -> dict[str, Any]:
    path = os.path.join(root or base_dir(), "input", "config", "resourceconfig.json")
    if not os.path.exists(path):  # SageMaker always writes it; a bare `docker run` may not
        return {"current_host": "algo-1", "hosts": ["algo-1"]}
    return _read_json(path)


def read_input_data_config(root: str | None = None) -> dict[str, Any]:
    path = os.path.join(root or base_dir(), "input", "config", "inputdataconfig.json")
    return _read_json(path) if os.path.exists(path) else {}


def channel_path(channel: str, root: str | None = None) -> str:
    return os.path.join(root or base_dir(), "input", "data", channel)


def num_gpus() -> int:
    """GPUs nvidia-smi lists (smlocal containers get none, so 0)."""
    try:
        out = subprocess.check_output(["nvidia-smi", "--list-gpus"], stderr=subprocess.DEVNULL).decode()
    except (OSError, subprocess.CalledProcessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def num_neurons() -> int:
    """Neuron cores neuron-ls reports (0 without the Neuron SDK)."""
    try:
        out = subprocess.check_output(["neuron-ls", "-j"], stderr=subprocess.DEVNULL).decode()
        return sum(item.get("nc_count", 0) for item in json.loads(out))
    except (OSError, ValueError, subprocess.CalledProcessError):
        return 0


def num_cpus() -> int:
    return multiprocessing.cpu_count()


class Environment(Mapping):
    """Read-only snapshot of the training environment; a Mapping of its properties (SM_TRAINING_ENV).

    Like the AWS toolkit, building it exports CURRENT_HOST, SAGEMAKER_JOB_NAME and SAGEMAKER_REGION."""

    def __init__(self, resource_config: dict | None = None, input_data_config: dict | None = None,
                 hyperparameters: dict | None = None, root: str | None = None) -> None:
        root = root or base_dir()
        self._root = root
        resource_config = resource_config or read_resource_config(root)
        input_data_config = input_data_config if input_data_config is not None else read_input_data_config(root)
        all_hps = hyperparameters if hyperparameters is not None else read_hyperparameters(root)
        reserved, user = mapping.split_hyperparameters(all_hps)
        self._resource_config, self._input_data_config = resource_config, input_data_config
        self._hyperparameters = user
        self._framework_params = {k: v for k, v in reserved.items() if k not in mapping.SAGEMAKER_HYPERPARAMETERS}
        self._current_host = resource_config["current_host"]
        self._hosts = resource_config["hosts"]
        self._instance_type = resource_config.get("current_instance_type", "local")
        self._instance_group = resource_config.get("current_group_name", "homogeneousCluster")
        program = os.environ.get("SAGEMAKER_PROGRAM") or reserved.get("sagemaker_program")
        self._user_entry_point = str(program) if program is not None else None
        self._module_dir = str(reserved.get("sagemaker_submit_directory",
                                            os.environ.get("SAGEMAKER_SUBMIT_DIRECTORY", os.path.join(root, "code"))))
        level = reserved.get("sagemaker_container_log_level", os.environ.get("SAGEMAKER_CONTAINER_LOG_LEVEL"))
        self._log_level = int(level) if level not in (None, "") else logging.INFO
        self._s3_output = reserved.get("sagemaker_s3_output")
        self._num_gpus, self._num_cpus, self._num_neurons = num_gpus(), num_cpus(), num_neurons()
        region = reserved.get("sagemaker_region") or os.environ.get("AWS_DEFAULT_REGION") or \
            os.environ.get("AWS_REGION") or ""
        os.environ["SAGEMAKER_JOB_NAME"] = str(reserved.get("sagemaker_job_name", ""))
        os.environ["CURRENT_HOST"] = self._current_host
        os.environ["SAGEMAKER_REGION"] = str(region)

    # --- Mapping over the public properties (what SM_TRAINING_ENV holds) ------------------------------
    @classmethod
    def properties(cls) -> list[str]:
        return [name for name in dir(cls) if isinstance(getattr(cls, name), property)]

    def __getitem__(self, key: str) -> Any:
        if key not in self.properties():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(self.properties())

    def __len__(self) -> int:
        return len(self.properties())

    # --- paths -----------------------------------------------------------------------------------------
    model_dir = property(lambda self: os.path.join(self._root, "model"))
    input_dir = property(lambda self: os.path.join(self._root, "input"))
    input_config_dir = property(lambda self: os.path.join(self._root, "input", "config"))
    output_dir = property(lambda self: os.path.join(self._root, "output"))
    output_data_dir = property(lambda self: os.path.join(self._root, "output", "data"))
    output_intermediate_dir = property(lambda self: os.path.join(self._root, "output", "intermediate"))

    @property
    def channel_input_dirs(self) -> dict[str, str]:
        return {name: channel_path(name, self._root) for name in self._input_data_config}

    # --- configuration ---------------------------------------------------------------------------------
    hyperparameters = property(lambda self: self._hyperparameters)
    additional_framework_parameters = property(lambda self: self._framework_params)
    resource_config = property(lambda self: self._resource_config)
    input_data_config = property(lambda self: self._input_data_config)
    current_host = property(lambda self: self._current_host)
    hosts = property(lambda self: self._hosts)
    current_instance_type = property(lambda self: self._instance_type)
    current_instance_group = property(lambda self: self._instance_group)
    network_interface_name = property(lambda self: self._resource_config.get("network_interface_name", "eth0"))
    topology = property(lambda self: self._resource_config.get("topology") or [])
    num_gpus = property(lambda self: self._num_gpus)
    num_cpus = property(lambda self: self._num_cpus)
    num_neurons = property(lambda self: self._num_neurons)
    log_level = property(lambda self: self._log_level)
    module_dir = property(lambda self: self._module_dir)
    user_entry_point = property(lambda self: self._user_entry_point)
    framework_module = property(lambda self: os.environ.get("SAGEMAKER_TRAINING_MODULE"))
    job_name = property(lambda self: os.environ.get("TRAINING_JOB_NAME"))
    is_modelparallel_enabled = property(lambda self: os.environ.get("SM_HP_MP_PARAMETERS", "{}") != "{}")
    is_smddprun_installed = property(lambda self: False)
    is_smddpmprun_installed = property(lambda self: False)

    @property
    def module_name(self) -> str:
        name = str(self._user_entry_point)  # "None" without an entry point, as AWS's toolkit says
        return name[:-3] if name.endswith(".py") else name

    @property
    def instance_groups(self) -> list[str]:
        return [group["instance_group_name"] for group in self._resource_config.get("instance_groups", [])]

    @property
    def instance_groups_dict(self) -> dict[str, dict]:
        return {group["instance_group_name"]: group for group in self._resource_config.get("instance_groups", [])}

    @property
    def current_instance_group_hosts(self) -> list[str]:
        group = self.instance_groups_dict.get(self._instance_group)
        return group["hosts"] if group else []

    @property
    def is_hetero(self) -> bool:
        return len(self.instance_groups) > 1

    @property
    def distribution_instance_groups(self) -> list[str]:
        given = self._framework_params.get("sagemaker_distribution_instance_groups")
        if given is not None:
            return given
        flags = ("mpi_enabled", "parameter_server_enabled", "distributed_dataparallel_enabled", "pytorch_ddp_enabled",
                 "pytorch_xla_multi_worker_enabled", "multi_worker_mirrored_strategy_enabled",
                 "torch_distributed_enabled")
        return [self._instance_group] if any(self._framework_params.get(f"sagemaker_{f}") for f in flags) else []

    @property
    def distribution_hosts(self) -> list[str]:
        groups = self._resource_config.get("instance_groups", [])
        if not groups:
            return list(self._hosts)
        wanted = self.distribution_instance_groups
        return [host for group in groups if group["instance_group_name"] in wanted for host in group["hosts"]]

    @property
    def master_hostname(self) -> str:
        return (self.distribution_hosts or self._hosts)[0]

    @property
    def is_master(self) -> bool:
        return self._current_host == self.master_hostname

    def sagemaker_s3_output(self) -> str | None:
        return self._s3_output

    # --- renderings ------------------------------------------------------------------------------------
    def to_cmd_args(self) -> list[str]:
        return mapping.to_cmd_args(self._hyperparameters)

    def to_env_vars(self) -> dict[str, str]:
        names = ("hosts", "network_interface_name", "user_entry_point", "resource_config", "input_data_config",
                 "output_data_dir", "current_host", "current_instance_type", "current_instance_group",
                 "current_instance_group_hosts", "instance_groups", "instance_groups_dict",
                 "distribution_instance_groups", "is_hetero", "module_name", "log_level", "framework_module",
                 "input_dir", "input_config_dir", "output_dir", "num_cpus", "num_gpus", "num_neurons", "model_dir",
                 "module_dir", "output_intermediate_dir")
        env: dict[str, Any] = {name: getattr(self, name) for name in names}
        env.update(hps=self._hyperparameters, framework_params=self._framework_params,
                   channels=sorted(self.channel_input_dirs), training_env=dict(self), user_args=self.to_cmd_args())
        if self.topology:
            env["topology"] = self.topology
        env.update({f"channel_{name}": path for name, path in self.channel_input_dirs.items()})
        env.update({f"hp_{key}": value for key, value in self._hyperparameters.items()})
        return mapping.to_env_vars(env)


def write_env_vars(env_vars: dict[str, str]) -> None:
    """Export ``env_vars`` into this process (children inherit them)."""
    os.environ.update({k: v for k, v in env_vars.items() if k})
