"""Bayesian against Random search, through the whole emulator, on a problem with a known optimum.

Each seed runs two tuning jobs (Random, Bayesian) with the same budget, one trial at a time. Trials are
real training jobs on the in-memory container runtime (no Docker): the trial's container prints the
objective computed from its hyperparameters, the metric definition extracts it, the runner reads it back.
The objective is Branin-Hoo over x in [-5, 10], y in [0, 15], plus (log10(lr) + 2)^2 for a log-scaled
lr in [1e-4, 1]; its known minimum is 0.397887 (x, y at one of Branin's three minima, lr = 0.01).

    python bench/tuning_search.py                 # 10 seeds, 30 trials each
    python bench/tuning_search.py --seeds 5 --budget 20

Prints a Markdown table (best objective found per seed and strategy) for docs/tuning.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import boto3  # noqa: E402
from fake_runtime import FakeRuntime, Process  # noqa: E402
from support import S3_ACCESS, S3_SECRET, free_port, live_gateway  # noqa: E402

from emulator.config import S3Settings  # noqa: E402
from emulator.s3.embedded import EmbeddedS3  # noqa: E402

OPTIMUM = 0.397887
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def branin(hp: dict[str, str]) -> float:
    x, y, lr = float(hp["x"]), float(hp["y"]), float(hp["lr"])
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x ** 2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10 + (math.log10(lr) + 2) ** 2


def trial(process: Process) -> int:
    hp = json.loads((process.path("/opt/ml/input/config") / "hyperparameters.json").read_text())
    process.log(f"objective={branin(hp):.6f}")
    (process.path("/opt/ml/model") / "model.txt").write_text("done")
    return 0


def request(name: str, strategy: str, seed: int, budget: int) -> dict:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy, "RandomSeed": seed,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": budget, "MaxParallelTrainingJobs": 1},
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "objective"},
            "ParameterRanges": {"ContinuousParameterRanges": [
                {"Name": "x", "MinValue": "-5", "MaxValue": "10"}, {"Name": "y", "MinValue": "0", "MaxValue": "15"},
                {"Name": "lr", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Logarithmic"}]}},
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"TrainingImage": "bench/branin:1", "TrainingInputMode": "File",
                                       "MetricDefinitions": [{"Name": "objective", "Regex": r"objective=([-0-9.]+)"}]},
            "RoleArn": ROLE, "OutputDataConfig": {"S3OutputPath": "s3://bench-tuning/out"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 300}}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            EmbeddedS3(Path(tmp) / "s3", free_port(), S3_ACCESS, S3_SECRET, log_file=Path(tmp) / "weed.log") as s3:
        boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1", aws_access_key_id=S3_ACCESS,
                     aws_secret_access_key=S3_SECRET).create_bucket(Bucket="bench-tuning")
        settings = S3Settings(endpoint=s3.endpoint, access_key=S3_ACCESS, secret_key=S3_SECRET)
        runtime = FakeRuntime({"bench/branin:1": trial})
        with live_gateway(Path(tmp) / "gw", s3=settings, containers=runtime, max_concurrent_jobs=8) as gateway:
            sm = gateway.client("sagemaker")
            started = time.time()
            names = {(seed, strategy): f"branin-{strategy.lower()}-{seed}"
                     for seed in range(args.seeds) for strategy in ("Random", "Bayesian")}
            for (seed, strategy), name in names.items():
                sm.create_hyper_parameter_tuning_job(**request(name, strategy, seed, args.budget))
            best: dict[tuple[int, str], float] = {}
            for key, name in names.items():
                while True:
                    job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
                    if job["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"):
                        break
                    time.sleep(0.5)
                assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
                assert job["TrainingJobStatusCounters"]["Completed"] == args.budget
                best[key] = job["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
            elapsed = time.time() - started
    print(f"`python bench/tuning_search.py --seeds {args.seeds} --budget {args.budget}`: "
          f"{2 * args.seeds * args.budget} trials in {elapsed:.0f} s; known minimum {OPTIMUM}\n")
    print("| seed | Random: best found | Bayesian: best found | better |")
    print("|---|---|---|---|")
    wins = 0
    for seed in range(args.seeds):
        random_best, bayes_best = best[(seed, "Random")], best[(seed, "Bayesian")]
        wins += bayes_best < random_best
        print(f"| {seed} | {random_best:.4f} | {bayes_best:.4f} | "
              f"{'Bayesian' if bayes_best < random_best else 'Random'} |")
    mean = {s: sum(best[(seed, s)] for seed in range(args.seeds)) / args.seeds for s in ("Random", "Bayesian")}
    print(f"| mean | {mean['Random']:.4f} | {mean['Bayesian']:.4f} | Bayesian in {wins} of {args.seeds} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
