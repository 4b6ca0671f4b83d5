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
