"""Hyperparameter tuning jobs in the domain: what CreateHyperParameterTuningJob accepts (with SageMaker's
messages), the record it writes, Stop and Delete, and the CreateTrainingJob request of each trial.

The job runs in ``emulator.jobs.tuning_runner``: it proposes hyperparameters, creates every trial through
``emulator.domain.training.create`` as the API does, and keeps the counters and the best trial in the
record (``emulator.domain.tuning_trials``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from emulator import builtin_metrics
from emulator.domain import jobs, training, tuning_trials
from emulator.domain.families import TRAINING_JOB, TUNING_JOB
from emulator.domain.lifecycle import TERMINAL, TUNING, JobStatus
from emulator.domain.ports import JobLauncher
from emulator.domain.records import Context, Records
from emulator.domain.tuning_space import Range, combinations, grid, parse_ranges
from emulator.errors import ResourceLimitExceeded, ValidationException

MAX_TRAINING_JOBS = 500          # SageMaker's quota of training jobs per tuning job (parents' included)
MAX_PARALLEL = 100               # SageMaker's quota of concurrent training jobs per tuning job
OBJECTIVE_HYPERPARAMETER = "_tuning_objective_metric"
SINGLE = ""                      # the definition name of a TrainingJobDefinition (no DefinitionName)


@dataclass(frozen=True)
class Definition:
    """One training job definition with its objective and ranges, however the request gave them."""

    name: str                     # DefinitionName, or SINGLE
    spec: dict[str, Any]          # the HyperParameterTrainingJobDefinition as recorded
    objective: dict[str, str]     # {"MetricName", "Type"}
    ranges: list[Range]

    @property
    def metric(self) -> str:
        return self.objective["MetricName"]

    @property
    def maximize(self) -> bool:
        return self.objective["Type"] == "Maximize"


def definitions(record: dict[str, Any]) -> list[Definition]:
    """The record's definitions: TrainingJobDefinition with the config's objective and ranges, or each of
    TrainingJobDefinitions with its own."""
    config = record["HyperParameterTuningJobConfig"]
    if "TrainingJobDefinition" in record:
        spec = record["TrainingJobDefinition"]
        return [Definition(SINGLE, spec, config["HyperParameterTuningJobObjective"],
                           parse_ranges(config.get("ParameterRanges")))]
    return [Definition(spec["DefinitionName"], spec, spec["TuningObjective"],
                       parse_ranges(spec.get("HyperParameterRanges")))
            for spec in record["TrainingJobDefinitions"]]


# --- CreateHyperParameterTuningJob ----------------------------------------------------------------------
def _check_definitions(params: dict[str, Any]) -> None:
    single = params.get("TrainingJobDefinition")
    several: list[dict[str, Any]] | None = params.get("TrainingJobDefinitions")
    config = params["HyperParameterTuningJobConfig"]
    if (single is None) == (several is None):
        raise ValidationException("Specify either TrainingJobDefinition or TrainingJobDefinitions, but not both.")
    if single is not None:
        if "HyperParameterTuningJobObjective" not in config:
            raise ValidationException("HyperParameterTuningJobConfig.HyperParameterTuningJobObjective is required "
                                      "with a TrainingJobDefinition.")
        return
    assert several is not None
    if "HyperParameterTuningJobObjective" in config or "ParameterRanges" in config:
        raise ValidationException(
            "With TrainingJobDefinitions, give each definition its TuningObjective and HyperParameterRanges; "
            "HyperParameterTuningJobConfig must not have HyperParameterTuningJobObjective or ParameterRanges.")
    names: set[str] = set()
    for spec in several:
        name = spec.get("DefinitionName")
        if not name or "TuningObjective" not in spec:
            raise ValidationException("Each of TrainingJobDefinitions needs a DefinitionName and a TuningObjective.")
        if name in names:
            raise ValidationException(f"DefinitionName {name} is used by more than one training job definition.")
        names.add(name)
    metrics = {(spec["TuningObjective"]["MetricName"], spec["TuningObjective"]["Type"]) for spec in several}
    if len(metrics) > 1:
        raise ValidationException("Every training job definition of a tuning job must have the same TuningObjective.")


def _metric_definitions(spec: dict[str, Any]) -> list[dict[str, str]]:
    algorithm = builtin_metrics.with_defaults(spec["AlgorithmSpecification"], spec.get("StaticHyperParameters"))
    return list(algorithm.get("MetricDefinitions") or [])


def _check_definition(definition: Definition, strategy: str) -> None:
    if definition.metric not in {m["Name"] for m in _metric_definitions(definition.spec)}:
        raise ValidationException("A metric is required for this hyperparameter tuning job objective. "
                                  "Provide a metric in the metric definitions.")
    static = definition.spec.get("StaticHyperParameters") or {}
    if len(static) + len(definition.ranges) + 1 > 100:
        raise ValidationException(
            f"A training job takes at most 100 hyperparameters; {len(static)} static and {len(definition.ranges)} "
            f"tunable ones plus {OBJECTIVE_HYPERPARAMETER} are {len(static) + len(definition.ranges) + 1}.")
    if strategy == "Grid":
        continuous = [r.name for r in definition.ranges if not r.discrete]
        if continuous:
            raise ValidationException(
                f"The Grid strategy searches categorical and integer ranges only; {', '.join(continuous)} "
                "is a continuous range. Use Random or Bayesian, or give its values as a categorical range.")
    training.validate(trial_request(definition, {}, "validation-only", ""))


def _check_limits(config: dict[str, Any], defs: list[Definition]) -> None:
    limits = config["ResourceLimits"]
    strategy = config["Strategy"]
    if strategy == "Grid":
        total = sum(len(grid(d.ranges)) for d in defs)
        given = limits.get("MaxNumberOfTrainingJobs")
        if given is not None and given != total:
            raise ValidationException(
                f"With the Grid strategy MaxNumberOfTrainingJobs ({given}) must equal the number of combinations "
                f"of the categorical and integer ranges ({total}), or be left out.")
        limits["MaxNumberOfTrainingJobs"] = total
    elif "MaxNumberOfTrainingJobs" not in limits:
        raise ValidationException(f"ResourceLimits.MaxNumberOfTrainingJobs is required with the {strategy} strategy.")
    else:
        counts = [combinations(d.ranges) for d in defs]
        if all(c is not None for c in counts):
            total_combinations = sum(c or 0 for c in counts)
            if total_combinations < limits["MaxNumberOfTrainingJobs"]:
                raise ValidationException(
                    "You don't have enough combinations of hyperparameter ranges. The total number of hyperparameter "
                    f"combinations for the provided ranges [{float(total_combinations)}] must be equal or greater "
                    f"than the value of MaxNumberOfJobs, [{limits['MaxNumberOfTrainingJobs']}]. "
                    "Provide additional ranges.")
    if limits["MaxNumberOfTrainingJobs"] > MAX_TRAINING_JOBS:
        raise ResourceLimitExceeded(
            f"A tuning job runs at most {MAX_TRAINING_JOBS} training jobs; MaxNumberOfTrainingJobs is "
            f"{limits['MaxNumberOfTrainingJobs']}.")
    if limits["MaxParallelTrainingJobs"] > MAX_PARALLEL:
        raise ResourceLimitExceeded(
            f"A tuning job runs at most {MAX_PARALLEL} training jobs at once; MaxParallelTrainingJobs is "
            f"{limits['MaxParallelTrainingJobs']}.")


MAX_RESOURCE = 20000             # HyperbandStrategyConfig.MaxResource's documented maximum (epochs)
EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")   # where SageMaker infers it from


def hyperband_resources(config: dict[str, Any], defs: list[Definition]) -> tuple[int, int]:
    """(MinResource, MaxResource) of a Hyperband job: as given, MaxResource otherwise inferred from the
    static hyperparameters SageMaker looks at, MinResource 1 by default."""
    given = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
    high = given.get("MaxResource")
    if high is None:
        for definition in defs:
            static = definition.spec.get("StaticHyperParameters") or {}
            for key in EPOCH_KEYS:
                if key in static:
                    try:
                        high = int(float(static[key]))
                    except ValueError:
                        continue
                    break
            if high is not None:
                break
    if high is None:
        raise ValidationException("MaxResource parameter is not provided and could not be inferred from provided "
                                  "static hyperparameters of TrainingJobDefinition.")
    low = int(given.get("MinResource", 1))
    if high > MAX_RESOURCE:
        raise ValidationException(f"HyperbandStrategyConfig.MaxResource ({high}) must not exceed {MAX_RESOURCE}.")
    if low > high:
        raise ValidationException(
            f"HyperbandStrategyConfig.MinResource ({low}) must not be greater than MaxResource ({high}).")
    return low, int(high)


def _check_strategy(config: dict[str, Any]) -> None:
    strategy = config["Strategy"]
    if strategy != "Hyperband" and (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig"):
        raise ValidationException("HyperbandStrategyConfig can be given only with the Hyperband strategy.")
    if strategy == "Hyperband" and config.get("TrainingJobEarlyStoppingType") == "Auto":
        raise ValidationException("TrainingJobEarlyStoppingType must be Off with the Hyperband strategy, which "
                                  "stops trials itself.")
    criteria = config.get("TuningJobCompletionCriteria") or {}
    if (criteria.get("ConvergenceDetected") or {}).get("CompleteOnConvergence") == "Enabled":
        raise ValidationException(
            "TuningJobCompletionCriteria.ConvergenceDetected.CompleteOnConvergence Enabled is not supported by "
            "smlocal (SageMaker's convergence test is internal to its optimizer); use BestObjectiveNotImproving "
            "or TargetObjectiveMetricValue.")


def _check_warm_start(ctx: Context, params: dict[str, Any], defs: list[Definition]) -> None:
    warm = params.get("WarmStartConfig")
    if not warm:
        return
    records = Records(ctx, TUNING_JOB)
    parent_trials = 0
    for parent in warm["ParentHyperParameterTuningJobs"]:
        name = parent.get("HyperParameterTuningJobName", "")
        record = records.find(name)
        if record is None:
            raise ValidationException(f"The parent tuning job {name} of WarmStartConfig does not exist.")
        if record["HyperParameterTuningJobStatus"] not in TERMINAL:
            raise ValidationException(
                f"The parent tuning job {name} is {record['HyperParameterTuningJobStatus']}; a warm start needs "
                "parent jobs that are Completed, Stopped or Failed.")
        if {d.metric for d in definitions(record)} != {d.metric for d in defs}:
            raise ValidationException(
                f"The parent tuning job {name} optimizes another objective metric; a warm start tuning job must "
                "use the same objective metric as its parents.")
        parent_trials += len(record.get("_smlocal", {}).get("trials", []))
    limit = params["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"]
    if parent_trials + limit > MAX_TRAINING_JOBS:
        raise ResourceLimitExceeded(
            f"The training jobs of a tuning job and of its warm start parents count against the limit of "
            f"{MAX_TRAINING_JOBS}: {parent_trials} in the parents plus MaxNumberOfTrainingJobs {limit}.")


def create(ctx: Context, params: dict[str, Any], launcher: JobLauncher) -> dict[str, Any]:
    """Validate a CreateHyperParameterTuningJob request, write the record (InProgress) and launch it."""
    if params.get("Autotune"):
        raise ValidationException("Autotune is not supported by smlocal: give the tuning job's ranges, strategy "
                                  "and limits explicitly.")
    record = {k: v for k, v in params.items() if k != "Tags"}
    config = record["HyperParameterTuningJobConfig"] = {"TrainingJobEarlyStoppingType": "Off",
                                                       **params["HyperParameterTuningJobConfig"]}
    config["ResourceLimits"] = dict(config["ResourceLimits"])
    _check_definitions(params)
    _check_strategy(config)
    objective = _objective_of(params)
    if "TrainingJobDefinition" in record:
        record["TrainingJobDefinition"] = _with_objective(record["TrainingJobDefinition"], objective)
    if "TrainingJobDefinitions" in record:
        record["TrainingJobDefinitions"] = [_with_objective(s, objective) for s in record["TrainingJobDefinitions"]]
    defs = definitions(record)
    for definition in defs:
        _check_definition(definition, config["Strategy"])
    _check_limits(config, defs)
    if config["Strategy"] == "Hyperband":
        hyperband_resources(config, defs)
    _check_warm_start(ctx, params, defs)
    record.update(HyperParameterTuningJobStatus=JobStatus.IN_PROGRESS.value,
                  TrainingJobStatusCounters={"Completed": 0, "InProgress": 0, "RetryableError": 0,
                                             "NonRetryableError": 0, "Stopped": 0},
                  ObjectiveStatusCounters={"Succeeded": 0, "Pending": 0, "Failed": 0},
                  ConsumedResources={"RuntimeInSeconds": 0},
                  _smlocal={"trials": []})
    if config.get("TuningJobCompletionCriteria", {}).get("BestObjectiveNotImproving"):
        record["TuningJobCompletionDetails"] = {"NumberOfTrainingJobsObjectiveNotImproving": 0}
    return jobs.insert_and_launch(ctx, TUNING, record, params.get("Tags"), launcher)


def _objective_of(params: dict[str, Any]) -> str:
    config = params["HyperParameterTuningJobConfig"]
    if "HyperParameterTuningJobObjective" in config:
        return str(config["HyperParameterTuningJobObjective"]["MetricName"])
    return str(params["TrainingJobDefinitions"][0]["TuningObjective"]["MetricName"])


def _with_objective(spec: dict[str, Any], metric: str) -> dict[str, Any]:
    """SageMaker adds the objective's name to the static hyperparameters (Describe shows it, and the
    SDK's ``HyperparameterTuner.attach`` removes it); every trial receives it. A definition that gave
    HyperParameterTuningResourceConfig (SDK 2) also shows the ResourceConfig its trials get, which
    ``HyperparameterTuner.attach`` reads (inferred: the SDK's attach needs it)."""
    spec = {**spec, "StaticHyperParameters": {**(spec.get("StaticHyperParameters") or {}),
                                              OBJECTIVE_HYPERPARAMETER: metric}}
    if not spec.get("ResourceConfig"):
        spec["ResourceConfig"] = {"VolumeSizeInGB": 30, **_resources(spec)}
    return spec


# --- trials ------------------------------------------------------------------------------------------
def trial_request(definition: Definition, tuned: dict[str, str], name: str, tuning_arn: str) -> dict[str, Any]:
    """The CreateTrainingJob request of one trial: the definition, its static and tuned hyperparameters."""
    spec = definition.spec
    algorithm = {k: v for k, v in spec["AlgorithmSpecification"].items()}
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "HyperParameters": {**(spec.get("StaticHyperParameters") or {}), **tuned},
        "AlgorithmSpecification": algorithm,
        "RoleArn": spec["RoleArn"],
        "OutputDataConfig": spec["OutputDataConfig"],
        "StoppingCondition": spec["StoppingCondition"],
        "ResourceConfig": _resources(spec),
    }
    for key in ("InputDataConfig", "VpcConfig", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption",
                "EnableManagedSpotTraining", "CheckpointConfig", "RetryStrategy", "Environment"):
        if key in spec:
            request[key] = spec[key]
    if tuning_arn:
        request["TuningJobArn"] = tuning_arn
    return request


