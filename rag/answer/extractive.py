"""Answerers: turn a question and the retrieved papers into a cited `Answer`.

The extractive answerer (the offline default) quotes sentences of the retrieved abstracts, each followed
by its citation marker. It refuses rather than quote loosely related sentences: no retrieval score
separates answerable questions from unanswerable ones here (most unanswerable questions name a real paper
and ask for a detail it doesn't state), so it checks that the sentences it picked actually contain what
was asked: the question's specific words, and a figure when a figure was asked for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.answer.base import AnswerPieces, Question, citation_for, refusal
from rag.index.lexical import LexicalIndex
from rag.index.sentence_vectors import SentenceVectors
from rag.settings import Settings
from rag.text.figures import has_figure
from rag.text.instructions import is_instruction
from rag.text.question import QuestionProfile, name_key, profile_question, specificity
from rag.text.sentences import Sentence, cached_sentences
from rag.text.tokens import STOPWORDS, tokenize
from rag.types import Answer, Hit

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


@dataclass
class Thresholds:
    """The numbers of the refusal rule, set on eval/dev_questions.jsonl (never on the held-out set)."""

    min_similarity: float = 0.30  # a quoted sentence's cosine similarity to the question ...
    min_sentence_coverage: float = 0.5  # ... or the share of the question's words it contains
    min_paper_coverage: float = 0.25  # share of the question's words the answering paper contains
    max_missing_specificity: float = 0.9  # specific question words a paper may lack (sum of specificity)
    max_missing_words: int = 3  # ... when the question is otherwise in the paper's own words
    min_identify_similarity: float = 0.30  # "which paper ...": its best sentence must be this close
    multi_relative: float = 0.6  # a paper joins a multi-paper answer when its score is this close to the best
    rank_weight: float = 0.5  # paper order = retrieval score + weight * best sentence score
    coverage_weight: float = 0.5  # sentence score = similarity + weight * coverage
    followup_bonus: float = 0.3  # for papers the previous answer cited


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, settings: Settings, sentence_vectors: SentenceVectors, lexical: LexicalIndex, refusal_text: str) -> None:
        self.settings = settings
        self.lexical = lexical
        self.refusal = refusal_text
        self.vectors = sentence_vectors
        self.thresholds = Thresholds()

    # --- evidence --------------------------------------------------------------------------------------

    def _weights(self, terms: Sequence[str]) -> dict[str, float]:
        return {t: self.lexical.idf(t) for t in terms}

    @staticmethod
    def _coverage(terms: set[str], weights: dict[str, float]) -> float:
        total = sum(weights.values())
        return sum(w for t, w in weights.items() if t in terms) / total if total else 0.0

    def evidence(self, profile: QuestionProfile, qvec: np.ndarray, hits: Sequence[Hit]) -> list[PaperEvidence]:
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
                scored.append(
                    ScoredSentence(sentence, terms, float(sim), coverage, float(sim) + self.thresholds.coverage_weight * coverage)
                )
            paper_terms = set().union(title_terms, *(s.terms for s in scored)) if scored else title_terms
            evidence = PaperEvidence(hit, scored, title_terms, paper_terms, self._coverage(paper_terms, weights))
            evidence.best = max((s.score for s in scored), default=0.0)
            out.append(evidence)
        return out

    def _choose_sentences(self, profile: QuestionProfile, ev: PaperEvidence, limit: int) -> list[ScoredSentence]:
        """The best sentence, then others that add question words the chosen ones lack."""
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

    def refusal_reason(
        self, profile: QuestionProfile, ev: PaperEvidence, chosen: list[ScoredSentence], known_paper: bool = False
    ) -> str:
        """Why this paper, through the chosen sentences, does not answer the question ("" when it does).

        ``known_paper``: a follow-up about the paper the previous answer cited. Its few words ("what data
        did they use?") can't be expected to match the sentence that answers them, so only the checks
        on what is asked for (names, figures) apply.
        """
        t = self.thresholds
        if not chosen:
            return "no sentences"
        paper_text = name_key(f"{ev.hit.title} {ev.hit.abstract}")
        missing_names = [n for n in profile.names if n not in paper_text and not spelled_out(n, f"{ev.hit.title} {ev.hit.abstract}")]
        if missing_names:
            return f"names {missing_names} not in the paper"
        best_similarity = max(s.similarity for s in chosen)
        best_coverage = max(s.coverage for s in chosen) if profile.terms else 1.0
        if not known_paper:
            if profile.identify and not profile.multi:
                # "Which paper ...?" describes a paper in its own words: judge by meaning.
                if best_similarity < t.min_identify_similarity:
                    return f"similarity {best_similarity:.2f}"
            elif best_similarity < t.min_similarity and best_coverage < t.min_sentence_coverage:
                return f"similarity {best_similarity:.2f}, coverage {best_coverage:.2f}"
            elif profile.terms and ev.coverage < t.min_paper_coverage:
                return f"paper coverage {ev.coverage:.2f}"
        # A question mostly in this paper's own words that also asks about something the paper never
        # mentions (GPUs, qubits, a benchmark) asks for a detail this paper doesn't give. A question in
        # other words than the paper's (a paraphrase) lacks many words by design and is judged above.
        if not profile.multi:
            missing = [w for stem, w in profile.surface.items() if not self._uses(ev, stem, w)]
            in_own_words = len(missing) <= t.max_missing_words or len(missing) <= 0.3 * len(profile.surface)
            if (known_paper or in_own_words) and sum(s for s in map(specificity, missing) if s >= 0.5) > t.max_missing_specificity:
                return f"paper lacks {missing}"
        # "Which paper caps how many entries ...?" names a figure to describe a paper, not to ask for one.
        if profile.wants_figure and not profile.multi and not profile.identify:
            with_figure = [s for s in chosen if has_figure(s.sentence.text)]
            if not with_figure:
                return "no figure"
            if profile.counted and not any(self._uses_in(s.terms, profile.counted, profile.counted) for s in with_figure):
                return f"no figure of {profile.counted!r}"
        return ""

    @staticmethod
    def _uses_in(terms: set[str], stem: str, word: str) -> bool:
        """Is this question word among ``terms``? Numbers are written too many ways to hold against a
        text; a compound ("speedup") counts when the text has a word it starts with ("speed")."""
        if stem in terms or stem.rstrip("s") in terms or stem + "s" in terms or any(ch.isdigit() for ch in word):
            return True
        if len(word) >= 6 and any(len(t) >= 5 and word.startswith(t) for t in terms):
            return True
        # "pretrained" for "pre-trained": two words of the text written as one.
        return any(word[:i] in terms and tokenize(word[i:])[:1] == [t] for i in range(2, len(word) - 2) for t in terms if word[i:].startswith(t[:3]))

    def _uses(self, ev: PaperEvidence, stem: str, word: str) -> bool:
        return self._uses_in(ev.paper_terms, stem, word)

    # --- answering -------------------------------------------------------------------------------------

    def rank(self, question: Question, profile: QuestionProfile) -> list[PaperEvidence]:
        """The evidence of each hit, best first: retrieval score plus how well its best sentence fits."""
        t = self.thresholds
        resolved = question.resolved
        evidence = self.evidence(profile, question.vector, question.hits)
        for ev in evidence:
            ev.rank = ev.hit.score + t.rank_weight * ev.best
            if resolved.is_followup and ev.hit.paper_id in resolved.prior_paper_ids:
                # A follow-up is about the paper the last answer cited unless another clearly fits better.
                ev.rank += t.followup_bonus
        evidence.sort(key=lambda ev: -ev.rank)
        return evidence

    def answer(self, question: Question) -> AnswerPieces:
        resolved = question.resolved
        profile = profile_question(question.text)
        evidence = self.rank(question, profile)
        picked: list[PaperEvidence] = []
        if not profile.terms and not (resolved.is_followup and resolved.prior_paper_ids):
            evidence = []  # nothing asked about, and no earlier turn to say what "it" is
        if profile.multi:
            top = evidence[0].rank if evidence else 0.0
            for ev in evidence:
                if len(picked) >= self.settings.answer.max_papers or ev.rank < top * self.thresholds.multi_relative:
                    continue
                chosen = self._choose_sentences(profile, ev, 1)
                if not self.refusal_reason(profile, ev, chosen):
                    ev.chosen = chosen
                    picked.append(ev)
        elif evidence:
            # Only the best-ranked paper may answer: falling back to a lower one is how loosely related
            # sentences end up quoted for a question nobody's abstract answers.
            ev = evidence[0]
            chosen = self._choose_sentences(profile, ev, self.settings.answer.max_sentences)
            known = resolved.is_followup and ev.hit.paper_id in resolved.prior_paper_ids
            if not self.refusal_reason(profile, ev, chosen, known_paper=known):
                ev.chosen = chosen
                picked.append(ev)

        if not picked:
            yield self.refusal
            return refusal(question, self.refusal, self.name)

        citations = []
        pieces: list[str] = []
        for number, ev in enumerate(picked, start=1):
            citations.append(
                citation_for(
                    number, ev.hit,
                    text=" ".join(s.sentence.text for s in ev.chosen),
                    spans=[(s.sentence.start, s.sentence.end) for s in ev.chosen],
                    support=round(min(s.similarity for s in ev.chosen), 4),
                )
            )
            if profile.multi:
                piece = f"- {ev.hit.title}: {' '.join(s.sentence.text for s in ev.chosen)} [{number}]\n"
                pieces.append(piece)
                yield piece
            else:
                for s in ev.chosen:
                    piece = f"{s.sentence.text} [{number}] "
                    pieces.append(piece)
                    yield piece
        return Answer(
            question=question.text,
            text="".join(pieces).strip(),
            citations=citations,
            refused=False,
            mode="fallback" if question.fallback else "extractive",
            notes=list(question.notes),
            query=resolved.search_query,
        )
