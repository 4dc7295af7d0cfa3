"""What a feed is to the sync: a name, an HTTP client set up for its API, and one day of its papers.

A day is fetched whole (every page) or not at all: `DayFailed` says why not, and the sync reports the day
and leaves it to the next run. Records that can't be read are `Skipped` (``where: reason``) and the rest of
the day goes in.
"""

from __future__ import annotations

import datetime
import threading
from dataclasses import dataclass, field

from rag.feeds.http import FeedClient
from rag.settings import FeedSettings
from rag.types import Paper, Skipped


class DayFailed(Exception):
    """A day that did not fully arrive (a request that kept failing, a malformed page); the message says why."""


@dataclass
class Day:
    """One day of a feed as it arrived: its records in the order the API listed them."""

    records: list[tuple[Paper | Skipped, str]] = field(default_factory=list)  # (paper or why not, where)
    fetched: int = 0  # records received, readable or not
    pages: int = 0


class Feed:
    """A paper feed, fetched day by day. ``name`` keys its sync state ("hf-daily", "arxiv:cs.LG")."""

    name = ""
    pause = 0.0  # seconds between requests, as the API asks

    def __init__(self, settings: FeedSettings) -> None:
        self.settings = settings

    def headers(self) -> dict[str, str]:
        return {}

    def client(self, stop: threading.Event | None = None) -> FeedClient:
        s = self.settings
        return FeedClient(
            timeout=s.timeout, max_retries=s.max_retries, retry_backoff=s.retry_backoff,
            max_retry_after=s.max_retry_after, pause=self.pause, headers=self.headers(), stop=stop,
        )

    def fetch_day(self, client: FeedClient, day: datetime.date) -> Day:  # pragma: no cover - interface
        raise NotImplementedError
