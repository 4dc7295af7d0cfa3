"""A sync: for each feed, the days to fetch, each fetched whole, merged with what is indexed, ingested, then
marked done. `Assistant.sync` is the public entry; `rag sync` and `rag ui`'s schedule go through it.

Which days (`plan`):
- with a range (``date_from``/``date_to``): its days, but those already done (``refresh`` fetches them too);
- without one: the days that failed before, then from the day after the last day done (the first time:
  the last ``RAG_FEEDS_BACKFILL_DAYS``; at most ``RAG_FEEDS_CATCH_UP_DAYS`` back) up to today.
The latest ``RAG_FEEDS_RECHECK_DAYS`` days are fetched on every run and marked done only once older: the
feeds still add papers to them.

While a day is indexed the next one is already being fetched (one day ahead, on a thread), so arXiv's
pause between requests and the embedding overlap. A day is marked done (`SyncState.day_done`) only once
its papers are written: a run stopped at any point (Ctrl-C, ``kill -9``) loses no day, and the next run
starts where it stopped; what it fetches twice is indexed once (the ingest compares content hashes).
"""

from __future__ import annotations

import datetime
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from rag.errors import RagError
from rag.feeds.arxiv import Arxiv
from rag.feeds.base import Day, DayFailed, Feed
from rag.feeds.hf_daily import HFDaily
from rag.feeds.http import Stopped
from rag.feeds.locks import sync_lock
from rag.feeds.merge import merge
from rag.feeds.report import FeedRun, SyncReport, days_between, parse_day, today
from rag.feeds.state import SyncState
from rag.index.chroma import ChromaStore
from rag.ingest.indexer import Indexer
from rag.settings import Settings
from rag.types import Paper

log = logging.getLogger(__name__)

DayCallback = Callable[[str, datetime.date, str], None]  # (feed, day, what happened) for progress lines


def make_feed(settings: Settings, name: str) -> Feed:
    """A feed from its name: ``hf-daily`` or ``arxiv:<category>``; a `RagError` for anything else."""
    if name == "hf-daily":
        return HFDaily(settings.feeds)
    if name.startswith("arxiv:"):
        return Arxiv(settings.feeds, name.removeprefix("arxiv:"))
    if name == "arxiv":
        raise RagError("Name the arXiv category: arxiv:cs.LG (rag sync arxiv --category cs.LG).")
    raise RagError(f"Unknown feed {name[:40]!r}: the feeds are hf-daily and arxiv:<category> (e.g. arxiv:cs.LG).")


def configured_feeds(settings: Settings) -> list[str]:
    """The feeds `rag sync` alone syncs: RAG_FEEDS_HF_DAILY and RAG_FEEDS_ARXIV_CATEGORIES."""
    return (["hf-daily"] if settings.feeds.hf_daily else []) + [f"arxiv:{c}" for c in settings.feeds.arxiv_categories]


def plan(state: SyncState, feed: str, settings: Settings, first: datetime.date | None, last: datetime.date | None,
         refresh: bool = False) -> tuple[list[datetime.date], list[str]]:
    """The days to fetch for ``feed``, and notes for the user (a catch-up cut short)."""
    now, notes = today(), []
    done = state.done(feed)
    if first is not None:
        last = min(last or now, now)
        return [d for d in days_between(first, last) if refresh or d.isoformat() not in done], notes
    s = settings.feeds
    start = parse_day(max(done)) + datetime.timedelta(days=1) if done else now - datetime.timedelta(days=s.backfill_days - 1)
    earliest = now - datetime.timedelta(days=s.catch_up_days - 1)
    if start < earliest:
        notes.append(
            f"{feed}: last synced through {max(done)}; catching up from {earliest} only (RAG_FEEDS_CATCH_UP_DAYS="
            f"{s.catch_up_days}). `rag sync` with --from {start} --to {earliest - datetime.timedelta(days=1)} fetches the rest."
        )
        start = earliest
    failed = {parse_day(d) for d in state.failed(feed)}
    return sorted(failed | set(days_between(start, now))), notes


