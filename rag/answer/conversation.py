"""Turning a follow-up ("what rate does it get?") into something retrieval can use, without an LLM.

(When an LLM answers, it rewrites the follow-up into a standalone question instead: `LLMAnswerer.condense`.)
Measured before this code was written (the project's design notes): adding the earlier user turns to a
follow-up's query took top-1 retrieval from about 0.5-0.6 to 0.96. So a question that reads as a follow-up is searched
together with the previous user turns, and the papers the previous answer cited are kept in view. A
question that names its own subject is searched alone, so a change of topic is not dragged back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rag.errors import InvalidQuestion
from rag.text.clean import has_surrogates, replace_surrogates

# Words that point back into the conversation rather than naming a subject.
_BACK_REFERENCE = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|this|that|these|those|he|she|his|her|"
    r"the (paper|papers|method|methods|model|models|approach|algorithm|authors|work|study|framework|technique|"
    r"result|results|first|second|last|same|above|former|latter|one|ones|proposed|new|benchmark|dataset|transition))\b",
    re.IGNORECASE,
)
_CONTINUATION = re.compile(r"^\s*(and|so|also|but|then|what about|how about|ok|okay|why|how come)\b", re.IGNORECASE)
_MAX_FOLLOWUP_WORDS = 25


@dataclass
class ResolvedQuestion:
    question: str  # what the user asked this turn
    search_query: str  # what retrieval searches for
    is_followup: bool = False
    prior_paper_ids: list[str] = field(default_factory=list)  # papers the previous answer cited
    prior_ids_given: bool = False  # the previous answer came with its list of cited papers (empty: it refused)
    prior_answer: str = ""
    standalone: str = ""  # the follow-up rewritten as a standalone question by the LLM, when one answers


def validate_history(history: Sequence[dict] | None) -> list[dict]:
    """Keep well-formed turns only: {"role": "user"|"assistant", "content": str, ...}."""
    if history is None:
        return []
    if isinstance(history, (str, bytes, dict)) or not isinstance(history, Sequence):
        raise InvalidQuestion("The conversation history must be a list of turns like {\"role\": \"user\", \"content\": \"...\"}.")
    turns = []
    for turn in history:
        if not isinstance(turn, dict):
            continue
        role, content = turn.get("role"), turn.get("content")
        if role in ("user", "assistant") and isinstance(content, str) and content.strip():
            turns.append(turn)
    return turns


def _text(content: str, limit: int) -> str:
    """A turn's text, cut to ``limit``, with lone surrogates (undecodable input) as U+FFFD."""
    return replace_surrogates(content[:limit])


# An answer cites a handful of papers; ids beyond these bounds come from a client, not from an answer.
MAX_PRIOR_PAPERS = 20
MAX_ID_CHARS = 200


def _paper_ids(given) -> list[str]:
    """The paper ids an earlier answer carried, bounded and cleaned: they become a store filter."""
    if not isinstance(given, (list, tuple)):
        return []
    ids = [p.strip() for p in given[: MAX_PRIOR_PAPERS * 5] if isinstance(p, str)]
    ids = [p for p in ids if p and len(p) <= MAX_ID_CHARS and not has_surrogates(p) and p.isprintable()]
    return list(dict.fromkeys(ids))[:MAX_PRIOR_PAPERS]


def looks_like_followup(question: str) -> bool:
    words = question.split()
    if len(words) > _MAX_FOLLOWUP_WORDS:
        return False
    return bool(_BACK_REFERENCE.search(question) or _CONTINUATION.search(question) or len(words) <= 4)


def resolve(question: str, history: Sequence[dict] | None, max_user_turns: int = 2, max_turn_chars: int = 2000) -> ResolvedQuestion:
    turns = validate_history(history)
    if not turns or not looks_like_followup(question):
        return ResolvedQuestion(question=question, search_query=question)
    # Earlier turns come from the client: each is cut like a question is, so a huge one can't slow retrieval.
    users = [_text(t["content"], max_turn_chars) for t in turns if t["role"] == "user"][-max_user_turns:]
    assistants = [t for t in turns if t["role"] == "assistant"]
    last_answer = assistants[-1] if assistants else None
    given_ids = (last_answer or {}).get("paper_ids")
    prior_ids = _paper_ids(given_ids)
    # The current question goes first and again last so its own words keep the most weight in BM25.
    query = " ".join([question, *users, question])
    return ResolvedQuestion(
        question=question,
        search_query=query,
        is_followup=True,
        prior_paper_ids=prior_ids,
        prior_ids_given=isinstance(given_ids, (list, tuple)),
        prior_answer=_text((last_answer or {}).get("content", ""), max_turn_chars),
    )
