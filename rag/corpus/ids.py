"""Paper ids: the arXiv id when a record has one (version dropped), else its own id, else one from its title.

So the same paper read from an arXiv dump, from the Hugging Face daily papers and from a feed is one paper.
"""

from __future__ import annotations

import hashlib

from rag.text.arxiv import arxiv_id  # written in the text layer, where the exports use it too
from rag.text.clean import normalise_title

__all__ = ["arxiv_id", "paper_id_for"]


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