class Syncer:
    def __init__(self, settings: Settings, indexer: Indexer, store: ChromaStore) -> None:
        self.settings = settings
        self.indexer = indexer
        self.store = store
        self.state = SyncState(settings)

    def run(
        self,
        feeds: Sequence[str] | None = None,
        date_from: str | datetime.date | None = None,
        date_to: str | datetime.date | None = None,
        *,
        refresh: bool = False,
        stop: threading.Event | None = None,
        on_day: DayCallback | None = None,
    ) -> SyncReport:
        names = list(dict.fromkeys(feeds if feeds is not None else configured_feeds(self.settings)))
        if not names:
            raise RagError("No feeds to sync: name one (hf-daily, arxiv:cs.LG), or set RAG_FEEDS_HF_DAILY / RAG_FEEDS_ARXIV_CATEGORIES.")
        chosen = [make_feed(self.settings, name) for name in names]  # every name checked before anything is fetched
        first, last = date_range(date_from, date_to)
        stop = stop or threading.Event()
        report, started = SyncReport(), time.perf_counter()
        with sync_lock(self.settings):
            try:
                for feed in chosen:
                    if stop.is_set():
                        report.stopped = True
                        break
                    self._feed(feed, first, last, refresh, stop, report, on_day)
            finally:
                report.seconds = time.perf_counter() - started
                self.state.run_finished(names, report.added, report.updated, len(report.failed_days), report.new_papers)
        return report

    def _feed(self, feed: Feed, first, last, refresh: bool, stop: threading.Event, report: SyncReport,
              on_day: DayCallback | None) -> None:
        days, notes = plan(self.state, feed.name, self.settings, first, last, refresh)
        run = FeedRun(feed=feed.name, days=len(days), notes=notes,
                      first_day=days[0].isoformat() if days else "", last_day=days[-1].isoformat() if days else "")
        report.feeds.append(run)
        if not days:
            return
        settled_before = today() - datetime.timedelta(days=self.settings.feeds.recheck_days - 1)
        with feed.client() as client:  # its own stop event: set when this feed is done with, however it ends
            try:
                for day, outcome, seconds in _fetched_ahead(feed, client, days, stop):
                    report.fetch_seconds += seconds
                    if isinstance(outcome, Stopped):
                        report.stopped = True
                        break
                    if isinstance(outcome, DayFailed):
                        report.failed_days.append(f"{feed.name} {day}: {outcome}")
                        self.state.day_failed(feed.name, day.isoformat(), str(outcome))
                        if on_day:
                            on_day(feed.name, day, f"failed: {outcome}")
                        continue
                    added = self._index(outcome, report)
                    self.state.day_done(feed.name, day.isoformat(), settled=day < settled_before)
                    run.days_done += 1
                    if on_day:
                        on_day(feed.name, day, f"{outcome.fetched} papers, {added} new")
            finally:
                client.stop.set()  # an interrupted run: the thread fetching ahead ends at its next wait
                report.requests += client.requests

    def _index(self, day: Day, report: SyncReport) -> int:
        """Index one day's records, each merged with the stored paper of its id (`rag.feeds.merge`)."""
        report.fetched += day.fetched
        ids = list(dict.fromkeys(item.paper_id for item, _ in day.records if isinstance(item, Paper)))
        stored = self.store.get_papers(ids) if ids else {}
        records = [(merge(item, stored[item.paper_id]) if isinstance(item, Paper) and item.paper_id in stored else item, where)
                   for item, where in day.records]
        titles = {item.paper_id: item.title for item, _ in day.records if isinstance(item, Paper)}
        ingest = self.indexer.ingest_records(records, progress=False)
        new = [(pid, titles[pid]) for pid in ids if pid not in stored]
        report.add_ingest(ingest, new[: ingest.added])
        return ingest.added


def date_range(date_from, date_to) -> tuple[datetime.date | None, datetime.date | None]:
    if date_from is None and date_to is None:
        return None, None
    if date_from is None:
        raise RagError("--to needs --from: give the first day too (YYYY-MM-DD).")
    first = parse_day(date_from, "--from")
    last = parse_day(date_to, "--to") if date_to is not None else None
    if last is not None and last < first:
        raise RagError(f"--to {last} is before --from {first}: the range runs from the first day to the last.")
    if first > today():
        raise RagError(f"--from {first} is in the future (today is {today()} UTC): there is nothing to fetch yet.")
    return first, last


def _fetched_ahead(feed: Feed, client, days: list[datetime.date], stop: threading.Event) -> Iterator[tuple]:
    """(day, its `Day` or `DayFailed` or `Stopped`, seconds spent fetching it), in order, fetched one day
    ahead of the caller on a daemon thread (the caller's time goes to indexing meanwhile). ``stop`` (the
    run's) set: the fetching ends at its next wait, and a `Stopped` is the last thing yielded."""
    ahead: queue.Queue = queue.Queue(maxsize=1)

    def fetch() -> None:
        for day in days:
            started = time.perf_counter()
            try:
                outcome = feed.fetch_day(client, day)
            except (DayFailed, Stopped) as exc:
                outcome = exc
            except Exception as exc:  # a bug must not hang the sync: the day fails, saying what broke
                if client.stop.is_set():
                    return  # the client was closed under it: the run is over
                log.exception("fetching %s %s failed", feed.name, day)
                outcome = DayFailed(f"unexpected error: {type(exc).__name__}: {str(exc)[:200]}")
            seconds = time.perf_counter() - started  # the fetch only, not the wait below for the day before to be indexed
            while not client.stop.is_set():
                try:
                    ahead.put((day, outcome, seconds), timeout=0.2)
                    break
                except queue.Full:
                    continue
            if isinstance(outcome, Stopped) or client.stop.is_set():
                return

    thread = threading.Thread(target=fetch, name=f"fetch-{feed.name}", daemon=True)
    thread.start()
    for day in days:
        while True:
            if stop.is_set():
                client.stop.set()
                yield day, Stopped(), 0.0
                return
            try:
                item = ahead.get(timeout=0.2)
                break
            except queue.Empty:
                if not thread.is_alive() and ahead.empty():
                    return
        yield item
        if isinstance(item[1], Stopped):
            return
