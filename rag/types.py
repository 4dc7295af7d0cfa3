"""The records that cross module boundaries and the public API. All serialise to JSON."""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rag.text.clean import has_surrogates
from rag.text.export import Reference, bibtex, markdown_answer, markdown_conversation


UNHASHED_FIELDS = {"upvotes", "links"}  # Paper fields that are not its content (see `Paper.content_hash`)


class Paper(BaseModel):
    """One paper as ingested. ``abstract`` and ``title`` are the cleaned text that is indexed and shown."""

    paper_id: str
    title: str
    abstract: str
    authors: list[str] = []
    date: str = ""  # ISO YYYY-MM-DD when the source gives one
    categories: list[str] = []
    url: str = ""
    # Feed metadata (the Hugging Face daily papers' upvotes, GitHub and project links). Left out of the
    # content hash: a new upvote count is no reason to re-embed a paper, and papers stored before these
    # fields existed keep their hashes. The ingest updates them in place (rag/ingest/indexer.py).
    upvotes: int | None = None
    links: dict[str, str] = {}  # name -> URL, e.g. {"github": ..., "project": ...}

    def content_hash(self) -> str:
        payload = json.dumps(self.model_dump(exclude=UNHASHED_FIELDS), sort_keys=True, ensure_ascii=False)
        return hashlib.sha1(payload.encode("utf-8")).hexdigest()

    @property
    def date_int(self) -> int:
        """YYYYMMDD as an integer (0 when unknown): Chroma compares only numbers with $gte/$lte."""
        digits = self.date.replace("-", "")[:8]
        return int(digits.ljust(8, "0")) if digits.isdigit() and len(digits) >= 4 else 0


class Skipped(BaseModel):
    """A line or record that could not be read, and why."""

    location: str  # "file:line"
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


class Chunk(BaseModel):
    """A run of whole sentences of one abstract, sized for the embedder."""

    chunk_id: str
    paper_id: str
    index: int
    text: str  # the abstract's text over [start, end)
    start: int
    end: int


MAX_FILTER_VALUES = 1000  # paper ids or categories in one filter: more can't be asked of a store in one go
MAX_FILTER_CHARS = 200  # one id or category
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


class Filters(BaseModel):
    """Retrieval filters; each applies only where the corpus carries the field.

    Validated here, before any store is touched: dates must be real dates written YYYY, YYYY-MM or
    YYYY-MM-DD; ids and categories are text, bounded in number and length. A bad value raises a
    ValidationError naming the field (`Assistant` turns it into `InvalidQuestion`).
    """

    model_config = ConfigDict(extra="forbid")

    date_from: str | None = None  # inclusive, "YYYY" / "YYYY-MM" / "YYYY-MM-DD"
    date_to: str | None = None  # inclusive
    categories: list[str] = []  # a paper matches when it has any of these
    paper_ids: list[str] = []

    @field_validator("date_from", "date_to", mode="before")
    @classmethod
    def _date(cls, value: Any) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise ValueError("a date is text: 2024, 2024-05 or 2024-05-17")
        value = value.strip()
        match = _DATE.match(value)
        if not match:
            raise ValueError(f"{value[:40]!r} is not a date: write 2024, 2024-05 or 2024-05-17")
        year, month, day = (int(g) if g else None for g in match.groups())
        try:
            datetime.date(year, month or 1, day or 1)
        except ValueError:
            raise ValueError(f"{value!r} is not a real date") from None
        return value

    @field_validator("categories", "paper_ids", mode="before")
    @classmethod
    def _values(cls, value: Any, info) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ValueError("should be a list of text values")
        if len(value) > MAX_FILTER_VALUES:
            raise ValueError(f"{len(value):,} values; at most {MAX_FILTER_VALUES:,} can be filtered on")
        out = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"values should be text, got {type(item).__name__}")
            item = item.strip()
            if len(item) > MAX_FILTER_CHARS:
                raise ValueError(f"a value of {len(item):,} characters; at most {MAX_FILTER_CHARS} are allowed")
            if has_surrogates(item) or any(ord(ch) < 32 for ch in item):
                raise ValueError("a value holds undecodable or control characters")
            if item and item not in out:
                out.append(item)
        return out

    def is_empty(self) -> bool:
        return not (self.date_from or self.date_to or self.categories or self.paper_ids)


