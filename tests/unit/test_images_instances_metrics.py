"""Image resolution, instance limits and metric extraction (pure)."""

from __future__ import annotations

import pytest

from emulator import images, instances
from emulator.jobs.metrics import MetricExtractor

ECR = "683313688378.dkr.ecr.us-east-1.amazonaws.com"


@pytest.mark.parametrize("uri, local", [
    (f"{ECR}/sagemaker-scikit-learn:1.2-1-cpu-py3", "smlocal/sklearn:1.2-1"),
    (f"{ECR}/sagemaker-xgboost:1.7-1", "smlocal/xgboost:1.7-1"),
    ("763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-training:1.13.1-cpu-py39", "smlocal/pytorch:1.13"),
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:1.13.1-cpu-py39", "smlocal/pytorch:1.13"),
])
def test_aws_framework_images_map_to_local_tags(uri, local):
    resolution = images.resolve(uri)
    assert resolution.candidates == (uri, local)  # a locally tagged ECR URI wins


@pytest.mark.parametrize("name", ["my-image:latest", "localhost:5000/x:1", f"{ECR}/my-own-repo:3"])
def test_other_images_are_used_as_named(name):
    assert images.resolve(name).candidates == (name,)


def test_missing_reason_says_how_to_get_the_image():
    reason = images.resolve(f"{ECR}/sagemaker-xgboost:1.7-1").missing_reason("training")
    assert reason == (f"The training image {ECR}/sagemaker-xgboost:1.7-1 is not available in the local Docker "
                      f"engine (looked for {ECR}/sagemaker-xgboost:1.7-1 or smlocal/xgboost:1.7-1): run `smlocal "
                      "images build xgboost` (no registry needed), or `docker tag` your own image as "
                      f"{ECR}/sagemaker-xgboost:1.7-1.")


@pytest.mark.parametrize("uri, local, note", [
    (f"{ECR}/sagemaker-scikit-learn:1.0-1-cpu-py3", "smlocal/sklearn:1.2-1",
     "smlocal has no local image for sagemaker-scikit-learn:1.0-1-cpu-py3 (version 1.0-1); using the nearest "
     "local version, smlocal/sklearn:1.2-1 (sklearn 1.2-1)."),
    (f"{ECR}/sagemaker-xgboost:1.5-1", "smlocal/xgboost:1.7-1",
     "smlocal has no local image for sagemaker-xgboost:1.5-1 (version 1.5-1); using the nearest local version, "
     "smlocal/xgboost:1.7-1 (xgboost 1.7-1)."),
    ("763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.6.0-cpu-py312", "smlocal/pytorch:1.13",
     "smlocal has no local image for pytorch-training:2.6.0-cpu-py312 (version 2.6); using the nearest local "
     "version, smlocal/pytorch:1.13 (pytorch 1.13)."),
    (f"{ECR}/sagemaker-scikit-learn:1.2-1-cpu-py3", "smlocal/sklearn:1.2-1", ""),
])
def test_other_versions_resolve_to_the_nearest_local_one_with_a_note(uri, local, note):
    resolution = images.resolve(uri)
    assert resolution.candidates == (uri, local) and resolution.note == note


def test_unknown_aws_images_say_what_to_build_or_tag():
    uri = "763104351884.dkr.ecr.us-east-1.amazonaws.com/mxnet-training:1.9.0-cpu-py38"
    resolution = images.resolve(uri)
    assert resolution.candidates == (uri,)
    assert resolution.missing_reason("training") == (
        f"The training image {uri} is an AWS mxnet image, which smlocal does not build (it builds "
        "sagemaker-scikit-learn, sagemaker-xgboost, pytorch-training, tensorflow-training). Build or `docker load` "
        f"an equivalent image and `docker tag` it as {uri} (docs/images.md explains how, e.g. for TensorFlow).")


def test_tensorflow_resolves_to_the_optional_local_image():
    uri = "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-inference:2.13.0-cpu"
    assert images.resolve(uri).candidates == (uri, "smlocal/tensorflow:2.13")
    assert not images.CATALOG["tensorflow"].default and images.CATALOG["tensorflow"].wheels


def test_catalog_builds_parents_first():
    assert [i.name for i in images.ancestry("pytorch")] == ["base", "ml-base", "pytorch"]
    assert images.answers_for(images.CATALOG["sklearn"]) == ["sagemaker-scikit-learn:1.2-1-cpu-py3"]


def test_image_inputs_hash_follows_the_toolkit(tmp_path):
    from emulator.image_builder import ImageBuilder

    (tmp_path / "sklearn").mkdir()
    (tmp_path / "sklearn" / "Dockerfile").write_text("FROM smlocal/ml-base:bookworm\n")
    (tmp_path / "toolkit").mkdir()
    (tmp_path / "toolkit" / "a.py").write_text("x = 1\n")

    class NoImages:  # the parent lookup: no Docker needed for the hash of files
        class images:
            @staticmethod
            def get(tag):
                import docker.errors
                raise docker.errors.ImageNotFound(tag)

    builder = ImageBuilder(client=NoImages(), containers=tmp_path)
    first = builder.inputs_hash(images.CATALOG["sklearn"])
    (tmp_path / "toolkit" / "a.py").write_text("x = 2\n")
    second = builder.inputs_hash(images.CATALOG["sklearn"])
    assert second != first
    (tmp_path / "sdk3" / "wheels").mkdir(parents=True)   # the SDK 3 serving wheels are inputs too
    (tmp_path / "sdk3" / "wheels" / "cloudpickle-3.1.3-py3-none-any.whl").write_bytes(b"wheel")
    assert builder.inputs_hash(images.CATALOG["sklearn"]) != second


