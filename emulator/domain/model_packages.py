"""The model registry in the domain: model package groups and model packages (record-only families).

A versioned package belongs to a group and is numbered per group from 1 (numbers are never reused,
as in SageMaker); its ARN is ``model-package/<group>/<version>``, and its name and record key are
``<group>/<version>``. An unversioned package (``ModelPackageName``) is keyed by its name. Pipelines'
RegisterModel steps create packages through ``create_package`` and groups through ``create_group``,
as the API does.
"""

from __future__ import annotations

from typing import Any

from emulator.domain.families import MODEL_PACKAGE, MODEL_PACKAGE_GROUP
from emulator.domain.lifecycle import ModelPackageGroupStatus, ModelPackageStatus
from emulator.domain.listing import list_page
from emulator.domain.records import Context, Records
from emulator.errors import ConflictException, ValidationException

NEXT_VERSION = "next_version"     # in a group's _smlocal: the version its next package gets
DEFAULT_APPROVAL = "PendingManualApproval"
CLIENT_TOKEN = "client_token"     # in a package's _smlocal: the ClientToken that created it


def groups(ctx: Context) -> Records:
    return Records(ctx, MODEL_PACKAGE_GROUP)


def packages(ctx: Context) -> Records:
    return Records(ctx, MODEL_PACKAGE)


