"""Templates (Jinja2, autoescaped: every name, log line and S3 key is hostile) and their filters."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import urllib.parse
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, Undefined, select_autoescape
from markupsafe import Markup

HERE = Path(__file__).parent
STATIC = HERE / "static"

OK = {"Completed", "InService", "Succeeded", "Approved"}
BUSY = {"InProgress", "Creating", "Updating", "Starting", "Downloading", "Training", "Uploading", "Executing",
        "SystemUpdating", "RollingBack", "Pending"}
WARN = {"Stopping", "Stopped", "Deleting", "MaxRuntimeExceeded", "PendingManualApproval", "OutOfService"}
BAD = {"Failed", "Rejected", "Interrupted"}


def status_class(status: str | None) -> str:
    if status in OK:
        return "ok"
    if status in BUSY:
        return "busy"
    if status in WARN:
        return "warn"
    if status in BAD:
        return "bad"
    return ""


def _missing(value: Any) -> bool:
    return value is None or value == "" or isinstance(value, Undefined)


def when(epoch: float | None) -> str:
    """Local time, to the second (the console runs on the user's own machine)."""
    if epoch is None or _missing(epoch):
        return "—"
    return dt.datetime.fromtimestamp(float(epoch)).strftime("%Y-%m-%d %H:%M:%S")


def clock(epoch_ms: int | None) -> str:
    if epoch_ms is None or _missing(epoch_ms):
        return ""
    stamp = dt.datetime.fromtimestamp(epoch_ms / 1000)
    return stamp.strftime("%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}"


def duration(seconds: float | None) -> str:
    if seconds is None or _missing(seconds):
        return "—"
    seconds = max(0, int(round(float(seconds))))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def ago(epoch: float | None, now: float | None = None) -> str:
    if epoch is None or _missing(epoch):
        return "—"
    delta = (now if now is not None else dt.datetime.now().timestamp()) - float(epoch)
    if delta < 5:
        return "just now"
    if delta < 60:
        return f"{int(delta)} s ago"
    if delta < 3600:
        return f"{int(delta // 60)} min ago"
    if delta < 86400:
        return f"{int(delta // 3600)} h ago"
    return f"{int(delta // 86400)} d ago"


def human_bytes(size: int | None) -> str:
    if size is None or _missing(size):
        return "—"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def pretty_json_text(text: str) -> str:
    """A JSON document given as text, indented (as it was when it is not JSON)."""
    try:
        return json.dumps(json.loads(text), indent=2)
    except (TypeError, ValueError):
        return str(text)


def query(**params: Any) -> str:
    """A URL query string (``?a=1&b=2``) from the non-empty parameters, safely encoded."""
    kept = {k: v for k, v in params.items() if v not in (None, "", False)}
    return ("?" + urllib.parse.urlencode(kept)) if kept else ""


def asset_version() -> str:
    """Changes whenever a built asset changes: browsers fetch the new file."""
    digest = hashlib.sha256()
    for name in ("console.js", "console.css"):
        path = STATIC / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(status_class=status_class, when=when, clock=clock, duration=duration, ago=ago,
                       bytes=human_bytes, pretty_json=pretty_json,
                       pretty_json_text=pretty_json_text, quote=lambda s: urllib.parse.quote(str(s), safe=""))
    env.globals.update(query=query, Markup=Markup)
    return env
