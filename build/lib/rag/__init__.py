"""Question answering over scientific paper abstracts, with every claim cited.

    from rag import Assistant
    assistant = Assistant()
    answer = assistant.ask("Which papers here make PEFT cheaper?")
"""

from rag.assistant import Assistant
from rag.errors import CorpusFormatError, InvalidQuestion, LLMError, LLMUnavailable, RagError, StoreError
from rag.settings import Settings
from rag.types import Answer, Citation, Filters, Hit, IngestReport, Paper, Passage, Skipped

__all__ = [
    "Answer",
    "Assistant",
    "Citation",
    "CorpusFormatError",
    "Filters",
    "Hit",
    "IngestReport",
    "InvalidQuestion",
    "LLMError",
    "LLMUnavailable",
    "Paper",
    "Passage",
    "RagError",
    "Settings",
    "Skipped",
    "StoreError",
]