class Passage(BaseModel):
    """A span of an abstract with the score it earned."""

    text: str
    start: int
    end: int
    score: float


class Hit(BaseModel):
    """A retrieved paper: its best chunks and the fused score (plus each retriever's part)."""

    paper_id: str
    title: str
    score: float
    dense_score: float = 0.0  # cosine of its best chunk
    lexical_score: float = 0.0  # BM25
    abstract_score: float = 0.0  # cosine of its own vector (title + abstract); 0 on an index without those
    chunks: list[Passage] = []
    abstract: str = ""
    authors: list[str] = []
    date: str = ""
    categories: list[str] = []
    url: str = ""

    @property
    def text(self) -> str:
        """The best chunk's text."""
        return self.chunks[0].text if self.chunks else self.abstract


class Citation(BaseModel):
    """A paper an answer cites, with the sentences cited and the paper itself (so nothing re-reads it)."""

    number: int
    paper_id: str
    title: str  # exactly as ingested
    text: str  # the cited sentences
    spans: list[tuple[int, int]] = []  # character spans of the cited sentences in the abstract
    score: float = 0.0  # retrieval score of the paper
    url: str = ""
    supported: bool = True  # False when a claim citing it is not backed by its text
    support: float = 1.0  # lowest support score of the claims citing it
    abstract: str = ""  # the whole abstract the spans point into
    authors: list[str] = []
    date: str = ""
    categories: list[str] = []


class Answer(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)  # made with the answer: feedback names it
    question: str
    text: str
    citations: list[Citation] = []
    refused: bool = False
    mode: Literal["extractive", "llm", "fallback"] = "extractive"
    notes: list[str] = []  # things the user should know: cut question, fallback, removed markers...
    unsupported: list[str] = []  # sentences whose citation check failed
    query: str = ""  # what was actually searched (the follow-up resolved into a standalone query)

    def to_json(self, **kwargs) -> str:
        return self.model_dump_json(**kwargs)

    def as_message(self) -> dict:
        """This answer as a chat-history turn, carrying the cited paper ids for later follow-ups."""
        return {
            "role": "assistant",
            "content": self.text,
            "paper_ids": [c.paper_id for c in self.citations],
        }

    def references(self) -> list[Reference]:
        return [
            Reference(c.number, c.paper_id, c.title, c.authors, c.date, c.url, c.categories, c.text, c.supported)
            for c in self.citations
        ]

    def to_markdown(self, heading: bool = True) -> str:
        """The answer under its question (``heading``), its notes, then the numbered references: title,
        authors, year, link, and the cited sentences as quotes. Corpus text is escaped."""
        return markdown_answer(self.question, self.text, self.references(), self.notes, heading=heading)

    def to_bibtex(self) -> str:
        """One BibTeX entry per cited paper (arXiv ids as ``eprint``), keys unique; "" when nothing is cited."""
        return bibtex(self.references())


def conversation_to_markdown(answers: list[Answer], title: str = "Conversation") -> str:
    """A whole conversation as one Markdown document: each answer under its question, with its references."""
    return markdown_conversation([a.to_markdown() for a in answers], title)


class IngestReport(BaseModel):
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = []
    refreshed: int = 0  # unchanged papers whose upvotes or links were updated in place (nothing re-embedded)
    chunks: int = 0  # chunks embedded and written
    files: list[str] = []
    seconds: float = 0.0
    errors: list[str] = Field(default_factory=list, description="Whole files that could not be read.")

    def summary(self) -> str:
        line = (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.skipped)} skipped ({self.chunks} chunks embedded in {self.seconds:.1f} s)"
        )
        return line
