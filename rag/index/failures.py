"""Storage failures as one `StoreError` a user can act on, for the Chroma and the BM25 side alike."""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from typing import Protocol, TypeVar

from rag.errors import StoreError

T = TypeVar("T")


def failure_reason(exc: BaseException) -> str:
    """The cause of a storage failure in a line, named so a user can act on it."""
    text = str(exc).strip().rstrip(".") or exc.__class__.__name__
    lowered = text.lower()
    number = getattr(exc, "errno", None)
    if number == errno.ENOSPC or "disk is full" in lowered or "no space left" in lowered or "database or disk is full" in lowered:
        return f"the disk is full ({text})"
    if number in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly" in lowered or "read-only" in lowered or "permission denied" in lowered:
        return f"the data folder can't be written ({text})"
    if exc.__class__.__name__.endswith("Timeout") or "timed out" in lowered:
        return f"no reply in time ({exc.__class__.__name__})"
    if text == exc.__class__.__name__:
        return text
    return f"{exc.__class__.__name__}: {text}" if len(text) < 300 else f"{exc.__class__.__name__}: {text[:300]}…"


class _Failing(Protocol):
    def failure(self, action: str, exc: BaseException) -> StoreError: ...


def guarded(action: str, catch: tuple[type[BaseException], ...] = (Exception,)) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Turn what the storage library raises inside a method into the owner's `StoreError` (``self.failure``).

    ``catch``: the exception types that mean a storage failure (chromadb, httpx, sqlite and the OS each raise
    their own; the BM25 side catches only sqlite3 and OS errors, so a bug there still shows as one).
    """

    def wrap(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def inner(self: _Failing, *args, **kwargs) -> T:
            try:
                return method(self, *args, **kwargs)
            except StoreError:
                raise
            except catch as exc:
                raise self.failure(action, exc) from exc

        return inner

    return wrap
