"""The SageMaker SDK's HyperparameterTuner, unmodified, against real trials in Docker: Random and Bayesian
search over a bring-your-own image (whose score is a known function of its hyperparameters) and over the
built-in XGBoost image; max_jobs trials with at most max_parallel_jobs at a time, best_training_job(),
analytics().dataframe(), attach(), tuner.deploy() and best_estimator().deploy() answering predictions,
the CloudWatch metrics behind training_job_analytics, and Stop."""

from __future__ import annotations

import json
import random
import time

import pytest
from support import ROLE

pytestmark = pytest.mark.docker
XGB_VERSION = "1.7-1"


def score(tuned: dict) -> float:
    """tests/integration/images/tune/tune.py's objective."""
    bonus = {"a": -0.2, "b": 0.0, "c": -0.1}[tuned["kind"]]
    return 1.0 - (float(tuned["x"]) - 0.3) ** 2 - 0.01 * (int(float(tuned["layers"])) - 4) ** 2 + bonus


def short_name(prefix: str) -> str:
    return f"{prefix}-{int(time.time() * 1000) % 10**9}"


def max_overlap(summaries: list[dict]) -> int:
    """The most trials that trained at the same moment."""
    events = sorted([(s["TrainingStartTime"].timestamp(), 1) for s in summaries] +
                    [(s["TrainingEndTime"].timestamp(), -1) for s in summaries])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def byo_tuner(sdk, bucket, tune_image, strategy: str, max_jobs: int = 4, parallel: int = 2, **hyperparameters):
    from sagemaker.estimator import Estimator
    from sagemaker.tuner import CategoricalParameter, ContinuousParameter, HyperparameterTuner, IntegerParameter

    estimator = Estimator(image_uri=tune_image, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                          output_path=f"s3://{bucket}/tuning-byo", sagemaker_session=sdk,
                          hyperparameters={"epochs": 3, **hyperparameters})
    return HyperparameterTuner(
        estimator, objective_metric_name="validation:score", objective_type="Maximize", strategy=strategy,
        metric_definitions=[{"Name": "validation:score", "Regex": r"score=([-0-9.]+)"},
                            {"Name": "train:loss", "Regex": r"loss=([-0-9.]+)"}],
        hyperparameter_ranges={"x": ContinuousParameter(0, 1), "layers": IntegerParameter(1, 8),
                               "kind": CategoricalParameter(["a", "b", "c"])},
        max_jobs=max_jobs, max_parallel_jobs=parallel, random_seed=5)


@pytest.mark.parametrize("strategy", ["Random", "Bayesian"])
def test_byo_image_tuning_best_job_analytics_attach_and_deploy(sdk, bucket, tune_image, serve_image, strategy):
    from sagemaker.analytics import TrainingJobAnalytics
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.serializers import CSVSerializer
    from sagemaker.tuner import HyperparameterTuner

    tuner = byo_tuner(sdk, bucket, tune_image, strategy, pause=1.1)
    name = short_name(strategy.lower())
    tuner.fit(job_name=name, include_cls_metadata=False)
    job = tuner.describe()
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    assert job["TrainingJobStatusCounters"]["Completed"] == 4
    assert job["HyperParameterTuningJobConfig"]["Strategy"] == strategy

    frame = tuner.analytics().dataframe()
    assert len(frame) == 4 and set(frame["TrainingJobStatus"]) == {"Completed"}
    for _, row in frame.iterrows():
        assert row["FinalObjectiveValue"] == pytest.approx(score(row), abs=1e-5)
        assert row["TrainingJobName"].startswith(f"{name}-")
    best_row = frame.loc[frame["FinalObjectiveValue"].idxmax()]
    assert tuner.best_training_job() == best_row["TrainingJobName"]

    summaries = sdk.sagemaker_client.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name)["TrainingJobSummaries"]
    assert 1 <= max_overlap(summaries) <= 2      # max_parallel_jobs=2
    trial = sdk.describe_training_job(tuner.best_training_job())
    assert trial["TuningJobArn"] == job["HyperParameterTuningJobArn"]
    assert trial["HyperParameters"]["_tuning_objective_metric"] == "validation:score"

    attached = HyperparameterTuner.attach(name, sagemaker_session=sdk)
    assert attached.best_training_job() == tuner.best_training_job()
    assert attached.estimator.hyperparameters()["epochs"] == "3"

    # the objective's time series through CloudWatch: one point per epoch at a 1 s period
    series = TrainingJobAnalytics(tuner.best_training_job(), metric_names=["validation:score"],
                                  sagemaker_session=sdk, period=1).dataframe()
    assert list(series["value"]) == pytest.approx([best_row["FinalObjectiveValue"] * e / 3 for e in (1, 2, 3)],
                                                  abs=1e-5)
    if strategy == "Bayesian":
        return
    predictor = tuner.deploy(initial_instance_count=1, instance_type="ml.m5.large", image_uri=serve_image,
                             serializer=CSVSerializer(), deserializer=JSONDeserializer(), wait=False)
    # wait=False + a 1 s waiter: deploy(wait=True) sleeps 30 s before it looks (docs/sdk.md)
    sdk.sagemaker_client.get_waiter("endpoint_in_service").wait(
        EndpointName=predictor.endpoint_name, WaiterConfig={"Delay": 1, "MaxAttempts": 240})
    try:
        answer = predictor.predict([[1, 2]])
        assert answer == {"predictions": [3.0], "model": f"score {best_row['FinalObjectiveValue']:.6f}"}
    finally:
        predictor.delete_model()
        predictor.delete_endpoint()


