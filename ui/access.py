"""Who may connect: the chat is open on a loopback address, and needs a login anywhere else.

With a login, `LoginEverywhere` makes every route under ``/gradio_api/`` need it, except what the login page
and Gradio's own start-up use. Gradio checks the login on most of its routes but not on ``/cancel``,
``/reset``, ``/heartbeat/{session}`` and ``/stream/...``, which act on a session or an event by its id:
anyone who learnt a session's hash could cancel another user's answer (tests/test_access.py shows it).
"""

from __future__ import annotations

import sys

from starlette.requests import Request
from starlette.responses import JSONResponse

from rag import RagError
from rag.access import is_loopback  # the rule `rag serve` applies too
from rag.settings import UISettings

__all__ = ["OPEN_BEFORE_LOGIN", "LoginEverywhere", "is_loopback", "login_for"]

API_PREFIX = "/gradio_api/"
# What the login page and `launch()`'s own start-up call reach under /gradio_api/ before anyone has logged in.
OPEN_BEFORE_LOGIN = frozenset({"login_check", "token", "user", "app_id", "startup-events", "theme.css"})


class LoginEverywhere:
    """ASGI middleware for the Gradio app: with a login configured, a request under ``/gradio_api/`` without
    it gets 401, whatever Gradio's own route would have checked (`OPEN_BEFORE_LOGIN` excepted)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not self._allowed(scope):
            await JSONResponse({"detail": "Not authenticated"}, status_code=401)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _allowed(scope) -> bool:
        path: str = scope.get("path", "")
        if API_PREFIX not in path:
            return True
        route = path.split(API_PREFIX, 1)[1].split("/", 1)[0]
        if route in OPEN_BEFORE_LOGIN:
            return True
        gradio_app = scope.get("app")  # Starlette puts the app in the scope before its middleware runs
        if getattr(gradio_app, "auth", None) is None:
            return True  # no login configured (loopback): open, as the rest of the app
        cookies = Request(scope).cookies
        cookie_id = getattr(gradio_app, "cookie_id", "")
        token = cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}")
        return token is not None and gradio_app.tokens.get(token) is not None


def login_for(ui: UISettings, host: str) -> tuple[str, str] | None:
    """The (user, password) to require, or None. Refuses an open non-loopback address unless opted out."""
    secret = ui.auth.get_secret_value()
    if secret:
        user, sep, password = secret.partition(":")
        if not (sep and user and password):
            raise RagError("RAG_UI_AUTH must look like user:password.")
        return user, password
    if is_loopback(host):
        return None
    if ui.allow_unauthenticated:
        print(
            f"WARNING: serving the chat on {host} without a login (RAG_UI_ALLOW_UNAUTHENTICATED=true): anyone who "
            "can reach this address can read the corpus, ask questions and add papers.",
            file=sys.stderr,
            flush=True,
        )
        return None
    raise RagError(
        f"{host} is reachable from other machines, so the chat needs a login there: set RAG_UI_AUTH=user:password "
        "(or RAG_UI_ALLOW_UNAUTHENTICATED=true to serve it open, at your own risk)."
    )
