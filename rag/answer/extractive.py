"""The extractive answerer (the offline default): quotes the sentences of the retrieved abstracts that
answer, each followed by its citation marker, or refuses.

Which papers answer is decided by a learned model (`rag.answer.answerability`) from how each retrieved
paper meets the question (`rag.answer.evidence`), not by hand thresholds: no single retrieval score
separates answerable questions from unanswerable ones (most unanswerable questions name a real paper and
ask for a detail it doesn't state), and rules tuned on our own questions refused other people's
paraphrases and cited the first-ranked paper when the second was the right one (BENCHMARKS.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.answer.answerability import AnswerModel, RuleModel, candidate_features, default_model
from rag.answer.base import AnswerPieces, Question, citation_for, refusal
from rag.answer.evidence import EvidenceReader, PaperEvidence
from rag.answer.token_match import TokenMatcher
from rag.errors import RagError
from rag.index.lexical import LexicalIndex
from rag.index.sentence_vectors import SentenceVectors
from rag.settings import Settings
from rag.text.question import profile_question
from rag.types import Answer


def _learned(path: str) -> AnswerModel:
    if not path:
        return default_model()
    try:
        return default_model(str(Path(path).expanduser().resolve()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RagError(
            f"Can't load the answerer's model {path} (RAG_ANSWER_DECIDER_MODEL): {exc}. Give a file that "
            "`python -m training.answerer --out` wrote, or leave the setting empty for the one shipped."
        ) from None


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(
        self, settings: Settings, sentence_vectors: SentenceVectors, lexical: LexicalIndex, refusal_text: str,
        model: AnswerModel | RuleModel | None = None,
    ) -> None:
        self.settings = settings
        self.refusal = refusal_text
        self.reader = EvidenceReader(lexical, sentence_vectors)
        self.tokens = TokenMatcher(sentence_vectors.embedder)
        self.model = model or (RuleModel() if settings.answer.decider == "rules" else _learned(settings.answer.decider_model))

    def judge(self, question: Question, every_feature: bool = False) -> tuple[list[PaperEvidence], np.ndarray, np.ndarray]:
        """The evidence of each retrieved paper, its features and the model's probability that it answers.

        The token match costs a forward pass over the first papers' sentences: measured only when the model
        reads it, or ``every_feature`` (training measures everything)."""
        profile = profile_question(question.text)
        evidence = self.reader.read(profile, question.vector, question.hits)
        abstract = np.array([e.hit.abstract_score for e in evidence])
        resolved = question.resolved
        token_cover = None
        if every_feature or {"tok_low", "tok_mean"} & set(getattr(self.model, "features", ())):
            token_cover = self.tokens.measure(
                question.text, [(e.hit.paper_id, e.hit.title, [s.sentence.text for s in e.sentences]) for e in evidence]
            )
        rows = candidate_features(
            profile, evidence, abstract, set(resolved.prior_paper_ids), resolved.is_followup,
            self.settings.answer.max_sentences, token_cover,
        )
        return evidence, rows, self.model.probabilities(rows)

    def answer(self, question: Question) -> AnswerPieces:
        resolved = question.resolved
        profile = profile_question(question.text)
        picked: list[PaperEvidence] = []
        # Nothing asked about, and no earlier turn to say what "it" is: nothing to answer from.
        if profile.terms or (resolved.is_followup and resolved.prior_paper_ids):
            evidence, rows, probabilities = self.judge(question)
            limit = 1 if profile.multi else self.settings.answer.max_sentences
            for i in self.model.decide(probabilities, profile.multi, rows)[: self.settings.answer.max_papers]:
                ev = evidence[i]
                ev.chosen = self.reader.choose_sentences(profile, ev, limit)
                if ev.chosen:
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
            if profile.multi or len(picked) > 1:
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
