"""Search semantics over records (pure: domain/search.py with an in-memory SQLite store)."""

from __future__ import annotations

import pytest

from emulator.config import Settings
from emulator.domain import search
from emulator.domain.families import MODEL, TRAINING_JOB
from emulator.domain.records import Context, Records
from emulator.domain.search import Searchable, matches
from emulator.errors import ValidationException
from emulator.state.db import Database
from emulator.state.resources import ResourceStore


@pytest.fixture
def ctx(tmp_path) -> Context:
    return Context(Settings(data_dir=tmp_path), ResourceStore(Database(tmp_path / "state.db")))


def item(**record) -> Searchable:
    return Searchable(record, [{"Key": "team", "Value": "ml"}])


def test_operators_on_text_numbers_and_timestamps() -> None:
    job = item(Name="alpha", Count=3, CreationTime=1_700_000_000.0, Flag=True)
    def holds(name: str, operator: str, value: str | None = None) -> bool:
        filt = {"Name": name, "Operator": operator} | ({"Value": value} if value is not None else {})
        return matches(job, {"Filters": [filt]})
    assert holds("Name", "Equals", "alpha") and not holds("Name", "Equals", "Alpha")
    assert holds("Name", "Contains", "LPH") and holds("Name", "In", "beta, alpha")
    assert holds("Name", "NotEquals", "beta") and not holds("Name", "NotEquals", "alpha")
    assert holds("Name", "GreaterThan", "aa") and holds("Name", "LessThan", "b")
    assert holds("Count", "GreaterThanOrEqualTo", "3") and not holds("Count", "GreaterThan", "3")
    assert holds("Count", "LessThanOrEqualTo", "3.0") and holds("Count", "Equals", "3")
    assert holds("CreationTime", "GreaterThan", "2023-11-14T00:00:00Z")
    assert holds("CreationTime", "LessThan", "2023-11-15T00:00:00+00:00")
    assert holds("Flag", "Equals", "true")
    assert holds("Missing", "NotExists") and not holds("Missing", "Exists") and holds("Name", "Exists")
    assert holds("Tags.team", "Equals", "ml") and holds("Missing", "NotEquals", "x")


def test_paths_lists_dotted_keys_and_boolean_joins() -> None:
    job = item(HyperParameters={"optimizer.lr": "0.1"},
               Channels=[{"Name": "train", "Uri": "s3://a"}, {"Name": "test", "Uri": "s3://b"}])
    assert matches(job, {"Filters": [{"Name": "HyperParameters.optimizer.lr", "Value": "0.1"}]})
    assert matches(job, {"Filters": [{"Name": "Channels.Name", "Value": "test"}]})
    # nested: both filters on the same element
    same = {"NestedPropertyName": "Channels", "Filters": [{"Name": "Channels.Name", "Value": "train"},
                                                          {"Name": "Channels.Uri", "Value": "s3://b"}]}
    assert not matches(job, {"NestedFilters": [same]})
    same["Filters"][1]["Value"] = "s3://a"
    assert matches(job, {"NestedFilters": [same]})
    no = {"Filters": [{"Name": "Channels.Name", "Value": "x"}]}
    yes = {"Filters": [{"Name": "Channels.Name", "Value": "train"}]}
    assert matches(job, {"SubExpressions": [no, yes], "Operator": "Or"})
    assert not matches(job, {"SubExpressions": [no, yes]})


def test_search_sorts_pages_and_wraps_models(ctx: Context) -> None:
    jobs = Records(ctx, TRAINING_JOB)
    for name, loss in (("a", 0.3), ("b", 0.1), ("c", 0.2)):
        jobs.create(name, {"FinalMetricDataList": [{"MetricName": "loss", "Value": loss}]})
    first = search.search(ctx, {"Resource": "TrainingJob", "SortBy": "Metrics.loss", "SortOrder": "Ascending",
                                "MaxResults": 2})
    assert [r["TrainingJob"]["TrainingJobName"] for r in first["Results"]] == ["b", "c"]
    rest = search.search(ctx, {"Resource": "TrainingJob", "SortBy": "Metrics.loss", "SortOrder": "Ascending",
                               "MaxResults": 2, "NextToken": first["NextToken"]})
    assert [r["TrainingJob"]["TrainingJobName"] for r in rest["Results"]] == ["a"]
    assert first["TotalHits"] == {"Value": 3, "Relation": "EqualTo"}
    Records(ctx, MODEL).create("m", {"PrimaryContainer": {"Image": "i"}}, tags=[{"Key": "k", "Value": "v"}])
    models = search.search(ctx, {"Resource": "Model", "SearchExpression": {"Filters": [
        {"Name": "Model.ModelName", "Operator": "Equals", "Value": "m"}]}})
    assert models["Results"][0]["Model"]["Model"]["Tags"] == [{"Key": "k", "Value": "v"}]
    assert search.search(ctx, {"Resource": "Experiment"})["Results"] == []


def test_bad_expressions_are_refused(ctx: Context) -> None:
    with pytest.raises(ValidationException, match="needs a Value"):
        search.search(ctx, {"Resource": "TrainingJob", "SearchExpression": {"Filters": [
            {"Name": "TrainingJobName", "Operator": "Contains"}]}})
    with pytest.raises(ValidationException, match="at least one of"):
        search.search(ctx, {"Resource": "TrainingJob", "SearchExpression": {"SubExpressions": [{}]}})
