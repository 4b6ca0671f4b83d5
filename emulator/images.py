"""Image resolution: the image a job names -> the local Docker image that runs it.

SageMaker SDK code names AWS's ECR images (``683313688378.dkr.ecr.us-east-1.amazonaws.com/
sagemaker-scikit-learn:1.2-1-cpu-py3``). No registry is needed here: those URIs map, through the
one table below, to images built locally (``containers/``). Any other name is used as is, and an
ECR URI that the user has tagged locally (``docker tag``) wins over the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# SageMaker SDK's ECR pattern (contracts.md section 7), with repository and tag captured.
_ECR = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
                  r"(?P<repo>[^:@]+)(?::(?P<tag>[^@]+))?(?:@.+)?$")


@dataclass(frozen=True)
class LocalImage:
    framework: str       # what `containers/` builds: sklearn, xgboost, pytorch
    tag: str             # the local tag, e.g. smlocal/sklearn:1.2-1


def _framework_version(repo: str, tag: str) -> tuple[str, str] | None:
    """(framework, version) for the AWS repositories smlocal builds images for."""
    if repo == "sagemaker-scikit-learn":
        return "sklearn", "-".join(tag.split("-")[:2])                 # 1.2-1-cpu-py3 -> 1.2-1
    if repo in ("sagemaker-xgboost", "xgboost"):
        return "xgboost", "-".join(tag.split("-")[:2])                 # 1.7-1 / 1.7-1-cpu-py3 -> 1.7-1
    if repo in ("pytorch-training", "pytorch-inference", "sagemaker-pytorch"):
        major_minor = ".".join(tag.split("-")[0].split(".")[:2])       # 1.13.1-cpu-py39 -> 1.13
        return "pytorch", major_minor
    return None


def local_image(framework: str, version: str) -> LocalImage:
    return LocalImage(framework, f"smlocal/{framework}:{version}")


@dataclass(frozen=True)
class Resolution:
    requested: str
    candidates: tuple[str, ...]          # local names to try, in order
    framework: LocalImage | None = None  # set when the request is an AWS framework image

    def missing_reason(self, role: str) -> str:
        """Why the job cannot run, and how to get the image (for a ClientError FailureReason)."""
        names = " or ".join(self.candidates)
        return (f"The {role} image {self.requested} is not available in the local Docker engine (looked for "
                f"{names}) and smlocal never pulls from a registry: build or `docker load` the image, then "
                f"`docker tag` it as {self.candidates[-1]}.")


def resolve(image: str) -> Resolution:
    match = _ECR.match(image)
    if not match:
        return Resolution(image, (image,))
    found = _framework_version(match["repo"], match["tag"] or "latest")
    if found is None:
        return Resolution(image, (image,))
    local = local_image(*found)
    return Resolution(image, (image, local.tag), local)
