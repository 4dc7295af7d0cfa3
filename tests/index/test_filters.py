"""rag.index.filters: date bounds, the Chroma ``where`` clause and the BM25 row mask."""

from __future__ import annotations

import numpy as np
import pytest

from rag.index.filters import chroma_where, date_bound, row_mask
from rag.types import Filters


@pytest.mark.parametrize(
    ("value", "lower", "upper"),
    [
        ("2024", 20240000, 20241231),  # a year: from before its first day to its last
        ("2024-05", 20240500, 20240531),
        ("2024-02", 20240200, 20240231),  # a bound, not a date: the 31st of February is past every February day
        ("2024-05-17", 20240517, 20240517),
    ],
)
def test_date_bounds(value, lower, upper):
    assert date_bound(value, upper=False) == lower
    assert date_bound(value, upper=True) == upper


@pytest.mark.parametrize("value", ["2024/05/17", "2024-05-17T10:30:00Z", "May 2024", "24"])
def test_other_date_shapes_never_reach_a_store(value):
    """`Filters` refuses them with a message first; the bound itself doesn't guess."""
    with pytest.raises(ValueError):
        date_bound(value, upper=False)
    with pytest.raises(ValueError, match="not a date"):
        Filters(date_from=value)


@pytest.mark.parametrize("value", [None, ""])
def test_no_date_is_no_bound(value):
    assert date_bound(value, upper=False) is None and date_bound(value, upper=True) is None


@pytest.mark.parametrize("value", ["June", "24", "last spring", "5/17", "-"])
def test_a_value_without_a_year_is_refused_naming_the_format(value):
    with pytest.raises(ValueError, match="YYYY, YYYY-MM or YYYY-MM-DD") as info:
        date_bound(value, upper=False)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("value", ["2024-5", "2024-05-1", "2024-5-17"])
def test_a_month_or_day_without_its_leading_zero_is_read_right_or_refused(value):
    expected = {"2024-5": (20240500, 20240531), "2024-05-1": (20240501, 20240501), "2024-5-17": (20240517, 20240517)}[value]
    try:
        assert (date_bound(value, upper=False), date_bound(value, upper=True)) == expected
    except ValueError:
        pass  # refused with a message: fine too


# --- Chroma's where ------------------------------------------------------------------------------------------


def test_no_filter_is_no_where():
    assert chroma_where(None) is None
    assert chroma_where(Filters()) is None
    assert chroma_where(Filters(date_from="", categories=[], paper_ids=[])) is None


def test_one_condition_stands_alone():
    assert chroma_where(Filters(date_from="2024")) == {"date": {"$gte": 20240000}}
    # An upper bound alone still leaves undated papers (stored as 0) out, as a lower bound does.
    assert chroma_where(Filters(date_to="2024-05")) == {"$and": [{"date": {"$gte": 1}}, {"date": {"$lte": 20240531}}]}
    assert chroma_where(Filters(categories=["cs.CL"])) == {"categories": {"$contains": "cs.CL"}}
    assert chroma_where(Filters(paper_ids=["a", "b"])) == {"paper_id": {"$in": ["a", "b"]}}


def test_several_conditions_are_anded_and_several_categories_ored():
    where = chroma_where(Filters(date_from="2023", date_to="2024-06-30", categories=["cs.CL", "cs.LG"], paper_ids=["x"]))
    assert where == {
        "$and": [
            {"date": {"$gte": 20230000}},
            {"date": {"$lte": 20240630}},
            {"$or": [{"categories": {"$contains": "cs.CL"}}, {"categories": {"$contains": "cs.LG"}}]},
            {"paper_id": {"$in": ["x"]}},
        ]
    }


def test_a_bad_date_fails_the_where_with_the_format():
    unchecked = Filters.model_construct(date_to="yesterday", date_from=None, categories=[], paper_ids=[])  # past any validation
    with pytest.raises(ValueError, match="YYYY"):
        chroma_where(unchecked)


# --- the BM25 row mask ---------------------------------------------------------------------------------------

IDS = ["p0", "p1", "p2", "p3", "p4"]
POSITION = {pid: i for i, pid in enumerate(IDS)}
DATES = np.array([20230115, 20240101, 20240531, 20240601, 0], dtype=np.int64)  # p4 has no date
CATEGORIES = ["cs.CL", "cs.CL\tcs.LG", "", "stat.ML", "cs.LG"]


def mask(**filters) -> list[str]:
    keep = row_mask(Filters(**filters), IDS, POSITION, DATES, CATEGORIES)
    assert keep.dtype == bool and keep.shape == (len(IDS),)
    return [pid for pid, kept in zip(IDS, keep) if kept]


def test_the_mask_keeps_everything_without_conditions():
    assert mask() == IDS


def test_the_mask_bounds_dates_inclusively():
    assert mask(date_from="2024") == ["p1", "p2", "p3"]
    assert mask(date_from="2024-01-01", date_to="2024-05") == ["p1", "p2"]
    assert mask(date_from="2024-06", date_to="2024-06") == ["p3"]
    assert mask(date_from="2025") == []


def test_the_mask_keeps_rows_with_any_wanted_category():
    assert mask(categories=["cs.LG"]) == ["p1", "p4"]  # a tab-joined list is split, not substring-matched
    assert mask(categories=["cs.CL", "stat.ML"]) == ["p0", "p1", "p3"]
    assert mask(categories=["cs"]) == []


def test_the_mask_keeps_only_the_named_papers_it_knows():
    assert mask(paper_ids=["p3", "p0", "gone"]) == ["p0", "p3"]
    assert mask(paper_ids=["gone"]) == []


def test_the_mask_ands_its_conditions():
    assert mask(date_from="2024", categories=["cs.CL", "cs.LG"]) == ["p1"]
    assert mask(date_to="2024", categories=["cs.CL"], paper_ids=["p0", "p1", "p2"]) == ["p0", "p1"]
