"""The composition root: settings -> state -> domain providers -> services -> FastAPI app."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from emulator import __version__
from emulator.api.app import create_app
from emulator.api.dispatch import Service, inline
from emulator.api.fastpath import InvocationFastPath
from emulator.api.gateway import Gateway
from emulator.api.s3proxy import S3Proxy
from emulator.config import Settings
from emulator.console.app import console_for
from emulator.docker_engine import DockerEngine
from emulator.hosting.fleet import HostingServices
from emulator.hosting.runtime import HostingRuntime
from emulator.identity.service import IdentityOps
from emulator.jobs.container_job import JobServices
from emulator.jobs.metrics import MetricStore
from emulator.jobs.runtime import JobRuntime
from emulator.logs.service import LogsOps
from emulator.logs.store import LogStore
from emulator.s3.client import S3Client
from emulator.sagemaker import families
from emulator.sagemaker.endpoint_configs import EndpointConfigOps
from emulator.sagemaker.endpoints import EndpointOps
from emulator.sagemaker.invocations import InvocationOps
from emulator.sagemaker.models import ModelOps
from emulator.sagemaker.processing import ProcessingOps
from emulator.sagemaker.records import Context, Records
from emulator.sagemaker.sdk_wait import FirstDescribeWait
from emulator.sagemaker.tags import TagOps
from emulator.sagemaker.training import TrainingOps
from emulator.sagemaker.transform import TransformOps
from emulator.state.db import Database
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


def family_defaults(ctx: Context) -> dict[str, Any]:
    """Describe<Noun> and List<Noun>s for every family, from the shared record plumbing."""
    handlers: dict[str, Any] = {}
    for family in families.ALL:
        records = Records(ctx, family)

        def describe(params: dict[str, Any], r: Records = records) -> dict[str, Any]:
            return r.get(params[r.family.name_field])

        def list_(params: dict[str, Any], r: Records = records) -> dict[str, Any]:
            return r.list(params)

        handlers[f"Describe{family.noun}"] = inline(describe)
        handlers[f"List{family.noun}s"] = inline(list_)
    return handlers


def build(settings: Settings) -> Emulator:
    db = Database(settings.db_path)
    ctx = Context(settings=settings, store=ResourceStore(db))
    log_store = LogStore(db)
    identity = IdentityOps(settings)
    docker = DockerEngine()
    s3 = S3Client(settings.s3, settings.region) if settings.s3 else None
    jobs = JobRuntime(JobServices(ctx, log_store, MetricStore(db), docker, s3))
    hosting = HostingRuntime(ctx, HostingServices(settings, docker, log_store, s3))
    training = TrainingOps(ctx, launch=jobs.launch_training, request_stop=jobs.stop_training)
    processing = ProcessingOps(ctx, launch=jobs.launch_processing, request_stop=jobs.stop_processing)
    transform = TransformOps(ctx, launch=jobs.launch_transform, request_stop=jobs.stop_transform)
    services = {
        "sagemaker": Service.from_providers(
            "sagemaker", [TagOps(ctx), ModelOps(ctx), EndpointConfigOps(ctx), EndpointOps(ctx, hosting), training,
                          processing, transform],
            defaults=family_defaults(ctx)),
        "sagemaker-runtime": Service.from_providers("sagemaker-runtime", [InvocationOps(ctx, hosting)],
                                                    validation_code="ValidationError"),
        "logs": Service.from_providers("logs", [LogsOps(settings, log_store)],
                                       validation_code="InvalidParameterException"),
        "sts": Service.from_providers("sts", [identity], validation_code="ValidationError"),
        "iam": Service.from_providers("iam", [identity], validation_code="ValidationError"),
    }
    hold = FirstDescribeWait(settings.sdk_describe_wait)
    sagemaker = services["sagemaker"]
    for family in (families.TRAINING_JOB, families.PROCESSING_JOB, families.TRANSFORM_JOB):
        op = f"Describe{family.noun}"
        if op in sagemaker.handlers:
            sagemaker.handlers[op] = hold.wrap(family, sagemaker.handlers[op])
    return Emulator(settings, db, ctx, log_store, services, jobs, hosting)


def create(settings: Settings) -> tuple[Any, Emulator]:
    """The ASGI application (FastAPI behind the invocation fast path) and the emulator it serves."""
    emulator = build(settings)

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
                      S3Proxy(s3.endpoint, s3.access_key, s3.secret_key) if s3 else None)
    console, _ = console_for(emulator)
    app: FastAPI = create_app(gateway, health, shutdown, on_startup=startup, console=console)
    return InvocationFastPath(app, gateway), emulator
