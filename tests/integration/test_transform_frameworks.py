"""Batch transform with the framework images: scikit-learn script mode through boto3 (SingleRecord and
MultiRecord with JoinSource), and the SageMaker SDK's Transformer on the built-in XGBoost algorithm
(``transform(wait=True, logs=True)``)."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import pytest
from hosting_support import ROLE
from test_images_serving import INFERENCE, TRAIN_SKLEARN, run_in_image
from test_transform import read, start, wait
from tests_support_sdk import sdk_environment

pytestmark = pytest.mark.docker

# SingleRecord sends one CSV row, which the default input_fn decodes as a 1-D array (as on SageMaker);
# batch users reshape it in predict_fn
BATCH_INFERENCE = INFERENCE + """
import numpy as np

def predict_fn(data, model):
    return model.predict(np.atleast_2d(data))
"""
TRAIN_XGBOOST = """
import numpy as np, xgboost as xgb
X = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0], [5, 5, 5], [5, 4, 5], [4, 5, 5]] * 5, dtype=float)
y = np.array([0, 0, 0, 1, 1, 1] * 5)
xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(X, label=y), 5).save_model(
    "/opt/ml/model/xgboost-model")
"""


def tarball(directory: Path) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for path in sorted(directory.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(directory)), recursive=False)
    return out.getvalue()


def test_sklearn_single_and_multi_record(jobs_gateway, framework_image, s3, bucket, unique, tmp_path):
    image = framework_image("sklearn")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    run_in_image(image, model_dir, TRAIN_SKLEARN)
    (model_dir / "code").mkdir()
    (model_dir / "code" / "inference.py").write_text(BATCH_INFERENCE)
    s3.put_object(Bucket=bucket, Key=f"{unique}/model.tar.gz", Body=tarball(model_dir))
    sm = jobs_gateway.client("sagemaker")
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        "ModelDataUrl": f"s3://{bucket}/{unique}/model.tar.gz",
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}})
    rows = ["0,0", "5,4", "0,1", "4,5"] * 25
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/rows.csv", Body=("\n".join(rows) + "\n").encode())
    expected = ["0", "1", "0", "1"] * 25

    start(sm, unique, unique, f"s3://{bucket}/{unique}/in/", f"s3://{bucket}/{unique}/single",
          BatchStrategy="SingleRecord", MaxConcurrentTransforms=2, TransformOutput={"Accept": "text/csv"})
    name = unique + "-multi"
    start(sm, name, unique, f"s3://{bucket}/{unique}/in/", f"s3://{bucket}/{unique}/multi",
          BatchStrategy="MultiRecord", TransformOutput={"Accept": "text/csv"},
          DataProcessing={"JoinSource": "Input"})
    described = wait(sm, unique, timeout=240)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    single = read(s3, bucket, f"{unique}/single/rows.csv.out").decode().splitlines()
    assert [str(int(float(v))) for v in single] == expected
    described = wait(sm, name, timeout=240)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    joined = read(s3, bucket, f"{unique}/multi/rows.csv.out").decode().splitlines()
    assert [line.rsplit(",", 1)[0] for line in joined] == rows
    assert [str(int(float(line.rsplit(",", 1)[1]))) for line in joined] == expected


def test_sdk_transformer_builtin_xgboost(jobs_gateway, framework_image, s3_server, s3, bucket, unique, tmp_path,
                                        monkeypatch, capsys):
    image = framework_image("xgboost")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    run_in_image(image, model_dir, TRAIN_XGBOOST)
    s3.put_object(Bucket=bucket, Key=f"{unique}/model.tar.gz", Body=tarball(model_dir))
    rows = ["0,0,1", "5,5,5", "1,0,0", "4,5,5"] * 50
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/a/part-1.csv", Body="\n".join(rows[:100]).encode())
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/b/part-2.csv", Body="\n".join(rows[100:]).encode())

    sdk_environment(monkeypatch, tmp_path, jobs_gateway.url, s3_server, bucket)
    import sagemaker
    from sagemaker import image_uris
    from sagemaker.model import Model

    session = sagemaker.Session()
    model = Model(image_uri=image_uris.retrieve("xgboost", "us-east-1", "1.7-1"),
                  model_data=f"s3://{bucket}/{unique}/model.tar.gz", role=ROLE, sagemaker_session=session,
                  name=unique)
    transformer = model.transformer(instance_count=2, instance_type="ml.m5.large", strategy="MultiRecord",
                                    assemble_with="Line", output_path=f"s3://{bucket}/{unique}/out",
                                    accept="text/csv", max_payload=1)
    transformer.transform(f"s3://{bucket}/{unique}/in/", content_type="text/csv", split_type="Line",
                          job_name=unique, wait=True, logs=True)
    described = session.sagemaker_client.describe_transform_job(TransformJobName=unique)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert described["ModelName"] == unique and described["MaxPayloadInMB"] == 1
    scores = []
    for key in (f"{unique}/out/a/part-1.csv.out", f"{unique}/out/b/part-2.csv.out"):
        scores += [float(v) for v in read(s3, bucket, key).decode().splitlines()]
    assert len(scores) == len(rows)
    assert all((score > 0.5) == (row in ("5,5,5", "4,5,5")) for score, row in zip(scores, rows, strict=True))
    printed = capsys.readouterr().out
    # the image's /execution-parameters sets the concurrency the request left out (its CPU count); the
    # request's payload wins over the image's 6
    logged = [line for line in printed.splitlines() if "[sagemaker logs]" in line]
    assert any(re.search(r"\[sagemaker logs\]: MaxConcurrentTransforms=\d+, MaxPayloadInMB=1, "
                         r"BatchStrategy=MULTI_RECORD$", line) for line in logged), logged
