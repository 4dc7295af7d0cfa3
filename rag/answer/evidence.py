"""What each retrieved paper's sentences say to a question: the measurements the answerer decides from.

For every sentence of every retrieved abstract: its cosine with the question (the stored sentence vectors,
`rag.index.sentence_vectors`) and the IDF-weighted share of the question's words it contains. For every
paper: the same over title and abstract, the question's words it never uses, the names it lacks, whether
it has a figure of what is asked. Sentences planted for an assistant to obey are never evidence.

These are measurements, not decisions: `rag.answer.answerability` turns them into features and a learned
model decides which papers answer. (The refusal rule the answerer used before, `rule_refusal`, is kept
as one of those features: its thresholds were set on eval/dev_questions.jsonl.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.index.lexical import LexicalIndex
from rag.index.sentence_vectors import SentenceVectors
from rag.text.figures import has_figure
from rag.text.instructions import is_instruction
from rag.text.question import QuestionProfile, name_key, specificity
from rag.text.sentences import Sentence, cached_sentences
from rag.text.tokens import STOPWORDS, tokenize
from rag.types import Hit

COVERAGE_WEIGHT = 0.5  # sentence score = similarity + weight * coverage


@dataclass
class ScoredSentence:
    sentence: Sentence
    terms: set[str]
    similarity: float
    coverage: float  # IDF-weighted share of the question's terms in this sentence
    score: float


@dataclass
class PaperEvidence:
    hit: Hit
    sentences: list[ScoredSentence]
    title_terms: set[str]
    paper_terms: set[str]
    coverage: float  # IDF-weighted share of the question's terms anywhere in title + abstract
    best: float = 0.0  # best sentence score
    rank: float = 0.0
    chosen: list[ScoredSentence] = field(default_factory=list)


def spelled_out(acronym: str, text: str) -> bool:
    """Does ``text`` write ``acronym`` out in words ("sde" -> "stochastic differential equations")?

    Only for acronyms of 3 to 6 letters (a plural "s" allowed): two letters match too many word pairs.
    """
    letters = acronym[:-1] if acronym.endswith("s") and len(acronym) > 3 else acronym
    if not (3 <= len(letters) <= 6 and letters.isalpha()):
        return False
    # Consecutive words, the little ones skipped as acronyms skip them ("proof of training" -> PoT is not one).
    initials = "".join(word[0] for word in re.findall(r"[a-z0-9]+", text.casefold()) if word not in STOPWORDS)
    return letters in initials


def uses(terms: set[str], stem: str, word: str) -> bool:
    """Is this question word among ``terms``? Numbers are written too many ways to hold against a
    text; a compound ("speedup") counts when the text has a word it starts with ("speed")."""
    if stem in terms or stem.rstrip("s") in terms or stem + "s" in terms or any(ch.isdigit() for ch in word):
        return True
    if len(word) >= 6 and any(len(t) >= 5 and word.startswith(t) for t in terms):
        return True
    # "pretrained" for "pre-trained": two words of the text written as one.
    return any(word[:i] in terms and tokenize(word[i:])[:1] == [t] for i in range(2, len(word) - 2) for t in terms if word[i:].startswith(t[:3]))


def missing_words(profile: QuestionProfile, ev: PaperEvidence) -> list[str]:
    """The question's content words this paper never uses (in any form)."""
    return [w for stem, w in profile.surface.items() if not uses(ev.paper_terms, stem, w)]


def missing_names(profile: QuestionProfile, ev: PaperEvidence) -> list[str]:
    """Names the question uses (ImageNet-1K, BLEU) that the paper neither writes nor spells out."""
    text = f"{ev.hit.title} {ev.hit.abstract}"
    key = name_key(text)
    return [n for n in profile.names if n not in key and not spelled_out(n, text)]


def figure_asked_for(profile: QuestionProfile, chosen: Sequence[ScoredSentence]) -> tuple[bool, bool]:
    """(a chosen sentence has a figure, one of those names what the figure counts) -- both True when no
    figure is asked for."""
    if not profile.wants_figure:
        return True, True
    with_figure = [s for s in chosen if has_figure(s.sentence.text)]
    counted = not profile.counted or any(uses(s.terms, profile.counted, profile.counted) for s in with_figure)
    return bool(with_figure), bool(with_figure) and counted


