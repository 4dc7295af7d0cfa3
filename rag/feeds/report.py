"""What one sync did: `SyncReport` (`Assistant.sync` returns it; `rag sync --json` prints it), and the days
the feeds are asked for (`parse_day`, `days_between`, `today`)."""

from __future__ import annotations

import datetime

from pydantic import BaseModel, Field

from rag.errors import RagError
from rag.types import IngestReport


def today() -> datetime.date:
    """Today in UTC: the feeds' days are UTC days (a daily-papers list's date, arXiv's submittedDate)."""
    return datetime.datetime.now(datetime.timezone.utc).date()


def parse_day(value: str | datetime.date, flag: str = "date") -> datetime.date:
    """A YYYY-MM-DD day, or a `RagError` saying what is wrong with it."""
    if isinstance(value, datetime.date):
        return value
    text = str(value).strip()
    try:
        if len(text) != 10:
            raise ValueError
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise RagError(f"{flag} {text[:40]!r} is not a date: write it YYYY-MM-DD, e.g. 2024-06-03.") from None


def days_between(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    return [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]


class FeedRun(BaseModel):
    """One feed's part of a sync."""

    feed: str  # "hf-daily" or "arxiv:cs.LG"
    first_day: str = ""
    last_day: str = ""
    days: int = 0  # days asked for (not already done)
    days_done: int = 0  # days that fully arrived and were indexed
    notes: list[str] = []


class SyncReport(BaseModel):
    """Counts are over every feed of the run. A paper seen on two days or from two feeds is counted each time
    it is seen (the first time added, then unchanged). ``failed_days``: ``"feed day: reason"``; those days
    are fetched again by the next run."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    refreshed: int = 0  # unchanged papers whose upvotes or links were updated in place
    skipped: list[str] = []  # "where: reason"
    fetched: int = 0  # records received
    requests: int = 0  # HTTP requests made, retries included
    failed_days: list[str] = []
    feeds: list[FeedRun] = []
    new_papers: list[tuple[str, str]] = Field(default=[], description="(paper id, title) of the papers added, first 50.")
    stopped: bool = False  # interrupted before every day was done (the next run carries on)
    fetch_seconds: float = 0.0  # in requests, waits and parsing (it overlaps the indexing)
    index_seconds: float = 0.0  # embedding and writing
    seconds: float = 0.0  # the whole run

    def add_ingest(self, report: IngestReport, new: list[tuple[str, str]]) -> None:
        self.added += report.added
        self.updated += report.updated
        self.unchanged += report.unchanged
        self.refreshed += report.refreshed
        self.skipped += [str(s) for s in report.skipped]
        self.new_papers += new[: max(0, 50 - len(self.new_papers))]
        self.index_seconds += report.seconds

    def summary(self) -> str:
        line = (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, {len(self.skipped)} skipped; "
            f"{self.fetched} records in {self.requests} requests ({self.seconds:.1f} s)"
        )
        if self.failed_days:
            line += f"; {len(self.failed_days)} day{'s' if len(self.failed_days) != 1 else ''} failed (the next run tries again)"
        return line

    def as_json(self) -> dict:
        """What `rag sync --json` prints: the counts, every skipped record and failed day, each feed's days."""
        return self.model_dump(mode="json")
