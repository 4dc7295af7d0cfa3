"""The Hugging Face daily papers: ``GET {base}/api/daily_papers?date=YYYY-MM-DD&p=N&limit=M``.

Each day's list is JSON, a list of ``{"paper": {"id", "title", "summary", "authors", "publishedAt",
"submittedOnDailyAt", "upvotes", "githubRepo", "projectPage", ...}, ...}``: the shape `rag ingest` reads
from the daily-papers dumps, mapped by the same code (`rag.corpus.records`), upvotes and links included.
A day longer than a page (``limit``) is read page by page (``p`` from 0) until a page comes back short.
"""

from __future__ import annotations

import datetime
import json

from rag.corpus.records import paper_or_skip
from rag.feeds.base import Day, DayFailed, Feed
from rag.feeds.http import FeedClient, FetchFailed

MAX_PAGES = 100  # 10,000 papers at 100 a page: far past any real day; a server that never ends a day stops here


class HFDaily(Feed):
    name = "hf-daily"

    def headers(self) -> dict[str, str]:
        token = self.settings.hf_token.get_secret_value()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def fetch_day(self, client: FeedClient, day: datetime.date) -> Day:
        url = f"{self.settings.hf_url}/api/daily_papers"
        size = self.settings.hf_page_size
        out = Day()
        seen: set[str] = set()
        for page in range(MAX_PAGES):
            try:
                body = client.get(url, {"date": day.isoformat(), "p": page, "limit": size})
            except FetchFailed as exc:
                raise DayFailed(f"page {page + 1}: {exc}") from None
            items = _papers(body, page)
            out.pages += 1
            out.fetched += len(items)
            fresh = 0
            for i, item in enumerate(items):
                where = f"hf-daily {day} page {page + 1} #{i + 1}"
                key = _key(item, where)
                fresh += key not in seen
                seen.add(key)
                out.records.append((paper_or_skip(item, where), where))
            # A short page ends the day; so does a full page of papers already seen (a server that ignores
            # `p` would otherwise be paged for ever).
            if len(items) < size or not fresh:
                return out
        raise DayFailed(f"more than {MAX_PAGES} pages of {size}: is RAG_FEEDS_HF_URL the daily papers API?")


def _papers(body: bytes, page: int) -> list:
    try:
        items = json.loads(body)
    except ValueError as exc:  # UnicodeDecodeError is one too
        raise DayFailed(f"page {page + 1}: the answer is not JSON ({str(exc)[:120]})") from None
    if not isinstance(items, list):
        raise DayFailed(
            f"page {page + 1}: expected a list of papers, got a JSON {type(items).__name__} "
            "(is RAG_FEEDS_HF_URL the daily papers API?)"
        )
    return items


def _key(item: object, where: str) -> str:
    paper = item.get("paper") if isinstance(item, dict) else None
    given = paper.get("id") if isinstance(paper, dict) else None
    return given if isinstance(given, str) else where
