"""What a serving container reads from its environment (docs/container-contract.md 4.3)."""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass

MODEL_DIR = "/opt/ml/model"


def _int(env, name: str, default: int) -> int:
    value = (env.get(name) or "").strip()
    try:
        return int(value) if value else default
    except ValueError:
        raise SystemExit(f"{name}={value!r} is not an integer") from None


@dataclass(frozen=True)
class ServingEnv:
    serving_module: str
    program: str | None
    submit_directory: str | None
    port: int
    workers: int
    timeout: int
    default_accept: str | None
    model_dir: str
    batch: bool
    max_payload_mb: int | None
    multi_model: bool

    @property
    def module_name(self) -> str | None:
        """``inference.py`` -> ``inference`` (as the toolkits derive it)."""
        if not self.program:
            return None
        return self.program[:-3] if self.program.endswith(".py") else self.program

    @classmethod
    def read(cls, env=None) -> ServingEnv:
        env = os.environ if env is None else env
        max_payload = (env.get("SAGEMAKER_MAX_PAYLOAD_IN_MB") or "").strip()
        return cls(
            serving_module=(env.get("SAGEMAKER_SERVING_MODULE") or "").strip(),
            program=(env.get("SAGEMAKER_PROGRAM") or "").strip() or None,
            submit_directory=(env.get("SAGEMAKER_SUBMIT_DIRECTORY") or "").strip() or None,
            port=_int(env, "SAGEMAKER_BIND_TO_PORT", 8080),
            workers=max(1, _int(env, "SAGEMAKER_MODEL_SERVER_WORKERS", multiprocessing.cpu_count())),
            timeout=max(1, _int(env, "SAGEMAKER_MODEL_SERVER_TIMEOUT", 60)),
            default_accept=(env.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or "").strip() or None,
            model_dir=env.get("SM_MODEL_DIR") or MODEL_DIR,
            batch=bool(env.get("SAGEMAKER_BATCH")),
            max_payload_mb=int(max_payload) if max_payload.isdigit() else None,
            multi_model=(env.get("SAGEMAKER_MULTI_MODEL") or "").lower() == "true",
        )
