"""The HTTP server: a pre-forked stdlib server. The arbiter binds the port first (connections queue in
the backlog while user code is fetched and imported), then forks the workers, which share the listening
socket; each accepted connection gets a thread serving persistent HTTP/1.1 requests one after the other
(no hand-off between requests, hence fast keep-alive). A worker whose request outlives
SAGEMAKER_MODEL_SERVER_TIMEOUT is killed and replaced, as gunicorn does; every request is logged to
stdout as an access-log line."""

from __future__ import annotations

import io
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote

logger = logging.getLogger("smlocal.serving")

MAX_CONNECTIONS_PER_WORKER = 1000
DRAIN_LIMIT = 1 << 20          # unread request bodies up to this size are skipped, larger ones close the connection
CHUNKED_LIMIT = 110 * 1024 * 1024
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def configure_logging() -> None:
    logging.basicConfig(stream=sys.stdout, level=logging.INFO,
                        format="%(asctime)s %(levelname)s - %(name)s - %(message)s")


def bind(port: int) -> socket.socket:
    sock = socket.create_server(("0.0.0.0", port), backlog=2048)
    sock.set_inheritable(True)
    return sock


class _Body(io.RawIOBase):
    """The request body as a bounded stream over the connection."""

    def __init__(self, rfile, length: int):
        self.rfile, self.remaining = rfile, length

    def readable(self):
        return True

    def read(self, size=-1):
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self.rfile.read(size)
        self.remaining -= len(data)
        if len(data) < size:
            self.remaining = 0
            raise ConnectionError("client closed the connection inside the request body")
        return data


def _read_chunked(rfile) -> bytes | None:
    chunks, total = [], 0
    while True:
        size = int(rfile.readline(1024).split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        total += size
        if total > CHUNKED_LIMIT:
            return None
        chunks.append(rfile.read(size))
        rfile.readline(1024)


class Worker:
    def __init__(self, app, timeout: int):
        self.app, self.timeout = app, timeout
        self.active: dict[int, tuple[float, str]] = {}
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS_PER_WORKER)

    def watchdog(self) -> None:
        while True:
            time.sleep(1)
            now = time.monotonic()
            for started, line in list(self.active.values()):
                if now - started > self.timeout:
                    logger.error("WORKER TIMEOUT (pid:%s): %r ran longer than %ss (SAGEMAKER_MODEL_SERVER_TIMEOUT)",
                                 os.getpid(), line, self.timeout)
                    sys.stdout.flush()
                    os._exit(1)


