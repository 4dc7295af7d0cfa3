"""Checking a generated answer's citations against the sources it was given.

A model's `[n]` markers are where generative assistants go wrong most: numbers naming no source, the
wrong source for a number, one source cited for everything. So after generation:

1. Links the sources don't contain are removed (an injected "visit http://..." must not reach the user).
2. Markers are parsed (`[1]`, `[1, 3]`, `[1][2]`, `[1-3]`); numbers naming no retrieved source are
   dropped and reported; the rest are renumbered in order of first use, so the answer cites [1], [2], ...
3. The answer is cut into sentences (markers that open a sentence belong to the previous one). Each cited
   sentence gets a support score against the text it cites: the embedder's cosine with the best sentence
   of the cited abstracts, plus the share of its words the cited paper uses; a figure the cited text
   doesn't contain fails it outright. Below ``min_support`` it is unsupported (calibrated by
   ``benchmarks/citation_support.py`` on ``eval/citation_support.jsonl``).
4. A sentence that makes a claim and cites nothing is unsupported too: the prompt asks for a citation
   after every claim.
5. An answer that cites nothing, or that is the refusal, is a refusal (``refused=True``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from rag.chunking import cached_sentences, split_sentences
from rag.embedding import Embedder
from rag.lexical import tokenize
from rag.questions import is_instruction
from rag.types import Citation, Hit

# [1] · [1, 3] · [1;2] · [1-3] · [ 2 ] · [Source 2] (small local models like that one)
MARKER = re.compile(
    r"\[\s*(?:(?:sources?|refs?|papers?)\s*)?(\d{1,3}(?:\s*(?:,|;|-|–|—|and)\s*\d{1,3})*)\s*\]", re.IGNORECASE
)
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\s*\d[^\[\]]*\])+")
_URL = re.compile(r"https?://[^\s<>()\[\]\"']+|www\.[^\s<>()\[\]\"']+")
_MD_LINK = re.compile(r"\[([^\[\]]+)\]\((https?://[^\s)]+)\)")
_FIGURE = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?:\s?%)?")
_NOT_IN_SOURCES = re.compile(
    r"\b(sources?|abstracts?|papers?)\b[^.]*\b(do not|don't|does not|doesn't|not)\b[^.]*\b(say|state|mention|report|give|describe|answer|specify)",
    re.IGNORECASE,
)
MAX_RANGE = 20  # [1-300] is not a range of sources


@lru_cache(maxsize=4096)
def instruction_sentences(abstract: str) -> frozenset[int]:
    """Sentences of an abstract that address the assistant ("ignore previous instructions and ...").

    They are data the model must not obey, so they back no claim and vouch for no link.
    """
    return frozenset(i for i, s in enumerate(cached_sentences(abstract)) if is_instruction(s.text))


def usable_text(hit: Hit) -> str:
    """The title and abstract of a source without its instruction sentences."""
    skip = instruction_sentences(hit.abstract)
    kept = [s.text for i, s in enumerate(cached_sentences(hit.abstract)) if i not in skip]
    return f"{hit.title} " + " ".join(kept)


def marker_numbers(inner: str) -> list[int]:
    """The numbers one marker names, ranges expanded: "1, 3-5" -> [1, 3, 4, 5]."""
    numbers: list[int] = []
    for part in re.split(r"\s*(?:,|;|and)\s*", inner.strip()):
        bounds = re.split(r"\s*[-–—]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            lo, hi = int(bounds[0]), int(bounds[1])
            numbers.extend(range(lo, hi + 1) if 0 <= hi - lo <= MAX_RANGE else [lo, hi])
        elif part.isdigit():
            numbers.append(int(part))
    return numbers


class Renumberer:
    """Rewrites markers: known sources renumbered by first use, unknown numbers dropped.

    Keeps its mapping, so the same instance can rewrite a stream piece by piece (`feed`/`flush`) and
    gives the same numbers as rewriting the whole text at once.
    """

    def __init__(self, sources: int) -> None:
        self.sources = sources
        self.mapping: dict[int, int] = {}  # source position (1-based) -> number in the answer
        self.dropped: list[int] = []
        self._pending = ""

    def _replace(self, match: re.Match) -> str:
        kept: list[int] = []
        for n in marker_numbers(match.group(1)):
            if 1 <= n <= self.sources:
                if n not in self.mapping:
                    self.mapping[n] = len(self.mapping) + 1
                if self.mapping[n] not in kept:
                    kept.append(self.mapping[n])
            elif n not in self.dropped:
                self.dropped.append(n)
        return f"[{', '.join(map(str, kept))}]" if kept else ""

    def rewrite(self, text: str) -> str:
        out = MARKER.sub(self._replace, text)
        # A dropped marker leaves a space before the full stop; tidy it.
        return re.sub(r"[ \t]+([.,;:!?])", r"\1", out) if self.dropped else out

    def feed(self, piece: str) -> str:
        """Rewrite what can be rewritten; hold back an unfinished "[..." until it closes."""
        text = self._pending + piece
        cut = text.rfind("[")
        if cut >= 0 and "]" not in text[cut:] and len(text) - cut <= 24:
            self._pending, text = text[cut:], text[:cut]
        else:
            self._pending = ""
        return MARKER.sub(self._replace, text)

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return MARKER.sub(self._replace, text)


class StreamCleaner:
    """What a stream shows while it arrives: outside links removed and markers renumbered, piece by piece.

    The last, unfinished word is held back until it ends, so a link is judged whole; the numbers are the
    ones the final check gives.
    """

    def __init__(self, hits: Sequence[Hit]) -> None:
        self.hits = hits
        self.numbering = Renumberer(len(hits))
        self._pending = ""  # the unfinished last word
        self._held = ""  # trailing spaces, shown only once what follows them is known

    def _show(self, text: str) -> str:
        dropped = len(self.numbering.dropped)
        text, removed = remove_outside_links(text, self.hits)
        text = self.numbering.feed(text)
        held = self._held
        if removed or len(self.numbering.dropped) > dropped:
            # Something between two spaces, or before a full stop, was taken out: no double space,
            # no space before the stop (as the final check's tidying does).
            if text.lstrip(" \t")[:1] in (".", ",", ";", ":", "!", "?") and text.strip():
                held, text = "", text.lstrip(" \t")
            elif held:
                text = text.lstrip(" \t")
        out = held + text
        shown = out.rstrip(" \t")
        self._held = out[len(shown):]
        return shown

    def feed(self, piece: str) -> str:
        text = self._pending + piece
        cut = max(text.rfind(" "), text.rfind("\n")) + 1
        self._pending, text = text[cut:], text[:cut]
        return self._show(text) if text else ""

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return self._show(text) + self.numbering.flush()


def remove_outside_links(text: str, hits: Sequence[Hit]) -> tuple[str, list[str]]:
    """Links that none of the sources contain, removed (markdown links keep their words).

    A link inside an instruction sentence of an abstract ("... visit http://...") does not count.
    """
    known = " ".join(f"{usable_text(h)} {h.url}" for h in hits)
    removed: list[str] = []

    def strip_md(match: re.Match) -> str:
        if match.group(2) in known:
            return match.group(0)
        removed.append(match.group(2))
        return match.group(1)

    text = _MD_LINK.sub(strip_md, text)

    def strip(match: re.Match) -> str:
        url = match.group(0).rstrip(".,;:")
        if url in known:
            return match.group(0)
        removed.append(url)
        return match.group(0)[len(url):]

    text = _URL.sub(strip, text)
    if removed:
        text = re.sub(r"\(\s*\)", "", text)
        text = re.sub(r"[ \t]{2,}", " ", text)
        text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)
    return text, removed


@dataclass
class Claim:
    text: str  # the sentence as it stands in the answer, markers included
    bare: str  # without its markers
    numbers: list[int]  # answer numbers it cites
    support: float = 1.0
    reason: str = ""


def claims_of(text: str) -> list[Claim]:
    """The answer's sentences with the markers each carries (line by line, so list items stay apart)."""
    out: list[Claim] = []
    for line in text.split("\n"):
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", line)
        pieces = [s.text for s in split_sentences(line)]
        merged: list[str] = []
        for piece in pieces:
            lead = _LEADING_MARKERS.match(piece)
            if lead and merged:
                merged[-1] += " " + lead.group(0).strip()
                piece = piece[lead.end():].strip()
            if piece:
                merged.append(piece)
        for sentence in merged:
            numbers: list[int] = []
            for m in MARKER.finditer(sentence):
                numbers += [n for n in marker_numbers(m.group(1)) if n not in numbers]
            bare = re.sub(r"\s+", " ", MARKER.sub(" ", sentence)).strip()
            bare = re.sub(r"\s+([.,;:!?])", r"\1", bare)
            out.append(Claim(sentence.strip(), bare, numbers))
    return out


