"""The SageMaker Python SDK's side of the comparison; runs in the peers' venv, never imports smlocal.

    python sdk_side.py fit    --target smlocal|local --image IMAGE --runs N --output URI
    python sdk_side.py deploy --target smlocal|local --image IMAGE --model-data URI --runs N --invokes M

``--target smlocal`` uses an ordinary ``sagemaker.Session()`` (the environment points boto3 at
smlocal); ``--target local`` uses the SDK's local mode (``LocalSession``, ``instance_type="local"``).
Prints one JSON object on the last line of stdout: seconds per run, and invocation latencies.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import time

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def session(target: str):
    if target == "local":
        from sagemaker.local import LocalSession

        local = LocalSession()
        port = socket.socket()
        port.bind(("127.0.0.1", 0))
        serving_port = port.getsockname()[1]  # local mode's default 8080 may be taken on a shared machine
        port.close()
        local.config = {"local": {"local_code": True, "serving_port": serving_port}}
        return local, "local"
    import sagemaker

    return sagemaker.Session(), "ml.m5.large"


def fit(args) -> dict:
    from sagemaker.estimator import Estimator

    sess, instance_type = session(args.target)
    seconds = []
    for i in range(args.runs + 1):  # the first run warms imports and caches; not reported
        estimator = Estimator(image_uri=args.image, role=ROLE, instance_count=1, instance_type=instance_type,
                              output_path=args.output, sagemaker_session=sess, base_job_name=f"bench-fit-{i}")
        started = time.perf_counter()
        estimator.fit(wait=True, logs="All" if args.target == "smlocal" else True)
        if i:
            seconds.append(time.perf_counter() - started)
    return {"fit": seconds}


def deploy(args) -> dict:
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor

    sess, instance_type = session(args.target)
    result: dict[str, list[float]] = {"deploy": [], "delete": [], "predict": []}
    body = b"x" * 1024
    for i in range(args.runs):
        name = f"bench-deploy-{args.target}-{i}-{int(time.time())}"
        model = Model(image_uri=args.image, model_data=args.model_data, role=ROLE, sagemaker_session=sess,
                      predictor_cls=Predictor, name=name)
        started = time.perf_counter()
        predictor = model.deploy(initial_instance_count=1, instance_type=instance_type, endpoint_name=name)
        result["deploy"].append(time.perf_counter() - started)
        assert predictor.predict(body).endswith(body)
        if i == 0:
            for _ in range(args.invokes):
                t = time.perf_counter()
                predictor.predict(body)
                result["predict"].append(time.perf_counter() - t)
        started = time.perf_counter()
        predictor.delete_endpoint(delete_endpoint_config=True)
        result["delete"].append(time.perf_counter() - started)
        sess.delete_model(name)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["fit", "deploy"])
    parser.add_argument("--target", choices=["smlocal", "local"], required=True)
    parser.add_argument("--image", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", default="file:///tmp/smlocal-bench-output")
    parser.add_argument("--model-data")
    parser.add_argument("--invokes", type=int, default=200)
    args = parser.parse_args()
    logging.getLogger("sagemaker").setLevel(logging.WARNING)
    result = fit(args) if args.action == "fit" else deploy(args)
    print("\n" + json.dumps(result))


if __name__ == "__main__":
    main()
