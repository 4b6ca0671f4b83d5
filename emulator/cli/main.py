"""The ``smlocal`` command: up, down, status, env, logs, console, images."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from emulator.cli import images as images_cli
from emulator.cli.instance import RuntimeInfo, env_lines, wait_until
from emulator.config import DEFAULT_PORT, DEFAULT_S3_PORT, Settings, default_data_dir
from emulator.procs import pid_alive

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="smlocal: a local Amazon SageMaker emulator.")
app.add_typer(images_cli.app, name="images")
err = Console(stderr=True, soft_wrap=True)   # paths in messages stay whole (tests and users grep them)
out = Console(soft_wrap=True)

DataDir = Annotated[Optional[Path], typer.Option(  # noqa: UP045 - typer needs Optional
    "--data-dir", help="Database, S3 data, logs (default ~/.smlocal or $SMLOCAL_DATA_DIR).")]


def _data_dir(value: Path | None) -> Path:
    return (value or default_data_dir()).expanduser().resolve()


def _running(data_dir: Path) -> RuntimeInfo | None:
    info = RuntimeInfo.load(data_dir / "runtime.json")
    return info if info is not None and pid_alive(info.pid) else None


def _require_running(data_dir: Path) -> RuntimeInfo:
    info = _running(data_dir)
    if info is None:
        err.print(f"smlocal is not running (data dir {data_dir}); start it with `smlocal up --detach`")
        raise typer.Exit(1)
    return info


@app.command()
def up(
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Run in the background; return once ready.")] = False,
    host: Annotated[str, typer.Option(help="Address the gateway binds.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Gateway port (SageMaker, runtime, Logs, STS, IAM).")] = DEFAULT_PORT,
    s3_port: Annotated[int, typer.Option("--s3-port", help="Embedded S3 server port.")] = DEFAULT_S3_PORT,
    data_dir: DataDir = None,
    s3_endpoint: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="Use this S3 server (MinIO, AWS S3, ...) instead of the embedded one.")] = None,
    s3_access_key: Annotated[Optional[str], typer.Option(help="Access key for --s3-endpoint.")] = None,  # noqa: UP045
    s3_secret_key: Annotated[Optional[str], typer.Option(help="Secret key for --s3-endpoint.")] = None,  # noqa: UP045
    region: Annotated[str, typer.Option(envvar="SMLOCAL_REGION", help="AWS region reported in ARNs.")] = "us-east-1",
    account_id: Annotated[str, typer.Option(
        envvar="SMLOCAL_ACCOUNT_ID", help="12-digit account id in ARNs.")] = "123456789012",
    auth: Annotated[bool, typer.Option(
        "--auth/--no-auth", envvar="SMLOCAL_AUTH",
        help="Refuse requests not signed with the keys `smlocal env` prints (off: anything on this machine "
             "that reaches the port may call every API; docs/security.md).")] = True,
    build_images: Annotated[bool, typer.Option(
        "--build-images/--no-build-images", envvar="SMLOCAL_BUILD_IMAGES",
        help="Build missing framework images (sklearn, xgboost, pytorch) first.")] = True,
) -> None:
    """Start the emulator (and its S3 server); idempotent."""
    directory = _data_dir(data_dir)
    if s3_endpoint and not (s3_access_key and s3_secret_key):
        err.print("[red]--s3-endpoint needs --s3-access-key and --s3-secret-key[/red]")
        raise typer.Exit(2)
    try:
        settings = Settings(data_dir=directory, host=host, port=port, s3_port=s3_port,
                            region=region, account_id=account_id, auth=auth)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    running = _running(directory)
    if running is not None:
        if running.gateway_alive():
            _repair_s3(running)
            out.print(f"smlocal is already running at {running.gateway_url} (pid {running.pid}, "
                      f"data in {running.data_dir})")
            return
        err.print(f"[yellow]smlocal (pid {running.pid}) is starting or not answering; "
                  "`smlocal down` stops it[/yellow]")
        raise typer.Exit(1)
    _clean_up_after_crash(directory)
    if build_images and not _ensure_images():
        err.print("[yellow]continuing without them: jobs naming AWS framework images will fail until "
                  "`smlocal images build` succeeds[/yellow]")
    if detach:
        _start_detached(directory)
        return
    from emulator.cli.supervisor import StartError, run

    try:
        run(settings, s3_endpoint, (s3_access_key or "", s3_secret_key or "") if s3_endpoint else None,
            lambda message: err.print(f"[cyan]smlocal[/cyan] {message}"))
    except StartError as exc:
        err.print(f"[red]smlocal cannot start: {exc}[/red]")
        raise typer.Exit(1) from None


def _repair_s3(running: RuntimeInfo) -> None:
    """A gateway whose S3 server does not answer: have its supervisor start S3 now and wait for it."""
    if running.s3_alive():
        return
    if not running.s3_pid:
        err.print(f"[red]smlocal runs, but its S3 server ({running.s3_endpoint}, not started by smlocal) does not "
                  "answer; start that server, or `smlocal down` and `smlocal up` with another --s3-endpoint[/red]")
        raise typer.Exit(1)
    err.print(f"[yellow]smlocal runs, but its S3 server ({running.s3_endpoint}) does not answer; "
              "restarting it[/yellow]")
    os.kill(running.pid, signal.SIGUSR1)
    with err.status("waiting for the S3 server ..."):
        answered = wait_until(running.s3_alive, timeout=90, interval=0.5)
    if not answered:
        err.print(f"[red]the S3 server did not come back; see {Path(running.data_dir) / 'logs' / 's3.log'} "
                  "and `smlocal down` / `smlocal up`[/red]")
        raise typer.Exit(1)
    info = RuntimeInfo.load(Path(running.data_dir) / "runtime.json") or running
    out.print(f"the S3 server answers again (pid {info.s3_pid})")


def _ensure_images() -> bool:
    """First use: build the framework images (minutes once; seconds when current)."""
    from emulator.image_builder import BuildError, ImageBuilder

    try:
        ImageBuilder().client  # noqa: B018 - checks the engine answers
    except BuildError as exc:
        err.print(f"[yellow]{exc}[/yellow]")
        return False
    return images_cli.build_images([])


def _clean_up_after_crash(directory: Path) -> None:
    """A gateway that died without shutting down leaves its S3 server and runtime file behind."""
    stale = RuntimeInfo.load(directory / "runtime.json")
    if stale is None:
        return
    if stale.s3_pid and pid_alive(stale.s3_pid):
        from emulator.s3.embedded import stop_pid

        err.print(f"[yellow]stopping the S3 server (pid {stale.s3_pid}) left by a gateway that died[/yellow]")
        stop_pid(stale.s3_pid, timeout=15)
    (directory / "runtime.json").unlink(missing_ok=True)


def _start_detached(directory: Path) -> None:
    args = [a for a in sys.argv[1:] if a not in ("--detach", "-d")]
    log_path = directory / "logs" / "smlocal.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log_file:
        log_file.write(f"\n--- smlocal up {' '.join(args)} at {time.ctime()}\n".encode())
        child = subprocess.Popen([sys.executable, "-m", "emulator.cli.main", *args],
                                 stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                                 start_new_session=True,
                                 env={**os.environ, "SMLOCAL_DATA_DIR": str(directory)})
    with err.status("starting smlocal (S3 server, gateway) ..."):
        def ready() -> bool:
            info = RuntimeInfo.load(directory / "runtime.json")
            return (child.poll() is not None or
                    (info is not None and info.pid == child.pid and info.gateway_alive()
                     and info.s3_alive()))
        wait_until(ready, timeout=120)
    info = RuntimeInfo.load(directory / "runtime.json")
    if child.poll() is not None or info is None or info.pid != child.pid:
        if child.poll() is None:
            child.terminate()
        err.print(f"[red]smlocal did not start; the end of {log_path}:[/red]")
        err.print(_tail(log_path, 15))
        raise typer.Exit(1)
    out.print(f"smlocal is up: {info.gateway_url} (S3 {info.s3_endpoint}, pid {info.pid}, data dir {directory})")
    out.print(f'Point SDKs at it with: eval "$({env_command(directory)})"')


def env_command(directory: Path) -> str:
    """The `smlocal env` command that addresses the instance in ``directory`` from any shell: it names
    the data directory unless it is the built-in default (a bare `smlocal env` would read
    ~/.smlocal and silently point at another instance)."""
    program = os.environ.get("SMLOCAL_PROG") or "smlocal"   # scripts/smlocal sets it to the path typed
    command = f"{shlex.quote(program)} env"
    if directory != (Path.home() / ".smlocal").expanduser().resolve():
        command += f" --data-dir {shlex.quote(str(directory))}"
    return command


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@app.command()
def down(data_dir: DataDir = None,
         timeout: Annotated[float, typer.Option(help="Seconds to wait before killing.")] = 20) -> None:
    """Stop everything `up` started."""
    directory = _data_dir(data_dir)
    info = RuntimeInfo.load(directory / "runtime.json")
    if info is None:
        out.print(f"smlocal is not running (data dir {directory})")
        return
    from emulator.s3.embedded import stop_pid

    if pid_alive(info.pid):
        with err.status(f"stopping smlocal (pid {info.pid}) ..."):
            os.kill(info.pid, signal.SIGTERM)
            if not wait_until(lambda: not pid_alive(info.pid), timeout):
                os.kill(info.pid, signal.SIGKILL)
                wait_until(lambda: not pid_alive(info.pid), 5)
    if info.s3_pid and pid_alive(info.s3_pid):
        stop_pid(info.s3_pid, timeout=15)
    _stop_endpoint_containers(directory)
    (directory / "runtime.json").unlink(missing_ok=True)
    out.print(f"smlocal stopped (data dir {directory})")


def _stop_endpoint_containers(directory: Path) -> None:
    """Endpoint containers outlive the gateway (restarts reattach to them); `down` stops them too."""
    from emulator.hosting.fleet import stop_all
    from emulator.infra.containers import ContainerError
    from emulator.infra.docker_engine import DockerEngine

    try:
        with err.status("stopping endpoint containers ..."):
            count = stop_all(DockerEngine(), directory)
    except ContainerError as exc:
        err.print(f"[yellow]could not stop endpoint containers: {exc}[/yellow]")
        return
    if count:
        out.print(f"stopped {count} endpoint container(s); their endpoints start again with `smlocal up`")


@app.command()
def status(data_dir: DataDir = None) -> None:
    """Show whether smlocal runs, where, and whether its parts answer (exit 1 if not running)."""
    directory = _data_dir(data_dir)
    info = _running(directory)
    if info is None:
        out.print(f"smlocal is not running (data dir {directory})")
        raise typer.Exit(1)
    table = Table(show_header=False, box=None)
    gateway_ok, s3_ok = info.gateway_alive(), info.s3_alive()
    table.add_row("gateway", info.gateway_url, "[green]ok[/green]" if gateway_ok else "[red]not answering[/red]")
    table.add_row("s3", info.s3_endpoint, "[green]ok[/green]" if s3_ok else "[red]not answering[/red]")
    table.add_row("s3 (containers)", info.s3_container_endpoint or "-", "")
    table.add_row("pid", str(info.pid), (f"s3 pid {info.s3_pid}" + (
        f", restarted {info.s3_restarts} time(s)" if info.s3_restarts else "")) if info.s3_pid else "external S3")
    table.add_row("auth", "SigV4 with the keys `smlocal env` prints" if info.auth else
                  "[yellow]off (SMLOCAL_AUTH=off): any local process may call[/yellow]", "")
    table.add_row("region / account", f"{info.region} / {info.account_id}", "")
    table.add_row("data dir", info.data_dir, "")
    table.add_row("up since", time.ctime(info.started_at), f"version {info.version}")
    out.print(table)
    if not (gateway_ok and s3_ok):
        raise typer.Exit(1)


@app.command()
def env(data_dir: DataDir = None) -> None:
    """Print `export` lines: eval "$(smlocal env)" points AWS SDKs and the CLI at smlocal."""
    directory = _data_dir(data_dir)
    info = _require_running(directory)
    for line in env_lines(info):
        print(line)
    err.print(f"smlocal env: the instance at {info.gateway_url} (data dir {directory})")


@app.command("console")
def console_command(
    open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open it in a browser (where one can open a "
                                                                        "window).")] = True,
    data_dir: DataDir = None,
) -> None:
    """Print the web console's URL (and open it in a browser when there is a display)."""
    from emulator.cli.console import open_console

    url, answers, opened = open_console(_require_running(_data_dir(data_dir)), open_browser)
    if not answers:
        err.print(f"[red]smlocal's gateway does not answer at {url}; `smlocal status` shows what runs[/red]")
        raise typer.Exit(1)
    print(url)
    if opened:
        err.print("opened in your browser")


@app.command("logs")
def logs_command(
    job: Annotated[str, typer.Argument(help="Training, processing or transform job name.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the job ends.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Print a training, processing or transform job's container output (all hosts), as `fit(logs=True)`
    shows it."""
    from emulator.cli.job_logs import follow as follow_job

    directory = _data_dir(data_dir)
    info = _require_running(directory)
    err.print(f"smlocal logs: the instance at {info.gateway_url} (data dir {directory})")
    status_ = follow_job(info, job, lambda line: print(line, flush=True), follow)
    if status_ is None:
        err.print(f"[red]no training, processing or transform job named {job} in the instance at "
                  f"{info.gateway_url} (data dir {directory})[/red]")
        raise typer.Exit(1)
    if follow:
        err.print(f"{job}: {status_}")
        raise typer.Exit(0 if status_ == "Completed" else 1)


if __name__ == "__main__":
    app()
