"""The console's page families and its navigation, as tables.

``PAGES`` names the modules under ``emulator.console.pages``; each has ``register(app, console)``
adding its routes. ``NAV`` is the sidebar, in order. A new family is one module in ``pages/`` plus its
lines here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    section: str        # what pages say they belong to (marks the current item)
    label: str
    path: str           # under the console's root, e.g. "/training-jobs"
    group: str          # heading in the sidebar ("" = none)
    key: str            # "g" then this key goes there


NAV: tuple[NavItem, ...] = (
    NavItem("overview", "Overview", "/", "", "o"),
    NavItem("training-jobs", "Training jobs", "/training-jobs", "Jobs", "t"),
    NavItem("processing-jobs", "Processing jobs", "/processing-jobs", "Jobs", "p"),
    NavItem("transform-jobs", "Transform jobs", "/transform-jobs", "Jobs", "b"),
    NavItem("tuning-jobs", "Tuning jobs", "/tuning-jobs", "Jobs", "h"),
    NavItem("pipelines", "Pipelines", "/pipelines", "Pipelines", "l"),
    NavItem("model-registry", "Model registry", "/model-registry", "Pipelines", "r"),
    NavItem("endpoints", "Endpoints", "/endpoints", "Inference", "e"),
    NavItem("endpoint-configs", "Endpoint configs", "/endpoint-configs", "Inference", "c"),
    NavItem("models", "Models", "/models", "Inference", "m"),
    NavItem("s3", "S3 buckets", "/s3", "Data", "s"),
)

PAGES: tuple[str, ...] = ("overview", "jobs", "tuning", "pipelines", "registry", "endpoints", "models", "s3")


def grouped() -> list[tuple[str, list[NavItem]]]:
    groups: list[tuple[str, list[NavItem]]] = []
    for item in NAV:
        if not groups or groups[-1][0] != item.group:
            groups.append((item.group, []))
        groups[-1][1].append(item)
    return groups
