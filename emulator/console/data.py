"""Everything the console reads, in one place: records, logs, metric datapoints, S3 objects and the
live state of endpoint containers.

The console never goes through the HTTP API (nor its signatures): it reads the same record store,
log store and metric store the API serves from. This module is the only console module that knows
where those live, so moving them (issue 13: records, families and listing into ``emulator/domain``)
changes its imports and nothing else; the page modules take the family table from here too
(``from emulator.console.data import families``). Every method returns plain dicts and lists.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from minio.error import MinioException
from urllib3.exceptions import HTTPError

from emulator.config import Settings
from emulator.domain import families  # the pages take the family table from here
from emulator.domain.families import Family
from emulator.domain.listing import list_page
from emulator.infra.serving import ping
from emulator.s3.client import S3Client
from emulator.state.logs import LogStore
from emulator.state.metrics import MetricStore
from emulator.state.resources import ResourceStore

T = TypeVar("T")
__all__ = ["ConsoleData", "Family", "Listing", "ObjectInfo", "S3Unavailable", "families", "public"]
PRIVATE = "_smlocal"          # smlocal's own bookkeeping inside records: never shown
S3_USAGE_TTL = 30.0           # seconds an S3 / disk usage figure is reused (the overview polls)
S3_USAGE_MAX_OBJECTS = 20000  # per bucket; beyond that the figure says "at least"


class S3Unavailable(Exception):
    """No S3 server is configured, or it does not answer; ``str()`` says which."""


@dataclass
class ObjectInfo:
    key: str
    size: int
    last_modified: float | None
    etag: str
    content_type: str


@dataclass
class Listing:
    prefixes: list[str]
    objects: list[ObjectInfo]
    next_after: str | None     # pass as start_after for the next page


def public(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """A record as Describe* shows it: without smlocal's private bookkeeping."""
    if record is None:
        return None
    return {k: v for k, v in record.items() if k != PRIVATE}


