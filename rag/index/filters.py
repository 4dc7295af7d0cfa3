"""Retrieval filters translated for each backend, once: a Chroma ``where`` clause, and a row mask for BM25.

The `Filters` record itself (rag/types.py) validates and bounds what a caller sends; here the date bounds
are turned into the YYYYMMDD integers both stores hold (Chroma compares only numbers with $gte/$lte).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.types import Filters


def date_bound(value: str | None, upper: bool) -> int | None:
    """A date filter as YYYYMMDD: "2024" is 20240000 as a lower bound and 20241231 as an upper one."""
    if not value:
        return None
    digits = "".join(ch for ch in value if ch.isdigit())[:8]
    if len(digits) < 4:
        raise ValueError(f"date filter {value!r} should look like YYYY, YYYY-MM or YYYY-MM-DD")
    if upper:  # "2024" means up to the end of 2024
        digits = digits + ("1231" if len(digits) == 4 else "31" if len(digits) == 6 else "")
    else:
        digits = digits.ljust(8, "0")
    return int(digits)


def chroma_where(filters: Filters | None) -> dict | None:
    """Filters as a Chroma ``where`` over the fields every chunk and paper record carries."""
    if filters is None or filters.is_empty():
        return None
    parts: list[dict] = []
    low, high = date_bound(filters.date_from, False), date_bound(filters.date_to, True)
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
    low, high = date_bound(filters.date_from, False), date_bound(filters.date_to, True)
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
