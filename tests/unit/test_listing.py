"""List* filters, sort orders and tokens, shared by every family."""

from __future__ import annotations

import pytest

from emulator.domain.listing import list_page, paginate
from emulator.errors import ValidationException

RECORDS = [
    {"TrainingJobName": f"job-{i}", "CreationTime": 100.0 + i, "LastModifiedTime": 200.0 - i,
     "TrainingJobStatus": ["InProgress", "Completed", "Failed"][i % 3]}
    for i in range(25)
]


def page(params, records=RECORDS):
    return list_page(records, params, name_field="TrainingJobName", status_field="TrainingJobStatus")


def names(items):
    return [r["TrainingJobName"] for r in items]


def test_default_is_newest_first_ten_per_page():
    items, token = page({})
    assert names(items) == [f"job-{i}" for i in range(24, 14, -1)]
    assert token


def test_pages_cover_everything_once():
    seen, params = [], {"MaxResults": 7}
    while True:
        items, token = page(params)
        seen += names(items)
        if not token:
            break
        params = {"MaxResults": 7, "NextToken": token}
    assert sorted(seen) == sorted(names(RECORDS)) and len(seen) == 25


def test_filters_combine():
    items, _ = page({"NameContains": "JOB-1", "StatusEquals": "Completed", "MaxResults": 100})
    assert names(items) == ["job-19", "job-16", "job-13", "job-10", "job-1"]
    items, _ = page({"CreationTimeAfter": 120.0, "CreationTimeBefore": 123.0, "SortOrder": "Ascending"})
    assert names(items) == ["job-21", "job-22"]
    items, _ = page({"LastModifiedTimeBefore": 177.0, "MaxResults": 100})
    assert names(items) == ["job-24"]


def test_sort_by_name_and_status():
    items, _ = page({"SortBy": "Name", "SortOrder": "Ascending", "MaxResults": 3})
    assert names(items) == ["job-0", "job-1", "job-10"]
    items, _ = page({"SortBy": "Status", "SortOrder": "Ascending", "MaxResults": 100})
    assert [r["TrainingJobStatus"] for r in items] == sorted(r["TrainingJobStatus"] for r in RECORDS)


def test_token_from_another_query_is_refused():
    _, token = page({"StatusEquals": "Failed", "MaxResults": 2})
    with pytest.raises(ValidationException, match="other filters or sort order"):
        page({"StatusEquals": "Completed", "NextToken": token})


@pytest.mark.parametrize("token", ["garbage", "eyJvIjogLTF9", "e30="])
def test_garbage_tokens_are_validation_errors(token):
    with pytest.raises(ValidationException):
        paginate([1, 2, 3], {"NextToken": token})


def test_the_store_selects_the_same_pages_as_list_page(tmp_path):
    """Records.list pages in SQL (ResourceStore.page): same items, order and tokens as list_page over
    every record, for filters, sorts, ties (equal times and statuses) and pagination."""
    import random
    import time

    from emulator.config import Settings
    from emulator.domain.families import TRAINING_JOB
    from emulator.domain.records import Context, Records
    from emulator.state.db import Database
    from emulator.state.resources import ResourceStore

    store = ResourceStore(Database(tmp_path / "db.sqlite"))
    records = Records(Context(Settings(data_dir=tmp_path), store), TRAINING_JOB)
    rng = random.Random(19)
    base = time.time()
    for i in range(60):
        name = rng.choice(["Job", "job", "train", "Train-x", "b"]) + f"-{i:02d}"
        record = records.create(name, {"TrainingJobStatus": rng.choice(["InProgress", "Completed", "Failed"])})
        tied = base + rng.choice([0, 0, 1, 2.5])           # many equal CreationTimes
        store.db.query("UPDATE resources SET created=?, modified=? WHERE kind=? AND key=?",
                       (tied, tied + i, TRAINING_JOB.kind, name.lower()))
        store.update(TRAINING_JOB.kind, name, lambda r, t=tied, m=tied + i: r.update(
            CreationTime=t, LastModifiedTime=m), status_field="TrainingJobStatus", touch=False)
        assert record["TrainingJobName"] == name
    everything = store.all(TRAINING_JOB.kind)
    for _ in range(300):
        params = _random_params(rng, base)
        expected_pages, got_pages = [], []
        for pages, lister in ((expected_pages, lambda p: list_page(everything, p, name_field="TrainingJobName",
                                                                  status_field="TrainingJobStatus")),
                              (got_pages, lambda p: _as_pair(records.list(p)))):
            token = None
            while True:
                found, token = lister({**params, **({"NextToken": token} if token else {})})
                pages.append(([r["TrainingJobName"] for r in found], token))
                if not token:
                    break
        assert got_pages == expected_pages, params


def _random_params(rng, base: float) -> dict:
    choices = {"SortBy": (0.5, ["Name", "CreationTime", "Status"]), "SortOrder": (0.5, ["Ascending", "Descending"]),
               "NameContains": (0.3, ["JOB", "train", "-1", "x", "zzz"]),
               "StatusEquals": (0.3, ["InProgress", "Completed", "Failed", "Stopped"]),
               "CreationTimeAfter": (0.2, [base - 1, base, base + 1]),
               "LastModifiedTimeBefore": (0.2, [base + 10, base + 30, base + 70]),
               "MaxResults": (0.7, [1, 3, 7, 100])}
    return {name: rng.choice(values) for name, (chance, values) in choices.items() if rng.random() < chance}


def _as_pair(answer: dict) -> tuple[list, str | None]:
    return answer["TrainingJobSummaries"], answer.get("NextToken")
