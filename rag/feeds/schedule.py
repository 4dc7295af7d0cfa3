"""Syncing on a schedule: `rag sync --every 6h` in the foreground, `rag ui` in the background
(``RAG_FEEDS_EVERY``). A run starts at once, then ``every`` seconds after the previous one *started*
(a run longer than that is followed by the next at once). A failing run is logged and the schedule goes
on: the next run retries what failed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from rag.errors import RagError

log = logging.getLogger(__name__)

Job = Callable[[threading.Event], object]  # one run; it gets the stop event to pass on


class Schedule:
    """Run ``job`` every ``every`` seconds until `stop()`; ``on_result`` gets each run's result or error."""

    def __init__(self, job: Job, every: float, on_result: Callable[[object], None] | None = None) -> None:
        if every <= 0:
            raise RagError("The schedule needs a positive interval, e.g. 6h, 30m or 1d.")
        self.job, self.every, self.on_result = job, every, on_result
        self.stopping = threading.Event()
        self.running = threading.Event()  # a run is in progress (the chat's status line says so)
        self.runs = 0
        self._thread: threading.Thread | None = None

    def run_forever(self) -> None:
        """Run in this thread until `stop()` (or Ctrl-C, which propagates)."""
        while not self.stopping.is_set():
            started = time.monotonic()
            self._run_once()
            self.stopping.wait(max(0.0, started + self.every - time.monotonic()))

    def _run_once(self) -> None:
        self.running.set()
        try:
            result: object = self.job(self.stopping)
        except RagError as exc:  # the store unavailable, another sync running: the next run tries again
            log.warning("A scheduled sync failed: %s", exc)
            result = exc
        except Exception as exc:  # noqa: BLE001 - a background schedule must outlive one bad run
            log.exception("A scheduled sync failed")
            result = exc
        finally:
            self.running.clear()
            self.runs += 1
        if self.on_result:
            self.on_result(result)

    def start(self) -> "Schedule":
        """Run on a daemon thread (`rag ui`)."""
        self._thread = threading.Thread(target=self.run_forever, name="feeds-schedule", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait: float = 0.0) -> None:
        """Ask the schedule to stop: waits end at once; a day being indexed is finished first (up to ``wait`` s
        are waited for here)."""
        self.stopping.set()
        if self._thread is not None and wait > 0:
            self._thread.join(wait)
