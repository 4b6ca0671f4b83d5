"""S3: buckets, prefixes (folders), an object's page with a preview of its head (text, CSV as a
table, JSON pretty-printed, JSON Lines), and downloads streamed through the gateway (never a
presigned URL: those carry the access key).

Objects are hostile: every key and byte is escaped in pages, and downloads are always attachments
of type application/octet-stream, so an HTML object can never run as a console page.
"""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.parse
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from emulator.console.app import Console
from emulator.console.data import S3Unavailable

PREVIEW_BYTES = 64 * 1024
PREVIEW_ROWS = 50
PAGE = 200
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-_]{1,254}$")


def preview(key: str, content_type: str, head: bytes, complete: bool) -> dict[str, Any]:
    """What to show of an object from its first bytes: {"kind": text|csv|json|jsonl|binary, ...}."""
    lower = key.lower()
    if lower.endswith((".gz", ".tgz", ".zip", ".tar", ".npy", ".pkl", ".pt", ".pth", ".bin", ".parquet", ".png",
                       ".jpg", ".jpeg")) or b"\x00" in head[:4096]:
        return {"kind": "binary"}
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if complete or exc.start < len(head) - 4:    # not just a character cut at the end of the head
            return {"kind": "binary"}
        text = head[:exc.start].decode("utf-8")
    if not complete and "\n" in text:
        text = text[:text.rfind("\n") + 1]            # whole lines only
    base = content_type.split(";")[0].strip().lower()
    if lower.endswith((".csv", ".tsv")) or base in ("text/csv", "text/tab-separated-values"):
        dialect = "excel-tab" if lower.endswith(".tsv") or "tab" in base else "excel"
        rows = list(csv.reader(io.StringIO(text), dialect=dialect))[:PREVIEW_ROWS]
        return {"kind": "csv", "rows": rows, "width": max((len(r) for r in rows), default=0)}
    if lower.endswith((".jsonl", ".jsonlines")) or base in ("application/jsonlines", "application/x-jsonlines"):
        lines = [line for line in text.splitlines() if line.strip()][:PREVIEW_ROWS]
        return {"kind": "jsonl", "lines": lines}
    if lower.endswith(".json") or base == "application/json":
        if complete:
            try:
                return {"kind": "json", "text": json.dumps(json.loads(text), indent=2, sort_keys=False)}
            except ValueError:
                pass
        return {"kind": "text", "text": text}
    return {"kind": "text", "text": text}


def crumbs(bucket: str, prefix: str) -> list[tuple[str, str]]:
    """(label, prefix) for each level of ``prefix``."""
    out, path = [], ""
    for part in [p for p in prefix.split("/") if p]:
        path += part + "/"
        out.append((part, path))
    return out


class _Pages:
    """The S3 browser's pages (read-only: buckets, prefixes, object previews, downloads)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.data = console.data

    def unavailable(self, request: Request, exc: S3Unavailable, **context: Any) -> Response:
        return self.console.page(request, "s3/error.html", section="s3", title="S3", error=str(exc), status_code=502,
                                 **context)

    def bucket_list(self, request: Request) -> Response:
        try:
            buckets = self.data.buckets()
        except S3Unavailable as exc:
            return self.unavailable(request, exc)
        return self.console.page(request, "s3/buckets.html", section="s3", title="S3 buckets", buckets=buckets)

    def prefix_list(self, request: Request, bucket: str) -> Response:
        prefix = request.query_params.get("prefix", "")
        after = request.query_params.get("after", "")
        if not _BUCKET.match(bucket):
            return self.console.not_found(request, "s3", f"{bucket!r} is not a bucket name.",
                                          self.console.href("/s3"), "All buckets")
        if prefix and not prefix.endswith("/"):
            # a link to a key (an s3:// URI from a job): show its folder, or the object itself
            try:
                if self.data.head(bucket, prefix) is not None:
                    return Response(status_code=303, headers={"location": self.console.href(
                        f"/s3/{urllib.parse.quote(bucket, safe='')}/object", key=prefix)})
            except S3Unavailable:
                pass
            prefix += "/"
        try:
            listing = self.data.list_prefix(bucket, prefix, after, PAGE)
        except S3Unavailable as exc:
            return self.unavailable(request, exc, bucket=bucket)
        return self.console.page(request, "s3/prefix.html", section="s3", title=f"s3://{bucket}/{prefix}",
                                 bucket=bucket, prefix=prefix, listing=listing, crumbs=crumbs(bucket, prefix),
                                 after=after)

    def object_page(self, request: Request, bucket: str) -> Response:
        key = request.query_params.get("key", "")
        folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
        try:
            info = self.data.head(bucket, key) if key else None
            if info is None:
                folder_href = self.console.href(f"/s3/{urllib.parse.quote(bucket, safe='')}", prefix=folder)
                return self.console.not_found(request, "s3", f"No object s3://{bucket}/{key}.", folder_href,
                                              "The folder")
            head = self.data.read_head(bucket, key, PREVIEW_BYTES) if info.size else b""
        except S3Unavailable as exc:
            return self.unavailable(request, exc, bucket=bucket)
        shown = preview(key, info.content_type, head, complete=len(head) >= info.size)
        return self.console.page(request, "s3/object.html", section="s3", title=key.rsplit("/", 1)[-1] or key,
                                 bucket=bucket, key=key, info=info, preview=shown, crumbs=crumbs(bucket, folder),
                                 clipped=info.size > PREVIEW_BYTES)

    def download(self, request: Request, bucket: str) -> Response:
        key = request.query_params.get("key", "")
        try:
            info = self.data.head(bucket, key) if key else None
            if info is None:
                return Response(f"No object s3://{bucket}/{key}.\n", status_code=404, media_type="text/plain")
            chunks = self.data.open_object(bucket, key)
        except S3Unavailable as exc:
            return Response(str(exc) + "\n", status_code=502, media_type="text/plain")
        filename = key.rsplit("/", 1)[-1] or "object"
        ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[:150] or "object"
        disposition = (f'attachment; filename="{ascii_name}"; '
                       f"filename*=UTF-8''{urllib.parse.quote(filename, safe='')}")
        return StreamingResponse(chunks, media_type="application/octet-stream", headers={
            "content-disposition": disposition, "content-length": str(info.size), "cache-control": "no-store"})


def register(app: FastAPI, console: Console) -> None:
    pages = _Pages(console)
    app.add_api_route("/s3", pages.bucket_list, methods=["GET"], include_in_schema=False)
    app.add_api_route("/s3/{bucket}", pages.prefix_list, methods=["GET"], include_in_schema=False)
    app.add_api_route("/s3/{bucket}/object", pages.object_page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/s3/{bucket}/download", pages.download, methods=["GET"], include_in_schema=False)
