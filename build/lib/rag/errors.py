"""Errors the user can act on. Each message says what went wrong and what to check; no trace is needed."""


class RagError(Exception):
    """Base class: the CLI and the UI show these as plain messages."""


class InvalidQuestion(RagError, ValueError):
    """An empty question, or one with nothing to search for."""


class CorpusFormatError(RagError, ValueError):
    """A corpus file as a whole can't be read (unknown format, binary data, missing columns)."""


class StoreError(RagError, RuntimeError):
    """The vector store can't be reached or written."""


class LLMError(RagError, RuntimeError):
    """The configured LLM endpoint refused the request in a way retrying won't fix (e.g. a bad key)."""


class LLMUnavailable(LLMError):
    """The LLM endpoint timed out, was rate-limited or failed (5xx, connection) after every retry.

    The assistant answers extractively instead and says so in the answer's notes.
    """
