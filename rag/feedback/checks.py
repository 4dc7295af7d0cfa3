"""What one feedback call may hold, checked before anything is stored; each refusal says what to give instead."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from rag.errors import InvalidFeedback
from rag.feedback.memory import Given
from rag.feedback.records import MissingPaper
from rag.text.clean import normalise_title, replace_surrogates
from rag.types import Paper

MAX_COMMENT_CHARS = 4000
MAX_PAPER_NAME_CHARS = 500
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class PaperSource(Protocol):
    """Where a named paper is looked up: `Assistant` is one."""

    def paper(self, paper_id: str) -> Paper | None: ...

    def papers(self, search: str = "", limit: int = 50, offset: int = 0) -> list[Paper]: ...


@dataclass(frozen=True)
class Checked:
    """A feedback call's values, checked and cleaned, with the answer they are about."""

    given: Given
    rating: int
    comment: str
    wrong_citations: list[int]
    missing_paper: MissingPaper | None


def _rating(value: Any) -> int:
    if isinstance(value, bool) or value not in (1, -1) or not isinstance(value, (int, float)):
        shown = repr(value)[:40]
        raise InvalidFeedback(f"rating must be +1 (thumbs up) or -1 (thumbs down); got {shown}.")
    return int(value)


def _comment(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidFeedback(f"comment must be text; got {type(value).__name__}.")
    text = _CONTROL.sub("", replace_surrogates(value)).strip()
    if len(text) > MAX_COMMENT_CHARS:
        raise InvalidFeedback(f"The note is {len(text):,} characters long; keep it to {MAX_COMMENT_CHARS:,}.")
    return text


def _wrong(value: Iterable | None, given: Given) -> list[int]:
    if value is None:
        return []
    if isinstance(value, (str, bytes, int)) or not isinstance(value, Iterable):
        raise InvalidFeedback("wrong_citations takes a list of the citation numbers shown as [n] in the answer, e.g. [2].")
    numbers = [c.number for c in given.answer.citations]
    out: list[int] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            raise InvalidFeedback(f"wrong_citations takes citation numbers such as 2 (for [2]); got {repr(item)[:40]}.")
        if item not in numbers:
            if not numbers:
                raise InvalidFeedback("This answer cites nothing, so no citation can be marked wrong; leave wrong_citations empty.")
            shown = ", ".join(f"[{n}]" for n in numbers)
            raise InvalidFeedback(f"The answer cites {shown}; it has no [{item}]. Mark only numbers the answer shows.")
        if item not in out:
            out.append(item)
    return sorted(out)


def find_paper(name: str, papers: PaperSource) -> MissingPaper:
    """The indexed paper ``name`` names: its id, or its title (case, spacing and punctuation aside)."""
    name = replace_surrogates(name).strip()
    if len(name) > MAX_PAPER_NAME_CHARS:
        raise InvalidFeedback(f"missing_paper is a paper id or a title; this one is {len(name):,} characters long.")
    found = papers.paper(name)
    if found is None:
        wanted = normalise_title(name)
        found = next((p for p in papers.papers(search=name, limit=10) if normalise_title(p.title) == wanted), None) if wanted else None
    if found is None:
        raise InvalidFeedback(
            f"No indexed paper has the id or title {name[:120]!r}. Name the paper by its id (as `rag papers --search` "
            "lists it) or by its whole title."
        )
    return MissingPaper(paper_id=found.paper_id, title=found.title, abstract=found.abstract)


def checked(
    given: Given, rating: Any, comment: Any = "", wrong_citations: Iterable | None = None, missing_paper: Any = None,
    papers: PaperSource | None = None,
) -> Checked:
    """The feedback's values checked against the answer (and the index, for a named paper)."""
    rating = _rating(rating)
    comment = _comment(comment)
    wrong = _wrong(wrong_citations, given)
    paper = None
    if missing_paper is not None and not (isinstance(missing_paper, str) and not missing_paper.strip()):
        if not isinstance(missing_paper, str):
            raise InvalidFeedback(f"missing_paper is a paper id or title, as text; got {type(missing_paper).__name__}.")
        if rating == 1 and given.answer.refused:
            raise InvalidFeedback(
                "A thumbs-up on \"the abstracts don't answer this\" agrees that no paper answers it; to name a paper "
                "that does, give rating=-1."
            )
        if papers is None:
            raise InvalidFeedback("A paper can only be named where the index can be searched (through Assistant.feedback).")
        paper = find_paper(missing_paper, papers)
    return Checked(given, rating, comment, wrong, paper)
