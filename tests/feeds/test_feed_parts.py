"""The parts of a sync on their own: feed metadata on papers, merging, Retry-After, categories, day plans."""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import json
import time

import pytest

from rag import Paper, Settings
from rag.corpus.records import record_to_paper
from rag.errors import RagError
from rag.feeds.categories import check_category
from rag.feeds.http import retry_after
from rag.feeds.merge import merge
from rag.feeds.report import today
from rag.feeds.state import SyncState
from rag.feeds.sync import plan
from rag.index.chroma import paper_from_record, paper_metadata
from rag.index.paper_extras import extras_changes
from tests.fixtures.feeds import hf_days

PAPER = Paper(paper_id="2401.00001", title="T", abstract="A.", authors=["X"], date="2024-01-02", categories=["cs.LG"], url="u")


def test_a_paper_without_upvotes_or_links_keeps_the_hash_it_had_before_they_existed():
    fields = {"paper_id": "2401.00001", "title": "T", "abstract": "A.", "authors": ["X"], "date": "2024-01-02",
              "categories": ["cs.LG"], "url": "u"}
    before = hashlib.sha1(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    assert PAPER.content_hash() == before
    with_extras = PAPER.model_copy(update={"upvotes": 12, "links": {"github": "https://github.com/a/b"}})
    assert with_extras.content_hash() == before  # upvotes and links are not content


def test_upvotes_and_links_go_through_chroma_metadata_and_back():
    paper = PAPER.model_copy(update={"upvotes": 7, "links": {"github": "https://github.com/a/b", "project": "https://p.org"}})
    meta = paper_metadata(paper, paper.content_hash(), 3)
    assert meta["upvotes"] == 7 and meta["link_github"] == "https://github.com/a/b" and meta["link_project"] == "https://p.org"
    assert all(v is not None and not isinstance(v, dict) for v in meta.values())  # what Chroma can hold
    assert paper_from_record(paper.abstract, meta) == paper
    plain = paper_metadata(PAPER, PAPER.content_hash(), 3)
    assert "upvotes" not in plain and not any(k.startswith("link_") for k in plain)
    assert paper_from_record(PAPER.abstract, plain) == PAPER


def test_only_what_moved_is_written_over_a_stored_record():
    stored = paper_metadata(PAPER.model_copy(update={"upvotes": 3, "links": {"github": "g"}}), "h", 1)
    assert extras_changes(PAPER.model_copy(update={"upvotes": 3, "links": {"github": "g"}}), stored) == {}
    assert extras_changes(PAPER.model_copy(update={"upvotes": 9, "links": {"project": "p"}}), stored) == {
        "upvotes": 9, "link_project": "p", "link_github": None}


def test_the_daily_papers_records_give_upvotes_and_links():
    record = next(r for r in hf_days(["2024-01"])["2024-01-02"] if r["paper"]["id"] == "2401.00368")
    paper = record_to_paper(record)
    assert paper.upvotes == record["paper"]["upvotes"] and paper.links == {"github": record["paper"]["githubRepo"]}
    bad = {"paper": {**record["paper"], "upvotes": "many", "githubRepo": "javascript:alert(1)", "projectPage": None}}
    assert record_to_paper(bad).upvotes is None and record_to_paper(bad).links == {}


def test_merging_keeps_what_each_source_knows_in_either_order():
    hf = PAPER.model_copy(update={"categories": [], "date": "2024-01-01", "upvotes": 5, "links": {"github": "g"}})
    arxiv = PAPER.model_copy(update={"categories": ["cs.LG", "stat.ML"], "date": "2024-01-03"})
    one, other = merge(arxiv, hf), merge(hf, arxiv)
    assert one == other
    assert one.categories == ["cs.LG", "stat.ML"] and one.date == "2024-01-01" and one.upvotes == 5 and one.links == {"github": "g"}
    assert merge(one, one) == one
    assert merge(PAPER.model_copy(update={"date": "2024"}), PAPER).date == "2024-01-02"  # the more precise of the same day


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after("7") == 7.0 and retry_after(" 0 ") == 0.0 and retry_after(None) is None and retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_after(later) <= 31
    assert retry_after(email.utils.formatdate(time.time() - 300, usegmt=True)) == 0.0


def test_categories_are_checked_with_a_suggestion():
    assert check_category("cs.LG") == "cs.LG" and check_category("hep-th") == "hep-th" and check_category("astro-ph.GA")
    with pytest.raises(RagError, match="did you mean cs.LG"):
        check_category("cs.lg")
    with pytest.raises(RagError, match="not an arXiv category"):
        check_category("cs.XYZ AND all:x")


def _days(*offsets: int) -> list[datetime.date]:
    return [today() - datetime.timedelta(days=n) for n in offsets]


def test_a_plan_without_dates_goes_from_where_the_feed_stopped_to_today(tmp_path):
    settings = Settings.test_profile(tmp_path, feeds={"backfill_days": 3, "catch_up_days": 30})
    state = SyncState(settings)
    assert plan(state, "hf-daily", settings, None, None) == (_days(2, 1, 0), [])  # never synced: the backfill
    for day in _days(12, 11, 10):
        state.day_done("hf-daily", day.isoformat(), settled=True)
    state.day_failed("hf-daily", _days(20)[0].isoformat(), "HTTP 500")
    days, notes = plan(state, "hf-daily", settings, None, None)
    assert days == _days(20) + _days(*range(9, -1, -1)) and not notes  # the failed day, then after the last one done


def test_a_feed_far_behind_catches_up_only_so_far_and_says_how_to_get_the_rest(tmp_path):
    settings = Settings.test_profile(tmp_path, feeds={"catch_up_days": 5})
    state = SyncState(settings)
    state.day_done("arxiv:cs.LG", _days(40)[0].isoformat(), settled=True)
    days, notes = plan(state, "arxiv:cs.LG", settings, None, None)
    assert days == _days(4, 3, 2, 1, 0)
    assert notes == [f"arxiv:cs.LG: last synced through {_days(40)[0]}; catching up from {_days(4)[0]} only "
                     f"(RAG_FEEDS_CATCH_UP_DAYS=5). `rag sync` with --from {_days(39)[0]} --to {_days(5)[0]} fetches the rest."]


def test_a_plan_with_dates_skips_the_days_done_unless_refreshing(tmp_path):
    settings = Settings.test_profile(tmp_path)
    state = SyncState(settings)
    state.day_done("hf-daily", "2024-01-02", settled=True)
    first, last = datetime.date(2024, 1, 1), datetime.date(2024, 1, 3)
    assert plan(state, "hf-daily", settings, first, last)[0] == [datetime.date(2024, 1, 1), datetime.date(2024, 1, 3)]
    assert len(plan(state, "hf-daily", settings, first, last, refresh=True)[0]) == 3
    assert plan(state, "hf-daily", settings, today(), today() + datetime.timedelta(days=9))[0] == [today()]  # not past today


def test_recent_days_are_fetched_but_not_marked_done(tmp_path):
    state = SyncState(Settings.test_profile(tmp_path))
    state.day_done("hf-daily", today().isoformat(), settled=False)
    assert state.done("hf-daily") == set()


def test_a_days_fetch_time_leaves_out_the_wait_for_the_day_before_to_be_indexed():
    import threading

    from rag.feeds.base import Day, Feed
    from rag.feeds.sync import _fetched_ahead

    class Instant(Feed):
        name = "instant"

        def fetch_day(self, client, day):
            return Day(fetched=1)

    client = type("Client", (), {"stop": threading.Event()})()
    days = [datetime.date(2024, 1, d) for d in range(1, 5)]
    seconds = []
    for _, outcome, spent in _fetched_ahead(Instant(None), client, days, threading.Event()):
        seconds.append(spent)
        time.sleep(0.3)  # indexing the day: the next two are fetched meanwhile and wait in line
    client.stop.set()
    assert len(seconds) == 4 and max(seconds) < 0.15, seconds  # SyncReport.fetch_seconds: fetching, not waiting
