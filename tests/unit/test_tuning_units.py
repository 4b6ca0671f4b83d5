"""Tuning, the pure parts: ranges and scales, the grid, the samplers (seeded, within range, Bayesian better
than Random on a problem with a known optimum), the early-stopping median rule, counters, the best trial,
the not-improving count, List sorting; and CloudWatch's period statistics."""

from __future__ import annotations

import math

import pytest

from emulator.cloudwatch.service import InvalidParameterValue, buckets, statistic
from emulator.domain import tuning_trials
from emulator.domain.tuning_space import combinations, grid, parse_ranges
from emulator.errors import ValidationException
from emulator.jobs.tuning_search import Search, Space, startup_trials


def ranges(**lists) -> dict:
    return {f"{kind}ParameterRanges": items for kind, items in lists.items()}


# --- ranges --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "message"), [
    (ranges(Continuous=[{"Name": "lr", "MinValue": "1", "MaxValue": "0.1"}]),
     "The MinValue (1) of hyperparameter lr must not be greater than its MaxValue (0.1)."),
    (ranges(Integer=[{"Name": "n", "MinValue": "1.5", "MaxValue": "3"}]),
     "The MinValue of hyperparameter n '1.5' must be an integer."),
    (ranges(Continuous=[{"Name": "lr", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}]),
     "Hyperparameter lr uses ScalingType Logarithmic, which needs a range of values greater than 0; "
     "its MinValue is 0."),
    (ranges(Continuous=[{"Name": "m", "MinValue": "0.5", "MaxValue": "1", "ScalingType": "ReverseLogarithmic"}]),
     "Hyperparameter m uses ScalingType ReverseLogarithmic, which needs a range within 0 <= x < 1; its range is "
     "[0.5, 1]."),
    (ranges(Integer=[{"Name": "n", "MinValue": "0", "MaxValue": "3", "ScalingType": "ReverseLogarithmic"}]),
     "Hyperparameter n is an integer range; ScalingType ReverseLogarithmic applies only to continuous ranges "
     "within 0 <= x < 1."),
    (ranges(Integer=[{"Name": "n", "MinValue": "0", "MaxValue": "3"}], Categorical=[{"Name": "n", "Values": ["a"]}]),
     "Hyperparameter n appears in more than one parameter range."),
    ({"AutoParameters": [{"Name": "n", "ValueHint": "3"}]},
     "ParameterRanges.AutoParameters (Autotune) is not supported by smlocal: give the ranges to search as "
     "IntegerParameterRanges, ContinuousParameterRanges or CategoricalParameterRanges."),
])
def test_bad_ranges_are_refused_with_what_to_change(spec, message) -> None:
    with pytest.raises(ValidationException) as raised:
        parse_ranges(spec)
    assert raised.value.message == message


def test_the_grid_lists_every_combination_and_counts_them() -> None:
    space = parse_ranges(ranges(Integer=[{"Name": "n", "MinValue": "1", "MaxValue": "3"}],
                                Categorical=[{"Name": "k", "Values": ["a", "b"]}]))
    assert grid(space) == [{"n": "1", "k": "a"}, {"n": "1", "k": "b"}, {"n": "2", "k": "a"}, {"n": "2", "k": "b"},
                           {"n": "3", "k": "a"}, {"n": "3", "k": "b"}]
    assert combinations(space) == 6
    assert combinations(parse_ranges(ranges(Continuous=[{"Name": "x", "MinValue": "0", "MaxValue": "1"}]))) is None


