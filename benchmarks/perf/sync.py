"""How long `rag sync` takes: a month of the Hugging Face daily papers and a week of one arXiv category,
served by the tests' local replay server (tests/fixtures/feeds.py), split into fetching and indexing.

    python -m benchmarks.perf.sync [--hf-month 2023-12] [--category cs.LG --week-from 2025-10-06]

The server replays ../shared/data/hf-daily (the API's own records) and ../shared/data/arxiv/sample_5000.jsonl
(as Atom) on 127.0.0.1, in this process. Each case is the real command, `python -m rag.cli sync ... --json -q`,
run as a child process on a fresh RAG_HOME (MiniLM, the default embedder; RAG_CORPUS_AUTO_INDEX=false) and
timed from outside; its JSON report gives the papers, the requests, and the split:

    fetch s    time in requests, waits and parsing (SyncReport.fetch_seconds). The sync fetches one day
               ahead on a thread while the day before is indexed, so this overlaps the indexing
    index s    embedding and writing (SyncReport.index_seconds)
    sync s     the whole sync (SyncReport.seconds); the process's wall time adds start-up and the model load

Then the same command again (everything is done already: no request, nothing added), and the same days
fetched alone in this process (the feed's own `fetch_day`, nothing indexed): fetching with no embedding
competing for the cores. arXiv asks for 3 s between requests (RAG_FEEDS_ARXIV_PAUSE); against the local
server the pause is set to 0, and what it would add is reported as requests x 3 s (an upper bound: the
waits overlap the indexing). Figures go to benchmarks/results/perf/sync[-TAG].json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, add_results_arguments, write_results

REAL_ARXIV_PAUSE = 3.0  # seconds, what arXiv asks for (rag.settings.FeedSettings.arxiv_pause's default)


def run_sync(home: Path, server_url: str, feed_args: list[str]) -> dict:
    """`rag sync <feed_args> --json -q` as a child process on ``home``: its report, wall time and load."""
    env = {**os.environ, "RAG_HOME": str(home), "RAG_FEEDS_HF_URL": server_url, "RAG_FEEDS_ARXIV_URL": server_url,
           "RAG_FEEDS_ARXIV_PAUSE": "0", "RAG_CORPUS_AUTO_INDEX": "false", "HF_HUB_OFFLINE": "1"}
    line = [sys.executable, "-m", "rag.cli", "sync", *feed_args, "--json", "-q"]
    load = os.getloadavg()[0]
    began = time.perf_counter()
    done = subprocess.run(line, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"rag sync exited {done.returncode}:\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "command": "rag sync " + " ".join(feed_args) + " --json -q",
        "papers_added": report["added"],
        "records_fetched": report["fetched"],
        "requests": report["requests"],
        "failed_days": len(report["failed_days"]),
        "fetch_s": round(report["fetch_seconds"], 2),
        "index_s": round(report["index_seconds"], 2),
        "sync_s": round(report["seconds"], 2),
        "process_wall_s": round(wall, 2),
        "load_average": {"before": round(load, 2), "after": round(os.getloadavg()[0], 2)},
    }


def fetch_alone(server_url: str, name: str, first: datetime.date, last: datetime.date) -> dict:
    """The days fetched and parsed by the feed itself, nothing indexed."""
    from rag.feeds.report import days_between
    from rag.feeds.sync import make_feed
    from rag.settings import FeedSettings, Settings

    settings = Settings(home=Path(tempfile.gettempdir()), feeds=FeedSettings(hf_url=server_url, arxiv_url=server_url, arxiv_pause=0.0))
    feed = make_feed(settings, name)
    records = 0
    began = time.perf_counter()
    with feed.client() as client:
        for day in days_between(first, last):
            records += feed.fetch_day(client, day).fetched
        requests = client.requests
    return {"records": records, "requests": requests, "s": round(time.perf_counter() - began, 3)}


def case(server_url: str, name: str, feed_args: list[str], first: datetime.date, last: datetime.date) -> dict:
    with tempfile.TemporaryDirectory(prefix="rag-sync-bench-") as folder:
        home = Path(folder)
        first_run = run_sync(home, server_url, feed_args)
        print(f"{first_run['command']}: {first_run}", flush=True)
        again = run_sync(home, server_url, feed_args)
        print(f"  again: {again}", flush=True)
    alone = fetch_alone(server_url, name, first, last)
    print(f"  fetched alone: {alone}", flush=True)
    return {"feed": name, "days": (last - first).days + 1, "first_day": first.isoformat(), "last_day": last.isoformat(),
            "first_run": first_run, "second_run": again, "fetch_alone": alone}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hf-month", default="2023-12", help="a month ../shared/data/hf-daily holds (2023-12: 293 papers)")
    parser.add_argument("--category", default="cs.LG", help="the arXiv category")
    parser.add_argument("--week-from", default="2025-10-06", help="first day of the arXiv week (the sample holds 2025-03 to 2026-07)")
    add_results_arguments(parser)
    args = parser.parse_args()

    from tests.fixtures.feeds import FeedServer  # the tests' replay server (stdlib http.server, run from the root)

    month_first = datetime.date.fromisoformat(args.hf_month + "-01")
    month_last = (month_first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1) - datetime.timedelta(days=1)
    week_first = datetime.date.fromisoformat(args.week_from)
    week_last = week_first + datetime.timedelta(days=6)

    with FeedServer(hf_months=[args.hf_month]) as server:
        hf = case(server.url, "hf-daily", ["hf-daily", "--from", month_first.isoformat(), "--to", month_last.isoformat()],
                  month_first, month_last)
        arxiv = case(server.url, f"arxiv:{args.category}",
                     ["arxiv", "--category", args.category, "--from", week_first.isoformat(), "--to", week_last.isoformat()],
                     week_first, week_last)
    arxiv["real_pause_would_add_s"] = {"requests": arxiv["first_run"]["requests"], "pause_s": REAL_ARXIV_PAUSE,
                                       "at_most_s": arxiv["first_run"]["requests"] * REAL_ARXIV_PAUSE}

    figures = {"server": "tests/fixtures/feeds.py FeedServer on 127.0.0.1, in the benchmark's process",
               "arxiv_pause_s": 0.0, "embedder": "minilm", "hf_daily_month": hf, "arxiv_week": arxiv}
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; arXiv pause 0 s (the real 3 s would add "
          f"up to {arxiv['real_pause_would_add_s']['at_most_s']:.0f} s)\n")
    print("| run | papers | requests | fetch s | index s | sync s | process s | load |\n|---|---|---|---|---|---|---|---|")
    for result in (hf, arxiv):
        for label, run in (("first", result["first_run"]), ("again", result["second_run"])):
            print(f"| `{run['command']}` ({label}) | {run['papers_added']} | {run['requests']} | {run['fetch_s']} | "
                  f"{run['index_s']} | {run['sync_s']} | {run['process_wall_s']} | {run['load_average']['before']} |")
        print(f"| {result['feed']} fetched alone | {result['fetch_alone']['records']} records | {result['fetch_alone']['requests']} | "
              f"{result['fetch_alone']['s']} | | | | |")
    write_results("sync", figures, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
