"""The overview: counts per family and status, running jobs, recent failures with their reasons,
endpoints, the data directory and S3 usage, version and settings."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from emulator.console.app import Console
from emulator.console.data import S3Unavailable, families
from emulator.console.pages.jobs import ACTIVE, KINDS, runtime_seconds, status_of

RECENT_FAILURES = 8


def settings_rows(console: Console) -> list[tuple[str, str]]:
    """What the overview shows of the settings: never the S3 keys."""
    s = console.settings
    return [("Gateway", s.gateway_url), ("Region", s.region), ("Account", s.account_id),
            ("Data directory", str(s.data_dir)), ("S3 endpoint", s.s3.endpoint if s.s3 else "none"),
            ("S3 for containers", s.s3.for_containers if s.s3 else "none"),
            ("Default bucket", s.default_bucket),
            ("Jobs at once", str(s.max_concurrent_jobs)), ("Stop grace", f"{s.stop_grace_seconds:g} s"),
            ("Docker network", s.docker_network or "default bridge"),
            ("SDK first-Describe hold", f"{s.sdk_describe_wait:g} s")]


def overview(console: Console) -> dict[str, Any]:
    data = console.data
    counts = data.status_counts()
    running, failures = [], []
    for kind in KINDS:
        for job in data.records(kind.family):
            status = status_of(kind, job)
            entry = {"kind": kind, "job": job, "name": job[kind.family.name_field], "status": status,
                     "runtime": runtime_seconds(kind, job)}
            if status in ACTIVE:
                running.append(entry)
            elif status == "Failed":
                failures.append(entry)
    endpoints = [e for e in data.records(families.ENDPOINT)]
    failed_endpoints = [e for e in endpoints if e.get("EndpointStatus") == "Failed"]
    for endpoint in failed_endpoints:
        failures.append({"kind": None, "job": endpoint, "name": endpoint["EndpointName"], "status": "Failed",
                         "runtime": None})
    failures.sort(key=lambda e: e["job"].get("LastModifiedTime", 0), reverse=True)
    running.sort(key=lambda e: e["job"].get("CreationTime", 0), reverse=True)
    try:
        s3_usage, s3_error = data.s3_usage(), ""
    except S3Unavailable as exc:
        s3_usage, s3_error = [], str(exc)
    families_table: list[dict[str, Any]] = [
        {"label": "Training jobs", "path": "/training-jobs", "counts": counts[families.TRAINING_JOB.kind]},
        {"label": "Processing jobs", "path": "/processing-jobs", "counts": counts[families.PROCESSING_JOB.kind]},
        {"label": "Transform jobs", "path": "/transform-jobs", "counts": counts[families.TRANSFORM_JOB.kind]},
        {"label": "Endpoints", "path": "/endpoints", "counts": counts[families.ENDPOINT.kind]},
        {"label": "Endpoint configs", "path": "/endpoint-configs", "counts": counts[families.ENDPOINT_CONFIG.kind]},
        {"label": "Models", "path": "/models", "counts": counts[families.MODEL.kind]},
    ]
    return {"families": families_table, "running": running, "failures": failures[:RECENT_FAILURES],
            "endpoints": sorted(endpoints, key=lambda e: e["EndpointName"].lower()),
            "disk": data.data_dir_usage(), "s3_usage": s3_usage, "s3_error": s3_error,
            "settings_rows": settings_rows(console),
            "empty": not any(sum(c["counts"].values()) for c in families_table)}


def register(app: FastAPI, console: Console) -> None:
    @app.get("/", include_in_schema=False)
    def overview_page(request: Request) -> Response:
        return console.page(request, "overview.html", section="overview", title="Overview",
                            fragments={"live": "_overview_live.html"}, **overview(console))
