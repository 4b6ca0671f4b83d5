"""Image resolution: the image a job names -> the local Docker image that runs it.

SageMaker SDK code names AWS's ECR images (``683313688378.dkr.ecr.us-east-1.amazonaws.com/
sagemaker-scikit-learn:1.2-1-cpu-py3``). No registry is needed here: those URIs map, through the
catalog below, to images built locally from ``containers/`` (``smlocal images build``). Any other name
is used as is, and an ECR URI that the user has tagged locally (``docker tag``) wins over the catalog.
A version smlocal does not build resolves to the nearest local version of the same framework, with a
note for the job's log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# SageMaker SDK's ECR pattern (docs/container-contract.md section 7), with repository and tag captured.
_ECR = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
                  r"(?P<repo>[^:@]+)(?::(?P<tag>[^@]+))?(?:@.+)?$")


@dataclass(frozen=True)
class LocalImage:
    """One image smlocal builds from ``containers/<name>/Dockerfile``."""

    name: str                      # sklearn, xgboost, pytorch, ml-base, base
    tag: str                       # smlocal/sklearn:1.2-1
    parent: str | None             # the catalog image it is built FROM
    version: str = ""              # framework version it stands for (1.2-1, 1.7-1, 1.13)
    repositories: tuple[str, ...] = ()   # AWS ECR repositories it answers for
    toolkit: bool = False          # the build context includes containers/toolkit
    wheels: tuple[str, ...] = ()   # pip requirements downloaded on the host first (no Debian package)
    default: bool = True           # built by a plain `smlocal images build` / first `smlocal up`


CATALOG: dict[str, LocalImage] = {image.name: image for image in (
    LocalImage("base", "smlocal/base:bookworm", None),
    LocalImage("ml-base", "smlocal/ml-base:bookworm", "base"),
    LocalImage("sklearn", "smlocal/sklearn:1.2-1", "ml-base", "1.2-1", ("sagemaker-scikit-learn",), True),
    LocalImage("xgboost", "smlocal/xgboost:1.7-1", "ml-base", "1.7-1", ("sagemaker-xgboost", "xgboost"), True),
    LocalImage("pytorch", "smlocal/pytorch:1.13", "ml-base", "1.13",
               ("pytorch-training", "pytorch-inference", "sagemaker-pytorch"), True),
    LocalImage("tensorflow", "smlocal/tensorflow:2.13", "ml-base", "2.13",
               ("tensorflow-training", "tensorflow-inference", "sagemaker-tensorflow"), True,
               wheels=("tensorflow-cpu==2.13.1",), default=False),
)}
FRAMEWORKS = tuple(image for image in CATALOG.values() if image.repositories)

# Installed into every image that has the toolkit, over Debian's boto3 1.26 / botocore 1.29: those ignore
# AWS_ENDPOINT_URL_S3, so a user's `boto3.client("s3")` in a job would go to s3.amazonaws.com. Pure-Python
# wheels fetched on the host (containers/toolkit/wheels/, git-ignored) and installed with --no-index
# --no-deps: their dependencies (urllib3 1.26, jmespath, dateutil) are Debian's, within their ranges.
TOOLKIT_WHEELS = ("boto3==1.44.8", "botocore==1.44.8", "s3transfer==0.19.3")

# The SageMaker Python SDK 3 pieces its ModelBuilder artifacts import inside the serving container (a model
# object or an InferenceSpec: code/inference.py imports cloudpickle and sagemaker.serve, whose package
# __init__ imports ModelBuilder and with it sagemaker.core and sagemaker.train). Fetched on the host
# (containers/sdk3/wheels/, git-ignored) and installed --no-deps into /opt/smlocal/sdk3, a directory the
# serving toolkit puts on the path only for such artifacts (code/serve.pkl): training, processing and other
# models keep Debian's libraries. The list is the import closure of the SDK's serving code over what the
# images already have (numpy, pandas, scipy, boto3 from Debian and TOOLKIT_WHEELS), not the SDK's declared
# dependencies (mlflow, pyarrow, ...), which it does not import there. docs/images.md.
SDK3_SERVE_WHEELS = (
    "sagemaker-core==2.27.0", "sagemaker-serve==1.27.0", "sagemaker-train==1.27.0", "cloudpickle==3.1.3",
    "annotated-types==0.8.0", "attrs==26.1.0", "cffi==2.1.1", "cryptography==50.0.2", "docker==7.2.0",
    "graphene==3.4.3", "graphql-core==3.2.14", "graphql-relay==3.2.0", "importlib-metadata==6.11.0",
    "jsonschema==4.26.0", "jsonschema-specifications==2025.9.1", "omegaconf==2.4.0", "packaging==26.4",
    "platformdirs==4.14.9", "psutil==7.2.2", "pydantic==2.14.4", "pydantic-core==2.50.5", "pygments==2.21.0",
    "pyyaml==6.0.4", "referencing==0.37.0", "rich==14.3.4", "rpds-py==2026.9.1", "schema==0.7.8", "tblib==3.2.2",
    "tqdm==4.70.1", "typing-extensions==4.16.0", "typing-inspection==0.4.5", "zipp==4.1.2",
)

# AWS images smlocal has no local build for, and what to tell the user about them.
_UNSUPPORTED = re.compile(r"^(mxnet|huggingface|sagemaker-mxnet|"
                          r"sagemaker-spark|spark|djl|tei|tgi|sagemaker-.*)")


def ancestry(name: str) -> list[LocalImage]:
    """The image and everything it is built FROM, base first."""
    chain: list[LocalImage] = []
    current: str | None = name
    while current is not None:
        chain.append(CATALOG[current])
        current = CATALOG[current].parent
    return list(reversed(chain))


def _version_of(repo: str, tag: str) -> str:
    if repo.startswith(("pytorch", "sagemaker-pytorch", "tensorflow", "sagemaker-tensorflow")):
        return ".".join(tag.split("-")[0].split(".")[:2])          # 1.13.1-cpu-py39 -> 1.13
    return "-".join(tag.split("-")[:2])                             # 1.2-1-cpu-py3 -> 1.2-1; 1.7-1 -> 1.7-1


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def _distance(a: str, b: str) -> tuple[int, ...]:
    x, y = _numbers(a), _numbers(b)
    width = max(len(x), len(y))
    x, y = x + (0,) * (width - len(x)), y + (0,) * (width - len(y))
    return tuple(abs(i - j) for i, j in zip(x, y, strict=True))


@dataclass(frozen=True)
class Resolution:
    requested: str
    candidates: tuple[str, ...]          # local names to try, in order
    framework: LocalImage | None = None  # set when the request is an AWS framework image
    note: str = ""                       # a line for the job's log (nearest version used)
    unsupported: str = ""                # an AWS image smlocal has no build for
    version: str = ""                    # the framework version the requested AWS image has

    def environment(self, used: str) -> dict[str, str]:
        """What a container of the local image ``used`` learns about the AWS image it stands for: the
        requested version (``SMLOCAL_FRAMEWORK_VERSION``), so the toolkit can behave as that version's
        container did where scripts rely on it (docs/images.md, "Older versions")."""
        if self.framework is None or used == self.requested or self.version in ("", self.framework.version):
            return {}
        return {"SMLOCAL_FRAMEWORK_VERSION": self.version}

    def missing_reason(self, role: str) -> str:
        """Why the job cannot run, and how to get the image (for a ClientError FailureReason)."""
        if self.unsupported:
            return (f"The {role} image {self.requested} is an AWS {self.unsupported} image, which smlocal does "
                    f"not build (it builds {', '.join(i.repositories[0] for i in FRAMEWORKS)}). Build or "
                    f"`docker load` an equivalent image and `docker tag` it as {self.requested} (docs/images.md "
                    "explains how, e.g. for TensorFlow).")
        if self.framework is not None:
            return (f"The {role} image {self.requested} is not available in the local Docker engine (looked for "
                    f"{' or '.join(self.candidates)}): run `smlocal images build {self.framework.name}` (no "
                    f"registry needed), or `docker tag` your own image as {self.requested}.")
        return (f"The {role} image {self.requested} is not available in the local Docker engine and smlocal "
                f"never pulls from a registry: build or `docker load` the image, then `docker tag` it as "
                f"{self.requested}.")


def resolve(image: str) -> Resolution:
    match = _ECR.match(image)
    if not match:
        return Resolution(image, (image,))
    repo, tag = match["repo"], match["tag"] or "latest"
    options = [i for i in FRAMEWORKS if repo in i.repositories]
    if not options:
        unsupported = repo.split("-")[0] if _UNSUPPORTED.match(repo) else ""
        return Resolution(image, (image,), unsupported=unsupported)
    wanted = _version_of(repo, tag)
    local = min(options, key=lambda i: _distance(i.version, wanted))  # the nearest local version
    note = ""
    if wanted != local.version:
        note = (f"smlocal has no local image for {repo}:{tag} (version {wanted}); using the nearest local "
                f"version, {local.tag} ({local.name} {local.version}).")
    # the legacy `xgboost` repository (tags 1, latest, ...) is AWS's first built-in XGBoost, 0.72
    version = "0.72" if repo == "xgboost" else wanted
    return Resolution(image, (image, local.tag), local, note, version=version)


_EXAMPLE_TAGS = {"sagemaker-scikit-learn": "1.2-1-cpu-py3", "sagemaker-xgboost": "1.7-1", "xgboost": "1",
                 "pytorch-training": "1.13.1-cpu-py39", "pytorch-inference": "1.13.1-cpu-py39",
                 "sagemaker-pytorch": "1.13.1-cpu-py3", "tensorflow-training": "2.13.0-cpu-py310",
                 "tensorflow-inference": "2.13.0-cpu", "sagemaker-tensorflow": "2.13.0-cpu-py3"}


def answers_for(image: LocalImage) -> list[str]:
    """The ECR repositories an image answers for, in any account and region (``smlocal images list``)."""
    return [f"{repo}:{_EXAMPLE_TAGS[repo]}" for repo in image.repositories]
