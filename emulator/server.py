"""The composition root: settings -> state -> domain providers -> services -> FastAPI app."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from emulator import __version__
from emulator.api.app import create_app
from emulator.api.auth import Authenticator
from emulator.api.dispatch import Service
from emulator.api.fastpath import InvocationFastPath
from emulator.api.gateway import Gateway
from emulator.api.guard import RequestGuard
from emulator.api.invoke_proxy import InvocationProxy
from emulator.api.jsonpath import JsonTargetPath
from emulator.api.s3proxy import S3Proxy
from emulator.cloudwatch.service import CloudWatchOps
from emulator.config import Settings, served_names
from emulator.console.app import console_for
from emulator.domain.records import Context
from emulator.hosting.endpoint_runtime import HostingRuntime
from emulator.hosting.fleet import HostingServices
from emulator.identity.service import IdentityOps
from emulator.infra import s3_objects
from emulator.infra.containers import ContainerRuntime
from emulator.infra.docker_engine import DockerEngine
from emulator.jobs.container_job import JobServices
from emulator.jobs.job_runtime import JobRuntime
from emulator.logs.service import LogsOps
from emulator.s3.client import S3Client
from emulator.sagemaker import records_api
from emulator.sagemaker.endpoint_configs import EndpointConfigOps
from emulator.sagemaker.endpoints import EndpointOps
from emulator.sagemaker.invocations import InvocationOps
from emulator.sagemaker.model_packages import ModelPackageOps
from emulator.sagemaker.models import ModelOps
from emulator.sagemaker.pipelines import PipelineDescribeHold, PipelineOps
from emulator.sagemaker.processing import ProcessingOps
from emulator.sagemaker.sdk_wait import FirstDescribeWait
from emulator.sagemaker.search import SearchOps
from emulator.sagemaker.tags import TagOps
from emulator.sagemaker.training import TrainingOps
from emulator.sagemaker.transform import TransformOps
from emulator.sagemaker.tuning import TuningOps
from emulator.state.db import Database
from emulator.state.logs import LogStore
from emulator.state.metrics import MetricStore
from emulator.state.resources import ResourceStore

log = logging.getLogger(__name__)


@dataclass
class Emulator:
    """Everything one running emulator holds."""

    settings: Settings
    db: Database
    ctx: Context
    logs: LogStore
    services: dict[str, Service]
    jobs: JobRuntime
    hosting: HostingRuntime

    def start(self) -> None:
        """Background work: recover the jobs a previous run left InProgress and the endpoints it served."""
        self.jobs.recover()
        self.hosting.recover()

    def close(self) -> None:
        self.jobs.shutdown()
        self.hosting.shutdown()
        self.db.close()


def private_directory(path: Path) -> None:
    """The data directory holds every record, log, artifact and key: the owner's alone (0700)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        log.info("making %s private to its owner (mode 0700)", path)
        os.chmod(path, 0o700)


def build(settings: Settings, containers: ContainerRuntime | None = None) -> Emulator:
    """Everything wired together. ``containers``: the container runtime (Docker unless a test passes
    its in-memory fake)."""
    private_directory(settings.data_dir)
    db = Database(settings.db_path)
    ctx = Context(settings=settings, store=ResourceStore(db))
    log_store = LogStore(db)
    identity = IdentityOps(settings)
    runtime = containers if containers is not None else DockerEngine()
    s3 = S3Client(settings.s3, settings.region) if settings.s3 else None
    metrics = MetricStore(db)
    hosting = HostingRuntime(ctx, HostingServices(settings, runtime, log_store, s3))
    jobs = JobRuntime(JobServices(ctx, log_store, metrics, runtime, s3, deployer=hosting))
    hold = FirstDescribeWait(settings.sdk_describe_wait)
    job_families = tuple(kind.family for kind in jobs.kinds.values())
    services = {
        "sagemaker": Service.build("sagemaker", [
            records_api.operations(ctx, hold, held=job_families),
            TagOps(ctx).operations(), ModelOps(ctx).operations(), EndpointConfigOps(ctx).operations(),
            EndpointOps(ctx, hosting).operations(), TrainingOps(ctx, jobs).operations(),
            ProcessingOps(ctx, jobs).operations(), TransformOps(ctx, jobs).operations(),
            TuningOps(ctx, jobs).operations(),
            PipelineOps(ctx, jobs, s3_objects.reader(s3),
                        PipelineDescribeHold(settings.sdk_describe_wait)).operations(),
            ModelPackageOps(ctx).operations(),
            SearchOps(ctx).operations()]),
        "sagemaker-runtime": Service.build("sagemaker-runtime", [InvocationOps(ctx, hosting).operations()],
                                           validation_code="ValidationError"),
        "logs": Service.build("logs", [LogsOps(settings, log_store).operations()],
                              validation_code="InvalidParameterException"),
        "cloudwatch": Service.build("cloudwatch", [CloudWatchOps(settings, metrics).operations()],
                                    validation_code="InvalidParameterValue"),
        "sts": Service.build("sts", [identity.sts_operations()], validation_code="ValidationError"),
        "iam": Service.build("iam", [identity.iam_operations()], validation_code="ValidationError"),
    }
    return Emulator(settings, db, ctx, log_store, services, jobs, hosting)


def create(settings: Settings, containers: ContainerRuntime | None = None) -> tuple[Any, Emulator]:
    """The ASGI application (FastAPI behind the invocation and JSON-protocol fast paths) and the emulator it
    serves."""
    emulator = build(settings, containers)

    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "region": settings.region,
                "account": settings.account_id,
                "s3": settings.s3.endpoint if settings.s3 else None}

    async def startup() -> None:
        emulator.start()

    async def shutdown() -> None:
        emulator.close()

    s3 = settings.s3
    gateway = Gateway(emulator.services, settings.max_body_bytes,
                      S3Proxy(s3.endpoint, s3.access_key, s3.secret_key) if s3 else None,
                      auth=Authenticator(settings.api_credentials) if settings.auth else None)
    if not settings.auth:
        log.warning("SMLOCAL_AUTH=off: requests are not authenticated; anything that reaches %s may call "
                    "every API (docs/security.md)", settings.gateway_url)
    console, _ = console_for(emulator)
    app: FastAPI = create_app(gateway, health, shutdown, on_startup=startup, console=console)
    guarded = RequestGuard(InvocationFastPath(JsonTargetPath(app, gateway), gateway),
                           served_names(settings, settings.extra_hosts), settings.cors_origins,
                           settings.max_s3_body_bytes)
    if settings.invoke_proxy:
        guarded.raw_invocations = InvocationProxy(gateway, guarded.names)
    return guarded, emulator
