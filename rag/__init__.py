"""Question answering over scientific paper abstracts, with every claim cited.

    from rag import Assistant
    assistant = Assistant()
    answer = assistant.ask("Which papers here make PEFT cheaper?")

The package is in layers, each importing only those below it (tests/test_architecture.py checks it):
text -> corpus -> index -> ingest -> retrieve -> answer -> adapters -> `Assistant` -> evaluation -> serve
(the OpenAI-compatible endpoint and the MCP server) -> cli; `ui/` sits over `Assistant` beside the CLI.
`errors`, `settings` and `types` are shared by all.
"""

from rag.answer.base import AnswerStream
from rag.assistant import Assistant
from rag.errors import CorpusFormatError, InvalidFeedback, InvalidQuestion, LLMError, LLMUnavailable, RagError, StoreError, UnknownAnswer
from rag.feedback import Feedback
from rag.settings import Settings
from rag.types import Answer, Citation, Filters, Hit, IngestReport, Paper, Passage, Skipped, conversation_to_markdown

__all__ = [
    "Answer",
    "AnswerStream",
    "Assistant",
    "Citation",
    "CorpusFormatError",
    "Feedback",
    "Filters",
    "Hit",
    "IngestReport",
    "InvalidFeedback",
    "InvalidQuestion",
    "LLMError",
    "LLMUnavailable",
    "Paper",
    "Passage",
    "RagError",
    "Settings",
    "Skipped",
    "StoreError",
    "UnknownAnswer",
    "conversation_to_markdown",
]
