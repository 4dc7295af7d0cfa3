"""Stored feedback as questions for `rag eval` (the format of eval/README.md), each fair or left out with a reason.

What a row becomes:

- a thumbs-up on an answer: a question whose relevant papers are the papers it cites (less any citation
  marked wrong); a thumbs-up on "the abstracts don't answer this": an unanswerable question;
- a thumbs-down: the citations not marked wrong, plus the paper the user named (``missing_paper``);
  a thumbs-down on a refusal that names a paper becomes answerable, by that paper;
- left out, with the reason: a thumbs-down that says nothing of which papers answer (no citation marked
  wrong, no paper named, or every citation wrong and none named); a row with no fact to check an answer
  against; a conversation that is not a user/assistant exchange; an earlier row on the same question as a
  later one (the later judgement counts).

Each question needs ``answer_facts``, short strings a right answer contains. They are taken from the
sentences the user accepted (the kept citations' cited sentences, or the named paper's sentence that best
matches the question): figures first, then names (S5-PTD, ImageNet-1K), then the most specific word, each
one the question doesn't already contain, so that finding it in an answer means something.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.feedback.records import Feedback
from rag.text.figures import NUMBER
from rag.text.instructions import split_instructions
from rag.text.question import specificity
from rag.text.sentences import split_sentences
from rag.text.tokens import tokenize, words

MAX_FACTS_PER_PAPER = 2
MAX_FACTS = 4
_FIGURE = re.compile(NUMBER.pattern + r"(?:\s?%)?")
_NAME = re.compile(r"\b(?:[A-Za-z]*[a-z][A-Z][\w-]*|[A-Z][\w]*\d[\w-]*|[A-Z]{2,}[\w-]*)")
_YEAR = re.compile(r"^(?:19|20)\d\d$")


def _key(text: str) -> str:
    return re.sub(r"\W+", "", text.casefold())


def facts_from(sentence: str, question: str, limit: int = MAX_FACTS_PER_PAPER) -> list[str]:
    """Short strings of ``sentence`` worth finding in an answer: figures, names, else its most specific word."""
    asked = _key(question)
    asked_words = set(words(question))
    found: list[str] = []

    def add(candidate: str) -> None:
        candidate = candidate.strip().rstrip(".,;:")
        key = _key(candidate)
        # One fact per thing: "SSM" after "SSMs" (or before it) adds nothing an answer could miss.
        if len(key) >= 2 and key not in asked and not any(key in _key(f) or _key(f) in key for f in found):
            found.append(candidate)

    figures = [m.group(0) for m in _FIGURE.finditer(sentence)]
    for figure in sorted(figures, key=lambda f: (bool(_YEAR.match(f)), not ("." in f or "%" in f))):
        add(figure)
    for name in _NAME.finditer(sentence):
        add(re.sub(r"(?:-[a-z]+)+$", "", name.group(0)))  # "LLM-based": the name is the first part
    if not found:
        candidates = [w for w in re.findall(r"[A-Za-z][A-Za-z-]{3,}", sentence) if w.lower() not in asked_words]
        if candidates:
            add(max(candidates, key=lambda w: (specificity(w.lower()), -candidates.index(w))))
    return found[:limit]


def best_sentence(abstract: str, question: str) -> str:
    """The abstract's sentence sharing the most (specific) terms with the question: what a right answer quotes."""
    terms = set(tokenize(question))
    sentences = [s.text for s in split_sentences(abstract)] or [abstract]
    return max(sentences, key=lambda s: (len(terms & set(tokenize(s))), -sentences.index(s)))


def _history(row: Feedback) -> list[dict] | None:
    """The conversation as the question format has it (role and content), or None when it can't be replayed."""
    turns = [{"role": t["role"], "content": t["content"]} for t in row.history if str(t.get("content", "")).strip()]
    roles = [t["role"] for t in turns]
    if turns and (roles != [("user", "assistant")[i % 2] for i in range(len(turns))] or roles[-1] != "assistant"):
        return None
    return turns


def _question(row: Feedback) -> tuple[dict | None, str]:
    """The question ``row`` makes, or None and why not."""
    answer = row.answer
    history = _history(row)
    if history is None:
        return None, "its conversation is not a user/assistant exchange that an evaluation can replay"
    base = {"id": f"feedback-{row.id}", "question": row.question, "history": history}
    if row.rating == 1 and answer.refused:
        return {**base, "type": "unanswerable", "relevant_titles": [], "answer_facts": [], "answerable": False}, ""
    kept = row.kept_citations
    if row.rating == -1 and not row.missing_paper:
        if answer.refused:
            return None, "a thumbs-down on a refusal that names no paper: nothing says which paper answers it"
        if not row.wrong_citations:
            return None, "a thumbs-down that marks no citation wrong and names no paper: nothing says what a right answer cites"
    if not kept and not row.missing_paper:
        return None, "every citation was marked wrong and no paper was named: nothing says which paper answers it"
    titles: list[str] = []
    per_paper: list[list[str]] = []
    evidence = [(c.title, c.text, c.abstract) for c in kept]
    if row.missing_paper:
        paper = row.missing_paper
        evidence.append((paper.title, best_sentence(paper.abstract, row.question), paper.abstract))
    for title, sentence, abstract in evidence:
        if title in titles:
            continue
        titles.append(title)
        per_paper.append([f for f in facts_from(sentence, row.question) if not abstract or f.casefold() in abstract.casefold()])
    # Each paper's first fact before any paper's second: an answer that leaves a paper out shows it.
    facts = list(dict.fromkeys(f for rank in range(MAX_FACTS_PER_PAPER) for found in per_paper for f in found[rank:rank + 1]))
    facts = facts[: max(MAX_FACTS, len(titles))]
    if not facts:
        return None, "the accepted sentences hold no figure, name or specific word to check an answer against"
    kind = "multi" if len(titles) > 1 else "fact"
    if history:
        kind = "followup"
    if split_instructions(row.question)[1]:
        kind = "injection"
    return {**base, "type": kind, "relevant_titles": titles, "answer_facts": facts, "answerable": True}, ""


def feedback_questions(rows: Iterable[Feedback]) -> tuple[list[dict], list[tuple[int, str]]]:
    """The questions the feedback makes (fields exactly those of eval/README.md, in the order stored) and the
    rows left out, as (feedback id, reason). Of several rows on one question (and conversation), the latest counts."""
    rows = list(rows)
    latest: dict[tuple, int] = {}
    for row in rows:
        latest[_same_question(row)] = row.id  # ids grow: the last one seen is the latest
    questions: list[dict] = []
    skipped: list[tuple[int, str]] = []
    for row in rows:
        later = latest[_same_question(row)]
        if later != row.id:
            skipped.append((row.id, f"feedback #{later} on the same question is later and counts instead"))
            continue
        question, reason = _question(row)
        if question is None:
            skipped.append((row.id, reason))
        else:
            questions.append({k: question[k] for k in ("id", "type", "question", "history", "relevant_titles", "answer_facts", "answerable")})
    return questions, skipped


def _same_question(row: Feedback) -> tuple:
    return (" ".join(row.question.casefold().split()), tuple(" ".join(str(t.get("content", "")).split()) for t in row.history))
