"""Who may use `rag serve` and `rag mcp --http`: loopback only, unless a key is set and sent.

The rule is the web chat's (`rag.access.is_loopback`): without ``RAG_SERVE_API_KEY`` a server may only
listen on a loopback address, and refuses to start anywhere else. With a key, every request must carry
``Authorization: Bearer <key>``; the key is compared in constant time and never logged or echoed.
"""

from __future__ import annotations

import hmac

from pydantic import SecretStr

from rag.access import is_loopback
from rag.errors import RagError

__all__ = ["check_exposure", "key_problem"]


def check_exposure(host: str, api_key: SecretStr, what: str = "rag serve") -> None:
    """Refuse (at start, before any slow work) to listen beyond this machine without a key."""
    if not api_key.get_secret_value() and not is_loopback(host):
        raise RagError(
            f"{host} is reachable from other machines, so {what} needs a key there: set RAG_SERVE_API_KEY to a long "
            "random string (clients send it as 'Authorization: Bearer <key>'), or serve on 127.0.0.1."
        )


def key_problem(authorization: str | None, api_key: SecretStr) -> str:
    """Why a request's ``Authorization`` header doesn't let it in ("" when it does, or no key is set)."""
    expected = api_key.get_secret_value()
    if not expected:
        return ""
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return "This server needs an API key: send 'Authorization: Bearer <key>' (the key is the server's RAG_SERVE_API_KEY)."
    if not hmac.compare_digest(given.strip().encode("utf-8", "replace"), expected.encode("utf-8")):
        return "The API key is not valid for this server."
    return ""
