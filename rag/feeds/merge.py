"""A paper from a feed, completed by what the index already holds of it.

The same paper comes from several places under one id (the Hugging Face daily papers carry no arXiv
categories, arXiv has no upvotes, a dump has its own listing date). Indexed as each source sees it, the
last one read would erase what the others knew, and the paper would flip between versions, re-embedded
each time. So a feed's record is merged with the stored one: the record's title, abstract, authors and
URL (a paper's newest text wins, as in any ingest), the union of the categories, the earliest date, and
the upvotes and links it has (else the stored ones). Whatever the order the sources come in, they end in
the same paper: at most one re-embedding when a source adds something new.
"""

from __future__ import annotations

from rag.types import Paper


def _earliest(a: str, b: str) -> str:
    if not a or not b:
        return a or b
    if a.startswith(b) or b.startswith(a):
        return max(a, b, key=len)  # "2024" and "2024-01-05": the same time, the longer says more
    return min(a, b)


def merge(new: Paper, stored: Paper) -> Paper:
    """``new`` completed by ``stored`` (the same paper id), as explained above."""
    return new.model_copy(
        update={
            "authors": new.authors or stored.authors,
            "url": new.url or stored.url,
            "categories": list(dict.fromkeys([*stored.categories, *new.categories])),
            "date": _earliest(new.date, stored.date),
            "upvotes": new.upvotes if new.upvotes is not None else stored.upvotes,
            "links": new.links or stored.links,
        }
    )
