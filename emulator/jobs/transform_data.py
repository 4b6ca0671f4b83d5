"""The batch transform data path of one instance (docs/container-contract.md 5.2, 5.3): each S3
object is streamed, split and batched (``transform_records``), every mini-batch is POSTed to the
container's ``/invocations`` with up to MaxConcurrentTransforms requests in flight (pooled
keep-alive connections, ``hosting.upstream``), and the answers are written in input order to a local
file that becomes ``<S3OutputPath>/<relative key>.out`` once the whole object succeeded.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from emulator.domain.transform_filters import DataProcessing, FilterError
from emulator.infra.upstream import UpstreamError, UpstreamPool
from emulator.jobs.transform_contract import Settings
from emulator.jobs.transform_records import Batch, RecordError, batches, gunzip, line_blocks, records

PULL = 4                    # mini-batches read ahead (at least 2 x MaxConcurrentTransforms)
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


def _take(iterator: Iterator[Batch], count: int) -> list[Batch]:
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
        concurrency = self.settings.concurrency
        # reading and splitting run in a worker thread, ahead of the requests in flight
        ahead: asyncio.Queue = asyncio.Queue(maxsize=max(PULL, 2 * concurrency))
        reader = asyncio.ensure_future(self._read_ahead(self.batches(chunks), ahead, concurrency))
        window: collections.deque[tuple[Batch, int, asyncio.Task]] = collections.deque()
        exhausted = False
        next_record = 1
        try:
            with open(out_path, "wb") as out:
                while True:
                    while not exhausted and len(window) < concurrency:
                        batch = await ahead.get()
                        if batch is None:
                            exhausted = True
                            break
                        if isinstance(batch, BaseException):
                            raise batch
                        task = asyncio.ensure_future(self.invoker.invoke(self._payload(batch, next_record)))
                        window.append((batch, next_record, task))
                        next_record += batch.count
                    if not window:
                        return stats
                    batch, first, task = window.popleft()
                    try:
                        body = await task
                    except ObjectFailure as exc:
                        raise ObjectFailure(f"{_records(first, batch.count)}: {exc}", exc.client_error) from None
                    stats.bytes_out += self._write(out, batch, first, body)
                    stats.records += batch.count
                    stats.requests += 1
                    if progress is not None:
                        progress(stats)
        finally:
            reader.cancel()
            for _, _, task in window:
                task.cancel()

    @staticmethod
    async def _read_ahead(source: Iterator[Batch], ahead: asyncio.Queue, count: int) -> None:
        """Batches into ``ahead`` (a few per thread hop), then None; a failure is put as the exception."""
        try:
            while got := await asyncio.to_thread(_take_checked, source, count):
                for batch in got:
                    await ahead.put(batch)
            await ahead.put(None)
        except ObjectFailure as exc:
            await ahead.put(exc)

    def batches(self, chunks: Iterator[bytes]) -> Iterator[Batch]:
        if self.split_type == "Line" and self.settings.strategy == "MultiRecord" and self.processing is None:
            return line_blocks(gunzip(chunks) if self.compression == "Gzip" else chunks, self.settings.payload_mb)
        return batches(records(chunks, self.split_type, self.compression), self.settings.strategy,
                       self.settings.payload_mb)

    def _payload(self, batch: Batch, first: int) -> bytes:
        if self.processing is None or not self.processing.input_steps:
            return batch.body
        try:
            return b"".join(self.processing.filter_input(r) for r in batch.parts)
        except FilterError as exc:
            raise ObjectFailure(f"InputFilter failed on {_records(first, batch.count)}: {exc}") from None

    def _write(self, out: BinaryIO, batch: Batch, first: int, body: bytes) -> int:
        if self.processing is None:
            out.write(body)
            if self.assemble == "Line" and not body.endswith(b"\n"):
                out.write(b"\n")
                return len(body) + 1
            return len(body)
        count = batch.count
        outputs = split_output(body, count)
        if outputs is None:
            raise ObjectFailure(f"{_records(first, count)}: the model container answered a mini-batch of "
                                f"{count} records with a body that does not split into {count} records "
                                "(one line, or one JSON array element, per record), so it cannot be joined or "
                                "filtered")
        try:
            data = b"".join(self.processing.assemble(s, o) + b"\n" for s, o in zip(batch.parts, outputs, strict=True))
        except FilterError as exc:
            raise ObjectFailure(f"OutputFilter/JoinSource failed on {_records(first, count)}: {exc}") from None
        out.write(data)
        return len(data)


def _take_checked(source: Iterator[Batch], count: int) -> list[Batch]:
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
