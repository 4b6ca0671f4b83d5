"""Transform jobs in the domain: what CreateTransformJob accepts (the model exists and has one
container, the data source and DataProcessing are consistent), the record it writes (with the
defaults DescribeTransformJob shows and the model as it was at Create) and Stop. The job runs in
``emulator.jobs.transform_runner``.
"""

from __future__ import annotations

from typing import Any

from emulator.domain import jobs
from emulator.domain.families import MODEL
from emulator.domain.lifecycle import TRANSFORM, JobStatus
from emulator.domain.models import model_containers
from emulator.domain.ports import JobLauncher
from emulator.domain.records import Context, Records
from emulator.domain.transform_filters import FilterError, parse_path
from emulator.errors import ResourceLimitExceeded, ValidationException

MAX_INSTANCES = 16
MAX_PAYLOAD_TOTAL_MB = 100
JSON_TYPES = ("application/json", "application/jsonlines", "application/x-jsonlines")
CSV_TYPE = "text/csv"


def base_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _check_data_processing(params: dict[str, Any]) -> None:
    processing = params.get("DataProcessing") or {}
    if not processing:
        return
    transform_input, output = params["TransformInput"], params["TransformOutput"]
    for field in ("InputFilter", "OutputFilter"):
        try:
            parse_path(processing.get(field, "$"))
        except FilterError as exc:
            raise ValidationException(f"DataProcessing.{field} {processing[field]!r} is not a supported JSONPath "
                                      f"expression: {exc}") from None
    in_use = processing.get("InputFilter", "$") != "$" or processing.get("OutputFilter", "$") != "$" \
        or processing.get("JoinSource", "None") == "Input"
    if not in_use:
        return
    content = base_type(transform_input.get("ContentType"))
    if content not in (CSV_TYPE, *JSON_TYPES):
        raise ValidationException(
            "DataProcessing (InputFilter, OutputFilter, JoinSource) supports only text/csv, application/json and "
            f"application/jsonlines input; TransformInput.ContentType is {transform_input.get('ContentType')!r}.")
    if processing.get("JoinSource", "None") == "Input":
        if transform_input.get("SplitType", "None") != "Line" or output.get("AssembleWith", "None") != "Line":
            raise ValidationException("JoinSource Input requires TransformInput.SplitType Line and "
                                      "TransformOutput.AssembleWith Line.")
        if content == CSV_TYPE and base_type(output.get("Accept")) not in ("", CSV_TYPE):
            raise ValidationException("JoinSource Input with text/csv input requires TransformOutput.Accept "
                                      "text/csv, so that input and output rows can be joined.")


def _check_supported(params: dict[str, Any], models: Records) -> dict[str, Any]:
    """Checks the request; returns the model it runs."""
    model = models.find(params["ModelName"])
    if model is None:
        raise ValidationException(f'Could not find model "{models.arn(params["ModelName"])}".')
    if len(model_containers(model)) != 1:
        raise ValidationException(
            f"Model {params['ModelName']} is an inference pipeline ({len(model_containers(model))} containers); "
            "smlocal runs transform jobs with single-container models only.")
    source = params["TransformInput"]["DataSource"].get("S3DataSource")
    if source is None:
        raise ValidationException("TransformInput.DataSource needs an S3DataSource: smlocal does not read "
                                  "Amazon FSx or other data sources.")
    if source["S3DataType"] not in ("S3Prefix", "ManifestFile"):
        raise ValidationException(f"S3DataType {source['S3DataType']} is not supported for transform jobs; use "
                                  "S3Prefix or ManifestFile.")
    for where, uri in (("TransformInput S3Uri", source["S3Uri"]),
                       ("TransformOutput.S3OutputPath", params["TransformOutput"]["S3OutputPath"])):
        if not uri.startswith("s3://"):
            raise ValidationException(f"{where} must be an s3:// URI, not {uri}.")
    if params["TransformInput"].get("SplitType") == "TFRecord":
        raise ValidationException("SplitType TFRecord is not supported by smlocal; use Line, RecordIO or None.")
    payload, concurrency = params.get("MaxPayloadInMB"), params.get("MaxConcurrentTransforms")
    if payload and concurrency and payload * concurrency > MAX_PAYLOAD_TOTAL_MB:
        raise ValidationException(
            f"MaxConcurrentTransforms ({concurrency}) multiplied by MaxPayloadInMB ({payload}) must not exceed "
            f"{MAX_PAYLOAD_TOTAL_MB}.")
    _check_data_processing(params)
    count = params["TransformResources"]["InstanceCount"]
    if count > MAX_INSTANCES:
        raise ResourceLimitExceeded(
            f"smlocal runs at most {MAX_INSTANCES} instances per transform job (each is a container on this "
            f"machine); the request asks for {count}.")
    return model


def _with_defaults(params: dict[str, Any]) -> dict[str, Any]:
    """The record as DescribeTransformJob shows it: the request plus SageMaker's defaults."""
    record = {k: v for k, v in params.items() if k != "Tags"}
    transform_input = {"CompressionType": "None", "SplitType": "None", **params["TransformInput"]}
    transform_input["DataSource"] = {"S3DataSource": dict(params["TransformInput"]["DataSource"]["S3DataSource"])}
    record["TransformInput"] = transform_input
    record["TransformOutput"] = {"AssembleWith": "None", **params["TransformOutput"]}
    if "DataProcessing" in params:
        record["DataProcessing"] = {"InputFilter": "$", "OutputFilter": "$", "JoinSource": "None",
                                    **params["DataProcessing"]}
    record["TransformJobStatus"] = JobStatus.IN_PROGRESS.value
    return record


def create(ctx: Context, params: dict[str, Any], launcher: JobLauncher) -> dict[str, Any]:
    """Validate a CreateTransformJob request, write the record (InProgress) and launch it."""
    model = _check_supported(params, Records(ctx, MODEL))
    record = _with_defaults(params)
    # the model as it was at Create: the job runs it even if the model is deleted meanwhile
    record["_smlocal"] = {"model": model}
    return jobs.insert_and_launch(ctx, TRANSFORM, record, params.get("Tags"), launcher)


def stop(ctx: Context, name: str, launcher: JobLauncher) -> dict[str, Any]:
    return jobs.stop(ctx, TRANSFORM, name, launcher)
