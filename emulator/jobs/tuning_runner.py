"""Runs one hyperparameter tuning job: proposes hyperparameters (``tuning_search``), creates each trial
through the domain's ``training.create`` exactly as CreateTrainingJob does, reads the trials' objectives
from their records and the metric store, applies early stopping and the completion criteria, and keeps
the counters and the best trial in the tuning record.

It starts no containers, so it does not take a job slot: the job runtime runs it on its own thread
(``JobKind.pooled`` False) and only its trials wait for slots, which is what keeps several tuning jobs
at once (or SMLOCAL_MAX_CONCURRENT_JOBS=1) from deadlocking. It polls the trials' records four times a
second (reads of SQLite); every change it makes is one committed write, so after a restart it
rebuilds the search from the record (trials ended, trials still running) and carries on.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from typing import Any

from emulator.domain import training, tuning, tuning_trials
from emulator.domain.families import TUNING_JOB
from emulator.domain.lifecycle import ACTIVE, TUNING, JobStatus, ObjectiveStatus
from emulator.domain.records import Records
from emulator.errors import ServiceError
from emulator.jobs.container_job import JobServices
from emulator.jobs.scheduler import JobControl
from emulator.jobs.tuning_search import Search, Space
from emulator.state.db import DatabaseClosed

log = logging.getLogger(__name__)
POLL = 0.25
FAILURES_BEFORE_GIVING_UP = 5     # "No training job succeeded after 5 attempts" (SageMaker's text)


def _no_success(attempts: int) -> str:
    return (f"No training job succeeded after {attempts} attempts. Please take a look at the training job "
            "failures to get more details.")


class TuningRun:
    def __init__(self, services: JobServices, name: str, control: JobControl) -> None:
        self.services, self.name, self.control = services, name, control
        self.ctx = services.ctx
        self.records = Records(self.ctx, TUNING_JOB)
        self.job = self.records.get(name)
        self.defs = {d.name: d for d in tuning.definitions(self.job)}
        self.goal = tuning.objective(self.job)
        self.metric = self.goal["MetricName"]
        self.maximize = self.goal["Type"] == "Maximize"
        config = self.job["HyperParameterTuningJobConfig"]
        self.strategy = config["Strategy"]
        self.limits = config["ResourceLimits"]
        self.criteria = config.get("TuningJobCompletionCriteria") or {}
        self.early_stopping = config.get("TrainingJobEarlyStoppingType") == "Auto"
        self.ending: tuple[JobStatus, str | None] | None = None
        self.ended: list[str] = []                  # trial names in the order they ended
        self.series: dict[str, list[float]] = {}    # objective values of ended trials (early stopping)
        self.checked: dict[str, int] = {}           # epochs already judged, per running trial
        self.parents: list[dict[str, Any]] = []     # warm start parents' trial summaries
        self.resources: tuple[int, int] | None = None   # Hyperband's (MinResource, MaxResource)
        launcher = services.launcher
        assert launcher is not None, "the job runtime sets JobServices.launcher"
        self.launcher = launcher

    # --- record ----------------------------------------------------------------------------------
    @property
    def trials(self) -> list[dict[str, Any]]:
        return list(self.job.get("_smlocal", {}).get("trials", []))

    def update(self, change: Any) -> None:
        self.job = self.records.update(self.name, change)

    # --- the whole run -----------------------------------------------------------------------------
    def run(self) -> None:
        if not TUNING.is_active(self.job):
            return
        try:
            self.search = self.build_search()
            while not self.step():
                self.control.stop.wait(POLL)
        except DatabaseClosed:
            log.info("tuning job %s: smlocal stopped while it ran; the next start resumes it", self.name)
        except Exception as exc:
            log.exception("tuning job %s failed inside smlocal", self.name)
            self.finish(JobStatus.FAILED, f"InternalServerError: smlocal failed while running the tuning job "
                                          f"({type(exc).__name__}: {exc}); see the smlocal log.")

    def build_search(self) -> Search:
        private = self.job.get("_smlocal", {})
        config = self.job["HyperParameterTuningJobConfig"]
        seed = config.get("RandomSeed", private.get("seed"))
        if seed is None:
            seed = random.SystemRandom().randrange(2**31)
            self.update(lambda r: r.setdefault("_smlocal", {}).update(seed=seed))
        spaces = [Space(d.name, tuple(d.ranges)) for d in self.defs.values()]
        self.resources = tuning.hyperband_resources(config, list(self.defs.values())) \
            if self.strategy == "Hyperband" else None
        search = Search(self.strategy, spaces, self.maximize, int(seed), self.limits["MaxNumberOfTrainingJobs"],
                        self.resources)
        for item in self.warm_start_trials():
            search.known(item.get("TrainingJobDefinitionName", tuning.SINGLE), item["TunedHyperParameters"],
                         item["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
        summaries = {s["TrainingJobName"]: s for s in tuning.trial_summaries(self.ctx, self.job)}
        ended = sorted((s for s in summaries.values() if s["TrainingJobStatus"] not in ACTIVE),
                       key=lambda s: (s.get("TrainingEndTime", 0), s["TrainingJobName"]))
        for item in ended:
            self.note_end(item)
        for trial in self.trials:   # an earlier run of this job: its ended trials teach the model,
            item = summaries[trial["name"]]
            if item["TrainingJobStatus"] in ACTIVE:     # and its running ones are proposed again
                search.resume(trial["name"], trial.get("definition", tuning.SINGLE), trial["tuned"])
            elif item["ObjectiveStatus"] == ObjectiveStatus.SUCCEEDED:
                search.known(trial.get("definition", tuning.SINGLE), trial["tuned"], _value(item))
        return search

    def warm_start_trials(self) -> list[dict[str, Any]]:
        warm = self.job.get("WarmStartConfig")
        if not warm:
            return []
        for parent in warm["ParentHyperParameterTuningJobs"]:
            record = self.records.find(parent["HyperParameterTuningJobName"])
            if record is not None:
                self.parents.extend(tuning.trial_summaries(self.ctx, record))
        return [s for s in self.parents if s["ObjectiveStatus"] == ObjectiveStatus.SUCCEEDED]

    def step(self) -> bool:
        """One look at the trials; True when the tuning job has ended."""
        self.job = self.records.get(self.name)
        summaries = tuning.trial_summaries(self.ctx, self.job)
        for item in summaries:
            if item["TrainingJobStatus"] not in ACTIVE and item["TrainingJobName"] not in self.ended:
                self.note_end(item)
                self.search.finished(item["TrainingJobName"], _value(item))
        active = [s for s in summaries if s["TrainingJobStatus"] in ACTIVE]
        if self.ending is None:
            self.ending = self.stop_requested() or self.completion(summaries)
        if self.ending is not None:
            self.stop_trials(active)
            if not active:
                self.finish(*self.ending, summaries=summaries)
                return True
        else:
            if self.early_stopping:
                self.apply_early_stopping(active, summaries)
            if self.resources is not None:
                self.apply_hyperband(active)
            self.launch_trials(len(active))
        self.publish(summaries)
        return False

    # --- decisions -----------------------------------------------------------------------------------
    def stop_requested(self) -> tuple[JobStatus, str | None] | None:
        if self.control.stop.is_set() or self.job["HyperParameterTuningJobStatus"] == JobStatus.STOPPING:
            return JobStatus.STOPPED, None
        limit = self.limits.get("MaxRuntimeInSeconds")
        if limit and time.time() - self.job["CreationTime"] > limit:
            self.update(lambda r: TUNING.mark_stopping(r, time.time()))
            return JobStatus.STOPPED, None
        return None

    def completion(self, summaries: list[dict[str, Any]]) -> tuple[JobStatus, str | None] | None:
        values = [v for v in (_value(s) for s in summaries) if v is not None]
        target = self.criteria.get("TargetObjectiveMetricValue")
        if target is not None and any(v >= target if self.maximize else v <= target for v in values):
            return JobStatus.COMPLETED, None
        patience = (self.criteria.get("BestObjectiveNotImproving") or {}).get("MaxNumberOfTrainingJobsNotImproving")
        if patience and self.not_improving() >= patience:
            return JobStatus.COMPLETED, None
        failed = sum(1 for s in summaries if s["ObjectiveStatus"] == ObjectiveStatus.FAILED)
        attempts = min(FAILURES_BEFORE_GIVING_UP, self.limits["MaxNumberOfTrainingJobs"])
        if not values and failed >= attempts:
            return JobStatus.FAILED, _no_success(failed)
        done = len(summaries) >= self.limits["MaxNumberOfTrainingJobs"]
        if done and not any(s["TrainingJobStatus"] in ACTIVE for s in summaries):
            return (JobStatus.COMPLETED, None) if values else (JobStatus.FAILED, _no_success(failed))
        return None

    def note_end(self, item: dict[str, Any]) -> None:
        self.ended.append(item["TrainingJobName"])
        self.series[item["TrainingJobName"]] = self.objective_series(item["TrainingJobArn"])

    def not_improving(self) -> int:
        by_name = {s["TrainingJobName"]: s for s in tuning.trial_summaries(self.ctx, self.job)}
        values = [v for v in (_value(by_name[n]) for n in self.ended if n in by_name) if v is not None]
        return tuning_trials.not_improving(values, self.maximize)

    def objective_series(self, arn: str) -> list[float]:
        return [value for _, value in self.services.metrics.series(arn).get(self.metric, [])]

    def apply_early_stopping(self, active: list[dict[str, Any]], summaries: list[dict[str, Any]]) -> None:
        order = {s["TrainingJobName"]: i for i, s in enumerate(summaries)}
        for item in active:
            name = item["TrainingJobName"]
            if item["TrainingJobStatus"] != JobStatus.IN_PROGRESS:
                continue
            current = self.objective_series(item["TrainingJobArn"])
            if len(current) <= self.checked.get(name, 0):
                continue
            self.checked[name] = len(current)
            earlier = [self.series.get(s["TrainingJobName"]) or self.objective_series(s["TrainingJobArn"])
                       for s in summaries if order[s["TrainingJobName"]] < order[name]]
            if tuning_trials.stop_early(current, earlier, self.maximize):
                log.info("tuning job %s: early stopping %s after %d epochs", self.name, name, len(current))
                self.mark_trial(name, early_stopped=True)
                self.stop_trial(name)

    def apply_hyperband(self, active: list[dict[str, Any]]) -> None:
        """Hyperband: report each new epoch's objective; stop a trial its bracket drops, or at MaxResource."""
        assert self.resources is not None
        for item in active:
            name = item["TrainingJobName"]
            if item["TrainingJobStatus"] != JobStatus.IN_PROGRESS:
                continue
            values = self.objective_series(item["TrainingJobArn"])
            if self.search.report(name, values):
                log.info("tuning job %s: Hyperband stops %s after %d epochs", self.name, name, len(values))
                self.mark_trial(name, early_stopped=True)
                self.stop_trial(name)
            elif len(values) >= self.resources[1]:
                log.info("tuning job %s: %s reached MaxResource (%d epochs)", self.name, name, len(values))
                self.stop_trial(name)

    # --- trials --------------------------------------------------------------------------------------
    def launch_trials(self, active: int) -> None:
        while active < self.limits["MaxParallelTrainingJobs"] and \
                len(self.trials) < self.limits["MaxNumberOfTrainingJobs"]:
            index = len(self.trials)
            name = f"{self.name}-{index + 1:03d}-{secrets.token_hex(4)}"
            definition, tuned = self.search.propose(index, name)
            entry = {"name": name, "definition": definition, "tuned": tuned, "created": time.time()}
            self.update(lambda r, e=entry: r.setdefault("_smlocal", {}).setdefault("trials", []).append(e))
            request = tuning.trial_request(self.defs[definition], tuned, name, self.job["HyperParameterTuningJobArn"])
            tags = self.ctx.store.tags(self.job["HyperParameterTuningJobArn"])
            if tags:   # the tuning job's tags are added to every training job it launches, as on SageMaker
                request["Tags"] = tags
            training.create(self.ctx, request, self.launcher)
            log.info("tuning job %s: trial %s with %s", self.name, name, tuned)
            active += 1

    def stop_trials(self, active: list[dict[str, Any]]) -> None:
        for item in active:
            if item["TrainingJobStatus"] == JobStatus.IN_PROGRESS:
                self.stop_trial(item["TrainingJobName"])

    def stop_trial(self, name: str) -> None:
        try:
            training.stop(self.ctx, name, self.launcher)
        except ServiceError as exc:   # it ended (or was stopped) meanwhile
            log.debug("trial %s: %s", name, exc)

    def mark_trial(self, name: str, **fields: Any) -> None:
        def change(record: dict[str, Any]) -> None:
            for trial in record.get("_smlocal", {}).get("trials", []):
                if trial["name"] == name:
                    trial.update(fields)
        self.update(change)

    # --- what Describe shows -------------------------------------------------------------------------
    def fields(self, summaries: list[dict[str, Any]]) -> dict[str, Any]:
        status, objective = tuning_trials.counters(summaries)
        out: dict[str, Any] = {"TrainingJobStatusCounters": status, "ObjectiveStatusCounters": objective}
        best = tuning_trials.best(summaries, self.maximize)
        if best is not None:
            out["BestTrainingJob"] = best
        warm = self.job.get("WarmStartConfig") or {}
        if warm.get("WarmStartType") == "IdenticalDataAndAlgorithm":
            overall = tuning_trials.best(summaries + self.parents, self.maximize)
            if overall is not None:
                out["OverallBestTrainingJob"] = overall
        if "TuningJobCompletionDetails" in self.job:
            out["TuningJobCompletionDetails"] = {"NumberOfTrainingJobsObjectiveNotImproving": self.not_improving()}
        return out

    def publish(self, summaries: list[dict[str, Any]]) -> None:
        fields = self.fields(summaries)
        fields["ConsumedResources"] = {"RuntimeInSeconds": tuning.elapsed(self.job)}
        if any(self.job.get(k) != v for k, v in fields.items()):
            self.update(lambda r: r.update(fields))

    def finish(self, status: JobStatus, failure: str | None = None,
               summaries: list[dict[str, Any]] | None = None) -> None:
        fields = self.fields(summaries if summaries is not None else tuning.trial_summaries(self.ctx, self.job))

        def change(record: dict[str, Any]) -> None:
            record.update(fields)
            if TUNING.is_active(record):
                TUNING.finish(record, status, time.time(), failure)
            record["ConsumedResources"] = {"RuntimeInSeconds": tuning.elapsed(record)}
        self.update(change)
        log.info("tuning job %s ended %s%s", self.name, status, f": {failure}" if failure else "")


def _value(item: dict[str, Any]) -> float | None:
    metric = item.get("FinalHyperParameterTuningJobObjectiveMetric")
    if metric is None or item["ObjectiveStatus"] != ObjectiveStatus.SUCCEEDED:
        return None
    return float(metric["Value"])


def run_tuning_job(services: JobServices, name: str, control: JobControl, reattach: bool = False) -> None:
    TuningRun(services, name, control).run()
