"""Question sets (JSON Lines) and the lenient fact matching used to score answers against them."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from rag.errors import RagError

QuestionType = Literal["fact", "paraphrase", "multi", "unanswerable", "followup", "injection"]
QUESTION_TYPES: tuple[str, ...] = ("fact", "paraphrase", "multi", "unanswerable", "followup", "injection")


class EvalQuestion(BaseModel):
    """One question of a set; exactly these fields (eval/README.md)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    type: QuestionType
    question: str
    history: list[dict] = []  # earlier turns, {"role": "user" | "assistant", "content": str}, as Assistant.ask takes them
    relevant_titles: list[str]
    answer_facts: list[str]
    answerable: bool

    @field_validator("history")
    @classmethod
    def _turns(cls, history: list[dict]) -> list[dict]:
        for i, turn in enumerate(history):
            if turn.get("role") not in ("user", "assistant") or not isinstance(turn.get("content"), str):
                raise ValueError(f"turn {i} should be {{\"role\": \"user\" or \"assistant\", \"content\": text}}")
        return history

    @model_validator(mode="after")
    def _consistent(self) -> "EvalQuestion":
        if not self.id.strip():
            raise ValueError("empty id")
        if not self.question.strip():
            raise ValueError("empty question")
        if self.answerable and not self.relevant_titles:
            raise ValueError("an answerable question needs relevant_titles")
        if not self.answerable and self.relevant_titles:
            raise ValueError("an unanswerable question has no relevant_titles")
        return self

    def history_messages(self) -> list[dict]:
        return [dict(turn) for turn in self.history]


def load_questions(path: str | Path) -> tuple[list[EvalQuestion], list[str]]:
    """The valid questions of a JSON Lines file, and one ``file:line: problem`` per malformed line.

    A bad line never stops the rest: it is reported and skipped. A missing or unreadable file raises
    `RagError` with a message for the user.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RagError(f"Can't read the question set {path}: {exc.strerror or exc}.") from None
    questions: list[EvalQuestion] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, line_bytes in enumerate(raw.splitlines(), start=1):
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"{path}:{number}: not UTF-8 text")
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(record, dict):
            problems.append(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
            continue
        try:
            question = EvalQuestion.model_validate(record)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            message = first["msg"].removeprefix("Value error, ")
            problems.append(f"{path}:{number}: {where + ': ' if where else ''}{message}")
            continue
        if question.id in seen:
            problems.append(f"{path}:{number}: duplicate id {question.id!r} (first on line {seen[question.id]})")
            continue
        seen[question.id] = number
        questions.append(question)
    return questions, problems


# --- lenient fact matching -----------------------------------------------------------------------------

# TeX leftovers in abstracts ("mathcal{O}(d^k)", "widetildeTheta", "85\%") and the forms an answer may use
# instead ("O(d^k)", "Θ", "85%") should not decide whether a fact is there.
# Math-font words never occur in prose, so they go with or without their backslash; "left", "big"... only with it.
_TEX_WORDS = re.compile(
    r"\\?(?:mathcal|mathrm|mathbf|mathbb|mathit|mathsf|operatorname|widetilde|widehat|textrm|textbf|textit)"
    r"|\\(?:displaystyle|left|right|big|Big|text)(?![a-z])"
)
_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ϵ": "epsilon", "ζ": "zeta",
    "η": "eta", "θ": "theta", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "π": "pi",
    "ρ": "rho", "σ": "sigma", "τ": "tau", "φ": "phi", "ϕ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
}
_SYMBOLS = {"√": "sqrt", "×": "x", "≤": "<=", "≥": ">=", "−": "-", "–": "-", "—": "-", "’": "'", "‘": "'",
            "“": '"', "”": '"', "varepsilon": "epsilon", "varphi": "phi", "vartheta": "theta", "\\times": "x"}
_CITATION_MARK = re.compile(r"\[\d+(?:\s*[,–-]\s*\d+)*\]")
_DROPPED = re.compile(r"[\s{}()\[\]\\$^_~*`\-]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def normalise_for_match(text: str) -> str:
    """Case, spacing, hyphens, brackets, citation markers and TeX leftovers removed; Greek letters spelt out."""
    text = unicodedata.normalize("NFKC", text)
    text = _CITATION_MARK.sub(" ", text)
    for symbol, spelt in _SYMBOLS.items():
        text = text.replace(symbol, spelt)
    text = _TEX_WORDS.sub("", text).casefold()
    for letter, name in _GREEK.items():
        text = text.replace(letter, name)
    text = _THOUSANDS.sub("", text)
    return _DROPPED.sub("", text)


def fact_found(fact: str, text: str) -> bool:
    """Whether ``fact`` is in ``text``, matched leniently (see `normalise_for_match`)."""
    wanted = normalise_for_match(fact)
    return bool(wanted) and wanted in normalise_for_match(text)
