"""Sees every DNS lookup and socket connect of this Python process (``sys.addaudithook``) and records
those that go beyond loopback: the proof that an SDK 3 flow stays on this machine. The ring's own
process installs it from conftest.py; the example subprocesses get it through ``sitecustomize.py``
in this directory (on their PYTHONPATH), which appends to the file named by SMLOCAL_OUTBOUND_LOG."""

from __future__ import annotations

import ipaddress
import sys
import threading
from collections.abc import Callable

_LOCK = threading.Lock()


def loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host in (None, "", "localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def install(record: Callable[[str], None]) -> None:
    def audit(event: str, args: tuple) -> None:
        if event == "socket.getaddrinfo" and not loopback(args[0]):
            host = args[0].decode() if isinstance(args[0], bytes) else args[0]
            with _LOCK:
                record(f"DNS lookup of {host}:{args[1]}")
        elif event == "socket.connect":
            address = args[1]
            if isinstance(address, tuple) and not loopback(address[0]):  # Unix sockets are strings
                with _LOCK:
                    record(f"connect to {address[0]}:{address[1]}")
    sys.addaudithook(audit)


def install_to_file(path: str) -> None:
    def record(line: str) -> None:
        with open(path, "a") as out:
            out.write(line + "\n")
    install(record)
