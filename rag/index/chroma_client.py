"""Connecting to Chroma: an embedded store under ``RAG_HOME`` (checked before it is trusted) or a server.

Chroma's HTTP client needs two things it doesn't do itself: a bounded wait while it is built (it talks to
the server before a timeout can be set) and a timeout on every request afterwards (it waits forever).
And a collection made before keeps its search width until it is told the configured one (`set_search_width`).
"""

from __future__ import annotations

import logging
import time

from rag.index.store_check import check_embedded_store
from rag.settings import Settings

log = logging.getLogger(__name__)


def open_client(settings: Settings):
    """(a chromadb client, where it is: a URL or a folder). Raises what chromadb raises; the store says it."""
    import chromadb

    chroma = settings.chroma
    client_settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
    if chroma.host:
        headers = {}
        if chroma.token.get_secret_value():
            headers["Authorization"] = f"Bearer {chroma.token.get_secret_value()}"
        _preflight(settings, headers)
        client = chromadb.HttpClient(host=chroma.host, port=chroma.port, ssl=chroma.ssl, headers=headers, settings=client_settings)
        _set_timeout(client, chroma.timeout)
        return client, f"{'https' if chroma.ssl else 'http'}://{chroma.host}:{chroma.port}"
    path = settings.home / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    if chroma.check_on_open:
        check_embedded_store(
            path, [f"{chroma.collection}_chunks", f"{chroma.collection}_papers"],
            settings.home / "chroma-checked.json", chroma.check_timeout,
        )
    return chromadb.PersistentClient(path=str(path), settings=client_settings), str(path)


def _preflight(settings: Settings, headers: dict) -> None:
    # chromadb.HttpClient talks to the server while it is built, before a timeout can be set on it: a
    # heartbeat with a timeout first, so a wedged server fails here instead of hanging the start-up.
    import httpx

    c = settings.chroma
    url = f"{'https' if c.ssl else 'http'}://{c.host}:{c.port}/api/v2/heartbeat"
    try:
        httpx.get(url, headers=headers, timeout=c.timeout)
    except httpx.TimeoutException as exc:
        raise RuntimeError(f"no reply in time ({exc.__class__.__name__} after {c.timeout:g} s, RAG_CHROMA_TIMEOUT)") from None


def _set_timeout(client, seconds: float) -> None:
    # chromadb's HTTP client waits forever (httpx timeout=None): a stopped or wedged server would hang
    # every question. Its session is private, so this is checked by tests/test_faults.py.
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(seconds)
    else:
        log.warning("chromadb changed: can't set the Chroma request timeout; a stuck server may hang requests")


def set_search_width(collection, ef_search: int, wait: float = 10.0) -> None:
    """Give a collection made before (or with another setting) the configured search width. Chroma keeps
    it with the collection and reads it when the collection's index is first loaded, so this is done on
    opening, before any search.

    Chroma's own work just after opening (or another process's) can hold its database for a moment, and
    Chroma answers "database is locked" at once rather than waiting: tried again for ``wait`` seconds, then
    the store opens with the width it has, and says so. The width changes how closely the search is done,
    not what is stored."""
    hnsw = (getattr(collection, "configuration", None) or {}).get("hnsw") or {}
    if hnsw.get("ef_search") in (None, ef_search):
        return
    deadline = time.monotonic() + wait
    while True:
        try:
            collection.modify(configuration={"hnsw": {"ef_search": ef_search}})
            return
        except Exception as exc:  # chromadb's InternalError; only a lock is waited for
            if "locked" not in str(exc):
                raise
            if time.monotonic() > deadline:
                log.warning("Couldn't set the search width of %s to %d (%s); searching with %s this time.",
                            collection.name, ef_search, exc, hnsw.get("ef_search"))
                return
            time.sleep(0.1)
