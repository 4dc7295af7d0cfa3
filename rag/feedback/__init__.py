"""Feedback on answers, kept on this machine, and turned into evaluation questions.

| module | what |
|---|---|
| `memory` | the answers an assistant gave lately (bounded): feedback is taken on those only |
| `records` | `Feedback`, one stored row: the question, its conversation, the answer as given, the rating and notes |
| `checks` | what a feedback call may hold: a rating of +1 or -1, citation numbers the answer has, an indexed paper |
| `store` | `FeedbackStore`: SQLite under RAG_HOME (WAL), one row per answer, safe across threads and processes |
| `to_eval` | stored feedback as `rag eval` questions (eval/README.md), or skipped with the reason |

It sits between the answerers and `Assistant`: it knows `Answer`, never the index.
"""

from rag.feedback.checks import checked
from rag.feedback.memory import AnswerMemory, Given
from rag.feedback.records import Feedback, MissingPaper
from rag.feedback.store import FEEDBACK_FILE, FeedbackStore
from rag.feedback.to_eval import feedback_questions

__all__ = ["FEEDBACK_FILE", "AnswerMemory", "Feedback", "FeedbackStore", "Given", "MissingPaper", "checked", "feedback_questions"]