def create_group(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateModelPackageGroup: validate and write the record; returns it."""
    record = {k: v for k, v in params.items() if k != "Tags"}
    record.update(ModelPackageGroupStatus=str(ModelPackageGroupStatus.COMPLETED), CreatedBy={},
                  _smlocal={NEXT_VERSION: 1})
    return groups(ctx).create(params["ModelPackageGroupName"], record, params.get("Tags"))


def delete_group(ctx: Context, name: str) -> dict[str, Any]:
    """DeleteModelPackageGroup: refused while the group still holds packages (as SageMaker does)."""
    records = groups(ctx)
    group = records.get(name)
    group_name = group["ModelPackageGroupName"]
    if any(p.get("ModelPackageGroupName", "").lower() == group_name.lower()
           for p in ctx.store.all(MODEL_PACKAGE.kind)):
        raise ConflictException(
            f"Model Package Group {group_name} contains model packages and cannot be deleted: delete "
            "its model packages first.")
    return records.delete(group_name)


def _status_details(params: dict[str, Any]) -> dict[str, Any]:
    """ModelPackageStatusDetails. smlocal does not run a ValidationSpecification's transform jobs:
    its profiles are reported NotStarted (docs/pipelines.md)."""
    profiles = params.get("ValidationSpecification", {}).get("ValidationProfiles", [])
    return {"ValidationStatuses": [{"Name": p["ProfileName"], "Status": "NotStarted"} for p in profiles],
            "ImageScanStatuses": []}


def _next_version(ctx: Context, group_name: str) -> tuple[dict[str, Any], int]:
    """Take the group's next version number (one committed write); the group must exist."""
    taken: list[int] = []

    def bump(group: dict[str, Any]) -> None:
        private = group.setdefault("_smlocal", {})
        version = int(private.get(NEXT_VERSION, 1))
        private[NEXT_VERSION] = version + 1
        taken.append(version)

    group = groups(ctx).update_if_exists(groups(ctx).name_of(group_name), bump)
    if group is None:
        raise ValidationException("Model Package Group does not exist.")
    return group, taken[0]


def create_package(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateModelPackage: a versioned package when ModelPackageGroupName is given, an unversioned one
    when ModelPackageName is; validate and write the record; returns it."""
    group_name, name = params.get("ModelPackageGroupName"), params.get("ModelPackageName")
    if group_name and name:
        raise ValidationException("Both ModelPackageName and ModelPackageGroupName are provided in the "
                                  "input. Cannot determine which one to use.")
    if not group_name and not name:
        raise ValidationException("Missing ARN.")
    token = params.get("ClientToken")
    if token:
        for existing in ctx.store.all(MODEL_PACKAGE.kind):
            if existing.get("_smlocal", {}).get(CLIENT_TOKEN) == token:
                return existing    # a retried request: the package it created (idempotent, as documented)
    record = {k: v for k, v in params.items() if k not in ("Tags", "ClientToken")}
    record.update(ModelPackageStatus=str(ModelPackageStatus.COMPLETED),
                  ModelPackageStatusDetails=_status_details(params),
                  CertifyForMarketplace=params.get("CertifyForMarketplace", False), CreatedBy={})
    if group_name:
        group, version = _next_version(ctx, group_name)
        group_name = group["ModelPackageGroupName"]
        key = f"{group_name}/{version}"
        # a versioned package's name is "<group>/<version>" (the API reference's ModelPackage shape)
        record.update(ModelPackageName=key, ModelPackageGroupName=group_name, ModelPackageVersion=version,
                      ModelApprovalStatus=params.get("ModelApprovalStatus", DEFAULT_APPROVAL))
    else:
        record.pop("ModelApprovalStatus", None)   # applies to versioned packages only
        key = str(name)
    if token:
        record["_smlocal"] = {CLIENT_TOKEN: token}
    return packages(ctx).create(key, record, params.get("Tags"))


def describe_package(ctx: Context, name_or_arn: str) -> dict[str, Any]:
    """DescribeModelPackage: by unversioned name, by ARN, or by ``<group>/<version>``."""
    return packages(ctx).get(name_or_arn)


def package_type(record: dict[str, Any]) -> str:
    return "Versioned" if record.get("ModelPackageGroupName") else "Unversioned"


def list_packages(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListModelPackages: group, approval status and type filters (a group implies its versioned
    packages; without a group the default type is Unversioned, as SageMaker documents), sorting,
    pagination."""
    selected = ctx.store.all(MODEL_PACKAGE.kind)
    group = params.get("ModelPackageGroupName")
    default_type = "Versioned" if group else "Unversioned"
    wanted = params.get("ModelPackageType") or default_type
    if wanted != "Both":
        selected = [r for r in selected if package_type(r) == wanted]
    if group:
        group_name = groups(ctx).name_of(group).lower()
        selected = [r for r in selected if r.get("ModelPackageGroupName", "").lower() == group_name]
    if params.get("ModelApprovalStatus"):
        selected = [r for r in selected if r.get("ModelApprovalStatus") == params["ModelApprovalStatus"]]
    page, token = list_page(selected, params, name_field=MODEL_PACKAGE.name_field, status_field=None)
    out: dict[str, Any] = {"ModelPackageSummaryList": [_summary(r) for r in page]}
    if token:
        out["NextToken"] = token
    return out


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    """A ListModelPackages summary: a versioned package's carries no ModelPackageName (SageMaker's list
    answers only its ARN, group and version: aws/sagemaker-python-sdk#5606)."""
    if package_type(record) == "Versioned":
        return {k: v for k, v in record.items() if k != "ModelPackageName"}
    return record


def _apply_update(record: dict[str, Any], params: dict[str, Any]) -> None:
    if "ModelApprovalStatus" in params:
        if package_type(record) != "Versioned":
            raise ValidationException(
                f"ModelApprovalStatus applies only to versioned model packages; "
                f"{record['ModelPackageArn']} is unversioned.")
        record["ModelApprovalStatus"] = params["ModelApprovalStatus"]
    for member in ("ApprovalDescription", "InferenceSpecification", "SourceUri", "ModelCard",
                   "ModelLifeCycle", "ModelPackageRegistrationType"):
        if member in params:
            record[member] = params[member]
    metadata = dict(record.get("CustomerMetadataProperties") or {})
    metadata.update(params.get("CustomerMetadataProperties") or {})
    for key in params.get("CustomerMetadataPropertiesToRemove") or []:
        metadata.pop(key, None)
    if metadata or "CustomerMetadataProperties" in record:
        record["CustomerMetadataProperties"] = metadata
    if params.get("AdditionalInferenceSpecificationsToAdd"):
        record["AdditionalInferenceSpecifications"] = [
            *record.get("AdditionalInferenceSpecifications", []),
            *params["AdditionalInferenceSpecificationsToAdd"]]


def update_package(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateModelPackage: approval, description, customer metadata (set and remove), inference
    specification; LastModifiedTime moves. Returns the new record."""
    both = set(params.get("CustomerMetadataProperties") or {}) & set(
        params.get("CustomerMetadataPropertiesToRemove") or [])
    if both:
        raise ValidationException(
            f"CustomerMetadataProperties and CustomerMetadataPropertiesToRemove both name the key(s) "
            f"{sorted(both)}: a key can be set or removed in one request, not both.")
    return packages(ctx).update(params["ModelPackageArn"], lambda r: _apply_update(r, params))


def delete_package(ctx: Context, name_or_arn: str) -> dict[str, Any]:
    return packages(ctx).delete(name_or_arn)


def batch_describe(ctx: Context, arns: list[str]) -> dict[str, Any]:
    """BatchDescribeModelPackage: summaries of the packages found, an error entry for each other ARN."""
    summaries: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for arn in arns:
        record = packages(ctx).find(arn)
        if record is None:
            errors[arn] = {"ErrorCode": "ValidationException",
                           "ErrorResponse": packages(ctx).family.not_found(arn, arn).message}
        else:
            summaries[arn] = record
    return {"ModelPackageSummaries": summaries, "BatchDescribeModelPackageErrorMap": errors}


def package_not_found(ctx: Context, name_or_arn: str) -> ValidationException:
    records = packages(ctx)
    name = records.name_of(name_or_arn)
    error = records.family.not_found(name, records.arn(name))
    assert isinstance(error, ValidationException)
    return error


def resolve_container(ctx: Context, container: dict[str, Any]) -> list[dict[str, Any]]:
    """A CreateModel container naming a ModelPackageName: the package's inference containers with the
    request's own members (Environment merged over the package's) — what the model runs. Refuses an
    unknown package with SageMaker's ValidationException."""
    reference = container["ModelPackageName"]
    package = packages(ctx).find(reference)
    if package is None:
        raise package_not_found(ctx, reference)
    spec_containers = package.get("InferenceSpecification", {}).get("Containers") or []
    if not spec_containers:
        raise ValidationException(
            f"Model package {package['ModelPackageArn']} has no InferenceSpecification containers to "
            "create a model from.")
    resolved = []
    for spec in spec_containers:
        merged = {k: v for k, v in spec.items() if k in (
            "Image", "ModelDataUrl", "ModelDataSource", "Environment", "Framework", "FrameworkVersion",
            "NearestModelName", "AdditionalS3DataSource")}
        merged.update({k: v for k, v in container.items() if k != "Environment"})
        environment = {**spec.get("Environment", {}), **container.get("Environment", {})}
        if environment:
            merged["Environment"] = environment
        resolved.append(merged)
    return resolved
