"""``smlocal images``: list the local framework images and build them (no registry needed)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from emulator.image_builder import BuildError, ImageBuilder
from emulator.images import CATALOG, answers_for

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Local framework images (sklearn, xgboost, pytorch).")
err = Console(stderr=True)
out = Console()


def _size(size: int) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


@app.command("list")
def list_images() -> None:
    """Each local image, whether it is built and current, its size, and the AWS image URIs it answers for."""
    builder = ImageBuilder()
    table = Table("image", "status", "size", "answers for <account>.dkr.ecr.<region>.amazonaws.com/...",
                  caption="Other versions of these repositories resolve to the nearest local version.")
    try:
        for name, image in CATALOG.items():
            state = builder.state(name)
            colour = {"built": "green", "outdated": "yellow", "missing": "red"}[state.status]
            size = _size(state.size) if state.image_id else "-"
            table.add_row(image.tag, f"[{colour}]{state.status}[/{colour}]", size,
                          "\n".join(answers_for(image)) or "(parent of the framework images)")
    except BuildError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    out.print(table)


def build_images(names: list[str], force: bool = False, offline: bool = False) -> bool:
    """Build what is missing or outdated, showing progress; False (and the reason printed) on failure."""
    builder = ImageBuilder()
    with err.status("checking images ...") as status:
        def progress(line: str) -> None:
            if line.startswith(("Step ", "built ", "building ", "[build-base-image]")):
                err.print(f"[cyan]images[/cyan] {line}")
            status.update(f"[cyan]images[/cyan] {line[:100]}")
        try:
            built = builder.build(names, force=force, offline=offline, progress=progress)
        except BuildError as exc:
            err.print(f"[red]{exc}[/red]")
            return False
    if built:
        summary = ", ".join(f"{image.tag} ({seconds:.0f} s)" for image, seconds in built)
        err.print(f"[cyan]images[/cyan] built {summary}")
    else:
        err.print("[cyan]images[/cyan] all up to date")
    return True


@app.command("build")
def build(
    names: Annotated[list[str] | None, typer.Argument(
        help="Images to build (default: sklearn xgboost pytorch).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild the named images even if current.")] = False,
    offline: Annotated[bool, typer.Option("--offline", help="Never probe a registry: bootstrap the base image "
                                                           "with debootstrap.")] = False,
) -> None:
    """Build the local images that are missing or outdated (Docker's cache makes rebuilds quick)."""
    if not build_images(names or [], force, offline):
        raise typer.Exit(1)