def _xgb_rows(count: int, seed: int) -> bytes:
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        x = [rng.random() for _ in range(3)]
        lines.append(",".join(f"{v:.4f}" for v in [3 * x[0] + x[1] ** 2 + rng.gauss(0, 0.05), *x]))
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("strategy", ["Random", "Bayesian"])
def test_builtin_xgboost_tuning_best_estimator_deploys(sdk, s3, bucket, framework_image, strategy):
    import sagemaker
    from sagemaker.deserializers import CSVDeserializer
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.serializers import CSVSerializer
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter

    framework_image("xgboost")
    prefix = short_name("xgbdata")
    for channel, seed in (("train", 1), ("validation", 2)):
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{channel}/data.csv", Body=_xgb_rows(300, seed))
    image = sagemaker.image_uris.retrieve("xgboost", "us-east-1", XGB_VERSION)
    estimator = Estimator(image_uri=image, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                          output_path=f"s3://{bucket}/tuning-xgb", sagemaker_session=sdk,
                          hyperparameters={"num_round": 20, "objective": "reg:squarederror"})
    tuner = HyperparameterTuner(estimator, objective_metric_name="validation:rmse", objective_type="Minimize",
                                hyperparameter_ranges={"eta": ContinuousParameter(0.05, 0.5),
                                                       "max_depth": IntegerParameter(2, 6)},
                                strategy=strategy, max_jobs=4, max_parallel_jobs=2, random_seed=3)
    name = short_name(f"xgb{strategy[0].lower()}")
    tuner.fit({c: TrainingInput(f"s3://{bucket}/{prefix}/{c}/", content_type="text/csv")
               for c in ("train", "validation")}, job_name=name)
    job = tuner.describe()
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    assert job["TrainingJobStatusCounters"]["Completed"] == 4
    frame = tuner.analytics().dataframe()
    assert len(frame) == 4
    assert tuner.best_training_job() == frame.loc[frame["FinalObjectiveValue"].idxmin()]["TrainingJobName"]
    best = sdk.describe_training_job(tuner.best_training_job())
    assert best["HyperParameters"]["_tuning_objective_metric"] == "validation:rmse"
    final = {m["MetricName"]: m["Value"] for m in best["FinalMetricDataList"]}
    assert final["validation:rmse"] == pytest.approx(frame["FinalObjectiveValue"].min())

    best_estimator = tuner.best_estimator()
    metrics = best_estimator.training_job_analytics.dataframe()   # one GetMetricStatistics per definition
    assert {"train:rmse", "validation:rmse"} <= set(metrics["metric_name"])
    if strategy == "Random":
        return
    predictor = best_estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large",
                                      serializer=CSVSerializer(), deserializer=CSVDeserializer(), wait=False)
    # wait=False + a 1 s waiter: deploy(wait=True) sleeps 30 s before it looks (docs/sdk.md)
    sdk.sagemaker_client.get_waiter("endpoint_in_service").wait(
        EndpointName=predictor.endpoint_name, WaiterConfig={"Delay": 1, "MaxAttempts": 240})
    try:
        answer = predictor.predict("0.5,0.5,0.5")
        assert 1.0 < float(answer[0][0]) < 2.5       # 3 * 0.5 + 0.5 ** 2 = 1.75
    finally:
        predictor.delete_model()
        predictor.delete_endpoint()


def test_stopping_a_tuner_stops_its_running_trials(sdk, bucket, tune_image):
    tuner = byo_tuner(sdk, bucket, tune_image, "Random", max_jobs=6, parallel=2, epochs=1000, pause=0.2)
    name = short_name("stop")
    tuner.fit(job_name=name, wait=False)
    client = sdk.boto_session.client("sagemaker")   # plain boto3: the SDK's first Describe would be held
    deadline = time.monotonic() + 180
    while True:
        summaries = client.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name)["TrainingJobSummaries"]
        training = [client.describe_training_job(TrainingJobName=s["TrainingJobName"]) for s in summaries]
        if len([t for t in training if t.get("SecondaryStatus") == "Training"]) == 2:
            break
        assert time.monotonic() < deadline, json.dumps(summaries, default=str)
        time.sleep(1)
    tuner.stop_tuning_job()
    tuner.wait()
    job = tuner.describe()
    assert job["HyperParameterTuningJobStatus"] == "Stopped"
    summaries = client.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name)["TrainingJobSummaries"]
    assert [s["TrainingJobStatus"] for s in summaries] == ["Stopped", "Stopped"]
    assert job["TrainingJobStatusCounters"]["Stopped"] == 2
