"""What each claim of a generated answer is worth: checked against the text it cites.

After the markers are renumbered and outside links removed (`rag.answer.citations`):

1. The answer is cut into sentences (markers that open a sentence belong to the previous one). Each cited
   sentence gets a support score against the text it cites: the embedder's cosine with the best sentence
   of the cited abstracts, plus the share of its words the cited paper uses; a figure the cited text
   doesn't contain fails it outright. Below ``min_support`` it is unsupported (calibrated by
   ``benchmarks/quality/citation_support.py`` on ``eval/citation_support.jsonl``).
2. A sentence that makes a claim and cites nothing is unsupported too: the prompt asks for a citation
   after every claim.
3. An answer that cites nothing, or that is the refusal, is a refusal (``refused=True``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.answer.base import citation_for
from rag.answer.citations import Renumberer, instruction_sentences, remove_outside_links, usable_text
from rag.index.embedding import Embedder
from rag.index.sentence_vectors import SentenceVectors
from rag.text.figures import numbers
from rag.text.markers import LEADING_MARKERS, MARKER, marker_numbers
from rag.text.sentences import cached_sentences, split_sentences
from rag.text.tokens import tokenize
from rag.types import Citation, Hit

_NOT_IN_SOURCES = re.compile(
    r"\b(sources?|abstracts?|papers?)\b[^.]*\b(do not|don't|does not|doesn't|not)\b[^.]*\b(say|state|mention|report|give|describe|answer|specify)",
    re.IGNORECASE,
)


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
            lead = LEADING_MARKERS.match(piece)
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
        missing = numbers(claim) - numbers(cited_text)
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
    def __init__(self, embedder: Embedder, sentence_vectors: SentenceVectors, min_support: float, refusal: str) -> None:
        self.embedder = embedder
        self.vectors = sentence_vectors
        self.min_support = min_support
        self.refusal = refusal
        self.scorer = SupportScorer(embedder)

    def check(self, raw: str, hits: Sequence[Hit]) -> CheckedAnswer:
        """The answer as shown: links and markers made safe, every claim scored, citations built."""
        notes: list[str] = []
        text, numbering = self._clean(raw, hits, notes)
        if is_refusal(text, self.refusal):
            return CheckedAnswer(text=text or self.refusal, notes=notes, refused=True)
        by_number = {new: hits[old - 1] for old, new in numbering.mapping.items()}
        claims = claims_of(text)
        cited = [c for c in claims if c.numbers]
        if not cited:
            notes.append("The answer cites none of the retrieved abstracts, so none of it is backed by them.")
            return CheckedAnswer(text=text, notes=notes, refused=True, unsupported=[c.text for c in claims if c.bare], claims=claims)
        chosen, supports = self._score(cited, by_number)
        unsupported = self._flag(claims, cited, notes)
        citations = [self._citation(n, by_number[n], chosen[n], supports[n]) for n in sorted(by_number)]
        return CheckedAnswer(text=text, citations=citations, unsupported=unsupported, notes=notes, refused=False, claims=claims)

    def _clean(self, raw: str, hits: Sequence[Hit], notes: list[str]) -> tuple[str, Renumberer]:
        """Outside links removed and markers renumbered, each change said in ``notes``."""
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
        return text, numbering

    def _score(self, cited: list[Claim], by_number: dict[int, Hit]) -> tuple[dict[int, set[int]], dict[int, list[float]]]:
        """Each cited claim's support; per source number, its best sentences and the supports of its claims."""
        vectors = self.vectors.get([by_number[n] for n in sorted(by_number)])
        claim_vectors = self.embedder.encode([c.bare for c in cited])
        chosen: dict[int, set[int]] = {n: set() for n in by_number}
        supports: dict[int, list[float]] = {n: [] for n in by_number}
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
        return chosen, supports

    def _flag(self, claims: list[Claim], cited: list[Claim], notes: list[str]) -> list[str]:
        """The claims that are not supported, in the answer's order (weak support, or no citation at all)."""
        flagged = {c.text for c in cited if c.support < self.min_support}
        uncited = [c for c in claims if not c.numbers and _is_claim(c)]
        for claim in uncited:
            claim.support, claim.reason = 0.0, "cites no source"
            flagged.add(claim.text)
        if uncited:
            notes.append(f"{len(uncited)} sentence{'s' if len(uncited) > 1 else ''} of the answer cite{'' if len(uncited) > 1 else 's'} no source.")
        weak = [c for c in cited if c.support < self.min_support]
        if weak:
            notes.append(
                f"{len(weak)} claim{'s' if len(weak) > 1 else ''} of the answer {'are' if len(weak) > 1 else 'is'} not supported by the abstract{'s' if len(weak) > 1 else ''} cited."
            )
        return [c.text for c in claims if c.text in flagged]

    def _citation(self, number: int, hit: Hit, chosen: set[int], supports: list[float]) -> Citation:
        sentences = cached_sentences(hit.abstract)
        picked = sorted(chosen) or ([0] if sentences else [])
        lowest = min(supports) if supports else 0.0
        return citation_for(
            number, hit,
            text=" ".join(sentences[i].text for i in picked),
            spans=[(sentences[i].start, sentences[i].end) for i in picked],
            supported=lowest >= self.min_support,
            support=round(lowest, 4),
        )
