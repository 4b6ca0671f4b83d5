"""The script-mode flow AWS's toolkits share (docs/container-contract.md 2.1, 2.5): fetch the user's
code into /opt/ml/code, install it or its requirements, export the SM_* variables and run the entry
point."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from smlocal_toolkit import code, environment, process
from smlocal_toolkit.errors import ClientError

log = logging.getLogger("smlocal_toolkit")


def code_dir() -> str:
    return os.path.join(environment.base_dir(), "code")


def add_to_pythonpath(path: str) -> None:
    current = [p for p in os.environ.get("PYTHONPATH", "").split(":") if p]
    if path not in current:
        os.environ["PYTHONPATH"] = ":".join([path, *current])


def install_package(path: str) -> None:
    """``pip install .`` for a source_dir with setup.py (build isolation off: no package index here)."""
    cmd = [sys.executable, "-m", "pip", "install", "--no-build-isolation", "."]
    if (Path(path) / "requirements.txt").is_file():
        cmd += ["-r", "requirements.txt"]
    print(f"Installing module with the following command:\n{' '.join(cmd)}", flush=True)
    proc = subprocess.run(cmd, cwd=path, capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    if proc.returncode:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise ClientError(f"InstallModuleError:\nExitCode {proc.returncode}\nErrorMessage \"{tail}\"\n"
                          f"Command \"{' '.join(cmd)}\"")


def install(name: str, path: str) -> None:
    """Put the code on PYTHONPATH, then install it (package) or its requirements.txt."""
    add_to_pythonpath(path)
    if path not in sys.path:
        sys.path.insert(0, path)
    if process.entry_point_type(path, name) == process.PACKAGE:
        install_package(path)
    else:
        code.install_requirements(path)


def run(uri: str, user_entry_point: str | None, args: list[str], env_vars: dict[str, str] | None = None,
        capture_error: bool = False, legacy: bool = False, module: bool = False) -> int:
    """Fetch ``uri`` into the code dir, install, export ``env_vars`` and run ``user_entry_point`` with ``args``.
    ``module`` runs it as ``python -m <module>`` (how the legacy toolkit runs XGBoost scripts)."""
    if not user_entry_point:
        raise ClientError("No entry point: set the sagemaker_program hyperparameter (the SDK's entry_point) "
                          "or the SAGEMAKER_PROGRAM environment variable.")
    target = code_dir()
    code.prepare_code(uri if uri != target else None, target)
    if not (Path(target) / user_entry_point).exists() and not module:
        raise ClientError(f"The entry point {user_entry_point} is not in {target} (source_dir has: "
                          f"{', '.join(sorted(p.name for p in Path(target).iterdir())) or 'nothing'}).")
    install(user_entry_point, target)
    environment.write_env_vars(env_vars or {})
    if module:
        name = user_entry_point[:-3] if user_entry_point.endswith(".py") else user_entry_point
        cmd = [sys.executable, "-m", name, *args]
    else:
        cmd = process.command(target, user_entry_point, args)
    print(f"Invoking script with the following command:\n\n{' '.join(cmd)}\n", flush=True)
    return process.run(cmd, cwd=target, env=os.environ.copy(), capture_error=capture_error, legacy=legacy)


def run_single_process(training_environment, framework: str, launchers: tuple[str, ...],
                       capture_error: bool = True) -> None:
    """A framework image's script mode with one process per instance: distribution settings that need a
    launcher smlocal's images lack fail with a clear reason, then the user's entry point runs."""
    params = training_environment.additional_framework_parameters
    for flag in launchers:
        if params.get(flag):
            raise ClientError(f"{flag}: smlocal runs {framework} scripts as one process per instance and has no "
                              "distributed launcher; remove the estimator's distribution setting.")
    log.info("Invoking user training script.")
    run(uri=training_environment.module_dir, user_entry_point=training_environment.user_entry_point,
        args=training_environment.to_cmd_args(), env_vars=training_environment.to_env_vars(),
        capture_error=capture_error)
