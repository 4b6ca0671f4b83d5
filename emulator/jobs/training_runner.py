"""Runs one training job: stage data, start one container per host, follow logs and metrics,
enforce Stop and MaxRuntime, upload artifacts, and record every step as SageMaker reports it.
The container plumbing shared with processing jobs is in ``emulator.jobs.container_job``."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulator import images
from emulator.domain import training_status
from emulator.domain.lifecycle import TRAINING, JobStatus
from emulator.infra.container_files import Refused, Under, read_regular, walk
from emulator.infra.platform import platform as infra_platform
from emulator.infra.staging import download_prefix, list_objects, shard
from emulator.infra.uploads import upload_tarball, upload_tree
from emulator.jobs import training_contract as contract
from emulator.jobs.container_job import ContainerJob, JobFailure, JobServices, Outcome, Stopped
from emulator.jobs.metrics import MetricExtractor
from emulator.jobs.scheduler import JobControl

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
FAILURE_READ_BYTES = 4096         # 1,024 characters of UTF-8 at most
__all__ = ["JobFailure", "JobServices", "TrainingRun", "run_training_job"]


class TrainingRun(ContainerJob):
    lifecycle = TRAINING
    log_group = LOG_GROUP
    work_dir = "training"
    image_role = "training"

    def __init__(self, services: JobServices, name: str, control: JobControl) -> None:
        super().__init__(services, name, control)
        self.layouts = {h: contract.HostLayout(self.workspace / h) for h in self.hosts}
        self.extractor = MetricExtractor(self.job["AlgorithmSpecification"].get("MetricDefinitions", []))

    def instance_count(self) -> int:
        return self.job["ResourceConfig"].get("InstanceCount", 1)

    def instance_type(self) -> str:
        return self.job["ResourceConfig"].get("InstanceType", "")

    def labels(self, host: str | None = None) -> dict[str, str]:
        return contract.labels(self.name, host)

    def own_network(self) -> str:
        return contract.network_name(self.name)

    # --- record updates ------------------------------------------------------------------------------
    def transition(self, secondary: str, message: str | None = None, **fields: Any) -> None:
        def change(record: dict[str, Any]) -> None:
            stopping = record["TrainingJobStatus"] == JobStatus.STOPPING
            if stopping and secondary not in ("Stopping", "Uploading"):
                return  # a Stop arrived meanwhile: its transitions win
            training_status.transition(record, secondary, time.time(), message)
            record.update(fields)
        self.update(change)

    # --- start ---------------------------------------------------------------------------------------
    def prepare(self) -> None:
        self.transition("Starting", training_status.MESSAGES["Preparing"])
        self.find_image(self.job["AlgorithmSpecification"]["TrainingImage"])
        self.transition("Downloading", TrainingStartTime=time.time())
        channels = self.stage_inputs()
        self.refuse_unsupported_sdk_driver(channels)
        self.stage_checkpoints()
        for host, layout in self.layouts.items():
            for file_name, text in contract.config_files(self.job, host).items():
                (layout.config / file_name).write_text(text)
        if self.stop_requested:
            raise Stopped
        self.start_containers(channels)

    def stage_inputs(self) -> dict[str, dict[str, tuple[Path, bool]]]:
        """Download every channel; returns host -> channel -> (dir, read-only)."""
        per_host: dict[str, dict[str, tuple[Path, bool]]] = {h: {} for h in self.hosts}
        for layout in self.layouts.values():
            layout.create()
        plans = []
        for channel in self.job.get("InputDataConfig", []):
            source = channel["DataSource"]["S3DataSource"]
            objects = list_objects(self.s3(), source["S3DataType"], source["S3Uri"])
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
        self.fetch(plans, lambda message: self.transition("Downloading", message))
        return per_host

    def refuse_unsupported_sdk_driver(self, channels: dict[str, dict[str, tuple[Path, bool]]]) -> None:
        """SDK 3's ModelTrainer ships its drivers in the ``sm_drivers`` channel. Its MPI driver needs
        mpirun, sshd and paramiko, which smlocal's framework images do not have: say so at once instead
        of failing inside the container with ModuleNotFoundError (Torchrun and plain scripts run)."""
        if self.image not in {image.tag for image in images.CATALOG.values()}:
            return  # a bring-your-own image may well carry MPI
        drivers = next(iter(channels.values()), {}).get(contract.SDK_DRIVERS_CHANNEL)
        if drivers is not None and contract.uses_mpi_driver(drivers[0]):
            raise JobFailure(contract.MPI_REFUSAL.format(image=self.image))

    def stage_checkpoints(self) -> None:
        checkpoint = contract.checkpoint_config(self.job)
        if checkpoint:
            for layout in self.layouts.values():
                download_prefix(self.s3(), checkpoint["S3Uri"], layout.checkpoints)

    def start_containers(self, channels: dict[str, dict[str, tuple[Path, bool]]]) -> None:
        settings = self.services.settings
        platform = infra_platform(settings)
        limits = self.limits()
        self.transition("Training")
        specs = {host: contract.container_spec(self.job, host, self.image, self.layouts[host], channels[host],
                                               platform, limits, settings.docker_network) for host in self.hosts}
        isolated = bool(self.job.get("EnableNetworkIsolation"))
        self.launch(specs, isolated=isolated, sealed=isolated)

    def line_callback(self) -> Callable[[int, str], None] | None:
        if not self.extractor:
            return None
        arn = self.job["TrainingJobArn"]

        def on_line(timestamp: int, line: str) -> None:
            points = self.extractor.scan(line)
            if points:
                self.services.metrics.add(arn, [(name, timestamp, value) for name, value in points])
        return on_line

    # --- endings -------------------------------------------------------------------------------------
    def conclude(self, outcome: Outcome) -> None:
        kind, host, code = outcome
        if kind == "stopped":
            self.mark_stopping()
        if kind != "completed":
            self.stop_containers()
        self.join_logs(30)
        self.update(lambda r: r.update(FinalMetricDataList=self.services.metrics.final(r["TrainingJobArn"])))
        if kind == "failed":
            raise JobFailure(self.failure_reason(host, code))
        self.transition("Uploading")
        self.upload_outputs()
        if kind == "completed":
            self.finish(JobStatus.COMPLETED)
        else:
            self.finish(JobStatus.STOPPED, secondary="MaxRuntimeExceeded" if kind == "max-runtime" else None)

    def failure_reason(self, host: str, code: int) -> str:
        wrote = "wrote no /opt/ml/output/failure"
        try:   # never through a link: the container could point it at any host file
            data = read_regular(Under(self.layouts[host].output, "failure"), FAILURE_READ_BYTES)
        except Refused:
            data, wrote = None, "its /opt/ml/output/failure is not a regular file (smlocal does not follow links)"
        except OSError:
            data = None
        text = data.decode("utf-8", errors="replace")[:1024] if data else ""
        if text.strip():
            return f"AlgorithmError: {text}"
        oom = self.out_of_memory(host)
        if oom:
            return oom
        return f"AlgorithmError: {host} exited with code {code} and {wrote}. " \
               f"Last log lines:\n{self.log_tail(host)}"

    def upload_outputs(self) -> None:
        output = self.job["OutputDataConfig"]["S3OutputPath"].rstrip("/") + f"/{self.name}/output"
        s3 = self.s3()
        upload_tarball(s3, [self.layouts[h].model for h in self.hosts], f"{output}/model.tar.gz")
        data_dirs = [Under(self.layouts[h].output, "data") for h in self.hosts]
        if any(next(walk(d), None) is not None for d in data_dirs):
            upload_tarball(s3, data_dirs, f"{output}/output.tar.gz")
        checkpoint = contract.checkpoint_config(self.job)
        if checkpoint:
            for host in self.hosts:
                upload_tree(s3, self.layouts[host].checkpoints, checkpoint["S3Uri"])
        self.update(lambda r: r.update(ModelArtifacts={"S3ModelArtifacts": f"{output}/model.tar.gz"}))


def run_training_job(services: JobServices, name: str, control: JobControl, reattach: bool = False) -> None:
    TrainingRun(services, name, control).run(reattach)
