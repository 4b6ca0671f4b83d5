"""Unmodified SageMaker Python SDK code: train, then Model.deploy(wait=True) and Predictor.predict
against the emulator, with the model artifact the training job produced."""

from __future__ import annotations

import pytest
from tests_support_sdk import sdk_environment

pytestmark = pytest.mark.docker
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


@pytest.fixture
def sdk(jobs_gateway, s3_server, bucket, monkeypatch, tmp_path):
    sdk_environment(monkeypatch, tmp_path, jobs_gateway.url, s3_server, bucket)
    import sagemaker

    return sagemaker.Session()


def test_model_from_a_training_job_deploys_and_predicts(sdk, bucket, train_image, serve_image, unique):
    import numpy as np
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.estimator import Estimator
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer, JSONSerializer, NumpySerializer

    estimator = Estimator(image_uri=train_image, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                          output_path=f"s3://{bucket}/sdk-hosting", sagemaker_session=sdk)
    estimator.fit(wait=True, logs="None")
    model = Model(image_uri=serve_image, model_data=estimator.model_data, role=ROLE, sagemaker_session=sdk,
                  env={"FROM_SDK": "1"}, predictor_cls=Predictor)
    predictor = model.deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name=unique,
                             serializer=CSVSerializer(), deserializer=JSONDeserializer(), wait=True)
    try:
        assert predictor.endpoint_name == unique
        assert predictor.predict([[1, 2], [3, 4]]) == {"predictions": [3.0, 7.0], "model": "model from algo-1"}
        predictor.serializer = JSONSerializer()
        assert predictor.predict([[1, 1]])["predictions"] == [2]
        predictor.serializer = NumpySerializer()
        assert predictor.predict(np.array([[0.5, 0.25]]))["predictions"] == [0.75]
        described = sdk.sagemaker_client.describe_endpoint(EndpointName=unique)
        assert described["EndpointStatus"] == "InService"
        config = sdk.sagemaker_client.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
        assert config["ProductionVariants"][0]["ModelName"] == model.name
    finally:
        predictor.delete_model()        # reads the endpoint config, so before delete_endpoint
        predictor.delete_endpoint()
    sdk.sagemaker_client.get_waiter("endpoint_deleted").wait(EndpointName=unique,
                                                             WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    with pytest.raises(Exception, match="Could not find endpoint"):
        sdk.sagemaker_client.describe_endpoint(EndpointName=unique)
