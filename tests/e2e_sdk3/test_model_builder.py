"""SDK 3 ``ModelBuilder`` against smlocal: build() then deploy() to an smlocal endpoint (SageMaker endpoint
mode, not the SDK's local container mode), then invoke it. The image URI, the S3 uploads and the model
repacking all happen offline."""

from __future__ import annotations

import io
import json
import tarfile

from conftest import CODE, ROLE, ecr


def _tar(files: dict[str, bytes]) -> bytes:
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return packed.getvalue()


def test_model_path_with_an_inference_script_build_deploy_invoke(session, s3, bucket, sm, unique):
    """An artifact in S3 plus SourceCode(inference.py): build() repacks the code into the artifact
    (code/inference.py) and creates the Model, deploy() the endpoint config and the endpoint."""
    from sagemaker.core.resources import Endpoint
    from sagemaker.core.training.configs import SourceCode
    from sagemaker.serve import ModelBuilder
    from sagemaker.serve.builder.schema_builder import SchemaBuilder

    model_json = json.dumps({"weights": [1.0, 0.5], "bias": 0.0}).encode()
    s3.put_object(Bucket=bucket, Key=f"v3/{unique}/model/model.tar.gz", Body=_tar({"model.json": model_json}))
    artifact = f"s3://{bucket}/v3/{unique}/model/model.tar.gz"
    builder = ModelBuilder(
        model_path=artifact, s3_model_data_url=artifact,  # both: SDK 3.27 repacks from s3_model_data_url
        image_uri=ecr("sagemaker-scikit-learn", "1.2-1-cpu-py3"),
        source_code=SourceCode(source_dir=str(CODE / "serve_sklearn"), entry_script="inference.py"),
        schema_builder=SchemaBuilder(sample_input=[[1.0, 2.0]], sample_output={"classes": [1], "source": "x"}),
        role_arn=ROLE, instance_type="ml.m5.large", sagemaker_session=session)
    model = builder.build(model_name=unique)
    container = sm.describe_model(ModelName=unique)["PrimaryContainer"]
    assert model.model_name == unique and container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    repacked_uri = container["ModelDataUrl"]
    bucket_name, key = repacked_uri[len("s3://"):].split("/", 1)
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket_name, Key=key)["Body"].read())) as tar:
        assert {"model.json", "code/inference.py"} <= set(tar.getnames())

    endpoint = builder.deploy(endpoint_name=unique, initial_instance_count=1, instance_type="ml.m5.large")
    try:
        assert isinstance(endpoint, Endpoint)
        assert sm.describe_endpoint(EndpointName=unique)["EndpointStatus"] == "InService"
        answer = endpoint.invoke(body=json.dumps([[2.0, 1.0], [-2.0, -1.0]]), content_type="application/json",
                                 accept="application/json")
        assert json.loads(answer.body.read()) == {"classes": [1, 0], "source": "inference.py"}
    finally:
        endpoint.delete()
        endpoint.wait_for_delete(poll=1, timeout=120)
