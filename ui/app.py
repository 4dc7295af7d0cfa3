"""Start-up: `serve()` is `rag ui`, `launch()` serves the app for an `Assistant` (tests use it too).

    rag ui [--host H --port P]      # or `make run`; http://127.0.0.1:7860 by default

The page itself is `ui.layout.build_app`; who may connect is `ui.access.login_for` (and, with a login,
`ui.access.LoginEverywhere` on every API route).

`rag ui` stops within moments of Ctrl-C or SIGTERM, whatever is running: the web server is closed without
waiting for open connections (a browser's event streams, an answer waiting on a silent LLM endpoint), an
answer in progress is dropped (it runs in a daemon thread), an upload's temporary copy is removed, and an
ingest's write in hand is finished (ingest is resumable: upload the file again to carry on).

With ``RAG_FEEDS_EVERY`` (e.g. 6h) the app syncs the live feeds in the background (`rag.feeds`): at start,
then every interval, in this process, so the chat keeps answering meanwhile. `rag ui` over an embedded
store holds a claim on its folder (`rag.feeds.locks`): a separate `rag sync` is refused while it serves.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time

import gradio as gr
from starlette.middleware import Middleware

from rag import Assistant, RagError, Settings
from rag.feeds import SyncReport
from rag.feeds.locks import claim_embedded
from rag.feeds.schedule import Schedule
from ui import uploads
from ui.access import LoginEverywhere, login_for
from ui.assets import CSS, HEAD
from ui.layout import build_app

log = logging.getLogger(__name__)

__all__ = ["launch", "serve"]

THEME = gr.themes.Soft(
    primary_hue="indigo",
    neutral_hue="slate",
    # System fonts: the default theme fonts would be fetched from Google, which an offline browser can't.
    font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
)


def _draw_map(assistant: Assistant) -> None:
    try:
        assistant.corpus_map()
    except Exception:  # the map view will try again, and show the error there
        log.exception("drawing the corpus map failed")


def _start_sync(assistant: Assistant) -> Schedule | None:
    """The feeds synced every ``RAG_FEEDS_EVERY`` on a background thread (none when it is 0)."""
    every = assistant.settings.feeds.every
    if not every:
        return None

    def reported(result: object) -> None:
        if isinstance(result, SyncReport):
            log.info("Feeds synced: %s", result.summary())

    return Schedule(lambda stop: assistant.sync(stop=stop), every, reported).start()


def launch(
    assistant: Assistant,
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    auth: tuple[str, str] | None = None,
    block: bool = True,
    quiet: bool = False,
) -> gr.Blocks:
    """Serve the app for ``assistant``; with ``block=False`` return at once (tests), `demo.close()` stops it."""
    demo = build_app(assistant)
    demo.queue(default_concurrency_limit=1)
    # The map takes seconds for a big corpus: draw it now, in the background (later calls wait for it).
    threading.Thread(target=_draw_map, args=(assistant,), name="corpus-map", daemon=True).start()
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        auth=auth,
        auth_message="Sign in to the abstracts assistant." if auth else None,
        prevent_thread_lock=not block,
        quiet=quiet,
        show_error=False,
        max_file_size=f"{assistant.settings.ui.max_upload_mb}mb",
        theme=THEME,
        css=CSS,
        head=HEAD,
        footer_links=["api"],
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
        app_kwargs={"middleware": [Middleware(LoginEverywhere)]},
    )
    demo.rag_schedule = _start_sync(assistant)  # `stop()` ends it
    return demo


def stop(demo: gr.Blocks) -> None:
    """Close the web server at once: open connections (a browser's event streams, an answer still waiting
    for its endpoint) are dropped rather than waited for, which took Gradio's close 5 s at each of its two joins."""
    schedule = getattr(demo, "rag_schedule", None)
    if schedule is not None:
        schedule.stop()  # a day being indexed is finished on its daemon thread, or dropped at exit (resumable)
    server = getattr(demo, "server", None)
    if server is not None:
        server.force_exit = True  # uvicorn: no waiting for connections or tasks
    demo.close(verbose=False)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM stops `rag ui` the way Ctrl-C does, cleaning up on the way out


def serve(host: str | None = None, port: int | None = None) -> None:
    """`rag ui`: index the default corpus if the store is empty, then serve the chat until Ctrl-C or SIGTERM."""
    settings = Settings()
    host = host or settings.ui.host
    port = settings.ui.port if port is None else port
    auth = login_for(settings.ui, host)  # before any slow work: a refused address fails at once
    for left in uploads.sweep_stale():  # copies left by a `rag ui` that was killed mid-upload
        log.info("removed %s, left by a stopped process", left)
    claim = claim_embedded(settings, "rag ui", shared=True)  # refused while a separate `rag sync` writes the folder
    previous = signal.signal(signal.SIGTERM, _interrupt) if threading.current_thread() is threading.main_thread() else None
    assistant = Assistant(settings)
    demo = None
    try:
        started = time.perf_counter()
        if assistant.count() == 0 and settings.corpus.auto_index:
            print(f"Indexing the default corpus {settings.corpus.default.name} (first run only)…", flush=True)
        else:
            print(f"Opening the index in {assistant.store.location}…", flush=True)
        assistant.ensure_ready(progress=True)
        print(f"{assistant.count():,} papers indexed ({time.perf_counter() - started:.1f} s). Starting the chat…", flush=True)
        try:
            demo = launch(assistant, host, port, auth=auth, block=False, quiet=True)
        except OSError as exc:
            raise RagError(f"Can't serve on {host}:{port} ({exc}). Is the port in use? Pick another with --port or RAG_UI_PORT.") from None
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        print(f"The chat is on http://{shown}:{port}{' (login required)' if auth else ''}. Ctrl-C stops it.", flush=True)
        if demo.rag_schedule is not None:
            print(f"The feeds sync in the background every {settings.feeds.every / 3600:g} h (RAG_FEEDS_EVERY).", flush=True)
        while demo.is_running:  # not Gradio's block_thread(): it catches Ctrl-C itself, then waits on the server
            time.sleep(0.1)
    except KeyboardInterrupt:
        # Indexing is resumable: whatever was written is kept and the next start carries on.
        print("\nStopped.", flush=True)
    finally:
        try:
            if demo is not None:
                # The event streams still open are cancelled as the server's loop ends: uvicorn would log each
                # as an "Exception in ASGI application", when it is only the process stopping.
                logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
                stop(demo)
            uploads.remove_all()
            assistant.close()
            claim.release()
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            # The process ends here. Its last garbage collections, over the object graphs of Gradio, pandas and
            # the rest, cost ~1.4 s of CPU (several seconds on a busy machine) and free nothing the OS would
            # not: everything alive now is left out of them. Exit still joins threads and runs atexit.
            gc.freeze()
