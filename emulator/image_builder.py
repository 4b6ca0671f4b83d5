"""Builds the local images of ``emulator.images.CATALOG`` from ``containers/`` without a registry.

``smlocal/base:bookworm`` comes from ``scripts/build-base-image.sh`` (``docker pull debian:bookworm-slim``
when a registry answers, otherwise debootstrap + ``docker import``); every other image is a
``docker build`` of ``containers/<name>/Dockerfile`` with ``containers/`` as context, so the framework
images can copy the toolkit. Each image carries a label with a hash of its inputs (Dockerfile, the
toolkit, its parent's image id), so a build is skipped while nothing changed and redone when something
did; Docker's layer cache keeps rebuilds after a toolkit change to seconds.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from emulator.images import CATALOG, SDK3_SERVE_WHEELS, TOOLKIT_WHEELS, LocalImage, ancestry

ROOT = Path(__file__).resolve().parents[1]
CONTAINERS = ROOT / "containers"
BASE_SCRIPT = ROOT / "scripts" / "build-base-image.sh"
INPUTS_LABEL = "org.smlocal.inputs"

Progress = Callable[[str], None]


class BuildError(Exception):
    """An image could not be built; the message says which and why (with the build's last lines)."""


@dataclass(frozen=True)
class ImageState:
    image: LocalImage
    image_id: str | None       # None: not built
    size: int                  # bytes
    current: bool              # built from today's inputs

    @property
    def status(self) -> str:
        return "missing" if self.image_id is None else ("built" if self.current else "outdated")


# pip download's target platforms for the images' wheels (Debian bookworm: glibc 2.36, x86_64)
PLATFORMS = ("--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64",
             "--platform", "manylinux_2_28_x86_64")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _requirement_key(requirement: str) -> str:
    """``sagemaker-core==2.27.0`` -> ``sagemaker_core-2.27.0`` (as wheel file names spell it)."""
    name, _, version = requirement.partition("==")
    return f"{_canonical(name)}-{version}"


def _wheel_key(filename: str) -> str:
    name, version = filename.split("-")[:2]
    return f"{_canonical(name)}-{version}"


def _files(directory: Path) -> Iterable[Path]:
    for path in sorted(directory.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path


class ImageBuilder:
    def __init__(self, client: docker.DockerClient | None = None, containers: Path = CONTAINERS) -> None:
        self._client = client
        self.containers = containers

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                self._client = docker.from_env()
                self._client.ping()
            except docker.errors.DockerException as exc:
                raise BuildError(f"Docker engine does not answer ({exc}); start it (scripts/docker-engine.sh)"
                                 ) from None
        return self._client

    # --- state ---------------------------------------------------------------------------------------
    def _image(self, tag: str) -> Any:
        try:
            return self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            return None

    def inputs_hash(self, image: LocalImage) -> str:
        """What the image is built from: its Dockerfile, the toolkit (framework images), its parent."""
        digest = hashlib.sha256()
        dockerfile = self.containers / image.name / "Dockerfile"
        if not dockerfile.is_file():
            raise BuildError(f"{dockerfile} is missing: smlocal builds its images from a source checkout's "
                             "containers/ directory")
        shared = [*_files(self.containers / "toolkit"), *_files(self.containers / "sdk3")] if image.toolkit else []
        sources = [dockerfile, *shared]
        for path in sources:
            digest.update(str(path.relative_to(self.containers)).encode() + b"\0" + path.read_bytes() + b"\0")
        parent = self._image(CATALOG[image.parent].tag) if image.parent else None  # its id: rebuilt -> us too
        digest.update((parent.id if parent else "").encode())
        return digest.hexdigest()[:16]

    def state(self, name: str) -> ImageState:
        image = CATALOG[name]
        found = self._image(image.tag)
        if found is None:
            return ImageState(image, None, 0, False)
        current = image.parent is None or found.labels.get(INPUTS_LABEL) == self.inputs_hash(image)
        return ImageState(image, found.id, found.attrs.get("Size", 0), current)

    # --- building ------------------------------------------------------------------------------------
    def plan(self, names: Iterable[str]) -> list[LocalImage]:
        """The named images and their ancestors, parents first."""
        ordered: list[LocalImage] = []
        for name in names:
            if name not in CATALOG:
                raise BuildError(f"unknown image {name!r}; smlocal builds: {', '.join(CATALOG)}")
            ordered += [image for image in ancestry(name) if image not in ordered]
        return ordered

    def build(self, names: Iterable[str], *, force: bool = False, offline: bool = False,
              progress: Progress = print) -> list[tuple[LocalImage, float]]:
        """Build what is missing or outdated among ``names`` (the framework images when empty) and their
        ancestors; ``force`` rebuilds the named ones. Returns (image, seconds) per image built. A rebuilt
        parent makes its children outdated (their inputs include its id), so they follow."""
        names = list(names) or [i.name for i in CATALOG.values() if i.repositories and i.default]
        built: list[tuple[LocalImage, float]] = []
        plan = self.plan(names)
        if any(image.toolkit for image in plan):
            self._download_toolkit_wheels(progress)   # before the hashes: the wheels are toolkit inputs
            self._download_sdk3_wheels(progress)
        for image in plan:
            forced = force and image.name in names
            if not forced and self.state(image.name).current:
                continue
            started = time.monotonic()
            if image.parent is None:
                self._build_base(offline, forced, progress)
            else:
                self._download_wheels(image, progress)
                self._docker_build(image, progress)
            built.append((image, time.monotonic() - started))
            progress(f"built {image.tag} in {built[-1][1]:.0f} s")
        return built

    def _build_base(self, offline: bool, force: bool, progress: Progress) -> None:
        if shutil.which("docker") is None and not offline:
            # No docker CLI for the script (the compose emulator container): the registry path only.
            self._docker_build(CATALOG["base"], progress)
            return
        args = [str(BASE_SCRIPT)] + (["--strategy", "debootstrap"] if offline else []) + (["--force"] if force else [])
        progress(f"building {CATALOG['base'].tag}: {' '.join(args)}")
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        tail: list[str] = []
        for line in proc.stdout:
            progress(line.rstrip())
            tail = (tail + [line.rstrip()])[-20:]
        if proc.wait() != 0:
            raise BuildError(f"building {CATALOG['base'].tag} failed (exit {proc.returncode}):\n" + "\n".join(tail))

    def _download_toolkit_wheels(self, progress: Progress) -> None:
        """boto3/botocore/s3transfer for every toolkit image (``images.TOOLKIT_WHEELS``), fetched on the host
        once. Without a package index here the images keep Debian's boto3, with a warning: a job's own
        ``boto3.client("s3")`` then needs ``endpoint_url=os.environ["S3_ENDPOINT_URL"]``."""
        target = self.containers / "toolkit" / "wheels"
        wanted = {requirement.replace("==", "-") for requirement in TOOLKIT_WHEELS}
        present = {"-".join(path.name.split("-")[:2]) for path in target.glob("*.whl")}
        if wanted <= present:
            return
        target.mkdir(parents=True, exist_ok=True)
        progress(f"downloading wheels on the host for the images: {' '.join(TOOLKIT_WHEELS)}")
        args = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.11",
                "-d", str(target), *TOOLKIT_WHEELS]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            progress(f"warning: could not download {', '.join(TOOLKIT_WHEELS)} ({' '.join(tail)}); the images keep "
                     "Debian's boto3 1.26, which ignores AWS_ENDPOINT_URL_S3 (docs/images.md)")

    def _download_sdk3_wheels(self, progress: Progress) -> None:
        """The SageMaker SDK 3 serving pieces (``images.SDK3_SERVE_WHEELS``) for ModelBuilder's model-object
        and InferenceSpec artifacts, fetched on the host once. Without a package index the images are built
        without them, with a warning: such endpoints then fail with ``No module named 'cloudpickle'``."""
        target = self.containers / "sdk3" / "wheels"
        present = {_wheel_key(path.name) for path in target.glob("*.whl")}
        if {_requirement_key(requirement) for requirement in SDK3_SERVE_WHEELS} <= present:
            return
        target.mkdir(parents=True, exist_ok=True)
        progress(f"downloading wheels on the host for the images: SageMaker SDK 3 serving ({len(SDK3_SERVE_WHEELS)} "
                 "packages)")
        args = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.11",
                *PLATFORMS, "-d", str(target), *SDK3_SERVE_WHEELS]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            progress(f"warning: could not download the SageMaker SDK 3 serving wheels ({' '.join(tail)}); the images "
                     "cannot serve ModelBuilder model objects or InferenceSpecs (docs/images.md)")

    def _download_wheels(self, image: LocalImage, progress: Progress) -> None:
        """Images without Debian packages (TensorFlow): fetch wheels on the host, where pip reaches the
        index, into containers/<name>/wheels/ for a --no-index install inside the build."""
        if not image.wheels:
            return
        target = self.containers / image.name / "wheels"
        target.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--python-version", "3.11",
                *PLATFORMS[:4], "-d", str(target), *image.wheels]
        progress(f"building {image.tag}: downloading wheels on the host: {' '.join(image.wheels)}")
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-10:])
            raise BuildError(f"building {image.tag} needs {', '.join(image.wheels)} from the Python package index, "
                             f"and `pip download` failed on this machine:\n{tail}")
        progress(f"wheels ready in {target} ({len(list(target.glob('*.whl')))} files)")

    def _docker_build(self, image: LocalImage, progress: Progress) -> None:
        progress(f"building {image.tag} from containers/{image.name}/Dockerfile ...")
        tail: list[str] = []
        try:
            for chunk in self.client.api.build(path=str(self.containers), dockerfile=f"{image.name}/Dockerfile",
                                               tag=image.tag, labels={INPUTS_LABEL: self.inputs_hash(image)},
                                               rm=True, forcerm=True, decode=True):
                if "error" in chunk:
                    raise BuildError(f"building {image.tag} failed: {chunk['error'].strip()}\n" + "\n".join(tail))
                for line in chunk.get("stream", "").splitlines():
                    if line.strip():
                        tail = (tail + [line])[-20:]
                        progress(line)
        except docker.errors.APIError as exc:
            raise BuildError(f"building {image.tag} failed: {exc.explanation or exc}") from None
