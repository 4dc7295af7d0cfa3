"""arXiv identifiers, written once: the ingest keys papers by them, the exports cite them (BibTeX ``eprint``)."""

from __future__ import annotations

import re

_ARXIV_NEW = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\d])")
_ARXIV_OLD = re.compile(r"\b([a-z][a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?\b")
_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/([^\s?#]+?)(?:v\d+)?(?:\.pdf)?(?:[?#]|$)")


def arxiv_id(value: str) -> str | None:
    """The version-less arXiv id in an id string or an arXiv URL, or None."""
    value = value.strip()
    url = _ARXIV_URL.search(value)
    if url:
        value = url.group(1)
    value = re.sub(r"^arxiv:", "", value, flags=re.IGNORECASE)
    for pattern in (_ARXIV_NEW, _ARXIV_OLD):
        match = pattern.fullmatch(value) or (pattern.match(value) if url else None)
        if match:
            return match.group(1)
    return None
