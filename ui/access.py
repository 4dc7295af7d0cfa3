"""Who may connect: the chat is open on a loopback address, and needs a login anywhere else."""

from __future__ import annotations

import sys

from rag import RagError
from rag.access import is_loopback  # the rule `rag serve` applies too
from rag.settings import UISettings

__all__ = ["is_loopback", "login_for"]


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
