"""Data capture: sampled requests and responses written as JSON Lines under the capture prefix,
in SageMaker's layout ``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl``.

Records are buffered in memory and flushed by a background thread every ``FLUSH_SECONDS`` (and
when the endpoint is updated or deleted), one object per variant and flush, as SageMaker batches them.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import logging
import random
import threading
import uuid
from typing import Any

from emulator.s3.client import S3Client, split_uri

log = logging.getLogger(__name__)
FLUSH_SECONDS = 1.0
DEFAULT_CSV = ("text/csv",)
DEFAULT_JSON = ("application/json",)


def describe(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """DescribeEndpoint's DataCaptureConfig summary."""
    if not config:
        return None
    out = {"EnableCapture": bool(config.get("EnableCapture", True)),
           "CaptureStatus": "Started" if config.get("EnableCapture", True) else "Stopped",
           "CurrentSamplingPercentage": config["InitialSamplingPercentage"],
           "DestinationS3Uri": config["DestinationS3Uri"]}
    if config.get("KmsKeyId"):
        out["KmsKeyId"] = config["KmsKeyId"]
    return out


class CaptureWriter:
    def __init__(self, s3: S3Client, endpoint: str, config: dict[str, Any]) -> None:
        self.s3, self.endpoint, self.config = s3, endpoint, config
        self.percentage = float(config["InitialSamplingPercentage"])
        modes = {o["CaptureMode"] for o in config.get("CaptureOptions", [])}
        self.inputs, self.outputs = "Input" in modes, "Output" in modes
        headers = config.get("CaptureContentTypeHeader") or {}
        self.csv = tuple(headers.get("CsvContentTypes") or DEFAULT_CSV)
        self.json = tuple(headers.get("JsonContentTypes") or DEFAULT_JSON)
        self._pending: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"capture-{endpoint}", daemon=True)
        self._thread.start()

    def sampled(self) -> bool:
        return self.percentage >= 100 or random.uniform(0, 100) < self.percentage

    def _payload(self, body: bytes, content_type: str | None, mode: str) -> dict[str, Any]:
        base = (content_type or "").split(";")[0].strip()
        if base in self.csv or base in self.json:
            try:
                return {"observedContentType": content_type or "", "mode": mode,
                        "data": body.decode("utf-8"), "encoding": "CSV" if base in self.csv else "JSON"}
            except UnicodeDecodeError:
                pass
        return {"observedContentType": content_type or "", "mode": mode,
                "data": base64.b64encode(body).decode(), "encoding": "BASE64"}

    def record(self, variant: str, request: bytes, request_type: str | None, response: bytes,
               response_type: str | None, inference_id: str | None, custom_attributes: str | None) -> None:
        data: dict[str, Any] = {}
        if self.inputs:
            data["endpointInput"] = self._payload(request, request_type, "INPUT")
        if self.outputs:
            data["endpointOutput"] = self._payload(response, response_type, "OUTPUT")
        now = dt.datetime.now(dt.timezone.utc)
        metadata = {"eventId": str(uuid.uuid4()), "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if inference_id:
            metadata["inferenceId"] = inference_id
        if custom_attributes:
            metadata["customAttributes"] = custom_attributes
        line = json.dumps({"captureData": data, "eventMetadata": metadata, "eventVersion": "0"},
                          separators=(",", ":"))
        with self._lock:
            self._pending.setdefault(variant, []).append(line)

    def _loop(self) -> None:
        while not self._closed.wait(FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        bucket, prefix = split_uri(self.config["DestinationS3Uri"])
        now = dt.datetime.now(dt.timezone.utc)
        for variant, lines in pending.items():
            key = "/".join(p for p in (prefix.strip("/"), self.endpoint, variant, now.strftime("%Y/%m/%d/%H"),
                                       f"{now.strftime('%M-%S')}-{now.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl")
                           if p)
            data = ("\n".join(lines) + "\n").encode()
            try:
                self.s3.raw.put_object(bucket, key, io.BytesIO(data), len(data),
                                       content_type="application/jsonlines")
            except Exception as exc:  # noqa: BLE001 - capture must never break invocations
                log.warning("data capture of %s could not write s3://%s/%s: %s", self.endpoint, bucket, key, exc)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        self.flush()
