"""Errors the user can act on. Each message says what went wrong and what to check; no trace is needed."""


class RagError(Exception):
    """Base class: the CLI and the UI show these as plain messages."""


class InvalidQuestion(RagError, ValueError):
    """An empty question, or one with nothing to search for."""


class CorpusFormatError(RagError, ValueError):
    """A corpus file as a whole can't be read (unknown format, binary data, missing columns)."""


class CorpusTooLarge(CorpusFormatError):
    """A corpus file over a limit set for it: more unpacked bytes or more records than allowed (an upload's
    limits). Raised while the file is read, as soon as the limit is passed."""

    def __init__(self, message: str, *, kind: str, limit: int) -> None:
        super().__init__(message)
        self.kind = kind  # "bytes" (unpacked) or "records"
        self.limit = limit


class StoreError(RagError, RuntimeError):
    """The vector store can't be reached or written."""


class LLMError(RagError, RuntimeError):
    """The configured LLM endpoint refused the request in a way retrying won't fix (e.g. a bad key)."""


class LLMUnavailable(LLMError):
    """The LLM endpoint timed out, was rate-limited or failed (5xx, connection) after every retry.

    The assistant answers extractively instead and says so in the answer's notes.
    """


class InvalidFeedback(RagError, ValueError):
    """Feedback that can't be stored as given: a rating other than +1/-1, a citation number the answer doesn't
    have, a paper that isn't indexed, an unknown feedback id. The message says what to give instead."""


class UnknownAnswer(InvalidFeedback):
    """Feedback on an answer this assistant didn't give (another process's, one rebuilt from JSON) or gave too
    long ago to remember."""
