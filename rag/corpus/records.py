"""One record of a JSON, JSON Lines or CSV corpus mapped to a `Paper`, whatever its field names.

Field aliases cover the shapes we meet: arXiv dumps (``abstract``, ``listing_date``), the Hugging Face
daily-papers API (``summary``, ``publishedAt``, the paper nested under ``"paper"``), and spreadsheets of
reading lists. A record that can't be mapped raises ValueError with a reason a user can act on.
"""

from __future__ import annotations

import re
from typing import Any

from rag.corpus.ids import arxiv_id, paper_id_for
from rag.text.clean import clean_text, has_surrogates
from rag.types import Paper, Skipped

TITLE_KEYS = ("title", "paper_title", "name")
ABSTRACT_KEYS = ("abstract", "summary", "text", "paper_abstract", "content")
_ID_KEYS = ("id", "arxiv_id", "paper_id", "_id", "doc_id", "pmid")
_DATE_KEYS = ("listing_date", "publishedAt", "published", "date", "update_date", "submittedOnDailyAt", "year")
_URL_KEYS = ("url", "link", "pdf_url", "abs_url")


def _first(record: dict, keys: Iterable[str]) -> Any:
    for key in keys:
        if key in record and record[key] not in (None, ""):
            return record[key]
    return None


def _as_text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and field in ("id", "date"):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"'{field}' should be text, got {type(value).__name__}")
    return value


def _authors(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        parts = re.split(r",|;| and ", value)
        return [clean_text(p) for p in parts if p.strip()]
    if isinstance(value, list):
        names = []
        for item in value:
            if isinstance(item, str):
                names.append(clean_text(item))
            elif isinstance(item, dict) and isinstance(item.get("name"), str):
                names.append(clean_text(item["name"]))
        return [n for n in names if n]
    raise ValueError(f"'authors' should be a list or text, got {type(value).__name__}")


def _categories(value: Any, primary: Any = None) -> list[str]:
    cats: list[str] = []
    if isinstance(value, str):
        cats = [c for c in re.split(r"[\s,;]+", value) if c]
    elif isinstance(value, list):
        cats = [c.strip() for c in value if isinstance(c, str) and c.strip()]
    elif value is not None:
        raise ValueError(f"'categories' should be a list or text, got {type(value).__name__}")
    if isinstance(primary, str) and primary.strip() and primary.strip() not in cats:
        cats.insert(0, primary.strip())
    return cats


def _date(value: Any) -> str:
    text = _as_text(value, "date").strip()
    match = re.match(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", text)
    if not match:
        return ""
    return "-".join(part for part in match.groups() if part)


# The Hugging Face daily papers' links, kept as `Paper.links` under these names.
_LINK_KEYS = {"githubRepo": "github", "projectPage": "project"}


def _upvotes(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None  # absent or malformed: upvotes are a nicety, never a reason to skip a paper
    return max(0, value)


def _links(record: dict) -> dict[str, str]:
    links = {}
    for key, name in _LINK_KEYS.items():
        value = record.get(key)
        if isinstance(value, str) and value.strip().lower().startswith(("https://", "http://")):
            links[name] = value.strip()
    return links


def record_to_paper(record: Any) -> Paper:
    """Map one JSON/CSV record to a `Paper`; raises ValueError with a readable reason."""
    if not isinstance(record, dict):
        raise ValueError(f"expected an object, got {type(record).__name__}")
    if isinstance(record.get("paper"), dict):  # Hugging Face daily papers: the paper sits under "paper"
        record = {**{k: v for k, v in record.items() if k != "paper"}, **record["paper"]}
    title = clean_text(_as_text(_first(record, TITLE_KEYS), "title"))
    abstract = clean_text(_as_text(_first(record, ABSTRACT_KEYS), "abstract"))
    if not title:
        raise ValueError("no title")
    if not abstract:
        raise ValueError("no abstract")
    given_id = _as_text(_first(record, _ID_KEYS), "id")
    url = _as_text(_first(record, _URL_KEYS), "url").strip()
    paper_id = paper_id_for(title, given_id, url)
    if not url and arxiv_id(paper_id):
        url = f"https://arxiv.org/abs/{paper_id}"
    return Paper(
        paper_id=paper_id,
        title=title,
        abstract=abstract,
        authors=_authors(record.get("authors")),
        date=_date(_first(record, _DATE_KEYS)),
        categories=_categories(record.get("categories"), record.get("primary_category")),
        url=url,
        upvotes=_upvotes(record.get("upvotes")),
        links=_links(record),
    )


def invalid_text(paper: Paper) -> str:
    """Why ``paper`` can't be stored ("" when it can): a field holding undecodable input.

    Bytes that are not UTF-8 come through as lone surrogates (errors="surrogateescape"), as do JSON
    "\\ud800" escapes: either way the record can't be stored (Chroma needs valid UTF-8) and is skipped by line.
    """
    fields = {"title": paper.title, "abstract": paper.abstract, "id": paper.paper_id, "url": paper.url, "date": paper.date,
              "authors": " ".join(paper.authors), "categories": " ".join(paper.categories),
              "links": " ".join(paper.links.values())}
    bad = [name for name, value in fields.items() if has_surrogates(value)]
    return f"invalid UTF-8 (undecodable bytes or a lone surrogate escape) in the {', '.join(bad)}" if bad else ""


def paper_or_skip(record: Any, where: str) -> Paper | Skipped:
    """The record as a `Paper`, or a `Skipped` at ``where`` saying why it can't be one."""
    try:
        paper = record_to_paper(record)
    except (ValueError, TypeError) as exc:
        return Skipped(location=where, reason=str(exc))
    problem = invalid_text(paper)
    return Skipped(location=where, reason=problem) if problem else paper
