"""The batch transform data path of one instance (contracts.md 5.2, 5.3): each S3 object is streamed,
split and batched (``transform_records``), every mini-batch is POSTed to the container's
``/invocations`` with up to MaxConcurrentTransforms requests in flight (pooled keep-alive
connections, ``hosting.upstream``), and the answers are written in input order to a local file that
becomes ``<S3OutputPath>/<relative key>.out`` once the whole object succeeded.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from emulator.hosting.upstream import UpstreamError, UpstreamPool
from emulator.jobs.transform_contract import Settings
from emulator.jobs.transform_filters import DataProcessing, FilterError
from emulator.jobs.transform_records import RecordError, batches, records

PULL = 64                   # mini-batches read ahead from the object at a time
RETRY_PAUSE = 0.5


class ObjectFailure(Exception):
    """One input object cannot be transformed; ``str()`` says why (the runner names the object)."""

    def __init__(self, message: str, client_error: bool = True) -> None:
        super().__init__(message)
        self.client_error = client_error


@dataclass
class Target:
    host: str
    port: int


@dataclass
class ObjectStats:
    records: int = 0
    requests: int = 0
    bytes_out: int = 0


def _take(iterator: Iterator[list[bytes]], count: int) -> list[list[bytes]]:
    found = []
    for batch in iterator:
        found.append(batch)
        if len(found) == count:
            break
    return found


class Invoker:
    """POST /invocations with ModelClientConfig's timeout and retries."""

    def __init__(self, pool: UpstreamPool, target: Target, settings: Settings) -> None:
        self.pool, self.target, self.settings = pool, target, settings
        self.headers = []
        if settings.content_type:
            self.headers.append(("Content-Type", settings.content_type))
        if settings.accept:
            self.headers.append(("Accept", settings.accept))

    async def invoke(self, body: bytes) -> bytes:
        problem = ""
        for attempt in range(self.settings.retries + 1):
            if attempt:
                await asyncio.sleep(RETRY_PAUSE * attempt)
            try:
                response = await self.pool.request(self.target.host, self.target.port, "POST", "/invocations",
                                                   self.headers, body, self.settings.timeout)
            except asyncio.TimeoutError:
                problem = (f"the model container did not answer within {self.settings.timeout:g} seconds "
                           "(ModelClientConfig.InvocationsTimeoutInSeconds)")
                continue
            except (UpstreamError, OSError) as exc:
                problem = f"no response from the model container: {exc}"
                continue
            if 200 <= response.status < 300:
                return response.body
            text = response.body[:512].decode("utf-8", "replace").strip()
            problem = f"Bad HTTP status received from algorithm: {response.status} {text}".rstrip()
            if response.status < 500:
                raise ObjectFailure(problem)          # the container refused the records: no retry
        raise ObjectFailure(f"{problem} (after {self.settings.retries + 1} attempts)", client_error=False)


class ObjectTransform:
    """One object: streamed in, transformed in order, written to ``out_path``."""

    def __init__(self, invoker: Invoker, settings: Settings, split_type: str, compression: str, assemble: str,
                 processing: DataProcessing | None) -> None:
        self.invoker, self.settings = invoker, settings
        self.split_type, self.compression, self.assemble = split_type, compression, assemble
        self.processing = processing

    async def run(self, chunks: Iterator[bytes], out_path: Path,
                  progress: Callable[[ObjectStats], None] | None = None) -> ObjectStats:
        stats = ObjectStats()
        source = batches(records(chunks, self.split_type, self.compression), self.settings.strategy,
                         self.settings.payload_mb)
        window: collections.deque[tuple[list[bytes], int, asyncio.Task]] = collections.deque()
        ahead: collections.deque[list[bytes]] = collections.deque()
        exhausted = False
        next_record = 1
        try:
            with open(out_path, "wb") as out:
                while True:
                    while len(window) < self.settings.concurrency:
                        if not ahead and not exhausted:
                            got = await asyncio.to_thread(_take_checked, source, PULL)
                            exhausted = len(got) < PULL
                            ahead.extend(got)
                        if not ahead:
                            break
                        batch = ahead.popleft()
                        task = asyncio.ensure_future(self.invoker.invoke(self._payload(batch, next_record)))
                        window.append((batch, next_record, task))
                        next_record += len(batch)
                    if not window:
                        return stats
                    batch, first, task = window.popleft()
                    try:
                        body = await task
                    except ObjectFailure as exc:
                        raise ObjectFailure(f"{_records(first, len(batch))}: {exc}", exc.client_error) from None
                    stats.bytes_out += self._write(out, batch, first, body)
                    stats.records += len(batch)
                    stats.requests += 1
                    if progress is not None:
                        progress(stats)
        finally:
            for _, _, task in window:
                task.cancel()

    def _payload(self, batch: list[bytes], first: int) -> bytes:
        if self.processing is None or not self.processing.input_steps:
            return batch[0] if len(batch) == 1 else b"".join(batch)
        try:
            return b"".join(self.processing.filter_input(r) for r in batch)
        except FilterError as exc:
            raise ObjectFailure(f"InputFilter failed on {_records(first, len(batch))}: {exc}") from None

    def _write(self, out, batch: list[bytes], first: int, body: bytes) -> int:
        if self.processing is None:
            out.write(body)
            if self.assemble == "Line" and not body.endswith(b"\n"):
                out.write(b"\n")
                return len(body) + 1
            return len(body)
        outputs = split_output(body, len(batch))
        if outputs is None:
            raise ObjectFailure(f"{_records(first, len(batch))}: the model container answered a mini-batch of "
                                f"{len(batch)} records with a body that does not split into {len(batch)} records "
                                "(one line, or one JSON array element, per record), so it cannot be joined or "
                                "filtered")
        try:
            data = b"".join(self.processing.assemble(s, o) + b"\n" for s, o in zip(batch, outputs, strict=True))
        except FilterError as exc:
            raise ObjectFailure(f"OutputFilter/JoinSource failed on {_records(first, len(batch))}: {exc}") from None
        out.write(data)
        return len(data)


def _take_checked(source: Iterator[list[bytes]], count: int) -> list[list[bytes]]:
    try:
        return _take(source, count)
    except RecordError as exc:
        raise ObjectFailure(str(exc)) from None


def _records(first: int, count: int) -> str:
    return f"record {first}" if count == 1 else f"records {first}-{first + count - 1}"


def split_output(body: bytes, count: int) -> list[bytes] | None:
    """The container's answer to ``count`` records as one output per record, or None."""
    if count == 1:
        return [body]
    stripped = body.strip()
    if stripped.startswith(b"["):
        try:
            values = json.loads(stripped)
        except ValueError:
            values = None
        if isinstance(values, list) and len(values) == count:
            return [json.dumps(v, separators=(",", ":")).encode() for v in values]
    found = [line for line in body.split(b"\n") if line.strip(b"\r")]
    return found if len(found) == count else None