class ConsoleData:
    def __init__(self, settings: Settings, store: ResourceStore, logs: LogStore, metrics: MetricStore,
                 s3: S3Client | None, hosting: Any) -> None:
        self.settings = settings
        self.store = store
        self.logs = logs
        self.metrics = metrics
        self.s3 = s3
        self.hosting = hosting        # the hosting runtime: live deployments of endpoints
        self._cache: dict[str, tuple[float, Any]] = {}
        self._cache_lock = threading.Lock()

    @classmethod
    def from_emulator(cls, emulator: Any) -> ConsoleData:
        """The stores of a built emulator (``emulator.server.build``)."""
        return cls(emulator.settings, emulator.ctx.store, emulator.logs, emulator.jobs.services.metrics,
                   emulator.jobs.services.s3, emulator.hosting)

    # --- records -------------------------------------------------------------------------------------
    def record(self, family: Family, name: str) -> dict[str, Any] | None:
        return public(self.store.get(family.kind, name))

    def private(self, family: Family, name: str) -> dict[str, Any]:
        """smlocal's bookkeeping of a record (log streams, containers); for the console's own use."""
        record = self.store.get(family.kind, name)
        return (record or {}).get(PRIVATE) or {}

    def records(self, family: Family) -> list[dict[str, Any]]:
        return [public(r) for r in self.store.all(family.kind)]  # type: ignore[misc]

    def page(self, family: Family, *, contains: str = "", status: str = "", sort: str = "CreationTime",
             descending: bool = True, token: str | None = None, size: int = 50
             ) -> tuple[list[dict[str, Any]], str | None, int]:
        """One page of a family's records with the List* operations' filters and sorting:
        (records, next token, how many match in all)."""
        params: dict[str, Any] = {"SortBy": sort, "SortOrder": "Descending" if descending else "Ascending",
                                  "MaxResults": size}
        if contains:
            params["NameContains"] = contains
        if status and family.status_field:
            params["StatusEquals"] = status
        everything = {**params, "MaxResults": 10**9}
        records = self.store.all(family.kind)
        matching, _ = list_page(records, everything, name_field=family.name_field, status_field=family.status_field)
        if token:
            params["NextToken"] = token
        found, next_token = list_page(records, params, name_field=family.name_field,
                                      status_field=family.status_field)
        return [public(r) for r in found], next_token, len(matching)  # type: ignore[misc]

    def status_counts(self) -> dict[str, collections.Counter]:
        """Family kind -> how many records in each status (families without one: under "")."""
        counts: dict[str, collections.Counter] = {}
        for family in families.ALL:
            counter: collections.Counter = collections.Counter()
            for record in self.store.all(family.kind):
                counter[record.get(family.status_field, "") if family.status_field else ""] += 1
            counts[family.kind] = counter
        return counts

    def tags(self, arn: str) -> list[dict[str, str]]:
        return self.store.tags(arn)

    def referring(self, family: Family, field_path: tuple[str, ...], value: str) -> list[dict[str, Any]]:
        """Records of ``family`` whose ``field_path`` (a list step is searched) equals ``value``
        (case-insensitive): the endpoint configs using a model, the endpoints using a config."""
        return [{k: v for k, v in record.items() if k != PRIVATE} for record in self.store.all(family.kind)
                if _matches(record, field_path, value.lower())]

    # --- logs ---------------------------------------------------------------------------------------
    def log_streams(self, group: str, prefix: str = "") -> list[str]:
        return [s["name"] for s in self.logs.streams(group, prefix)]

    def log_tail(self, group: str, streams: list[str], limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` events of those streams, oldest first."""
        if not streams:
            return []
        return self.logs.events(group, streams, limit=limit, newest_first=True)

    def log_after(self, group: str, streams: list[str], after_id: int, limit: int) -> list[dict[str, Any]]:
        """Events of those streams written after event ``after_id``, oldest first."""
        if not streams:
            return []
        return self.logs.events(group, streams, after_id=after_id, limit=limit)

    def log_all(self, group: str, streams: list[str], chunk: int = 5000) -> Iterator[dict[str, Any]]:
        after = 0
        while streams:
            events = self.logs.events(group, streams, after_id=after, limit=chunk)
            yield from events
            if len(events) < chunk:
                return
            after = events[-1]["id"]

    # --- metrics ------------------------------------------------------------------------------------
    def metric_series(self, arn: str) -> dict[str, list[tuple[int, float]]]:
        """Metric name -> every stored datapoint (epoch ms, value), in the order the job emitted them."""
        return self.metrics.series(arn)

    # --- endpoints: live containers -----------------------------------------------------------------
    def endpoint_containers(self, name: str) -> list[dict[str, Any]]:
        """Every container of the endpoint's serving deployment: variant, instance, hostname, Docker
        state and whether it answers /ping now."""
        deployment = self.hosting.live.get(name.lower()) if self.hosting is not None else None
        if deployment is not None:
            containers, deployment_id = deployment.containers, deployment.id
        else:
            bookkeeping = self.private(families.ENDPOINT, name).get("deployment") or {}
            containers, deployment_id = bookkeeping.get("containers") or {}, bookkeeping.get("id", "")
        route = self.hosting.route(name) if deployment is not None else None
        out = []
        for cid, info in sorted(containers.items(), key=lambda kv: (kv[1]["variant"], kv[1]["instance"],
                                                                     kv[1]["position"])):
            entry = {"id": cid[:12], "variant": info["variant"], "instance": info["instance"] + 1,
                     "hostname": info["hostname"], "state": "unknown", "healthy": False,
                     "log_stream": f"{info['variant']}/{cid[:12]}"}
            try:
                state = self.hosting.services.docker.state(cid)
                entry["state"] = state.status if state is not None else "gone"
                if state is not None and state.status == "running":
                    entry["healthy"] = ping(*self.hosting.fleet.address(cid, info, name, deployment_id))
            except Exception as exc:  # noqa: BLE001 - Docker trouble is shown, never a broken page
                entry["state"] = f"unknown ({exc})"
            out.append(entry)
        if route is not None:
            for entry in out:
                entry["inflight"] = route.inflight
        return out

    # --- S3 -------------------------------------------------------------------------------------------
    def _client(self) -> S3Client:
        if self.s3 is None:
            raise S3Unavailable("smlocal runs without an S3 server (start it with `smlocal up`).")
        return self.s3

    def _s3(self, action: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except MinioException as exc:
            code = getattr(exc, "code", "")
            raise S3Unavailable(f"S3 {action} failed: {code or type(exc).__name__}: "
                                f"{getattr(exc, 'message', exc)}") from None
        except (HTTPError, OSError, ValueError) as exc:
            raise S3Unavailable(f"S3 {action} failed: cannot reach {self._client().endpoint} "
                                f"({type(exc).__name__})") from None

    def buckets(self) -> list[dict[str, Any]]:
        client = self._client()
        found = self._s3("ListBuckets", lambda: client.raw.list_buckets())
        return [{"name": b.name, "created": b.creation_date.timestamp() if b.creation_date else None}
                for b in found]

    def list_prefix(self, bucket: str, prefix: str = "", start_after: str = "", limit: int = 200) -> Listing:
        """Folders (common prefixes) and objects directly under ``prefix``, ``limit`` entries a page."""
        client = self._client()

        def run() -> Listing:
            prefixes: list[str] = []
            objects: list[ObjectInfo] = []
            last = None
            items = client.raw.list_objects(bucket, prefix=prefix or None, recursive=False,
                                            start_after=start_after or None)
            for count, item in enumerate(items):
                if count == limit:
                    return Listing(prefixes, objects, last)
                last = item.object_name
                if item.is_dir:
                    prefixes.append(item.object_name)
                else:
                    objects.append(_info(item))
            return Listing(prefixes, objects, None)
        return self._s3(f"ListObjectsV2 of s3://{bucket}/{prefix}", run)

    def list_recursive(self, bucket: str, prefix: str, limit: int = 200) -> list[ObjectInfo]:
        client = self._client()

        def run() -> list[ObjectInfo]:
            found = []
            for item in client.raw.list_objects(bucket, prefix=prefix or None, recursive=True):
                found.append(_info(item))
                if len(found) >= limit:
                    break
            return found
        return self._s3(f"ListObjectsV2 of s3://{bucket}/{prefix}", run)

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        client = self._client()

        def run() -> ObjectInfo | None:
            try:
                stat = client.raw.stat_object(bucket, key)
            except MinioException as exc:
                if getattr(exc, "code", "") in ("NoSuchKey", "NoSuchObject", "ResourceNotFound", "NoSuchBucket"):
                    return None
                raise
            return ObjectInfo(stat.object_name or key, stat.size or 0,
                              stat.last_modified.timestamp() if stat.last_modified else None,
                              (stat.etag or "").strip('"'), stat.content_type or "")
        return self._s3(f"HeadObject s3://{bucket}/{key}", run)

    def read_head(self, bucket: str, key: str, size: int) -> bytes:
        """The first ``size`` bytes of an object (a ranged GET)."""
        client = self._client()

        def run() -> bytes:
            response = client.raw.get_object(bucket, key, offset=0, length=size)
            try:
                return response.read(size)
            finally:
                response.close()
                response.release_conn()
        return self._s3(f"GetObject s3://{bucket}/{key}", run)

    def open_object(self, bucket: str, key: str) -> Iterator[bytes]:
        """The object's bytes, streamed in chunks (the response is opened before the first chunk,
        so a missing object raises here, not half-way through a download)."""
        client = self._client()
        response = self._s3(f"GetObject s3://{bucket}/{key}", lambda: client.raw.get_object(bucket, key))

        def chunks() -> Iterator[bytes]:
            try:
                yield from response.stream(256 * 1024)
            finally:
                response.close()
                response.release_conn()
        return chunks()

    def s3_usage(self) -> list[dict[str, Any]]:
        """Per bucket: objects and bytes (cached for ``S3_USAGE_TTL``; capped per bucket)."""
        def compute() -> list[dict[str, Any]]:
            client = self._client()
            usage = []
            for bucket in self.buckets():
                count = size = 0
                capped = False
                def listing(name: str = bucket["name"]) -> list[Any]:
                    return list(_take(client.raw.list_objects(name, recursive=True), S3_USAGE_MAX_OBJECTS + 1))

                for item in self._s3("ListObjectsV2", listing):
                    if count == S3_USAGE_MAX_OBJECTS:
                        capped = True
                        break
                    count += 1
                    size += item.size or 0
                usage.append({"bucket": bucket["name"], "objects": count, "bytes": size, "capped": capped})
            return usage
        return self._cached("s3-usage", compute)

    # --- the machine --------------------------------------------------------------------------------
    def data_dir_usage(self) -> dict[str, int]:
        """Bytes under the data directory: the database, S3 data, job workspaces, logs, the rest."""
        def compute() -> dict[str, int]:
            root = self.settings.data_dir
            parts = {"state.db": 0, "s3": 0, "jobs": 0, "endpoints": 0, "logs": 0, "other": 0}
            for entry in _scandir(root):
                name = entry.name
                if name.startswith("state.db"):
                    parts["state.db"] += _size(entry)
                elif name in parts:
                    parts[name] += _size(entry)
                else:
                    parts["other"] += _size(entry)
            return parts
        return self._cached("disk", compute)

    def _cached(self, key: str, compute: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < S3_USAGE_TTL:
                return hit[1]
        value = compute()
        with self._cache_lock:
            self._cache[key] = (now, value)
        return value


def _matches(record: Any, path: tuple[str, ...], value: str) -> bool:
    if not path:
        return isinstance(record, str) and record.lower() == value
    if isinstance(record, list):
        return any(_matches(item, path, value) for item in record)
    if isinstance(record, dict):
        return _matches(record.get(path[0]), path[1:], value)
    return False


def _info(item: Any) -> ObjectInfo:
    return ObjectInfo(item.object_name, item.size or 0,
                      item.last_modified.timestamp() if item.last_modified else None,
                      (item.etag or "").strip('"'), "")


def _take(items: Iterable[T], count: int) -> Iterator[T]:
    for index, item in enumerate(items):
        if index >= count:
            return
        yield item


def _scandir(path: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as entries:
            return list(entries)
    except OSError:
        return []


def _size(entry: os.DirEntry) -> int:
    """Bytes of a file, or of a directory tree (symlinks not followed; unreadable parts skipped)."""
    try:
        if entry.is_symlink():
            return 0
        if entry.is_file(follow_symlinks=False):
            return entry.stat(follow_symlinks=False).st_size
        if entry.is_dir(follow_symlinks=False):
            return sum(_size(child) for child in _scandir(Path(entry.path)))
    except OSError:
        return 0
    return 0
