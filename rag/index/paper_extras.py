"""A paper's upvotes and links (`Paper.upvotes`, `Paper.links`) in the Chroma paper record.

They are not the paper's content: they are left out of its content hash, so a paper whose upvote count
moved is "unchanged" to the ingest, and these keys are written over its stored record in place (Chroma's
``update`` merges metadata key by key; None removes a key) instead of re-embedding it.

Chroma metadata holds no dicts and no None: ``links={"github": url}`` is stored as ``link_github: url``,
and an absent value is an absent key.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.types import Paper

LINK_PREFIX = "link_"


def extras_metadata(paper: Paper) -> dict:
    """``paper``'s upvotes and links as Chroma metadata keys."""
    meta: dict = {f"{LINK_PREFIX}{name}": url for name, url in paper.links.items() if url}
    if paper.upvotes is not None:
        meta["upvotes"] = paper.upvotes
    return meta


def extras_from_metadata(meta: dict) -> dict:
    """`Paper` fields (``upvotes``, ``links``) from a stored record's metadata."""
    upvotes = meta.get("upvotes")
    return {
        "upvotes": int(upvotes) if isinstance(upvotes, (int, float)) and not isinstance(upvotes, bool) else None,
        "links": {k[len(LINK_PREFIX):]: v for k, v in meta.items() if k.startswith(LINK_PREFIX) and isinstance(v, str)},
    }


def extras_changes(paper: Paper, stored: dict) -> dict:
    """The keys to write over ``stored`` metadata so that it holds ``paper``'s upvotes and links: {} when it
    already does; a key set to None is one to remove."""
    wanted = extras_metadata(paper)
    held = {k: v for k, v in stored.items() if k == "upvotes" or k.startswith(LINK_PREFIX)}
    changes: dict = {k: v for k, v in wanted.items() if held.get(k) != v}
    changes.update({k: None for k in held if k not in wanted})
    return changes


def stored_metadatas(store, paper_ids: Sequence[str]) -> dict[str, dict]:
    """The stored metadata (content hash included) of each indexed paper among ``paper_ids``: one read,
    where `ChromaStore.hashes` would give only the hashes."""
    found: dict[str, dict] = {}
    ids = list(paper_ids)
    try:
        for begin in range(0, len(ids), store.batch_limit):
            got = store.papers.get(ids=ids[begin:begin + store.batch_limit], include=["metadatas"])
            found.update(zip(got["ids"], got["metadatas"] or []))
    except Exception as exc:  # chromadb raises many types: the store says what failed, as its own reads do
        raise store.failure("read paper metadata", exc) from exc
    return found


def update_metadata(store, paper_ids: Sequence[str], changes: Sequence[dict]) -> None:
    """Write ``changes`` (one dict of keys per paper) over the stored paper records; no vector or text moves."""
    ids, changes = list(paper_ids), list(changes)
    try:
        for begin in range(0, len(ids), store.batch_limit):
            end = begin + store.batch_limit
            store.papers.update(ids=ids[begin:end], metadatas=changes[begin:end])
    except Exception as exc:
        raise store.failure("update paper metadata", exc) from exc
