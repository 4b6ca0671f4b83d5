"""Resource families: the names, ARNs and error messages SageMaker uses for each kind.

Written once, here; every operation and test takes them from this table.
See docs/errors.md for the sources of each message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.errors import ResourceInUse, ResourceNotFound, ServiceError, ValidationException


@dataclass(frozen=True)
class Family:
    kind: str                       # ARN resource type, e.g. "training-job"
    noun: str                       # member prefix, e.g. "TrainingJob"
    list_key: str                   # List* output member holding the summaries
    status_field: str | None        # e.g. "TrainingJobStatus"
    not_found: Callable[[str, str], ServiceError]        # (name, arn) -> error
    already_exists: Callable[[str, str], ServiceError]   # (name, arn) -> error
    lowercase_arn: bool = False     # hosting resources: SageMaker lower-cases the name in the ARN
    # List<Noun>s: the summary of a record when it differs from the record (members the list shape has
    # and the Describe shape keeps elsewhere); None: the record itself (the output shape drops the rest)
    summary: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    # List<Noun>s has filters of its own (ListModelPackages): the family's module serves it, not the
    # shared record handlers
    own_list: bool = False

    @property
    def name_field(self) -> str:
        return f"{self.noun}Name"

    @property
    def arn_field(self) -> str:
        return f"{self.noun}Arn"


def _job_not_found(name: str, arn: str) -> ServiceError:
    return ValidationException(f"Could not find requested job with name {name}")


def _job_exists(label: str) -> Callable[[str, str], ServiceError]:
    return lambda name, arn: ResourceInUse(
        f"{label} names must be unique within an AWS account and region, and a {label.lower()} "
        f"with this name already exists ({arn})")


def _could_not_find(label: str) -> Callable[[str, str], ServiceError]:
    return lambda name, arn: ValidationException(f'Could not find {label} "{arn}".')


def _cannot_create(label: str) -> Callable[[str, str], ServiceError]:
    return lambda name, arn: ValidationException(f'Cannot create already existing {label} "{arn}".')


TRAINING_JOB = Family(
    kind="training-job", noun="TrainingJob", list_key="TrainingJobSummaries",
    status_field="TrainingJobStatus",
    not_found=lambda name, arn: ValidationException("Requested resource not found."),
    already_exists=_job_exists("Training job"))

PROCESSING_JOB = Family(
    kind="processing-job", noun="ProcessingJob", list_key="ProcessingJobSummaries",
    status_field="ProcessingJobStatus",
    not_found=_job_not_found, already_exists=_job_exists("Processing job"))

TRANSFORM_JOB = Family(
    kind="transform-job", noun="TransformJob", list_key="TransformJobSummaries",
    status_field="TransformJobStatus",
    not_found=_job_not_found, already_exists=_job_exists("Transform job"))

MODEL = Family(
    kind="model", noun="Model", list_key="Models", status_field=None,
    not_found=_could_not_find("model"), already_exists=_cannot_create("model"),
    lowercase_arn=True)

ENDPOINT_CONFIG = Family(
    kind="endpoint-config", noun="EndpointConfig", list_key="EndpointConfigs", status_field=None,
    not_found=_could_not_find("endpoint configuration"),
    already_exists=_cannot_create("endpoint configuration"), lowercase_arn=True)

ENDPOINT = Family(
    kind="endpoint", noun="Endpoint", list_key="Endpoints", status_field="EndpointStatus",
    not_found=_could_not_find("endpoint"), already_exists=_cannot_create("endpoint"),
    lowercase_arn=True)



def _tuning_summary(record: dict[str, Any]) -> dict[str, Any]:
    config = record.get("HyperParameterTuningJobConfig", {})
    return {**record, "Strategy": config.get("Strategy"), "ResourceLimits": config.get("ResourceLimits")}


TUNING_JOB = Family(
    kind="hyper-parameter-tuning-job", noun="HyperParameterTuningJob",
    list_key="HyperParameterTuningJobSummaries", status_field="HyperParameterTuningJobStatus",
    not_found=lambda name, arn: ResourceNotFound(f"Amazon SageMaker can't find a tuning job called {name}. "
                                                 "Type another name."),
    already_exists=lambda name, arn: ResourceInUse(f"A hyperparameter tuning job with the name, {name}, already "
                                                   "exists. Choose a different name."),
    summary=_tuning_summary)

MODEL_PACKAGE_GROUP = Family(
    kind="model-package-group", noun="ModelPackageGroup", list_key="ModelPackageGroupSummaryList",
    status_field="ModelPackageGroupStatus",
    not_found=lambda name, arn: ValidationException(f"ModelPackageGroup {arn} does not exist."),
    already_exists=lambda name, arn: ValidationException(f"Model Package Group already exists: {arn}"),
    lowercase_arn=True)

# Versioned packages are keyed "<group>/<version>" (their ARN's resource part), unversioned ones by name.
MODEL_PACKAGE = Family(
    kind="model-package", noun="ModelPackage", list_key="ModelPackageSummaryList",
    status_field="ModelPackageStatus",
    not_found=lambda name, arn: ValidationException(f"ModelPackage {arn} does not exist."),
    already_exists=lambda name, arn: ValidationException(f"Model Package already exists: {arn}"),
    lowercase_arn=True, own_list=True)

ALL = (TRAINING_JOB, PROCESSING_JOB, TRANSFORM_JOB, MODEL, ENDPOINT_CONFIG, ENDPOINT, TUNING_JOB,
       MODEL_PACKAGE_GROUP, MODEL_PACKAGE)
BY_KIND = {family.kind: family for family in ALL}


# --- pipelines: their own API (emulator.sagemaker.pipelines), so not in ALL (no shared Describe/List) -------
PIPELINE = Family(
    kind="pipeline", noun="Pipeline", list_key="PipelineSummaries", status_field="PipelineStatus",
    not_found=lambda name, arn: ResourceNotFound(f"Pipeline '{arn}' does not exist."),
    already_exists=lambda name, arn: ValidationException(
        f"Pipeline names must be unique within an AWS account and region. Pipeline with name ({name}) "
        "already exists."),
    lowercase_arn=True)

# keyed by the execution id; the ARN is arn:...:pipeline/<pipeline>/execution/<id>
PIPELINE_EXECUTION = Family(
    kind="pipeline-execution", noun="PipelineExecution", list_key="PipelineExecutionSummaries",
    status_field="PipelineExecutionStatus",
    not_found=lambda name, arn: ResourceNotFound(f"Pipeline execution '{arn}' does not exist."),
    already_exists=lambda name, arn: ResourceInUse(f"Pipeline execution '{arn}' already exists."))
