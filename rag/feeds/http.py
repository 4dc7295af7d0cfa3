"""Requests to the feeds' APIs over httpx: retries with backoff, Retry-After honoured, a pause between
requests where the API asks for one, bounded bodies, and failures as `FetchFailed` with a reason a user
can read (never a trace, never the token).

- 429: wait what ``Retry-After`` says (seconds or an HTTP date), else the backoff; a wait longer than
  ``max_retry_after`` fails at once rather than holding the sync for hours.
- 5xx, timeouts, refused or cut connections (a body shorter than its Content-Length, a broken chunked
  body): retried after ``retry_backoff`` seconds, doubled each time, ``max_retries`` times.
- Any other status (401, 403, 404, ...) fails at once: retrying won't change it.

Every wait watches ``stop`` (an Event): `rag ui` stopping, or a sync being cancelled, ends it at once.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time

import httpx

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024 * 1024  # a day of daily papers is ~100 KB, a page of 2,000 arXiv entries ~5 MB
USER_AGENT = "rag-abstracts/0.1 (an abstracts assistant syncing its index; rag sync)"


class FetchFailed(Exception):
    """A request that did not succeed after its retries; the message says why."""


class Stopped(Exception):
    """The sync was asked to stop while it waited."""


class FeedClient:
    """One HTTP client for one feed: its pause between requests, its retries and its request count."""

    def __init__(
        self,
        *,
        timeout: float,
        max_retries: int,
        retry_backoff: float,
        max_retry_after: float,
        pause: float = 0.0,
        headers: dict[str, str] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.max_retry_after = max_retry_after
        self.pause = pause
        self.stop = stop or threading.Event()
        self.requests = 0
        self._last_start = float("-inf")
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            follow_redirects=True,  # httpx drops the Authorization header when a redirect leaves the host
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "FeedClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def wait(self, seconds: float) -> None:
        if seconds > 0 and self.stop.wait(seconds):
            raise Stopped()
        if self.stop.is_set():
            raise Stopped()

    def get(self, url: str, params: dict) -> bytes:
        """The body of a 200 answer to GET ``url``; `FetchFailed` after the retries; `Stopped`."""
        attempt = 0
        while True:
            self.wait(self._last_start + self.pause - time.monotonic())
            self._last_start = time.monotonic()
            self.requests += 1
            try:
                status, headers, body = self._get_once(url, params)
            except httpx.TransportError as exc:  # refused, timed out, cut mid-body, broken chunks
                problem, delay = _transport_problem(exc), None
            else:
                if status == 200:
                    return body
                problem = f"HTTP {status}"
                if status == 429:
                    delay = retry_after(headers.get("retry-after"))
                    if delay is not None and delay > self.max_retry_after:
                        raise FetchFailed(
                            f"HTTP 429: the server asks to wait {delay:.0f} s (Retry-After), more than "
                            f"RAG_FEEDS_MAX_RETRY_AFTER ({self.max_retry_after:.0f} s)"
                        )
                elif 500 <= status < 600:
                    delay = retry_after(headers.get("retry-after"))
                else:
                    raise FetchFailed(problem + _hint(status))
            if attempt >= self.max_retries:
                tries = attempt + 1
                raise FetchFailed(f"{problem} ({tries} tr{'ies' if tries != 1 else 'y'})")
            if delay is None:
                delay = self.retry_backoff * (2**attempt) * (1 + 0.1 * random.random())  # jitter: clients don't retry in step
            log.info("%s from %s; retrying in %.1f s", problem, url, delay)
            attempt += 1
            self.wait(min(delay, self.max_retry_after))

    def _get_once(self, url: str, params: dict) -> tuple[int, httpx.Headers, bytes]:
        with self._client.stream("GET", url, params=params) as response:
            if response.status_code != 200:
                response.read()
                return response.status_code, response.headers, b""
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BODY:
                    raise FetchFailed(f"the answer is larger than {MAX_BODY // 2**20} MB; is the feed URL right?")
                chunks.append(chunk)
            return 200, response.headers, b"".join(chunks)


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _transport_problem(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer in time ({type(exc).__name__}, RAG_FEEDS_TIMEOUT)"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect (is the feed URL right, and the network up?)"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return "the connection was cut before the whole answer arrived"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _hint(status: int) -> str:
    return {
        401: ": the server wants a token (RAG_FEEDS_HF_TOKEN for the daily papers)",
        403: ": refused (check the token, RAG_FEEDS_HF_TOKEN, or the feed URL)",
        404: ": no such page (check the feed's URL setting)",
    }.get(status, "")
