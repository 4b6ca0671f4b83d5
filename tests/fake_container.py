"""An in-process stand-in for an inference container (no Docker): /ping, and /invocations that
answers ``status:<code>:<text>`` bodies with that status, ``sleep:<seconds>`` after a pause, anything
else echoed back."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body go out in separate writes

    def log_message(self, *args) -> None:
        pass

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._reply(200 if self.path == "/ping" else 404, b"", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if body.startswith(b"sleep:"):
            time.sleep(float(body.decode().split(":", 1)[1]))
            self._reply(200, b"slept", "text/plain")
        elif body.startswith(b"status:"):
            _, code, text = body.decode().split(":", 2)
            self._reply(int(code), text.encode(), "text/plain")
        else:
            self._reply(200, body, self.headers.get("Content-Type") or "application/octet-stream")


@contextlib.contextmanager
def fake_container() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
