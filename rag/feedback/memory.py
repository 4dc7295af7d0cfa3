"""The answers an assistant gave lately: feedback is taken on those, and on nothing else.

An `Answer` carries an id made with it; the assistant remembers a copy of each answer it gives, with the
question as typed and the conversation it answered, for the last `REMEMBERED` answers of this process. So
feedback always stores what the user was shown (not what a caller may have changed since), and an answer
from another process, one rebuilt from JSON or one given too long ago is refused with a clear message
instead of being stored as if it were ours.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Generator, Sequence
from dataclasses import dataclass

from rag.errors import InvalidFeedback, UnknownAnswer
from rag.text.clean import replace_surrogates
from rag.types import Answer

REMEMBERED = 1000  # answers; each is a few kB (its cited abstracts), so ~10 MB at most
MAX_TURNS = 40  # of a conversation kept with an answer (the latest)
MAX_TURN_CHARS = 20_000  # of one turn kept


@dataclass(frozen=True)
class Given:
    """An answer as the assistant gave it: the answer (a copy), the question as typed, the conversation."""

    answer: Answer
    question: str
    history: list[dict]


def conversation_turns(history: Sequence | None) -> list[dict]:
    """The user and assistant turns of ``history`` as plain records (role, content, paper ids), bounded.
    Anything else a caller passed (junk, other roles) is left out, as the answerers leave it out."""
    turns: list[dict] = []
    for turn in list(history or [])[-MAX_TURNS:]:
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant"):
            continue
        content = turn.get("content")
        if not isinstance(content, str):
            continue
        kept = {"role": turn["role"], "content": replace_surrogates(content[:MAX_TURN_CHARS])}
        ids = turn.get("paper_ids")
        if isinstance(ids, list) and all(isinstance(i, str) for i in ids):
            kept["paper_ids"] = [replace_surrogates(i[:200]) for i in ids[:100]]
        turns.append(kept)
    return turns


class AnswerMemory:
    """The last ``capacity`` answers given, by id; safe to use from many threads."""

    def __init__(self, capacity: int = REMEMBERED) -> None:
        self.capacity = max(1, capacity)
        self._given: OrderedDict[str, Given] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._given)

    def track(self, pieces: Generator[str, None, Answer], question: str, history: Sequence | None):
        """``pieces`` (an answerer's stream) passed through; its final answer remembered as it is returned."""
        answer = yield from pieces
        self.remember(answer, question, history)
        return answer

    def remember(self, answer: Answer, question: str, history: Sequence | None = None) -> None:
        given = Given(answer.model_copy(deep=True), replace_surrogates(question), conversation_turns(history))
        with self._lock:
            self._given[answer.id] = given
            self._given.move_to_end(answer.id)
            while len(self._given) > self.capacity:
                self._given.popitem(last=False)

    def recall(self, answer: Answer) -> Given:
        """The answer as given; `UnknownAnswer` when it isn't one of ours (or is too old to be remembered)."""
        if not isinstance(answer, Answer):
            raise InvalidFeedback(
                f"Feedback is given on an Answer, as ask() or stream().answer returns it; got {type(answer).__name__}."
            )
        with self._lock:
            given = self._given.get(answer.id)
        if given is None:
            raise UnknownAnswer(
                "This assistant did not give that answer, or gave it too long ago: feedback is taken on the answers "
                f"it gave in this process, the last {self.capacity:,} of them. Ask the question again and give "
                "feedback on the new answer."
            )
        return given