def test_sdk3_serve_wheels_are_pinned_and_match_wheel_file_names():
    from emulator.image_builder import _requirement_key, _wheel_key

    names = [requirement.partition("==")[0] for requirement in images.SDK3_SERVE_WHEELS]
    assert all("==" in requirement for requirement in images.SDK3_SERVE_WHEELS) and len(set(names)) == len(names)
    assert {"sagemaker-serve", "sagemaker-core", "sagemaker-train", "cloudpickle"} <= set(names)
    assert _requirement_key("rpds-py==2026.9.1") == _wheel_key("rpds_py-2026.9.1-cp311-cp311-manylinux2014_x86_64.whl")
    assert _requirement_key("PyYAML==6.0.4") == _wheel_key("pyyaml-6.0.4-cp311-cp311-manylinux2014_x86_64.whl")


@pytest.mark.parametrize("instance, vcpus, gib", [
    ("ml.m5.large", 2, 8), ("ml.m5.4xlarge", 16, 64), ("ml.c5.xlarge", 4, 8), ("ml.r5.large", 2, 16),
    ("ml.t3.medium", 2, 4), ("ml.p3.2xlarge", 8, 61), ("ml.g4dn.xlarge", 4, 16),
])
def test_instance_shapes(instance, vcpus, gib):
    assert instances.shape(instance) == instances.Shape(vcpus, gib)


def test_limits_cap_cpus_at_the_host_and_can_be_turned_off(monkeypatch):
    assert instances.container_limits("ml.m5.4xlarge", host_cpus=2) == (2_000_000_000, 64 * instances.GIB)
    assert instances.container_limits("ml.unknown.large") == (None, None)
    monkeypatch.setenv("SMLOCAL_INSTANCE_LIMITS", "off")
    assert instances.container_limits("ml.m5.large") == (None, None)


def test_metrics_see_tabs_as_cloudwatch_does_and_keep_the_last_value():
    builtin = r".*\[[0-9]+\].*#011train-rmse:([-+]?[0-9]*\.?[0-9]+)"  # XGBoost's default definition
    extractor = MetricExtractor([{"Name": "train:rmse", "Regex": builtin},
                                 {"Name": "whole", "Regex": "acc=[0-9.]+"},
                                 {"Name": "broken", "Regex": "(unclosed"}])
    assert extractor.scan("[0]\ttrain-rmse:0.52\tvalidation-rmse:0.61") == [("train:rmse", 0.52)]
    assert extractor.scan("no metric here") == []
    assert extractor.scan("acc=nan") == []  # a match that is not a number is no datapoint


def test_metric_store_keeps_the_series_and_the_last_value(tmp_path):
    from emulator.state.db import Database
    from emulator.state.metrics import MetricStore

    store = MetricStore(Database(tmp_path / "state.db"))
    store.add("arn:job", [("loss", 1000, 0.9), ("acc", 1000, 0.1)])
    store.add("arn:job", [("loss", 2000, 0.5)])
    store.add("arn:other", [("loss", 1500, 7.0)])
    assert store.series("arn:job") == {"loss": [(1000, 0.9), (2000, 0.5)], "acc": [(1000, 0.1)]}
    assert store.final("arn:job") == [{"MetricName": "acc", "Value": 0.1, "Timestamp": 1.0},
                                      {"MetricName": "loss", "Value": 0.5, "Timestamp": 2.0}]


@pytest.mark.parametrize("uri, version", [
    (f"{ECR}/sagemaker-xgboost:1.0-1-cpu-py3", "1.0-1"),
    (f"{ECR}/sagemaker-xgboost:0.90-2-cpu-py3", "0.90-2"),
    (f"{ECR}/xgboost:latest", "0.72"),          # the legacy repository: AWS's first built-in XGBoost
    (f"{ECR}/xgboost:1", "0.72"),
])
def test_a_substituted_version_is_named_to_the_container(uri, version):
    resolution = images.resolve(uri)
    assert resolution.environment("smlocal/xgboost:1.7-1") == {"SMLOCAL_FRAMEWORK_VERSION": version}
    assert resolution.environment(uri) == {}    # the user's own image tagged with that URI: nothing to emulate


def test_the_local_version_itself_needs_no_emulation():
    assert images.resolve(f"{ECR}/sagemaker-xgboost:1.7-1").environment("smlocal/xgboost:1.7-1") == {}
    assert images.resolve("my-image:1").environment("my-image:1") == {}