def _resources(spec: dict[str, Any]) -> dict[str, Any]:
    """ResourceConfig (SDK 3, boto3) or HyperParameterTuningResourceConfig (SDK 2) as a trial's ResourceConfig."""
    if spec.get("ResourceConfig"):
        return dict(spec["ResourceConfig"])
    tuning = spec.get("HyperParameterTuningResourceConfig") or {}
    if tuning.get("InstanceConfigs"):
        raise ValidationException(
            "HyperParameterTuningResourceConfig.InstanceConfigs (several instance types per tuning job) is not "
            "supported by smlocal; give one InstanceType and InstanceCount.")
    if "InstanceType" not in tuning:
        raise ValidationException("A training job definition needs ResourceConfig or "
                                  "HyperParameterTuningResourceConfig with InstanceType and InstanceCount.")
    keys = ("InstanceType", "InstanceCount", "VolumeSizeInGB", "VolumeKmsKeyId")
    return {k: tuning[k] for k in keys if k in tuning}


def objective(record: dict[str, Any]) -> dict[str, str]:
    return definitions(record)[0].objective


def trial_summaries(ctx: Context, record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every trial's HyperParameterTrainingJobSummary, from the trials' own records (one query)."""
    trials = record.get("_smlocal", {}).get("trials", [])
    found = ctx.store.get_many(TRAINING_JOB.kind, [t["name"] for t in trials])
    name, goal = record["HyperParameterTuningJobName"], objective(record)
    return [tuning_trials.summary(t, found.get(t["name"].lower()), name, goal) for t in trials]


def list_training_jobs(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListTrainingJobsForHyperParameterTuningJob."""
    record = Records(ctx, TUNING_JOB).get(params["HyperParameterTuningJobName"])
    return tuning_trials.list_page(trial_summaries(ctx, record), params)


# --- Stop and Delete -------------------------------------------------------------------------------------
def stop(ctx: Context, name: str, launcher: JobLauncher) -> dict[str, Any]:
    """StopHyperParameterTuningJob: Stopping at once; the runner stops every running trial, then Stopped."""
    return jobs.stop(ctx, TUNING, name, launcher)


def delete(ctx: Context, name: str) -> dict[str, Any]:
    """DeleteHyperParameterTuningJob: the tuning job's record only (its trials stay), once it has ended."""
    records = Records(ctx, TUNING_JOB)
    record = records.get(name)
    status = record["HyperParameterTuningJobStatus"]
    if status not in TERMINAL:
        raise ValidationException(
            f"The hyperparameter tuning job {record['HyperParameterTuningJobName']} is {status}; stop it and wait "
            "until it is Stopped before deleting it.")
    return records.delete(name)


def elapsed(record: dict[str, Any], now: float | None = None) -> int:
    """ConsumedResources.RuntimeInSeconds: wall-clock seconds from creation to the end (or now)."""
    end = record.get("HyperParameterTuningEndTime") or (now if now is not None else time.time())
    return max(0, int(end - record["CreationTime"]))
