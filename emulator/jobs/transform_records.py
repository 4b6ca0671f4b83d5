"""Batch transform input, streamed (docs/container-contract.md 5.2): byte chunks of one S3 object
(gunzipped when ``CompressionType`` is Gzip) are split into records (``SplitType``) and grouped into
mini-batches (``BatchStrategy`` under ``MaxPayloadInMB``). Nothing holds more than one mini-batch
plus one read chunk, except ``SplitType None``, whose single record is the whole object by definition.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass

MIB = 1024 * 1024
RECORDIO_MAGIC = 0xCED7230A


class RecordError(Exception):
    """The input cannot be split or batched as asked; ``str()`` says why (the runner names the object)."""


@dataclass
class Batch:
    """One mini-batch: its records (or, on the fast path, one block of whole lines) and how many."""

    parts: list[bytes]
    count: int

    @property
    def body(self) -> bytes:
        return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)


def gunzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Decompress gzip data (several concatenated members allowed) chunk by chunk."""
    decompressor = zlib.decompressobj(wbits=47)
    in_member = False
    for chunk in chunks:
        while chunk:
            in_member = True
            try:
                out = decompressor.decompress(chunk)
            except zlib.error as exc:
                raise RecordError(f"it is not valid gzip data (CompressionType Gzip): {exc}") from None
            if out:
                yield out
            if decompressor.eof:
                chunk = decompressor.unused_data
                decompressor = zlib.decompressobj(wbits=47)
                in_member = False
            else:
                chunk = b""
    if in_member:
        raise RecordError("its gzip data ends early (truncated file)")


def lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Records split at newlines, each with its newline kept; blank lines are skipped."""
    pending = b""
    for chunk in chunks:
        if pending:
            chunk = pending + chunk
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            line = chunk[start:end + 1]
            if line.strip(b"\r\n"):
                yield line
            start = end + 1
        pending = chunk[start:]
    if pending.strip(b"\r\n"):
        yield pending


def recordio(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """MXNet RecordIO records, each yielded with its headers and padding (as SageMaker sends them);
    a record split over several parts (cflag 1..3) is yielded as one."""
    buffer = bytearray()
    logical = bytearray()
    source = iter(chunks)

    def fill(size: int) -> bool:
        while len(buffer) < size:
            chunk = next(source, None)
            if chunk is None:
                return False
            buffer.extend(chunk)
        return True

    while fill(8):
        magic, header = struct.unpack("<II", buffer[:8])
        if magic != RECORDIO_MAGIC:
            raise RecordError("it is not RecordIO data (bad magic number)")
        flag, length = header >> 29, header & ((1 << 29) - 1)
        total = 8 + length + (-length % 4)
        if not fill(total):
            raise RecordError("its last RecordIO record is truncated")
        logical.extend(buffer[:total])
        del buffer[:total]
        if flag in (0, 3):
            yield bytes(logical)
            logical.clear()
    if buffer:
        raise RecordError("it ends with a partial RecordIO header")
    if logical:
        yield bytes(logical)


def whole(chunks: Iterable[bytes]) -> Iterator[bytes]:
    data = b"".join(chunks)
    if data:
        yield data


SPLITTERS = {"None": whole, "Line": lines, "RecordIO": recordio}


def records(chunks: Iterable[bytes], split_type: str, compression: str) -> Iterator[bytes]:
    if compression == "Gzip":
        chunks = gunzip(chunks)
    return SPLITTERS[split_type](chunks)


def batches(source: Iterable[bytes], strategy: str, max_payload_mb: int) -> Iterator[Batch]:
    """Mini-batches of whole records: one each (SingleRecord) or as many as fit (MultiRecord);
    ``max_payload_mb`` 0 means no limit."""
    limit = max_payload_mb * MIB if max_payload_mb else None
    batch: list[bytes] = []
    size = 0
    for index, record in enumerate(source):
        if limit is not None and len(record) > limit:
            raise _too_large(index + 1, len(record), max_payload_mb)
        if strategy == "SingleRecord":
            yield Batch([record], 1)
            continue
        if batch and limit is not None and size + len(record) > limit:
            yield Batch(batch, len(batch))
            batch, size = [], 0
        batch.append(record)
        size += len(record)
    if batch:
        yield Batch(batch, len(batch))


def line_blocks(chunks: Iterable[bytes], max_payload_mb: int) -> Iterator[Batch]:
    """MultiRecord batches of newline-split records, cut from the byte stream directly (the same cuts
    as ``batches(lines(...))``, without handling each record in Python): the fast path when no
    DataProcessing needs the records one by one. ``max_payload_mb`` 0: the whole object at once."""
    limit = max_payload_mb * MIB if max_payload_mb else None
    buffer = bytearray()
    seen = [0]
    for chunk in chunks:
        buffer += chunk
        if limit is None or len(buffer) < 2 * limit:
            continue                       # (no limit: the whole object is one request)
        data = bytes(buffer)
        start = yield from _cut(data, limit, max_payload_mb, seen)
        del buffer[:start]
    data = bytes(buffer)
    start = (yield from _cut(data, limit, max_payload_mb, seen)) if limit is not None else 0
    if (block := _block(data[start:])) is not None:
        yield block


def _cut(data: bytes, limit: int, max_payload_mb: int, seen: list[int]) -> Generator[Batch, None, int]:
    """Yield full blocks from ``data`` while more than ``limit`` bytes remain; return where it stopped."""
    start = 0
    while len(data) - start > limit:
        end = data.rfind(b"\n", start, start + limit) + 1
        if end <= start:
            first = data.find(b"\n", start)
            raise _too_large(seen[0] + 1, (first + 1 if first != -1 else len(data)) - start, max_payload_mb)
        if (block := _block(data[start:end])) is not None:
            seen[0] += block.count
            yield block
        start = end
    return start


def _block(data: bytes) -> Batch | None:
    if b"\n\n" in data or b"\n\r\n" in data or data[:1] in (b"\n", b"\r"):
        data = b"".join(line for line in data.splitlines(keepends=True) if line.strip(b"\r\n"))
    if not data.strip(b"\r\n"):
        return None
    return Batch([data], data.count(b"\n") + (not data.endswith(b"\n")))


def _too_large(index: int, size: int, max_payload_mb: int) -> RecordError:
    return RecordError(f"record {index} is {size} bytes, more than MaxPayloadInMB ({max_payload_mb} MB)")