class EvidenceReader:
    def __init__(self, lexical: LexicalIndex, sentence_vectors: SentenceVectors) -> None:
        self.lexical = lexical
        self.vectors = sentence_vectors

    def _weights(self, terms: Sequence[str]) -> dict[str, float]:
        return {t: self.lexical.idf(t) for t in terms}

    @staticmethod
    def _coverage(terms: set[str], weights: dict[str, float]) -> float:
        total = sum(weights.values())
        return sum(w for t, w in weights.items() if t in terms) / total if total else 0.0

    def read(self, profile: QuestionProfile, qvec: np.ndarray, hits: Sequence[Hit]) -> list[PaperEvidence]:
        """The evidence of each hit, in the hits' order."""
        if not hits:
            return []
        vectors = self.vectors.get(hits)
        weights = self._weights(profile.terms)
        out = []
        for hit in hits:
            sentences = cached_sentences(hit.abstract)
            sims = vectors[hit.paper_id] @ qvec if len(sentences) else np.zeros(0)
            title_terms = set(tokenize(hit.title))
            scored = []
            for sentence, sim in zip(sentences, sims):
                if is_instruction(sentence.text):
                    continue  # planted in the abstract for an assistant to obey: never quoted, never evidence
                terms = set(tokenize(sentence.text))
                coverage = self._coverage(terms, weights)
                scored.append(ScoredSentence(sentence, terms, float(sim), coverage, float(sim) + COVERAGE_WEIGHT * coverage))
            paper_terms = set().union(title_terms, *(s.terms for s in scored)) if scored else title_terms
            evidence = PaperEvidence(hit, scored, title_terms, paper_terms, self._coverage(paper_terms, weights))
            evidence.best = max((s.score for s in scored), default=0.0)
            out.append(evidence)
        return out

    @staticmethod
    def choose_sentences(profile: QuestionProfile, ev: PaperEvidence, limit: int) -> list[ScoredSentence]:
        """The best sentence, then others that add question words the chosen ones lack (in text order)."""
        ranked = sorted(ev.sentences, key=lambda s: -s.score)
        if not ranked:
            return []
        if profile.wants_figure:
            # A figure was asked for: prefer the best sentence that has one, if it is nearly as good.
            with_figure = [s for s in ranked if has_figure(s.sentence.text)]
            if with_figure and with_figure[0].score >= ranked[0].score - 0.25:
                ranked.remove(with_figure[0])
                ranked.insert(0, with_figure[0])
        chosen = [ranked[0]]
        covered = set(ranked[0].terms) | ev.title_terms
        wanted = set(profile.terms)
        for candidate in ranked[1:]:
            if len(chosen) >= limit:
                break
            adds = (candidate.terms & wanted) - covered
            if adds and candidate.score >= ranked[0].score - 0.3:
                chosen.append(candidate)
                covered |= candidate.terms
        return sorted(chosen, key=lambda s: s.sentence.start)


@dataclass
class RuleThresholds:
    """The numbers of the refusal rule the answerer used before the learned model, set on
    eval/dev_questions.jsonl. It survives as one feature of that model (`rule_refusal`)."""

    min_similarity: float = 0.30  # a quoted sentence's cosine similarity to the question ...
    min_sentence_coverage: float = 0.5  # ... or the share of the question's words it contains
    min_paper_coverage: float = 0.25  # share of the question's words the answering paper contains
    max_missing_specificity: float = 0.9  # specific question words a paper may lack (sum of specificity)
    max_missing_words: int = 3  # ... when the question is otherwise in the paper's own words
    min_identify_similarity: float = 0.30  # "which paper ...": its best sentence must be this close


def missing_specificity(missing: Sequence[str]) -> float:
    """How specific the words a paper lacks are, together (only words of specificity 0.5 and up count)."""
    return sum(s for s in map(specificity, missing) if s >= 0.5)


def rule_refusal(profile: QuestionProfile, ev: PaperEvidence, chosen: list[ScoredSentence], known_paper: bool = False,
                 t: RuleThresholds = RuleThresholds()) -> str:
    """Why the old rule said this paper does not answer ("" when it said it does).

    ``known_paper``: a follow-up about the paper the previous answer cited; only the checks on what is
    asked for (names, figures) apply to its few words.
    """
    if not chosen:
        return "no sentences"
    if missing_names(profile, ev):
        return "names not in the paper"
    best_similarity = max(s.similarity for s in chosen)
    best_coverage = max(s.coverage for s in chosen) if profile.terms else 1.0
    if not known_paper:
        if profile.identify and not profile.multi:
            if best_similarity < t.min_identify_similarity:
                return "similarity"
        elif best_similarity < t.min_similarity and best_coverage < t.min_sentence_coverage:
            return "similarity and coverage"
        elif profile.terms and ev.coverage < t.min_paper_coverage:
            return "paper coverage"
    if not profile.multi:
        missing = missing_words(profile, ev)
        in_own_words = len(missing) <= t.max_missing_words or len(missing) <= 0.3 * len(profile.surface)
        if (known_paper or in_own_words) and missing_specificity(missing) > t.max_missing_specificity:
            return "paper lacks specific words"
    if profile.wants_figure and not profile.multi and not profile.identify:
        has, counted = figure_asked_for(profile, chosen)
        if not has:
            return "no figure"
        if not counted:
            return "no figure of what is counted"
    return ""
