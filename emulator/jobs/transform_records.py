"""Batch transform input, streamed (contracts.md 5.2): byte chunks of one S3 object (gunzipped when
``CompressionType`` is Gzip) are split into records (``SplitType``) and grouped into mini-batches
(``BatchStrategy`` under ``MaxPayloadInMB``). Nothing holds more than one mini-batch plus one
read chunk, except ``SplitType None``, whose single record is the whole object by definition.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator

MIB = 1024 * 1024
RECORDIO_MAGIC = 0xCED7230A


class RecordError(Exception):
    """The input cannot be split or batched as asked; ``str()`` says why (the runner names the object)."""


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


def batches(source: Iterable[bytes], strategy: str, max_payload_mb: int) -> Iterator[list[bytes]]:
    """Mini-batches of whole records: one each (SingleRecord) or as many as fit (MultiRecord);
    ``max_payload_mb`` 0 means no limit."""
    limit = max_payload_mb * MIB if max_payload_mb else None
    batch: list[bytes] = []
    size = 0
    for index, record in enumerate(source):
        if limit is not None and len(record) > limit:
            raise RecordError(f"record {index + 1} is {len(record)} bytes, more than MaxPayloadInMB "
                              f"({max_payload_mb} MB)")
        if strategy == "SingleRecord":
            yield [record]
            continue
        if batch and limit is not None and size + len(record) > limit:
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += len(record)
    if batch:
        yield batch
