"""arXiv, one category at a time: ``GET {base}/api/query?search_query=cat:C AND submittedDate:[D0000 TO D2359]
&start=N&max_results=M`` (https://info.arxiv.org/help/api/user-manual.html).

The answer is an Atom feed: ``opensearch:totalResults`` says how many entries the query has, and a day is
read page by page until that many arrived. It is parsed with defusedxml and no DTD allowed, so entity
tricks (billion laughs, external entities) are refused rather than expanded. arXiv asks for 3 s between
requests (``RAG_FEEDS_ARXIV_PAUSE``). Entry ids carry a version (``.../abs/2401.01234v2``): the paper's id
is the version-less arXiv id, so a paper seen here and in the daily papers (or a dump) is one paper.
"""

from __future__ import annotations

import datetime
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from rag.corpus.records import paper_or_skip
from rag.feeds.base import Day, DayFailed, Feed
from rag.feeds.categories import check_category
from rag.feeds.http import FeedClient, FetchFailed
from rag.settings import FeedSettings
from rag.types import Skipped

ATOM = "{http://www.w3.org/2005/Atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
ARXIV = "{http://arxiv.org/schemas/atom}"
MAX_PAGES = 200
EMPTY_PAGE_RETRIES = 3  # arXiv now and then answers a page with no entries though more remain


class Arxiv(Feed):
    def __init__(self, settings: FeedSettings, category: str) -> None:
        super().__init__(settings)
        self.category = check_category(category)
        self.name = f"arxiv:{self.category}"
        self.pause = settings.arxiv_pause

    def fetch_day(self, client: FeedClient, day: datetime.date) -> Day:
        stamp = day.strftime("%Y%m%d")
        params = {
            "search_query": f"cat:{self.category} AND submittedDate:[{stamp}0000 TO {stamp}2359]",
            "sortBy": "submittedDate",
            "sortOrder": "ascending",
            "max_results": self.settings.arxiv_page_size,
        }
        out, start, empty = Day(), 0, 0
        while out.pages < MAX_PAGES:
            try:
                body = client.get(f"{self.settings.arxiv_url}/api/query", {**params, "start": start})
            except FetchFailed as exc:
                raise DayFailed(f"page {out.pages + 1}: {exc}") from None
            total, entries = parse_page(body, out.pages + 1)
            out.pages += 1
            out.fetched += len(entries)
            for i, entry in enumerate(entries):
                where = f"{self.name} {day} #{start + i + 1}"
                out.records.append((entry_paper(entry, where), where))
            start += len(entries)
            if start >= total:
                return out
            if not entries:
                empty += 1
                if empty > EMPTY_PAGE_RETRIES:
                    raise DayFailed(f"arXiv sent no entries from {start} of {total}, {empty} times; the next run tries again")
        raise DayFailed(f"more than {MAX_PAGES} pages: is RAG_FEEDS_ARXIV_URL the arXiv API?")


def parse_page(body: bytes, page: int) -> tuple[int, list[Element]]:
    """(totalResults, the entries) of one Atom page; `DayFailed` when it is not one, or is arXiv's error feed."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise DayFailed(f"page {page}: refused XML ({type(exc).__name__}: a DTD or entities in an Atom feed)") from None
    except (ParseError, ValueError) as exc:
        raise DayFailed(f"page {page}: the answer is not well-formed XML ({str(exc)[:120]})") from None
    if root.tag != f"{ATOM}feed":
        raise DayFailed(f"page {page}: not an Atom feed (<{root.tag[:60]}>): is RAG_FEEDS_ARXIV_URL the arXiv API?")
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:  # arXiv answers a bad query with one entry whose id is an error page
        if "/api/errors" in _text(entry, f"{ATOM}id"):
            raise DayFailed(f"the arXiv API refused the query: {_text(entry, f'{ATOM}summary')[:200]}")
    total_text = _text(root, f"{OPENSEARCH}totalResults")
    try:
        total = int(total_text)
    except ValueError:
        raise DayFailed(f"page {page}: no opensearch:totalResults in the feed ({total_text[:20]!r})") from None
    return total, entries


def entry_paper(entry: Element, where: str):
    """One Atom entry as a `Paper` (the record mapping every corpus shares), or why it can't be one."""
    entry_id = _text(entry, f"{ATOM}id")
    if not entry_id:
        return Skipped(location=where, reason="an entry without an id")
    primary = entry.find(f"{ARXIV}primary_category")
    record = {
        "id": entry_id,  # http://arxiv.org/abs/2401.01234v2: the id is taken from it, version dropped
        "title": _text(entry, f"{ATOM}title"),
        "abstract": _text(entry, f"{ATOM}summary"),
        "authors": [_text(a, f"{ATOM}name") for a in entry.findall(f"{ATOM}author") if _text(a, f"{ATOM}name")],
        "published": _text(entry, f"{ATOM}published"),
        "categories": [c.get("term", "") for c in entry.findall(f"{ATOM}category") if c.get("term")],
        "primary_category": primary.get("term") if primary is not None else None,
    }
    return paper_or_skip(record, where)


def _text(element: Element, tag: str) -> str:
    found = element.find(tag)
    return (found.text or "").strip() if found is not None else ""
