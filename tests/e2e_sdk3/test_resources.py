"""SDK 3 ``sagemaker.core.resources`` against smlocal: TrainingJob.get/wait/refresh (on a job a
bring-your-own image ran), Model, EndpointConfig and Endpoint create/wait_for_status/invoke/delete,
``refresh()`` reading the same records as boto3, and v3 processing (``sagemaker.core.processing``) and
batch transform (``sagemaker.core.transformer``) with ProcessingJob / TransformJob."""

from __future__ import annotations

import io
import json
import tarfile

from conftest import ROLE, ecr


def test_training_job_model_endpoint_config_endpoint(session, sm, train_image, serve_image, unique):
    from sagemaker.core.resources import Endpoint, EndpointConfig, Model, TrainingJob
    from sagemaker.core.shapes import ContainerDefinition, ProductionVariant
    from sagemaker.core.training.configs import Compute
    from sagemaker.train import ModelTrainer

    trainer = ModelTrainer(training_image=train_image, role=ROLE, sagemaker_session=session,
                           base_job_name="v3-byo", compute=Compute(instance_type="ml.c5.xlarge"),
                           hyperparameters={"epochs": 2}, environment={"STAGE": "resources"})
    trainer.train(wait=False)
    name = trainer._latest_training_job.training_job_name
    job = TrainingJob.get(training_job_name=name)
    assert job.training_job_status in ("InProgress", "Completed")  # create() is answered at once
    job.wait(poll=1, timeout=300)
    job.refresh()
    described = sm.describe_training_job(TrainingJobName=name)
    assert job.training_job_status == described["TrainingJobStatus"] == "Completed"
    assert job.training_job_arn == described["TrainingJobArn"]
    assert job.model_artifacts.s3_model_artifacts == described["ModelArtifacts"]["S3ModelArtifacts"]
    assert job.hyper_parameters == described["HyperParameters"] and job.hyper_parameters["epochs"] == "2"
    assert job.resource_config.instance_type == "ml.c5.xlarge"
    assert [t.status for t in job.secondary_status_transitions][-1] == "Completed"

    model = Model.create(model_name=unique, execution_role_arn=ROLE,
                         primary_container=ContainerDefinition(image=serve_image,
                                                               model_data_url=job.model_artifacts.s3_model_artifacts,
                                                               environment={"STAGE": "v3-endpoint"}))
    config = EndpointConfig.create(endpoint_config_name=unique, production_variants=[
        ProductionVariant(variant_name="AllTraffic", model_name=model.model_name, initial_instance_count=1,
                          instance_type="ml.m5.large")])
    endpoint = Endpoint.create(endpoint_name=unique, endpoint_config_name=config.endpoint_config_name)
    try:
        endpoint.wait_for_status("InService", poll=1, timeout=300)
        answer = endpoint.invoke(body="1,2\n3,4", content_type="text/csv", accept="application/json")
        assert json.loads(answer.body.read()) == {"predictions": [3.0, 7.0], "model": "model from algo-1"}
        inspected = json.loads(endpoint.invoke(body="inspect", content_type="text/plain").body.read())
        assert inspected["env"]["STAGE"] == "v3-endpoint"
        endpoint.refresh()
        described = sm.describe_endpoint(EndpointName=unique)
        assert endpoint.endpoint_status == described["EndpointStatus"] == "InService"
        assert endpoint.endpoint_arn == described["EndpointArn"]
        assert endpoint.production_variants[0].current_instance_count == 1
        assert Model.get(model_name=unique).primary_container.image == serve_image
        assert EndpointConfig.get(endpoint_config_name=unique).production_variants[0].model_name == unique
    finally:
        endpoint.delete()
    endpoint.wait_for_delete(poll=1, timeout=120)
    config.delete()
    model.delete()
    assert sm.list_endpoints(NameContains=unique)["Endpoints"] == []
    assert sm.list_models(NameContains=unique)["Models"] == []


