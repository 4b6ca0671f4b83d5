"""Runs one processing job: download ProcessingInputs to their LocalPaths, start one container per
host, follow logs, enforce Stop and MaxRuntime, upload ProcessingOutputs, and read ExitMessage.

Statuses as DescribeProcessingJob reports them: InProgress -> Completed | Failed, or
Stopping -> Stopped. A container exiting non-zero fails the job with SageMaker's
``AlgorithmError: See job logs for more information``; /opt/ml/output/message of every host
(concatenated, first 1 KB) becomes ExitMessage whatever the outcome.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from emulator.domain.lifecycle import PROCESSING, JobStatus
from emulator.infra.container_files import Under, read_regular
from emulator.infra.continuous_upload import ContinuousUploads
from emulator.infra.platform import platform as infra_platform
from emulator.infra.staging import S3Object, StagingError, list_objects, shard
from emulator.infra.uploads import upload_tree
from emulator.jobs import processing_contract as contract
from emulator.jobs.container_job import ContainerJob, JobFailure, JobServices, Outcome, Stopped
from emulator.jobs.scheduler import JobControl

log = logging.getLogger(__name__)
LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
EXIT_MESSAGE_LIMIT = 1024
ALGORITHM_ERROR = "AlgorithmError: See job logs for more information"


class ProcessingRun(ContainerJob):
    lifecycle = PROCESSING
    log_group = LOG_GROUP
    work_dir = "processing"
    image_role = "processing"
    stop_signal = "SIGINT"          # StopProcessingJob: SIGINT, then SIGKILL after the grace period

    def __init__(self, services: JobServices, name: str, control: JobControl) -> None:
        super().__init__(services, name, control)
        self.layouts = {h: contract.HostLayout(self.workspace / h) for h in self.hosts}
        self.continuous = ContinuousUploads()

    def instance_count(self) -> int:
        return contract.instance_count(self.job)

    def instance_type(self) -> str:
        return contract.instance_type(self.job)

    def labels(self, host: str | None = None) -> dict[str, str]:
        return contract.labels(self.name, host)

    def own_network(self) -> str:
        return contract.network_name(self.name)

    def inputs(self) -> list[dict[str, Any]]:
        return [i for i in self.job.get("ProcessingInputs") or [] if not i.get("AppManaged") and "S3Input" in i]

    def outputs(self) -> list[dict[str, Any]]:
        config = self.job.get("ProcessingOutputConfig") or {}
        return [o for o in config.get("Outputs", []) if not o.get("AppManaged") and "S3Output" in o]

    # --- start ---------------------------------------------------------------------------------------
    def prepare(self) -> None:
        self.find_image(self.job["AppSpecification"]["ImageUri"])
        for layout in self.layouts.values():
            layout.create()
        self.stage_inputs()
        for host, layout in self.layouts.items():
            for output in self.outputs():
                layout.local(output["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
            for file_name, text in contract.config_files(self.job, host).items():
                (layout.config / file_name).write_text(text)
        if self.stop_requested:
            raise Stopped
        settings = self.services.settings
        platform, limits = infra_platform(settings), self.limits()
        specs = {host: contract.container_spec(self.job, host, self.image, self.layouts[host], platform, limits,
                                               settings.docker_network) for host in self.hosts}
        self.update(lambda r: r.update(ProcessingStartTime=time.time()))
        self.launch(specs, isolated=contract.isolated(self.job), sealed=contract.isolated(self.job))
        self.announce_continuous()

    def stage_inputs(self) -> None:
        """Every S3Input into its LocalPath on each host: all objects (FullyReplicated: downloaded once,
        hard-linked for the other hosts) or every N-th by key (ShardedByS3Key)."""
        plans: list[tuple[list[S3Object], Path]] = []
        replicated: list[str] = []
        first = self.hosts[0]
        for item in self.inputs():
            source = item["S3Input"]
            objects = list_objects(self.s3(), source["S3DataType"], source["S3Uri"])
            distribution = source.get("S3DataDistributionType", "FullyReplicated")
            if distribution == "ShardedByS3Key" and len(self.hosts) > 1:
                for index, host in enumerate(self.hosts):
                    plans.append((shard(objects, index, len(self.hosts), distribution),
                                  self.layouts[host].local(source["LocalPath"])))
            else:
                plans.append((objects, self.layouts[first].local(source["LocalPath"])))
                replicated.append(source["LocalPath"])
        self.fetch(plans)
        for local_path in replicated:
            for host in self.hosts[1:]:
                _link_tree(self.layouts[first].local(local_path), self.layouts[host].local(local_path))

    def announce_continuous(self) -> None:
        for output in self.outputs():
            if output["S3Output"].get("S3UploadMode") == "Continuous":
                self.continuous.watch([self.output_dir(h, output) for h in self.hosts], output["S3Output"]["S3Uri"])

    def output_dir(self, host: str, output: dict[str, Any]) -> Under:
        """An output's LocalPath below the host's /opt/ml/processing mount (the container owns what is
        below it: a directory it replaced with a link is not followed)."""
        layout = self.layouts[host]
        return Under(layout.processing,
                     layout.local(output["S3Output"]["LocalPath"]).relative_to(layout.processing).as_posix())

    def while_running(self) -> None:
        if self.continuous.active:
            self.continuous.upload_settled(self.s3())

    # --- endings -------------------------------------------------------------------------------------
    def conclude(self, outcome: Outcome) -> None:
        kind, host, code = outcome
        if kind == "stopped":
            self.mark_stopping()
        if kind != "completed":
            self.stop_containers()
        self.join_logs(30)
        message = self.exit_message()
        if message:
            self.update(lambda r: r.update(ExitMessage=message))
        if kind == "failed":
            raise JobFailure(self.out_of_memory(host) or ALGORITHM_ERROR)
        if kind == "max-runtime":
            limit = self.job["StoppingCondition"]["MaxRuntimeInSeconds"]
            raise JobFailure(f"MaxRuntimeExceeded: the processing job ran longer than "
                             f"StoppingCondition.MaxRuntimeInSeconds ({limit} seconds) and was stopped.")
        if kind == "stopped":
            self.end_stopped()
            return
        self.upload_outputs()
        self.finish(JobStatus.COMPLETED)

    def exit_message(self) -> str:
        """/opt/ml/output/message of every host, concatenated, first 1 KB; non-UTF-8 is a ClientError."""
        parts = []
        for host in self.hosts:
            try:   # never through a link: the container could point it at any host file
                data = read_regular(Under(self.layouts[host].output, "message"), EXIT_MESSAGE_LIMIT * 4)
            except OSError:
                continue
            if data is None:
                continue
            try:
                parts.append(data.decode("utf-8"))
            except UnicodeDecodeError as exc:
                if len(data) == EXIT_MESSAGE_LIMIT * 4 and exc.start >= len(data) - 3:
                    parts.append(data[:exc.start].decode("utf-8"))   # a character cut by the read limit
                else:
                    raise JobFailure(f"ClientError: /opt/ml/output/message on {host} is not UTF-8 text.") from None
        return "".join(parts)[:EXIT_MESSAGE_LIMIT]

    def upload_outputs(self) -> None:
        s3 = self.s3()
        if self.continuous.active:
            self.continuous.upload_settled(s3, final=True)
        for output in self.outputs():
            if output["S3Output"].get("S3UploadMode") == "Continuous":
                continue
            for host in self.hosts:
                upload_tree(s3, self.output_dir(host, output), output["S3Output"]["S3Uri"])

    def end_failed(self, reason: str) -> None:
        if self.containers and "ExitMessage" not in self.job:
            try:
                message = self.exit_message()
            except JobFailure:
                message = ""
            if message:
                self.update(lambda r: r.update(ExitMessage=message))
        self.finish(JobStatus.FAILED, reason)


def _link_tree(source: Path, target: Path) -> None:
    """``source``'s files under ``target`` as hard links (a copy where linking is refused)."""
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    try:
        shutil.copytree(source, target, copy_function=link, dirs_exist_ok=True, symlinks=True)
    except (OSError, shutil.Error) as exc:
        raise StagingError(f"cannot replicate input data to {target}: {exc}") from None


def run_processing_job(services: JobServices, name: str, control: JobControl, reattach: bool = False) -> None:
    run = ProcessingRun(services, name, control)
    if reattach:
        run.announce_continuous()
    run.run(reattach)
