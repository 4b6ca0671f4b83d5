"""Runs one training job: stage data, start one container per host, follow logs and metrics,
enforce Stop and MaxRuntime, upload artifacts, and record every step as SageMaker reports it."""

from __future__ import annotations

import collections
import logging
import queue
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator import images, instances
from emulator.config import Settings
from emulator.docker_engine import DockerEngine, DockerError
from emulator.jobs import training_contract as contract
from emulator.jobs import training_status as status
from emulator.jobs.log_pump import LogPump
from emulator.jobs.metrics import MetricExtractor, MetricStore
from emulator.jobs.scheduler import JobControl
from emulator.jobs.staging import StagingError, download, download_prefix, human_size, list_objects, shard
from emulator.jobs.uploads import upload_tarball, upload_tree
from emulator.logs.store import LogStore
from emulator.s3.client import S3Client, S3Error
from emulator.sagemaker.families import TRAINING_JOB
from emulator.sagemaker.records import Context, Records

log = logging.getLogger(__name__)
LOG_GROUP = "/aws/sagemaker/TrainingJobs"


class JobFailure(Exception):
    """Ends a job as Failed with this FailureReason (already prefixed: ClientError:, AlgorithmError:)."""


@dataclass
class JobServices:
    """Everything a job runner needs: durable state, Docker and S3 (injected, so tests can swap)."""

    ctx: Context
    logs: LogStore
    metrics: MetricStore
    docker: DockerEngine
    s3: S3Client | None

    @property
    def settings(self) -> Settings:
        return self.ctx.settings