def test_processing_and_batch_transform(session, s3, bucket, sm, serve_image, unique, tmp_path, shown):
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.resources import Model, ProcessingJob, TransformJob
    from sagemaker.core.shapes import (
        ContainerDefinition,
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
    )
    from sagemaker.core.transformer import Transformer

    s3.put_object(Bucket=bucket, Key=f"v3/{unique}/raw/numbers.csv", Body=b"1,2\n3,4\n5,6\n")
    script = tmp_path / "double.py"
    script.write_text("import pathlib, sys\n"
                      "rows = pathlib.Path('/opt/ml/processing/input/numbers.csv').read_text().split()\n"
                      "out = pathlib.Path('/opt/ml/processing/output'); out.mkdir(parents=True, exist_ok=True)\n"
                      "doubled = [','.join(str(2 * int(v)) for v in r.split(',')) for r in rows]\n"
                      "(out / 'doubled.csv').write_text('\\n'.join(doubled) + '\\n')\n"
                      "print(f'doubled {len(rows)} rows with {sys.argv[1:]}', flush=True)\n")
    processor = ScriptProcessor(image_uri=ecr("sagemaker-scikit-learn", "1.2-1-cpu-py3"), command=["python3"],
                                role=ROLE, instance_count=1, instance_type="ml.m5.large", base_job_name="v3-proc",
                                sagemaker_session=session, env={"STAGE": "processing"})
    processor.run(code=str(script), arguments=["--factor", "2"], inputs=[
        ProcessingInput(input_name="raw", s3_input=ProcessingS3Input(
            s3_uri=f"s3://{bucket}/v3/{unique}/raw/", local_path="/opt/ml/processing/input",
            s3_data_type="S3Prefix", s3_input_mode="File"))],
        outputs=[ProcessingOutput(output_name="doubled", s3_output=ProcessingS3Output(
            s3_uri=f"s3://{bucket}/v3/{unique}/doubled", local_path="/opt/ml/processing/output",
            s3_upload_mode="EndOfJob"))], wait=True, logs=True)
    assert "doubled 3 rows with ['--factor', '2']" in shown()
    job = ProcessingJob.get(processing_job_name=processor.latest_job.processing_job_name)
    assert job.processing_job_status == "Completed"
    assert job.environment["STAGE"] == "processing"
    doubled = s3.get_object(Bucket=bucket, Key=f"v3/{unique}/doubled/doubled.csv")["Body"].read()
    assert doubled == b"2,4\n6,8\n10,12\n"

    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as tar:
        info = tarfile.TarInfo("model.txt")
        info.size = len(b"batch model")
        tar.addfile(info, io.BytesIO(b"batch model"))
    s3.put_object(Bucket=bucket, Key=f"v3/{unique}/model.tar.gz", Body=packed.getvalue())
    model = Model.create(model_name=unique, execution_role_arn=ROLE, primary_container=ContainerDefinition(
        image=serve_image, model_data_url=f"s3://{bucket}/v3/{unique}/model.tar.gz", environment={"LINES": "1"}))
    try:
        transformer = Transformer(model_name=model.model_name, instance_count=1, instance_type="ml.m5.large",
                                  strategy="MultiRecord", assemble_with="Line", accept="text/csv",
                                  output_path=f"s3://{bucket}/v3/{unique}/transformed", sagemaker_session=session)
        transformer.transform(f"s3://{bucket}/v3/{unique}/doubled/", content_type="text/csv", split_type="Line",
                              wait=True, logs=True)
        name = transformer.latest_transform_job.transform_job_name
        job = TransformJob.get(transform_job_name=name)
        assert job.transform_job_status == "Completed"
        assert job.transform_input.split_type == "Line" and job.batch_strategy == "MultiRecord"
        described = sm.describe_transform_job(TransformJobName=name)
        assert job.transform_output.s3_output_path == described["TransformOutput"]["S3OutputPath"]
        out = s3.get_object(Bucket=bucket, Key=f"v3/{unique}/transformed/doubled.csv.out")["Body"].read().decode()
        assert [float(v) for v in out.split()] == [6.0, 14.0, 22.0]
    finally:
        model.delete()
