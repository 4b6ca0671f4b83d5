"""HTTP call trace injected into a `smlocal up` process by bench/noop_timeline.py (not part of the product).

Imported before the emulator (``python -c "import smlocal_calltrace; ..."`` with this directory on
PYTHONPATH), it wraps urllib3's ``HTTPConnectionPool.urlopen``, through which the process's Docker
engine calls (docker-py over requests) and its S3 calls go, and appends one JSON line per call to
``SMLOCAL_CALLTRACE_OUT``: wall-clock start, duration (to the response headers for streamed calls:
a followed log stream; to the container's exit for ``wait``), method, path without the query, the
pool's host and the calling thread.
"""

from __future__ import annotations

import json
import os
import threading
import time

from urllib3.connectionpool import HTTPConnectionPool

_OUT = os.environ["SMLOCAL_CALLTRACE_OUT"]
_LOCK = threading.Lock()
_urlopen = HTTPConnectionPool.urlopen


def urlopen(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.time()
    try:
        return _urlopen(self, method, url, *args, **kwargs)
    finally:
        line = json.dumps({"t": started, "d": time.time() - started, "method": method,
                           "path": str(url).split("?", 1)[0], "host": f"{self.host}:{self.port or ''}",
                           "thread": threading.current_thread().name})
        with _LOCK, open(_OUT, "a") as out:
            out.write(line + "\n")


HTTPConnectionPool.urlopen = urlopen  # type: ignore[method-assign]
