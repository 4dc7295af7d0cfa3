"""Retrieval filters translated for each backend, once: a Chroma ``where`` clause, and a row mask for BM25.

The `Filters` record itself (rag/types.py) validates and bounds what a caller sends; here the date bounds
are turned into the YYYYMMDD integers both stores hold (Chroma compares only numbers with $gte/$lte).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from rag.types import Filters


_DATE = re.compile(r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?\s*$")
# Undated papers are stored with date 0: any date bound leaves them out (an unknown date is in no range).
DATED = 1


def date_bound(value: str | None, upper: bool) -> int | None:
    """A date filter as YYYYMMDD: "2024" is 20240000 as a lower bound and 20241231 as an upper one
    (a bound, not a date: "2024-02" runs to 20240231, past every day of February)."""
    if not value:
        return None
    match = _DATE.match(value)
    if not match:
        raise ValueError(f"date filter {value!r} should look like YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = match.groups()
    if upper:  # "2024" means up to the end of 2024
        return int(year) * 10000 + (int(month) if month else 12) * 100 + (int(day) if day else 31)
    return int(year) * 10000 + (int(month) if month else 0) * 100 + (int(day) if day else 0)


def date_range(filters: Filters) -> tuple[int | None, int | None]:
    """(lowest, highest) YYYYMMDD a paper may have; an upper bound alone still leaves undated papers out."""
    low, high = date_bound(filters.date_from, False), date_bound(filters.date_to, True)
    if high is not None and low is None:
        low = DATED
    return low, high


def chroma_where(filters: Filters | None) -> dict | None:
    """Filters as a Chroma ``where`` over the fields every chunk and paper record carries."""
    if filters is None or filters.is_empty():
        return None
    parts: list[dict] = []
    low, high = date_range(filters)
    if low is not None:
        parts.append({"date": {"$gte": low}})
    if high is not None:
        parts.append({"date": {"$lte": high}})
    if filters.categories:
        cats = [{"categories": {"$contains": c}} for c in filters.categories]
        parts.append(cats[0] if len(cats) == 1 else {"$or": cats})
    if filters.paper_ids:
        parts.append({"paper_id": {"$in": list(filters.paper_ids)}})
    return parts[0] if len(parts) == 1 else {"$and": parts}


def row_mask(
    filters: Filters, ids: Sequence[str], position: dict[str, int], dates: np.ndarray, categories: Sequence[str]
) -> np.ndarray:
    """Which rows of the BM25 matrix pass ``filters`` (``categories``: each row's tab-joined categories)."""
    keep = np.ones(len(ids), dtype=bool)
    low, high = date_range(filters)
    if low is not None:
        keep &= dates >= low
    if high is not None:
        keep &= dates <= high
    if filters.categories:
        wanted = set(filters.categories)
        keep &= np.array([bool(wanted & set(c.split("\t"))) if c else False for c in categories], dtype=bool)
    if filters.paper_ids:
        only = np.zeros(len(ids), dtype=bool)
        only[[position[p] for p in filters.paper_ids if p in position]] = True
        keep &= only
    return keep
