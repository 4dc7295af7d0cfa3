"""A small client for any OpenAI-compatible chat endpoint: OpenAI, vLLM, Ollama, llama.cpp's server.

Why the `openai` package directly rather than LlamaIndex's `OpenAI` LLM: llama-index-llms-openai pins
openai<3 (this project runs openai 3.x), it only knows OpenAI's own model names (a local model name needs
the separate `OpenAILike` class), and we need the failure cases in our own hands: which errors are retried
and how, when a stream counts as cut, and which message a user gets for a bad key.

The client's own retries are switched off (``max_retries=0``); ours retry timeouts, 429s, 5xx and
connection errors with exponential backoff, and then raise `LLMUnavailable` so the assistant can answer
extractively instead. A 401/403 raises `LLMError` naming the setting to fix. A stream is retried only
before its first token; once text has come, a failure ends it with `StreamCut` carrying the reason, and
the caller keeps what came. Timeouts apply to connecting and to every read, and a whole answer has a
wall-clock limit, so nothing waits forever. The key is never logged or put in a message.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rag.errors import LLMError, LLMUnavailable
from rag.settings import LLMSettings

log = logging.getLogger(__name__)

KEY_SETTINGS = "OPENAI_API_KEY (or RAG_LLM_API_KEY)"
URL_SETTINGS = "RAG_LLM_BASE_URL (or OPENAI_BASE_URL)"


_KEY_LIKE = re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_*.\-]{6,}")


class MalformedReply(Exception):
    """The endpoint answered, but not with a chat completion (a proxy's HTML page, broken JSON, wrong fields)."""


class StreamCut(Exception):
    """The stream ended before the model finished; ``reason`` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Attempt:
    """Why one attempt failed and whether another could succeed."""

    retryable: bool
    reason: str
    wait: float | None = None  # what the server asked for (Retry-After), if anything


class LLMClient:
    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self._client = None

    @property
    def endpoint(self) -> str:
        return self.settings.base_url or "https://api.openai.com/v1"

    def _openai(self):
        if self._client is None:
            import httpx2
            import openai

            s = self.settings
            # A local server needs no key, but the client insists on one: any placeholder will do there.
            key = s.api_key.get_secret_value() or "no-key"
            self._client = openai.OpenAI(
                api_key=key,
                base_url=s.base_url or None,
                timeout=httpx2.Timeout(s.timeout, connect=min(s.timeout, 10.0)),
                max_retries=0,
            )
        return self._client

    # --- errors ----------------------------------------------------------------------------------------

    def _classify(self, exc: Exception) -> Attempt:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return Attempt(True, f"no answer within {self.settings.timeout:g} s")
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return Attempt(True, f"connection failed ({type(cause).__name__})")
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if status in (401, 403):
                raise LLMError(
                    f"The LLM endpoint at {self.endpoint} refused the API key (HTTP {status}). "
                    f"Check {KEY_SETTINGS}; for a local server set {URL_SETTINGS}."
                ) from None
            if status == 404:
                raise LLMError(
                    f"The LLM endpoint at {self.endpoint} does not know model {self.settings.model!r} or the "
                    f"chat-completions route (HTTP 404). Check RAG_LLM_MODEL and {URL_SETTINGS}."
                ) from None
            if status == 429 or status >= 500 or status == 408:
                wait = None
                retry_after = exc.response.headers.get("retry-after") if exc.response is not None else None
                if retry_after:
                    try:
                        wait = float(retry_after)
                    except ValueError:
                        wait = None
                return Attempt(True, "rate-limited (HTTP 429)" if status == 429 else f"HTTP {status}", wait)
            raise LLMError(f"The LLM endpoint at {self.endpoint} rejected the request (HTTP {status}): {self._redact(exc.message)}") from None
        if isinstance(exc, (MalformedReply, openai.APIResponseValidationError, ValueError, AttributeError, TypeError, IndexError, KeyError)):
            # Garbage where a completion should be: as unusable as a 5xx (retried, then the fallback).
            return Attempt(True, f"an unreadable reply ({type(exc).__name__})")
        if isinstance(exc, openai.OpenAIError):
            raise LLMError(f"The LLM client failed: {self._redact(str(exc))}") from None
        raise exc

    def _redact(self, text: str) -> str:
        """An endpoint's error message may quote the key it was sent ("Incorrect API key provided: sk-..."):
        never pass that on to a user, a page or a log."""
        key = self.settings.api_key.get_secret_value()
        if key:
            text = text.replace(key, "[the API key]")
        return _KEY_LIKE.sub("[an API key]", text)

    def _backoff(self, attempt: int, asked: float | None) -> float:
        wait = self.settings.retry_backoff * (2**attempt)
        if asked is not None:
            wait = max(wait, asked)
        return min(wait, 30.0)

    def _with_retries(self, call):
        """Run ``call`` until it succeeds, retrying what may pass; `LLMUnavailable` when it never does."""
        attempts = self.settings.max_retries + 1
        last = ""
        for attempt in range(attempts):
            try:
                return call()
            except LLMError:
                raise
            except Exception as exc:  # classified below: retried, or turned into an LLMError
                outcome = self._classify(exc)
                last = outcome.reason
                log.info("LLM request to %s failed (%s), attempt %d of %d", self.endpoint, last, attempt + 1, attempts)
                if attempt + 1 < attempts:
                    time.sleep(self._backoff(attempt, outcome.wait))
        raise LLMUnavailable(
            f"The generative model at {self.endpoint} was unavailable ({last}, {attempts} attempt{'s' if attempts > 1 else ''})."
        )

    # --- calls -----------------------------------------------------------------------------------------

    def _request(self, messages: Sequence[dict], stream: bool, max_tokens: int | None):
        s = self.settings
        return self._openai().chat.completions.create(
            model=s.model,
            messages=list(messages),
            temperature=s.temperature,
            max_tokens=max_tokens or s.max_tokens,
            stream=stream,
        )

    def complete(self, messages: Sequence[dict], max_tokens: int | None = None) -> str:
        """The whole completion as one string."""
        def call() -> str:
            response = self._request(messages, False, max_tokens)
            choices = getattr(response, "choices", None)
            if not isinstance(choices, list) or not choices:
                raise MalformedReply("no choices in the reply")
            content = getattr(getattr(choices[0], "message", None), "content", None)
            if content is not None and not isinstance(content, str):
                raise MalformedReply("the reply's content is not text")
            return content or ""

        return self._with_retries(call)

    def stream(self, messages: Sequence[dict], max_tokens: int | None = None) -> Iterator[str]:
        """The completion's text as it arrives.

        Connecting, and failing before the first token, is retried like `complete`. After that a failure,
        a stream that ends without the model saying it finished, or the wall-clock limit raise `StreamCut`.
        """
        started = time.monotonic()

        def first():
            stream = self._request(messages, True, max_tokens)
            pieces = iter(stream)
            # Pull until the first text (or the end), inside the retry: a server that accepts and then
            # fails before saying anything is as unavailable as one that refuses.
            buffered: list[str] = []
            finished = ""  # the finish reason, once the model gave one
            try:
                for chunk in pieces:
                    text, done = _delta(chunk)
                    finished = finished or done
                    if text:
                        buffered.append(text)
                        break
                    if done:
                        break
            except Exception:
                stream.close()  # this attempt's connection; the next attempt opens its own
                raise
            if not buffered and not finished:
                # Over before a single word, and never said it finished: not a completion stream at all
                # (an HTML error page or plain JSON where events should be).
                stream.close()
                raise MalformedReply("no completion in the reply")
            return stream, pieces, buffered, finished

        stream, pieces, buffered, finished = self._with_retries(first)
        try:
            yield from buffered
            if finished == "length":
                raise StreamCut("it reached the token limit, RAG_LLM_MAX_TOKENS")
            if finished and not buffered:
                return
            while True:
                if time.monotonic() - started > self.settings.max_seconds:
                    raise StreamCut(f"it took longer than {self.settings.max_seconds:g} s")
                try:
                    chunk = next(pieces)
                except StopIteration:
                    break
                except Exception as exc:
                    raise StreamCut(self._cut_reason(exc)) from None
                text, done = _delta(chunk)
                finished = finished or done
                if text:
                    yield text
                if done == "length":
                    raise StreamCut("it reached the token limit, RAG_LLM_MAX_TOKENS")
            if not finished:
                raise StreamCut("the stream ended before the model finished")
        finally:
            try:
                stream.close()
            except Exception:  # closing a broken connection can fail too; nothing is left to release
                pass

    def _cut_reason(self, exc: Exception) -> str:
        try:
            return self._classify(exc).reason
        except LLMError as err:
            return str(err)


def _delta(chunk) -> tuple[str, str]:
    """(text, finish reason or "") of one stream chunk; `MalformedReply` for a chunk of the wrong shape."""
    choices = getattr(chunk, "choices", None)
    if not choices:
        return "", ""
    try:
        choice = choices[0]
        delta = getattr(choice, "delta", None)
        text = (getattr(delta, "content", None) or "") if delta is not None else ""
        finish = choice.finish_reason or ""
    except (AttributeError, TypeError, IndexError, KeyError) as exc:
        raise MalformedReply(f"a stream chunk of the wrong shape ({type(exc).__name__})") from None
    if not isinstance(text, str) or not isinstance(finish, str):
        raise MalformedReply("a stream chunk whose content is not text")
    return text, finish
