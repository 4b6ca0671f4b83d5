"""Runs one transform job: start the model's container on each instance (``serve``, SAGEMAKER_BATCH),
wait for ``/ping``, ask ``/execution-parameters``, then transform every input object on the instance
it was given (objects spread over instances by key) and write ``<relative key>.out`` files.

Statuses as DescribeTransformJob reports them: InProgress -> Completed | Failed, or Stopping ->
Stopped. The first object that fails ends the job Failed with a FailureReason naming the object and
the container's answer. Progress goes to ``/aws/sagemaker/TransformJobs`` in each instance's
``<job>/<host>-<epoch>/data-log`` stream, next to the container's own output, as on SageMaker.
After a restart the job reattaches to its containers and transforms its objects again (outputs
are only written for whole objects, so this is safe).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from emulator.domain.lifecycle import TRANSFORM, JobStatus
from emulator.domain.models import model_containers
from emulator.domain.transform import CSV_TYPE, base_type
from emulator.domain.transform_filters import DataProcessing
from emulator.infra import model_data
from emulator.infra.platform import platform as infra_platform
from emulator.infra.serving import container_address, ping
from emulator.infra.staging import S3Object, StagingError, human_size, list_objects, shard
from emulator.infra.uploads import upload_files
from emulator.infra.upstream import UpstreamError, UpstreamPool
from emulator.jobs import transform_contract as contract
from emulator.jobs.container_job import ContainerJob, JobFailure, JobServices, Outcome, Stopped
from emulator.jobs.scheduler import JobControl
from emulator.jobs.transform_data import Invoker, ObjectFailure, ObjectStats, ObjectTransform, Target
from emulator.s3.client import split_uri

log = logging.getLogger(__name__)
LOG_GROUP = "/aws/sagemaker/TransformJobs"
STARTUP_TIMEOUT = 240
READ_CHUNK = 1024 * 1024
PROGRESS_SECONDS = 5.0


class TransformRun(ContainerJob):
    lifecycle = TRANSFORM
    log_group = LOG_GROUP
    work_dir = "transform"
    image_role = "inference"
    stop_grace_limit = 5.0          # model servers keep nothing to save: as endpoint containers

    def __init__(self, services: JobServices, name: str, control: JobControl) -> None:
        super().__init__(services, name, control)
        self.model_dir = self.workspace / "model"
        self.outputs = self.workspace / "outputs"

    def instance_count(self) -> int:
        return contract.instance_count(self.job)

    def instance_type(self) -> str:
        return contract.instance_type(self.job)

    def labels(self, host: str | None = None) -> dict[str, str]:
        return contract.labels(self.name, host)

    def own_network(self) -> str:
        return contract.network_name(self.name)

    # --- start ---------------------------------------------------------------------------------------
    def prepare(self) -> None:
        container = model_containers(contract.model(self.job))[0]
        self.find_image(container["Image"])
        try:
            model_data.stage(self.s3(), container, self.model_dir, self.services.settings.archive_limits)
        except StagingError as exc:
            raise JobFailure(f"ClientError: {exc}") from None
        if self.stop_requested:
            raise Stopped
        settings = self.services.settings
        platform, limits = infra_platform(settings), self.limits()
        specs = {host: contract.container_spec(self.job, host, self.image, self.model_dir, platform, limits,
                                               settings.docker_network) for host in self.hosts}
        self.update(lambda r: r.update(TransformStartTime=time.time()))
        self.launch(specs, isolated=contract.isolated(self.job))

    # --- the data path (instead of waiting for exits: serving containers never exit) ----------------
    def wait(self) -> Outcome:
        self.outputs.mkdir(parents=True, exist_ok=True)
        return asyncio.run(self._transform())

    async def _transform(self) -> Outcome:
        pool = UpstreamPool()
        work = asyncio.ensure_future(self._all_instances(pool))
        try:
            while not work.done():
                await asyncio.wait({work}, timeout=0.25)
                if not work.done() and await asyncio.to_thread(self._stop_seen):
                    work.cancel()
                    return Outcome("stopped")
            work.result()
            return Outcome("completed")
        finally:
            if not work.done():
                work.cancel()
            pool.close()

    def _stop_seen(self) -> bool:
        return self.control.stop.is_set() or self.refresh()[self.status_field] == JobStatus.STOPPING

    async def _all_instances(self, pool: UpstreamPool) -> None:
        targets = await asyncio.to_thread(self._healthy_targets)
        source = self.job["TransformInput"]["DataSource"]["S3DataSource"]
        try:
            objects = await asyncio.to_thread(list_objects, self.s3(), source["S3DataType"], source["S3Uri"])
        except StagingError as exc:
            raise JobFailure(f"ClientError: {exc}") from None
        parameters = await asyncio.gather(*(self._execution_parameters(pool, t) for t in targets.values()))
        settings = contract.settings(self.job, parameters[0])
        for host in self.hosts:
            self.data_log(host, f"MaxConcurrentTransforms={settings.concurrency}, "
                                f"MaxPayloadInMB={settings.payload_mb}, "
                                f"BatchStrategy={contract.STRATEGY_ENV[settings.strategy]}")
        runs = [self._instance(pool, host, targets[host], settings,
                               shard(objects, index, len(self.hosts), "ShardedByS3Key"))
                for index, host in enumerate(self.hosts)]
        tasks = [asyncio.ensure_future(run) for run in runs]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    def _healthy_targets(self) -> dict[str, Target]:
        targets: dict[str, Target] = {}
        started = time.monotonic()
        isolated = self.network() if contract.isolated(self.job) else None
        while len(targets) < len(self.hosts):
            for host in self.hosts:
                if host in targets:
                    continue
                address = container_address(self.services.docker, self.containers[host],
                                            self.services.settings.docker_network, isolated)
                if ping(*address):
                    targets[host] = Target(*address)
                    continue
                state = self.services.docker.state(self.containers[host])
                if state is None or state.exit_code is not None:
                    code = state.exit_code if state else "unknown"
                    raise JobFailure(f"ClientError: the model container on {host} exited with code {code} before "
                                     f"passing the ping health check. Last log lines:\n{self.log_tail(host)}")
                if time.monotonic() - started > STARTUP_TIMEOUT:
                    raise JobFailure(f"ClientError: the model container on {host} did not pass the ping health "
                                     f"check within {STARTUP_TIMEOUT} seconds. Last log lines:\n{self.log_tail(host)}")
            if self._stop_seen():
                raise Stopped
            if len(targets) < len(self.hosts):
                time.sleep(0.2)
        return targets

    async def _execution_parameters(self, pool: UpstreamPool, target: Target) -> dict[str, Any] | None:
        try:
            response = await pool.request(target.host, target.port, "GET", "/execution-parameters", [], b"", 10.0)
        except (UpstreamError, OSError, asyncio.TimeoutError):
            return None
        if response.status != 200:
            return None
        try:
            found = json.loads(response.body)
        except ValueError:
            return None
        return found if isinstance(found, dict) else None

    async def _instance(self, pool: UpstreamPool, host: str, target: Target, settings: contract.Settings,
                        objects: list[S3Object]) -> None:
        transform_input, output = self.job["TransformInput"], self.job["TransformOutput"]
        csv_format = base_type(transform_input.get("ContentType")) == CSV_TYPE
        transform = ObjectTransform(Invoker(pool, target, settings), settings, transform_input["SplitType"],
                                    transform_input["CompressionType"], output["AssembleWith"],
                                    DataProcessing.from_job(self.job, csv_format))
        uploads: list[asyncio.Task] = []      # an object's upload overlaps the next object's transform
        try:
            for index, obj in enumerate(objects):
                out_path = self.outputs / f"{host}-{index}.out"
                started = time.monotonic()
                last = [started]

                def progress(stats: ObjectStats, obj: S3Object = obj, last: list[float] = last) -> None:
                    now = time.monotonic()
                    if now - last[0] >= PROGRESS_SECONDS:
                        last[0] = now
                        self.data_log(host, f"{obj.uri}: {stats.records} records transformed so far")

                try:
                    stats = await transform.run(self._chunks(obj), out_path, progress)
                except ObjectFailure as exc:
                    self.data_log(host, f"{obj.uri}: {exc}")
                    prefix = "ClientError" if exc.client_error else "AlgorithmError"
                    raise JobFailure(f"{prefix}: {obj.uri}: {exc}") from None
                uploads.append(asyncio.ensure_future(self._upload(host, obj, out_path, stats, started)))
            await asyncio.gather(*uploads)
        finally:
            for upload in uploads:
                upload.cancel()

    async def _upload(self, host: str, obj: S3Object, out_path: Path, stats: ObjectStats, started: float) -> None:
        bucket, key = self.output_key(obj)
        await asyncio.to_thread(upload_files, self.s3(), bucket, [(key, out_path)])
        out_path.unlink(missing_ok=True)
        self.data_log(host, f"{obj.uri}: {stats.records} records in {stats.requests} requests -> "
                            f"s3://{bucket}/{key} ({human_size(stats.bytes_out)}, {time.monotonic() - started:.1f} s)")

    def _chunks(self, obj: S3Object) -> Iterator[bytes]:
        """The object's bytes, read from S3 a chunk at a time (runs in worker threads)."""
        response = None
        try:
            try:
                response = self.s3().raw.get_object(obj.bucket, obj.key)
                while data := response.read(READ_CHUNK):
                    yield data
            except ObjectFailure:
                raise
            except Exception as exc:  # noqa: BLE001 - S3/network failures become the object's reason
                raise ObjectFailure(f"cannot read the object: {type(exc).__name__}: {exc}") from None
        finally:
            if response is not None:
                response.close()
                response.release_conn()

    def output_key(self, obj: S3Object) -> tuple[str, str]:
        bucket, prefix = split_uri(self.job["TransformOutput"]["S3OutputPath"])
        prefix = prefix.strip("/")
        return bucket, (f"{prefix}/" if prefix else "") + obj.relative_path + ".out"

    def data_log(self, host: str, message: str) -> None:
        started = self.job.get("_smlocal", {}).get("started", time.time())
        stream = f"{self.name}/{host}-{int(started)}/data-log"
        self.services.logs.append(self.log_group, stream, [(int(time.time() * 1000), f"[sagemaker logs]: {message}")])

    # --- endings -------------------------------------------------------------------------------------
    def conclude(self, outcome: Outcome) -> None:
        kind = outcome.kind
        if kind == "stopped":
            self.mark_stopping()
        self.stop_containers()
        self.join_logs(30)
        self.finish(JobStatus.STOPPED if kind == "stopped" else JobStatus.COMPLETED)


def run_transform_job(services: JobServices, name: str, control: JobControl, reattach: bool = False) -> None:
    TransformRun(services, name, control).run(reattach)

