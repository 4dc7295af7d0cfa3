"""Live paper feeds: `rag sync` keeps the index current with the Hugging Face daily papers and arXiv.

    assistant.sync(["hf-daily", "arxiv:cs.LG"], "2024-06-01", "2024-06-30")   # a SyncReport
    assistant.sync()              # every feed in the settings, from where each stopped up to today

| module | what |
|---|---|
| `http` | requests over httpx: retries with backoff, Retry-After, a pause between requests, bounded bodies |
| `base` | what a feed is: a name, its client, one day of papers (`DayFailed` when it did not all arrive) |
| `hf_daily` | ``/api/daily_papers?date=&p=&limit=``, paged, JSON in the shape `rag ingest` reads |
| `arxiv` | ``/api/query?search_query=cat:... AND submittedDate:[...]``, paged by ``totalResults``; Atom via defusedxml |
| `categories` | arXiv's category names, so a misspelt one is refused up front |
| `merge` | a feed's record completed by the stored paper (categories joined, earliest date, upvotes and links) |
| `state` | per feed, the days done and failed, written atomically after each day is indexed; the last runs |
| `locks` | one sync per index; an embedded store written by one process only |
| `sync` | the days to fetch, fetched a day ahead, merged, ingested, marked done |
| `schedule` | every N hours: `rag sync --every`, `rag ui`'s background sync |
| `report` | `SyncReport` (what `rag sync --json` prints), days and dates |

The layer sits on `rag.ingest` (`Indexer.ingest_records`) and under `rag.assistant` (`Assistant.sync`).
"""

from rag.feeds.report import SyncReport
from rag.feeds.state import SyncStatus

__all__ = ["SyncReport", "SyncStatus"]
