"""`rag sync`: fetch the live feeds' new papers (Hugging Face daily papers, arXiv categories) and index them.

    rag sync hf-daily --from 2024-06-01 [--to 2024-06-30]
    rag sync arxiv --category cs.LG [--category cs.CL] --from 2024-06-01 [--to ...]
    rag sync                      # every feed in the settings, from where each stopped up to today
    rag sync --every 6h           # and again every 6 hours, until Ctrl-C

Exit codes: 0 all went in; 1 some days failed (they are fetched again by the next run); 2 bad input or an
unusable index; 130 interrupted (the days done are kept).
"""

from __future__ import annotations

import argparse
import json
import sys

from pydantic import ValidationError

from rag.assistant import Assistant
from rag.errors import RagError
from rag.feeds.locks import claim_embedded
from rag.feeds.report import SyncReport
from rag.feeds.schedule import Schedule
from rag.feeds.sync import configured_feeds, date_range, make_feed
from rag.settings import Settings, parse_duration

FEEDS = ("hf-daily", "arxiv")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ()))
        variable = "RAG_" + "_".join(str(p) for p in first.get("loc", ())).upper()
        raise RagError(f"The setting {field} ({variable}) is not valid: {first['msg'].removeprefix('Value error, ')}.") from None


def feed_names(args: argparse.Namespace, settings: Settings) -> list[str]:
    """The feeds asked for, every name checked (an unknown category is refused here, before any work)."""
    categories = args.category or []
    if args.feed == "hf-daily" and categories:
        raise RagError("--category is for arxiv: rag sync arxiv --category cs.LG.")
    if args.feed == "arxiv" or (args.feed is None and categories):
        categories = categories or settings.feeds.arxiv_categories
        if not categories:
            raise RagError("Name the arXiv categories to sync: rag sync arxiv --category cs.LG (or set RAG_FEEDS_ARXIV_CATEGORIES).")
        names = [f"arxiv:{c.strip()}" for c in categories]
    elif args.feed == "hf-daily":
        names = ["hf-daily"]
    else:
        names = configured_feeds(settings)
        if not names:
            raise RagError("No feeds are set: name one (rag sync hf-daily) or set RAG_FEEDS_HF_DAILY / RAG_FEEDS_ARXIV_CATEGORIES.")
    for name in names:
        make_feed(settings, name)
    return names


def print_report(report: SyncReport, as_json: bool, show_skipped: int = 20) -> None:
    if as_json:
        print(json.dumps(report.as_json(), ensure_ascii=False), flush=True)
        return
    for run in report.feeds:
        span = f"{run.first_day} … {run.last_day}" if run.days else "nothing new to fetch"
        print(f"{run.feed}: {span}" + (f" ({run.days_done} of {run.days} days in)" if run.days else ""))
        for note in run.notes:
            print(f"  note: {note}")
    for failed in report.failed_days:
        print(f"  failed {failed}")
    for skip in report.skipped[:show_skipped]:
        print(f"  skipped {skip}")
    if len(report.skipped) > show_skipped:
        print(f"  ... and {len(report.skipped) - show_skipped} more skipped (--json lists them all)")
    if report.stopped:
        print("Stopped before the end; the next run carries on.")
    print(report.summary(), flush=True)


def cmd_sync(args: argparse.Namespace) -> int:
    settings = _settings()
    names = feed_names(args, settings)
    date_range(args.date_from, args.date_to)  # a bad date fails here, before the index is opened
    try:
        every = parse_duration(args.every) if args.every else 0.0
    except ValueError as exc:
        raise RagError(f"--every: {exc}.") from None
    if args.every and every <= 0:
        raise RagError("--every needs a positive interval, e.g. 6h, 30m or 1d.")
    if every and (args.date_from or args.date_to):
        raise RagError("--every syncs each feed from where it stopped: leave out --from and --to.")
    claim = claim_embedded(settings, "rag sync", shared=False)
    assistant = Assistant(settings)

    def on_day(feed: str, day, what: str) -> None:
        if not args.quiet:
            print(f"{feed} {day}: {what}", file=sys.stderr, flush=True)

    def run(stop) -> SyncReport:
        return assistant.sync(names, args.date_from, args.date_to, refresh=args.refresh, stop=stop, on_day=on_day)

    try:
        if not every:
            report = run(None)
            print_report(report, args.json)
            return 1 if report.failed_days else 0
        failures: list[bool] = []

        def on_result(result) -> None:
            if isinstance(result, SyncReport):
                print_report(result, args.json)
                failures.append(bool(result.failed_days))
            else:
                print(f"error: {result}", file=sys.stderr, flush=True)
            if not args.quiet:
                print(f"Next sync in {args.every}. Ctrl-C stops.", file=sys.stderr, flush=True)

        Schedule(run, every, on_result).run_forever()
        return 0
    except KeyboardInterrupt:
        message = "Stopped." if every else "Interrupted. The days done are kept; run the same command again to carry on."
        print(f"\n{message}", file=sys.stderr, flush=True)
        return 0 if every else 130
    finally:
        assistant.close()
        claim.release()


def add_parsers(sub) -> None:
    p = sub.add_parser("sync", help="fetch new papers from the Hugging Face daily papers and arXiv, and index them",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("feed", nargs="?", choices=FEEDS, help="which feed (default: every feed in the settings)")
    p.add_argument("--category", action="append", metavar="CAT", help="an arXiv category, e.g. cs.LG (repeatable)")
    p.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="first day (UTC); default: where each feed stopped")
    p.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="last day (default: today)")
    p.add_argument("--refresh", action="store_true", help="fetch days already done again (new upvotes, corrections)")
    p.add_argument("--every", metavar="INTERVAL", help="keep syncing every INTERVAL (6h, 30m, 1d) until Ctrl-C")
    p.add_argument("--json", action="store_true", help="print each run's report as one JSON object, on its last line")
    p.add_argument("-q", "--quiet", action="store_true", help="no line per day on stderr")
    p.set_defaults(func=cmd_sync)
