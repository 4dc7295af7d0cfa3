"""Paper ids: the arXiv id when a record has one (version dropped), else its own id, else one from its title.

So the same paper read from an arXiv dump, from the Hugging Face daily papers and from a feed is one paper.
"""

from __future__ import annotations

import hashlib
import re

from rag.text.clean import normalise_title

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


def paper_id_for(title: str, given_id: str = "", url: str = "") -> str:
    """The arXiv id when there is one; else the record's own id; else a stable id from the normalised title."""
    for candidate in (given_id, url):
        if candidate:
            found = arxiv_id(candidate)
            if found:
                return found
    if given_id:
        return given_id.strip()
    digest = hashlib.sha1(normalise_title(title).encode("utf-8")).hexdigest()[:16]
    return f"title-{digest}"