def _normal(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    return re.sub(r"\W+", " ", text).strip()


def is_refusal(text: str, refusal: str) -> bool:
    """Is this answer, markers aside, the refusal sentence (or a plain "cannot answer")?"""
    said = _normal(MARKER.sub(" ", text))
    if not said:
        return True
    if said == _normal(refusal) or said.startswith(_normal(refusal)):
        return True
    return bool(re.fullmatch(r"(i |we )?(cannot|can ?not|can't|am unable to|unable to) answer( this| that| the question)?( from (the|these) (sources|abstracts))?", said))


def figures(text: str) -> set[str]:
    return {re.sub(r"[\s,]", "", m.group(0)).rstrip("%") for m in _FIGURE.finditer(text)}


def _is_claim(claim: Claim) -> bool:
    """Does an uncited sentence state something? Short connectives and "the sources don't say" don't."""
    return len(set(tokenize(claim.bare))) >= 3 and not _NOT_IN_SOURCES.search(claim.bare)


@dataclass
class SupportScorer:
    """Support score of a claim by the text it cites: cosine (best cited sentence) and word overlap."""

    embedder: Embedder
    cosine_weight: float = 0.5

    def score(
        self, claim: str, claim_vector: np.ndarray, sources: Sequence[tuple[Hit, np.ndarray]]
    ) -> tuple[float, str, dict[str, int]]:
        """(support, reason when a figure is missing, {paper_id: index of its best sentence})."""
        best_sentence: dict[str, int] = {}
        cosine = 0.0
        for hit, matrix in sources:
            if len(matrix):
                sims = matrix @ claim_vector
                for i in instruction_sentences(hit.abstract):
                    if i < len(sims):
                        sims[i] = -1.0
                i = int(np.argmax(sims))
                best_sentence[hit.paper_id] = i
                cosine = max(cosine, float(sims[i]))
        terms = set(tokenize(claim))
        cited_terms = set().union(*(set(tokenize(usable_text(h))) for h, _ in sources)) if sources else set()
        overlap = len(terms & cited_terms) / len(terms) if terms else 1.0
        support = self.cosine_weight * max(cosine, 0.0) + (1 - self.cosine_weight) * overlap
        cited_text = " ".join(usable_text(h) for h, _ in sources)
        missing = figures(claim) - figures(cited_text)
        if missing:
            return 0.0, f"figures {sorted(missing)} are not in the cited text", best_sentence
        return round(support, 4), "", best_sentence


@dataclass
class CheckedAnswer:
    text: str
    citations: list[Citation] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refused: bool = False
    claims: list[Claim] = field(default_factory=list)


class CitationChecker:
    def __init__(self, embedder: Embedder, sentence_vectors, min_support: float, refusal: str) -> None:
        """``sentence_vectors``: `rag.answering.SentenceVectors` (the stored vectors of each abstract's sentences)."""
        self.embedder = embedder
        self.vectors = sentence_vectors
        self.min_support = min_support
        self.refusal = refusal
        self.scorer = SupportScorer(embedder)

    def check(self, raw: str, hits: Sequence[Hit]) -> CheckedAnswer:
        notes: list[str] = []
        text, links = remove_outside_links(raw.strip(), hits)
        if links:
            shown = ", ".join(links[:3]) + (" ..." if len(links) > 3 else "")
            notes.append(f"Removed {len(links)} link{'s' if len(links) > 1 else ''} that no source contains: {shown}")
        numbering = Renumberer(len(hits))
        text = numbering.rewrite(text).strip()
        if numbering.dropped:
            listed = ", ".join(f"[{n}]" for n in numbering.dropped)
            notes.append(
                f"Removed citation marker{'s' if len(numbering.dropped) > 1 else ''} {listed}: "
                f"{'they name' if len(numbering.dropped) > 1 else 'it names'} no retrieved source (there were {len(hits)})."
            )
        if is_refusal(text, self.refusal):
            return CheckedAnswer(text=text or self.refusal, notes=notes, refused=True)

        by_number = {new: hits[old - 1] for old, new in numbering.mapping.items()}
        claims = claims_of(text)
        cited = [c for c in claims if c.numbers]
        if not cited:
            notes.append("The answer cites none of the retrieved abstracts, so none of it is backed by them.")
            return CheckedAnswer(text=text, notes=notes, refused=True, unsupported=[c.text for c in claims if c.bare], claims=claims)

        vectors = self.vectors.get([by_number[n] for n in sorted(by_number)])
        claim_vectors = self.embedder.encode([c.bare for c in cited])
        chosen: dict[int, set[int]] = {n: set() for n in by_number}
        supports: dict[int, list[float]] = {n: [] for n in by_number}
        unsupported: list[str] = []
        for claim, vector in zip(cited, claim_vectors):
            sources = [(by_number[n], vectors[by_number[n].paper_id]) for n in claim.numbers if n in by_number]
            claim.support, claim.reason, best = self.scorer.score(claim.bare, vector, sources)
            for n in claim.numbers:
                hit = by_number.get(n)
                if hit is None:
                    continue
                supports[n].append(claim.support)
                if hit.paper_id in best:
                    chosen[n].add(best[hit.paper_id])
            if claim.support < self.min_support:
                unsupported.append(claim.text)
        uncited = [c for c in claims if not c.numbers and _is_claim(c)]
        for claim in uncited:
            claim.support, claim.reason = 0.0, "cites no source"
            unsupported.append(claim.text)
        if uncited:
            notes.append(f"{len(uncited)} sentence{'s' if len(uncited) > 1 else ''} of the answer cite{'' if len(uncited) > 1 else 's'} no source.")
        weak = [c for c in cited if c.support < self.min_support]
        if weak:
            notes.append(
                f"{len(weak)} claim{'s' if len(weak) > 1 else ''} of the answer {'are' if len(weak) > 1 else 'is'} not supported by the abstract{'s' if len(weak) > 1 else ''} cited."
            )

        flagged = set(unsupported)
        unsupported = [c.text for c in claims if c.text in flagged]  # in the answer's order
        citations = []
        for number in sorted(by_number):
            hit = by_number[number]
            sentences = cached_sentences(hit.abstract)
            picked = sorted(chosen[number]) or ([0] if sentences else [])
            lowest = min(supports[number]) if supports[number] else 0.0
            citations.append(
                Citation(
                    number=number,
                    paper_id=hit.paper_id,
                    title=hit.title,
                    text=" ".join(sentences[i].text for i in picked),
                    spans=[(sentences[i].start, sentences[i].end) for i in picked],
                    score=hit.score,
                    url=hit.url,
                    supported=lowest >= self.min_support,
                    support=round(lowest, 4),
                )
            )
        return CheckedAnswer(text=text, citations=citations, unsupported=unsupported, notes=notes, refused=False, claims=claims)