class TrainingRun:
    def __init__(self, services: JobServices, name: str, control: JobControl) -> None:
        self.services, self.name, self.control = services, name, control
        self.records = Records(services.ctx, TRAINING_JOB)
        self.job = self.records.get(name)
        self.hosts = contract.host_names(self.job["ResourceConfig"].get("InstanceCount", 1))
        self.workspace = services.settings.data_dir / "jobs" / "training" / name.lower()
        self.layouts = {h: contract.HostLayout(self.workspace / h) for h in self.hosts}
        self.extractor = MetricExtractor(self.job["AlgorithmSpecification"].get("MetricDefinitions", []))
        self.containers: dict[str, str] = {}
        self.pumps: dict[str, LogPump] = {}
        self.image = self.job.get("_smlocal", {}).get("image", "")

    # --- record updates ------------------------------------------------------------------------------
    def update(self, change) -> dict[str, Any]:
        self.job = self.records.update(self.name, change)
        return self.job

    def transition(self, secondary: str, message: str | None = None, **fields: Any) -> None:
        def change(record: dict[str, Any]) -> None:
            stopping = record["TrainingJobStatus"] == status.STOPPING
            if stopping and secondary not in ("Stopping", "Uploading"):
                return  # a Stop arrived meanwhile: its transitions win
            status.transition(record, secondary, time.time(), message)
            record.update(fields)
        self.update(change)

    def refresh(self) -> dict[str, Any]:
        self.job = self.records.get(self.name)
        return self.job

    def remember(self, **fields: Any) -> None:
        """Private bookkeeping (image, containers, streams) kept in the record for restart recovery."""
        self.update(lambda record: record.setdefault("_smlocal", {}).update(fields))

    @property
    def stop_requested(self) -> bool:
        return self.control.stop.is_set() or self.job["TrainingJobStatus"] == status.STOPPING

    # --- the whole run -------------------------------------------------------------------------------
    def run(self, reattach: bool = False) -> None:
        if self.job["TrainingJobStatus"] not in status.ACTIVE:
            return
        try:
            if self.stop_requested and not reattach:
                self.finish(status.STOPPED, "Stopped")
                return
            if not reattach:
                self.prepare()
            else:
                self.reattach()
            outcome = self.wait()
            self.conclude(outcome)
        except _Stopped:
            self.finish(status.STOPPED, "Stopped")
        except JobFailure as failure:
            self.fail(str(failure))
        except (StagingError, S3Error, DockerError) as exc:
            self.fail(f"ClientError: {exc}")
        except Exception as exc:  # noqa: BLE001 - a bug must still end the job, not leave it InProgress
            log.exception("training job %s failed inside smlocal", self.name)
            self.fail(f"InternalServerError: smlocal failed while running the job ({type(exc).__name__}: {exc}); "
                      "see the smlocal log.")
        finally:
            self.cleanup()

    def prepare(self) -> None:
        self.transition("Starting", status.MESSAGES["Preparing"])
        self.image = self.find_image()
        self.transition("Downloading", TrainingStartTime=time.time())
        channels = self.stage_inputs()
        self.stage_checkpoints()
        for host, layout in self.layouts.items():
            for file_name, text in contract.config_files(self.job, host).items():
                (layout.config / file_name).write_text(text)
        if self.stop_requested:
            raise _Stopped
        self.start_containers(channels)

    def find_image(self) -> str:
        requested = self.job["AlgorithmSpecification"]["TrainingImage"]
        resolution = images.resolve(requested)
        for candidate in resolution.candidates:
            if self.services.docker.image_exists(candidate):
                self.remember(image=candidate, image_note=resolution.note if candidate != requested else "")
                return candidate
        raise JobFailure("ClientError: " + resolution.missing_reason("training"))

    # --- staging -------------------------------------------------------------------------------------
    def _s3(self) -> S3Client:
        if self.services.s3 is None:
            raise JobFailure("ClientError: smlocal runs without an S3 server; start it with `smlocal up`.")
        return self.services.s3

    def stage_inputs(self) -> dict[str, dict[str, tuple[Path, bool]]]:
        """Download every channel; returns host -> channel -> (dir, read-only)."""
        per_host: dict[str, dict[str, tuple[Path, bool]]] = {h: {} for h in self.hosts}
        for layout in self.layouts.values():
            layout.create()
        plans = []
        for channel in self.job.get("InputDataConfig", []):
            source = channel["DataSource"]["S3DataSource"]
            objects = list_objects(self._s3(), source["S3DataType"], source["S3Uri"])
            distribution = source.get("S3DataDistributionType", "FullyReplicated")
            read_only = contract.channel_mode(self.job, channel) == "FastFile"
            name = channel["ChannelName"]
            if distribution == "ShardedByS3Key" and len(self.hosts) > 1:
                for index, host in enumerate(self.hosts):
                    target = self.workspace / "channels" / name / host
                    plans.append((shard(objects, index, len(self.hosts), distribution), target))
                    per_host[host][name] = (target, read_only)
            else:
                target = self.workspace / "channels" / name / "all"
                plans.append((objects, target))
                for host in self.hosts:
                    per_host[host][name] = (target, read_only)
        total_bytes = sum(o.size for objects, _ in plans for o in objects)
        total_objects = sum(len(objects) for objects, _ in plans)
        done = {"bytes": 0, "objects": 0}
        last = [0.0]

        def progress(objects_done: int, _objects: int, bytes_done: int, _bytes: int, base=done) -> None:
            if self.control.stop.is_set():
                raise _Stopped  # staging threads finish their current object and give up
            now = time.monotonic()
            if now - last[0] < 0.5 and bytes_done < _bytes:
                return
            last[0] = now
            self.transition("Downloading", f"Downloading input data: {human_size(base['bytes'] + bytes_done)} of "
                                           f"{human_size(total_bytes)} ({base['objects'] + objects_done} of "
                                           f"{total_objects} objects)")

        for objects, target in plans:
            target.mkdir(parents=True, exist_ok=True)
            stats = download(self._s3(), objects, target, progress)
            done["bytes"] += stats.bytes
            done["objects"] += stats.objects
        if total_objects:
            self.transition("Downloading", f"Downloaded input data: {human_size(total_bytes)} in {total_objects} "
                                           "objects")
        return per_host

    def stage_checkpoints(self) -> None:
        checkpoint = contract.checkpoint_config(self.job)
        if checkpoint:
            for layout in self.layouts.values():
                download_prefix(self._s3(), checkpoint["S3Uri"], layout.checkpoints)

    # --- containers ----------------------------------------------------------------------------------
    def start_containers(self, channels: dict[str, dict[str, tuple[Path, bool]]]) -> None:
        settings = self.services.settings
        s3 = settings.s3
        platform = contract.PlatformEnv(settings.region, s3.for_containers if s3 else "",
                                        s3.access_key if s3 else "", s3.secret_key if s3 else "")
        limits = instances.container_limits(self.job["ResourceConfig"].get("InstanceType", ""))
        for stale in self.services.docker.find(contract.labels(self.name)):  # from a run cut short
            self.services.docker.remove(stale.id)
        network = contract.network_name(self.name)
        self.services.docker.create_network(network, contract.labels(self.name),
                                            internal=bool(self.job.get("EnableNetworkIsolation")))
        started = time.time()
        streams = {h: f"{self.name}/{h}-{int(started)}" for h in self.hosts}
        self.transition("Training")
        specs = {host: contract.container_spec(self.job, host, self.image, self.layouts[host], channels[host],
                                               platform, limits, settings.docker_network) for host in self.hosts}
        for host, spec in specs.items():  # every host exists before any starts, as on SageMaker
            self.containers[host] = self.services.docker.create(spec)
        self.remember(containers=dict(self.containers), streams=streams, started=started)
        note = self.job.get("_smlocal", {}).get("image_note")
        for host in self.hosts if note else ():  # e.g. the nearest local framework version was used
            self.services.logs.append(LOG_GROUP, streams[host], [(int(started * 1000), note)])
        with ThreadPoolExecutor(len(self.hosts)) as pool:  # start together; a failure re-raises here
            list(pool.map(lambda h: self.services.docker.start_created(self.containers[h], specs[h]), self.hosts))
        for host in self.hosts:
            self.follow(host, streams[host])

    def follow(self, host: str, stream: str, since_ms: int | None = None,
               seen: collections.Counter | None = None) -> None:
        arn = self.job["TrainingJobArn"]

        def on_line(timestamp: int, line: str) -> None:
            points = self.extractor.scan(line)
            if points:
                self.services.metrics.add(arn, [(name, timestamp, value) for name, value in points])

        self.pumps[host] = LogPump(self.services.docker, self.containers[host], self.services.logs, LOG_GROUP,
                                   stream, on_line if self.extractor else None, since_ms, seen).start()

    def reattach(self) -> None:
        private = self.job.get("_smlocal", {})
        found = {c.labels.get("org.smlocal.host"): c for c in
                 self.services.docker.find(contract.labels(self.name))}
        if not private.get("containers") or any(h not in found for h in self.hosts):
            raise JobFailure(
                f"InternalServerError: smlocal stopped while the job was {self.job.get('SecondaryStatus')} and "
                "its containers are gone, so it cannot continue; create the job again under a new name.")
        self.containers = {h: found[h].id for h in self.hosts}
        for host in self.hosts:
            stream = private["streams"][host]
            last = self.services.logs.last_event(LOG_GROUP, stream)
            since, seen = (last[0], collections.Counter(last[1])) if last else (None, None)
            self.follow(host, stream, since, seen)

    def wait(self) -> tuple[str, str | None, int | None]:
        """Until every host exits, one fails, a Stop arrives or MaxRuntime passes.
        Returns (outcome, host, exit code): outcome in completed, failed, stopped, max-runtime."""
        exits: queue.Queue[tuple[str, int]] = queue.Queue()
        for host, container in self.containers.items():
            threading.Thread(target=self._wait_one, args=(host, container, exits), daemon=True).start()
        started = self.job.get("_smlocal", {}).get("started", time.time())
        limit = self.job.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", 86400)
        remaining = set(self.containers)
        while remaining:
            try:
                host, code = exits.get(timeout=0.25)
            except queue.Empty:
                if self.control.stop.is_set() or self.refresh()["TrainingJobStatus"] == status.STOPPING:
                    return "stopped", None, None
                if time.time() - started > limit:
                    return "max-runtime", None, None
                continue
            remaining.discard(host)
            if code != 0:
                return "failed", host, code
        return "completed", None, None

    def _wait_one(self, host: str, container: str, exits: queue.Queue) -> None:
        while True:
            try:
                exits.put((host, self.services.docker.wait(container, timeout=3600)))
                return
            except TimeoutError:
                continue
            except DockerError:
                exits.put((host, -1))
                return

    def stop_containers(self) -> None:
        grace = self.services.settings.stop_grace_seconds
        threads = [threading.Thread(target=self.services.docker.stop, args=(c, grace), daemon=True)
                   for c in self.containers.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # --- endings -------------------------------------------------------------------------------------
    def conclude(self, outcome: tuple[str, str | None, int | None]) -> None:
        kind, host, code = outcome
        if kind == "stopped":
            self.transition("Stopping")
        if kind != "completed":
            self.stop_containers()
        for pump in self.pumps.values():
            pump.join(30)
        self.update(lambda r: r.update(FinalMetricDataList=self.services.metrics.final(r["TrainingJobArn"])))
        if kind == "failed":
            raise JobFailure(self.failure_reason(host, code))
        self.transition("Uploading")
        self.upload_outputs()
        if kind == "completed":
            self.finish(status.COMPLETED, "Completed")
        else:
            self.finish(status.STOPPED, "MaxRuntimeExceeded" if kind == "max-runtime" else "Stopped")

    def failure_reason(self, host: str, code: int) -> str:
        failure_file = self.layouts[host].output / "failure"
        try:
            text = failure_file.read_text(errors="replace")[:1024] if failure_file.is_file() else ""
        except OSError:
            text = ""
        if text.strip():
            return f"AlgorithmError: {text}"
        state = self.services.docker.state(self.containers[host])
        if state is not None and state.oom_killed:
            memory = instances.shape(self.job["ResourceConfig"].get("InstanceType", ""))
            size = f" ({memory.memory_gib:g} GiB on {self.job['ResourceConfig']['InstanceType']})" if memory else ""
            return (f"OutOfMemoryError: {host} ran out of memory{size} and was killed. Use an instance type "
                    "with more memory, or set SMLOCAL_INSTANCE_LIMITS=off.")
        tail = "\n".join(self.pumps[host].tail if host in self.pumps else [])[-700:]
        return f"AlgorithmError: {host} exited with code {code} and wrote no /opt/ml/output/failure. " \
               f"Last log lines:\n{tail}"

    def upload_outputs(self) -> None:
        output = self.job["OutputDataConfig"]["S3OutputPath"].rstrip("/") + f"/{self.name}/output"
        s3 = self._s3()
        upload_tarball(s3, [self.layouts[h].model for h in self.hosts], f"{output}/model.tar.gz")
        data_dirs = [self.layouts[h].output / "data" for h in self.hosts]
        if any(d.is_dir() and any(d.iterdir()) for d in data_dirs):
            upload_tarball(s3, data_dirs, f"{output}/output.tar.gz")
        checkpoint = contract.checkpoint_config(self.job)
        if checkpoint:
            for host in self.hosts:
                upload_tree(s3, self.layouts[host].checkpoints, checkpoint["S3Uri"])
        self.update(lambda r: r.update(ModelArtifacts={"S3ModelArtifacts": f"{output}/model.tar.gz"}))

    def finish(self, final: str, secondary: str, failure: str | None = None) -> None:
        self.update(lambda r: status.finish(r, final, secondary, time.time(), failure))

    def fail(self, reason: str) -> None:
        if self.containers:
            self.stop_containers()
        for pump in self.pumps.values():
            pump.join(10)
        log.info("training job %s failed: %s", self.name, reason)
        self.finish(status.FAILED, "Failed", reason)

    def cleanup(self) -> None:
        """Remove the job's containers, network and work directory (artifacts are in S3 by now)."""
        docker = self.services.docker
        try:
            for container in self.containers.values():
                docker.remove(container)
            if self.image:  # Docker answered for this job, so it may hold a network and root-owned files
                docker.remove_network(contract.network_name(self.name))
                docker.remove_tree(self.workspace, self.image)
                return
        except DockerError as exc:
            log.warning("cleanup of training job %s incomplete: %s", self.name, exc)
        shutil.rmtree(self.workspace, ignore_errors=True)


class _Stopped(Exception):
    pass


def run_training_job(services: JobServices, name: str, control: JobControl, reattach: bool = False) -> None:
    TrainingRun(services, name, control).run(reattach)
