"""Running the user's entry point (docs/container-contract.md 2.3): which command, streamed output,
and the ExecuteUserScriptError AWS's toolkits report when it exits non-zero."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from smlocal_toolkit.errors import ExecuteUserScriptError, LegacyExecuteUserScriptError

PACKAGE, PROGRAM, COMMAND = "python_package", "python_program", "command"

# Names whose first appearance in the output starts the captured error text (as AWS's toolkit does).
PYTHON_ERRORS = (
    "BaseException", "Exception", "ArithmeticError", "AssertionError", "AttributeError", "BlockingIOError",
    "BrokenPipeError", "BufferError", "ChildProcessError", "ConnectionAbortedError", "ConnectionError",
    "ConnectionRefusedError", "ConnectionResetError", "EOFError", "EnvironmentError", "FileExistsError",
    "FileNotFoundError", "FloatingPointError", "IOError", "ImportError", "IndentationError", "IndexError",
    "InterruptedError", "IsADirectoryError", "KeyError", "LookupError", "MemoryError", "ModuleNotFoundError",
    "NameError", "NotADirectoryError", "NotImplementedError", "OSError", "OverflowError", "PermissionError",
    "ProcessLookupError", "RecursionError", "ReferenceError", "RuntimeError", "SyntaxError", "SystemError",
    "TabError", "TimeoutError", "TypeError", "UnboundLocalError", "UnicodeDecodeError", "UnicodeEncodeError",
    "UnicodeError", "UnicodeTranslateError", "ValueError", "ZeroDivisionError", "Invalid requirement",
    "ResourceExhaustedError", "OutOfRangeError", "InvalidArgumentError", "mpirun.real", "ORTE",
    "ExecuteUserScriptError",
)


def entry_point_type(code_dir: str | Path, name: str) -> str:
    if (Path(code_dir) / "setup.py").is_file():
        return PACKAGE
    return PROGRAM if name.endswith(".py") else COMMAND


def command(code_dir: str | Path, name: str, args: list[str]) -> list[str]:
    """``python script.py args`` / ``python -m module args`` (a package) / ``/bin/sh -c "./name args"``."""
    kind = entry_point_type(code_dir, name)
    if kind == PACKAGE:
        return [sys.executable, "-m", name[:-3] if name.endswith(".py") else name, *args]
    if kind == PROGRAM:
        return [sys.executable, name, *args]
    script = Path(code_dir) / name
    if script.exists():
        script.chmod(0o777)
    return ["/bin/sh", "-c", f"./{name} {' '.join(args)}".rstrip()]


class _ErrorWatch:
    """Collects output lines from the first one naming a Python/MPI error on (deduplicated)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.started = False
        self.lock = threading.Lock()

    def feed(self, line: str) -> None:
        text = line.strip(" :\n")
        with self.lock:
            if not self.started and any(name in line for name in PYTHON_ERRORS):
                self.started = True
            if self.started and text and text not in self.lines:
                self.lines.append(text)

    def text(self) -> str:
        return "\n ".join(self.lines).strip()


def _pump(stream, sink, watch: _ErrorWatch | None) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace")
        sink.write(line)
        sink.flush()
        if watch is not None:
            watch.feed(line)
    stream.close()


def run(cmd: list[str], cwd: str, env: dict[str, str] | None = None, capture_error: bool = False,
        legacy: bool = False) -> int:
    """Run ``cmd`` with output streamed to ours; SIGTERM is passed on so scripts can save on Stop.
    Raises ExecuteUserScriptError (ErrorMessage = the error lines when ``capture_error``)."""
    pipe = subprocess.PIPE if capture_error else None
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env or os.environ.copy(), stdout=pipe, stderr=pipe)
    except OSError as error:
        raise ExecuteUserScriptError(cmd, 1, str(error)) from error
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: proc.send_signal(signum)) \
        if threading.current_thread() is threading.main_thread() else None
    watch = _ErrorWatch()
    # the error text comes from stderr only, as AWS's toolkit reads it: stdout lines racing in between
    # would split a traceback
    pumps = [threading.Thread(target=_pump, args=(s, sink, w), daemon=True)
             for s, sink, w in ((proc.stdout, sys.stdout, None), (proc.stderr, sys.stderr, watch)) if s is not None]
    for pump in pumps:
        pump.start()
    try:
        code = proc.wait()
        for pump in pumps:
            pump.join()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if code:
        error = LegacyExecuteUserScriptError if legacy else ExecuteUserScriptError
        raise error(cmd, code, watch.text() if capture_error else "")
    return code