class _Handler(BaseHTTPRequestHandler):
    """One HTTP/1.1 connection of a worker; ``worker`` is set per worker by ``_handler_class``."""

    protocol_version = "HTTP/1.1"
    server_version = "smlocal-model-server"
    sys_version = ""
    worker: Worker

    def log_message(self, format, *args):
        sys.stdout.write(f"{self.client_address[0]} - - [{self.log_date_time_string()}] {format % args}\n")

    def dispatch(self):
        started = time.monotonic()
        self.worker.active[threading.get_ident()] = (started, self.requestline)
        try:
            self._respond(started)
        finally:
            self.worker.active.pop(threading.get_ident(), None)

    def _environ(self):
        """(WSGI environ, the body reader or None when the body was read whole); None after an error answer."""
        path, _, query = self.path.partition("?")
        environ = {"REQUEST_METHOD": self.command, "PATH_INFO": unquote(path), "QUERY_STRING": query,
                   "SERVER_PROTOCOL": self.request_version, "REMOTE_ADDR": self.client_address[0]}
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = _read_chunked(self.rfile)
            if data is None:
                self._send(413, [("Content-Type", "text/plain")], b"Request Entity Too Large", True)
                return None
            environ["CONTENT_LENGTH"] = str(len(data))
            environ["wsgi.input"] = io.BytesIO(data)
            return environ, None
        length = environ.get("CONTENT_LENGTH", "0").strip() or "0"
        if not length.isdigit():
            self._send(400, [("Content-Type", "text/plain")], b"Bad Content-Length", True)
            return None
        body = _Body(self.rfile, int(length))
        environ["wsgi.input"] = body
        return environ, body

    def _respond(self, started):
        parsed = self._environ()
        if parsed is None:
            return
        environ, body = parsed
        status_headers = []
        data = b"".join(self.app_call(environ, status_headers))
        close = False
        if body is not None and body.remaining:
            if body.remaining > DRAIN_LIMIT:
                close = True
            else:
                body.read()
        status, headers = status_headers
        self._send(int(status.split()[0]), headers, data, close, status)
        self.log_message('"%s" %s %s %dms', self.requestline, status.split()[0], len(data),
                         (time.monotonic() - started) * 1000)

    def app_call(self, environ, status_headers):
        def start_response(status, headers, exc_info=None):
            status_headers[:] = [status, headers]
        return self.worker.app(environ, start_response)

    def _send(self, code, headers, data, close, status=None):
        lines = [f"HTTP/1.1 {status or code}", f"Date: {self.date_time_string()}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if not any(k.lower() == "content-length" for k, _ in headers):
            lines.append(f"Content-Length: {len(data)}")
        if close or self.close_connection:
            self.close_connection = True
            lines.append("Connection: close")
        else:
            lines.append("Connection: keep-alive")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = dispatch


def _handler_class(worker: Worker, keepalive: int):
    """The handler class of one worker process: ``_Handler`` bound to it, with its keep-alive timeout."""
    return type("Handler", (_Handler,), {"worker": worker, "timeout": keepalive})


def _serve_connection(worker: Worker, handler, conn, address) -> None:
    try:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        handler(conn, address, None)
    except (ConnectionError, TimeoutError, OSError):
        pass
    except Exception:
        logger.exception("Connection from %s failed", address[0])
    finally:
        try:
            conn.close()
        finally:
            worker.slots.release()


def _worker_main(sock, app_factory: Callable[[], object], timeout: int, keepalive: int) -> None:
    logger.info("Booting worker with pid: %s", os.getpid())
    app = app_factory()
    worker = Worker(app, timeout)
    threading.Thread(target=worker.watchdog, name="watchdog", daemon=True).start()
    preload = getattr(app, "preload", None)
    if preload is not None:
        preload()
    handler = _handler_class(worker, keepalive)
    while True:
        worker.slots.acquire()
        try:
            conn, address = sock.accept()
        except OSError:
            worker.slots.release()
            continue
        threading.Thread(target=_serve_connection, args=(worker, handler, conn, address), daemon=True).start()


def run(app_factory: Callable[[], object], *, sock: socket.socket, workers: int, timeout: int,
        keepalive: int = 75) -> int:
    """Fork ``workers`` processes serving ``app_factory()`` on ``sock``; replace any that dies; stop on
    SIGTERM/SIGINT."""
    children: dict[int, float] = {}
    stopping = threading.Event()

    def spawn():
        sys.stdout.flush()
        # Signals wait until the child has its own handlers and the arbiter knows the child's pid.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        pid = os.fork()
        if pid == 0:
            try:
                signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
                _worker_main(sock, app_factory, timeout, keepalive)
            except BaseException:
                logger.exception("Worker failed")
            finally:
                sys.stdout.flush()
                os._exit(1)
        children[pid] = time.monotonic()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    def stop(signum, _frame):
        stopping.set()
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("Listening at: http://0.0.0.0:%s (%s), %s worker(s)", sock.getsockname()[1], os.getpid(), workers)
    for _ in range(workers):
        spawn()
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        started = children.pop(pid, None)
        if started is None or stopping.is_set():
            continue
        logger.warning("Worker (pid:%s) exited with code %s; starting a new one", pid,
                       os.waitstatus_to_exitcode(status))
        if time.monotonic() - started < 1:
            time.sleep(1)   # a worker that dies at once would otherwise spin
        spawn()
    return 0