# --- samplers ------------------------------------------------------------------------------------------
SPACE = parse_ranges(ranges(
    Continuous=[{"Name": "lin", "MinValue": "-2", "MaxValue": "2"},
                {"Name": "log", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Logarithmic"},
                {"Name": "rev", "MinValue": "0.9", "MaxValue": "0.9999", "ScalingType": "ReverseLogarithmic"}],
    Integer=[{"Name": "n", "MinValue": "1", "MaxValue": "1000", "ScalingType": "Logarithmic"}],
    Categorical=[{"Name": "k", "Values": ["a", "b", "c"]}]))


def proposals(strategy: str, seed: int, count: int = 40) -> list[dict[str, str]]:
    search = Search(strategy, [Space("", tuple(SPACE))], maximize=False, seed=seed, max_jobs=count)
    out = []
    for i in range(count):
        _, tuned = search.propose(i, f"t{i}")
        search.finished(f"t{i}", float(tuned["lin"]) ** 2)
        out.append(tuned)
    return out


@pytest.mark.parametrize("strategy", ["Random", "Bayesian"])
def test_samples_stay_in_range_follow_the_scale_and_repeat_with_the_seed(strategy) -> None:
    samples = proposals(strategy, seed=3)
    assert samples == proposals(strategy, seed=3) and samples != proposals(strategy, seed=4)
    for tuned in samples:
        assert -2 <= float(tuned["lin"]) <= 2 and 0.0001 <= float(tuned["log"]) <= 1
        assert 0.9 <= float(tuned["rev"]) <= 0.9999 and 1 <= int(tuned["n"]) <= 1000 and tuned["k"] in "abc"
    if strategy == "Random":   # log scale: as many draws below 0.01 as above it; reverse-log: dense near 1
        assert sum(float(t["log"]) < 0.01 for t in samples) >= 12
        assert sum(float(t["rev"]) > 0.99 for t in samples) >= 12
        assert sum(int(t["n"]) < 32 for t in samples) >= 12


def branin(tuned: dict[str, str]) -> float:
    """Branin-Hoo (minimum 0.397887 at three points) plus a log-scaled term that is 0 at lr = 0.01."""
    x, y, lr = float(tuned["x"]), float(tuned["y"]), float(tuned["lr"])
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x ** 2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10 + (math.log10(lr) + 2) ** 2


BRANIN = parse_ranges(ranges(Continuous=[
    {"Name": "x", "MinValue": "-5", "MaxValue": "10"}, {"Name": "y", "MinValue": "0", "MaxValue": "15"},
    {"Name": "lr", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Logarithmic"}]))


def best_found(strategy: str, seed: int, budget: int = 30) -> float:
    search = Search(strategy, [Space("", tuple(BRANIN))], maximize=False, seed=seed, max_jobs=budget)
    values = []
    for i in range(budget):
        _, tuned = search.propose(i, f"t{i}")
        values.append(branin(tuned))
        search.finished(f"t{i}", values[-1])
    return min(values)


def test_bayesian_search_beats_random_search_more_often_than_not() -> None:
    wins = sum(best_found("Bayesian", seed) < best_found("Random", seed) for seed in range(10))
    assert wins >= 6
    assert startup_trials(30) == 6 and startup_trials(5) == 2 and startup_trials(500) == 10


def test_a_restarted_search_learns_from_known_trials_and_resumes_running_ones() -> None:
    search = Search("Bayesian", [Space("", tuple(BRANIN))], maximize=False, seed=1, max_jobs=10)
    assert search.known("", {"x": "3.1", "y": "2.2", "lr": "0.01"}, 0.5)
    assert not search.known("", {"x": "30", "y": "2.2", "lr": "0.01"}, 0.5)      # outside today's ranges
    search.resume("running", "", {"x": "1", "y": "1", "lr": "0.1"})
    search.finished("running", 12.0)
    assert [t.value for t in search.study.trials] == [0.5, 12.0]
    assert search.study.trials[1].params == {"x": 1.0, "y": 1.0, "lr": 0.1}


def test_several_definitions_choose_a_definition_then_its_ranges() -> None:
    spaces = [Space("a", tuple(parse_ranges(ranges(Integer=[{"Name": "n", "MinValue": "1", "MaxValue": "3"}])))),
              Space("b", tuple(parse_ranges(ranges(Categorical=[{"Name": "k", "Values": ["x", "y"]}]))))]
    search = Search("Random", spaces, maximize=True, seed=0, max_jobs=20)
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for i in range(20):
        definition, tuned = search.propose(i, f"t{i}")
        seen.add((definition, tuple(tuned)))
        search.finished(f"t{i}", 1.0)
    assert seen == {("a", ("n",)), ("b", ("k",))}


# --- the rules of a tuning job -----------------------------------------------------------------------
def test_early_stopping_compares_with_the_median_of_earlier_running_averages() -> None:
    earlier = [[0.5, 0.6, 0.7], [0.4, 0.5, 0.6], [0.3, 0.4]]
    # epoch 2: running averages 0.55, 0.45, 0.35 -> median 0.45
    assert tuning_trials.stop_early([0.2, 0.44], earlier, maximize=True)
    assert not tuning_trials.stop_early([0.2, 0.46], earlier, maximize=True)
    assert tuning_trials.stop_early([0.2, 0.46], earlier, maximize=False)
    # epoch 3: only two earlier trials got there, too few to judge
    assert not tuning_trials.stop_early([0.0, 0.0, 0.0], earlier, maximize=True)
    assert not tuning_trials.stop_early([], earlier, maximize=True)


def summary(name: str, status: str, objective: str, value: float | None = None, failure: str = "",
            created: float = 0) -> dict:
    out = {"TrainingJobName": name, "TrainingJobStatus": status, "ObjectiveStatus": objective,
           "CreationTime": created}
    if value is not None:
        out["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": "m", "Value": value}
    if failure:
        out["FailureReason"] = failure
    return out


SUMMARIES = [summary("t1", "Completed", "Succeeded", 0.5, created=1),
             summary("t2", "Failed", "Failed", failure="AlgorithmError: x", created=2),
             summary("t3", "Failed", "Failed", failure="InternalServerError: y", created=3),
             summary("t4", "Stopped", "Succeeded", 0.9, created=4),
             summary("t5", "InProgress", "Pending", created=5),
             summary("t6", "Completed", "Succeeded", 0.9, created=6),
             summary("t7", "Completed", "Failed", created=7)]


def test_counters_count_as_sagemaker_does() -> None:
    status, objective = tuning_trials.counters(SUMMARIES)
    assert status == {"Completed": 3, "InProgress": 1, "RetryableError": 1, "NonRetryableError": 1, "Stopped": 1}
    assert objective == {"Succeeded": 3, "Pending": 1, "Failed": 3}


def test_the_best_trial_is_the_earliest_of_the_best_objective() -> None:
    assert tuning_trials.best(SUMMARIES, maximize=True)["TrainingJobName"] == "t4"
    assert tuning_trials.best(SUMMARIES, maximize=False)["TrainingJobName"] == "t1"
    assert tuning_trials.best(SUMMARIES[1:3], maximize=True) is None


def test_not_improving_counts_the_trailing_trials_that_did_not_beat_the_best() -> None:
    assert tuning_trials.not_improving([0.5, 0.4, 0.6, 0.6, 0.1], maximize=True) == 2
    assert tuning_trials.not_improving([0.5, 0.4, 0.3], maximize=False) == 0
    assert tuning_trials.not_improving([], maximize=True) == 0


def test_sorting_by_objective_leaves_out_trials_without_one() -> None:
    page = tuning_trials.list_page(SUMMARIES, {"SortBy": "FinalObjectiveMetricValue", "SortOrder": "Ascending"})
    assert [s["TrainingJobName"] for s in page["TrainingJobSummaries"]] == ["t1", "t4", "t6"]
    page = tuning_trials.list_page(SUMMARIES, {"SortBy": "Status", "SortOrder": "Ascending", "MaxResults": 2})
    assert [s["TrainingJobName"] for s in page["TrainingJobSummaries"]] == ["t1", "t6"] and page["NextToken"]


# --- CloudWatch statistics ------------------------------------------------------------------------------
def test_datapoints_are_grouped_into_aligned_periods() -> None:
    points = [(60_000, 1.0), (61_000, 3.0), (119_999, 5.0), (120_000, 7.0), (300_500, 9.0)]
    assert buckets(points, 60) == [(60.0, [1.0, 3.0, 5.0]), (120.0, [7.0]), (300.0, [9.0])]
    assert buckets(points, 1) == [(60.0, [1.0]), (61.0, [3.0]), (119.0, [5.0]), (120.0, [7.0]), (300.0, [9.0])]


def test_statistics_and_percentiles() -> None:
    values = [float(v) for v in range(1, 11)]
    assert [statistic(s, values) for s in ("SampleCount", "Average", "Sum", "Minimum", "Maximum")] == \
        [10.0, 5.5, 55.0, 1.0, 10.0]
    assert statistic("p90", values) == 9.0 and statistic("p100", values) == 10.0 and statistic("p50", values) == 5.0
    with pytest.raises(InvalidParameterValue):
        statistic("tm99", values)


def test_hyperband_stops_poor_trials_at_its_rungs_and_never_before_min_resource() -> None:
    space = parse_ranges(ranges(Continuous=[{"Name": "q", "MinValue": "0", "MaxValue": "1"}]))
    search = Search("Hyperband", [Space("", tuple(space))], maximize=True, seed=0, max_jobs=30, resources=(2, 9))
    stopped_at = []
    for i in range(30):
        _, tuned = search.propose(i, f"t{i}")
        values: list[float] = []
        for epoch in range(1, 10):
            values.append(float(tuned["q"]) * epoch / 9)
            if search.report(f"t{i}", values):
                break
        stopped_at.append(len(values))
        search.finished(f"t{i}", values[-1])
    assert min(stopped_at) >= 2                      # MinResource
    assert any(n < 9 for n in stopped_at) and 9 in stopped_at
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in search.study.trials)
    assert sum(t.state.name == "PRUNED" for t in search.study.trials) == sum(n < 9 for n in stopped_at)
