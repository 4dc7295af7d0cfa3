"""`Assistant.sync` against a local server replaying the real feeds (tests/fixtures/feeds.py): days and pages,
faults and retries, state and resumption, one paper from two feeds. The hashing embedder keeps it fast."""

from __future__ import annotations

import json

import pytest

from rag import Settings
from rag.feeds.locks import SyncBusy, sync_lock
from rag.feeds.state import SyncState
from tests.fixtures.assistants import index_state
from tests.fixtures.feeds import FeedServer, Fault, feed_settings, hf_days

JAN = hf_days(["2024-01"])


def ids_of(*days: str) -> set[str]:
    return {r["paper"]["id"] for day in days for r in JAN.get(day, [])}


def on_day(date: str):
    return lambda request: request.params.get("date") == date


@pytest.fixture
def jan_server():
    with FeedServer(hf_months=["2024-01"]) as server:
        yield server


@pytest.fixture
def synced(new_assistant, jan_server):
    """An assistant whose feeds point at ``jan_server``, pages of 5 daily papers."""
    return new_assistant("home", feeds=feed_settings(jan_server, hf_page_size=5))


def test_a_range_of_days_is_fetched_page_by_page_and_indexed(synced, jan_server):
    report = synced.sync(["hf-daily"], "2024-01-01", "2024-01-05")
    wanted = ids_of("2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05")
    assert report.added == len(wanted) == synced.count() == report.fetched
    assert not report.failed_days and not report.skipped and not report.stopped
    assert {p.paper_id for p in synced.papers(limit=100)} == wanted
    # 2024-01-02 lists 16 papers: pages p=0..3 of 5; 2024-01-01 lists 5, so a second, empty page ends it.
    assert [r.params["p"] for r in jan_server.hf_requests("2024-01-02")] == ["0", "1", "2", "3"]
    assert all(r.params["limit"] == "5" for r in jan_server.hf_requests())
    assert report.requests == len(jan_server.requests)
    state = SyncState(synced.settings)
    assert state.done("hf-daily") == {f"2024-01-0{d}" for d in range(1, 6)}
    # Upvotes and links kept as metadata, read back as they were listed.
    record = next(r["paper"] for r in JAN["2024-01-02"] if r["paper"]["id"] == "2401.00368")
    paper = synced.paper("2401.00368")
    assert paper.upvotes == record["upvotes"] and paper.links == {"github": record["githubRepo"]}
    assert paper.url == "https://arxiv.org/abs/2401.00368" and paper.date == record["publishedAt"][:10]


def test_a_second_run_fetches_nothing_and_a_refresh_adds_nothing(synced, jan_server):
    synced.sync(["hf-daily"], "2024-01-04", "2024-01-05")
    before, requests = index_state(synced), len(jan_server.requests)
    again = synced.sync(["hf-daily"], "2024-01-04", "2024-01-05")
    assert (again.added, again.updated, again.requests, again.fetched) == (0, 0, 0, 0)
    assert len(jan_server.requests) == requests
    refreshed = synced.sync(["hf-daily"], "2024-01-04", "2024-01-05", refresh=True)
    assert refreshed.added == refreshed.updated == 0 and refreshed.unchanged == len(ids_of("2024-01-04", "2024-01-05"))
    assert index_state(synced) == before


def test_a_new_upvote_count_is_written_in_place_without_embedding(synced, jan_server):
    synced.sync(["hf-daily"], "2024-01-02", "2024-01-02")
    paper = next(r["paper"] for r in jan_server.hf["2024-01-02"] if r["paper"]["id"] == "2401.00368")
    old_hash = synced.store.hashes(["2401.00368"])["2401.00368"]
    paper["upvotes"] += 100
    paper.pop("githubRepo")
    paper["projectPage"] = "https://example.org/e5"
    report = synced.sync(["hf-daily"], "2024-01-02", "2024-01-02", refresh=True)
    assert (report.added, report.updated, report.refreshed) == (0, 0, 1)
    stored = synced.paper("2401.00368")
    assert stored.upvotes == paper["upvotes"] and stored.links == {"project": "https://example.org/e5"}
    assert synced.store.hashes(["2401.00368"])["2401.00368"] == old_hash


def test_429_waits_for_retry_after(synced, jan_server):
    jan_server.script(Fault(status=429, headers={"Retry-After": "1"}), when=on_day("2024-01-04"))
    report = synced.sync(["hf-daily"], "2024-01-04", "2024-01-04")
    assert not report.failed_days and report.added == len(ids_of("2024-01-04"))
    first, second = jan_server.hf_requests("2024-01-04")[:2]
    assert first.answered == "fault 429" and second.answered == "ok"
    assert second.at - first.at >= 1.0  # the wait the server asked for, not the 0.01 s backoff


def test_a_retry_after_longer_than_allowed_fails_the_day_at_once(new_assistant, jan_server):
    assistant = new_assistant("home", feeds=feed_settings(jan_server, max_retry_after=5))
    jan_server.script(Fault(status=429, headers={"Retry-After": "3600"}), when=on_day("2024-01-04"))
    report = assistant.sync(["hf-daily"], "2024-01-04", "2024-01-05")
    assert len(report.failed_days) == 1 and "Retry-After" in report.failed_days[0] and "RAG_FEEDS_MAX_RETRY_AFTER" in report.failed_days[0]
    assert len(jan_server.hf_requests("2024-01-04")) == 1 and report.added == len(ids_of("2024-01-05"))


@pytest.mark.parametrize("fault", [Fault(status=500), Fault(status=503), Fault(cut=True)], ids=["500", "503", "cut body"])
def test_a_failed_request_is_retried(synced, jan_server, fault):
    jan_server.script(fault, when=on_day("2024-01-02"))
    report = synced.sync(["hf-daily"], "2024-01-02", "2024-01-02")
    assert not report.failed_days and report.added == len(ids_of("2024-01-02"))
    answered = [r.answered for r in jan_server.hf_requests("2024-01-02")]
    assert answered[0] in ("fault 500", "fault 503", "cut") and answered[1:] == ["ok"] * 4


def test_a_day_that_keeps_failing_is_reported_and_picked_up_by_the_next_run(synced, jan_server):
    # Page 2 of 2024-01-02 fails every try (1 + 2 retries): the day is not marked done, nor half-indexed.
    jan_server.script(*[Fault(status=502)] * 3, when=lambda r: r.params.get("date") == "2024-01-02" and r.params.get("p") == "1")
    report = synced.sync(["hf-daily"], "2024-01-01", "2024-01-03")
    assert report.failed_days == ["hf-daily 2024-01-02: page 2: HTTP 502 (3 tries)"]
    assert report.added == len(ids_of("2024-01-01", "2024-01-03")) == synced.count()
    state = SyncState(synced.settings)
    assert state.done("hf-daily") == {"2024-01-01", "2024-01-03"} and "2024-01-02" in state.failed("hf-daily")
    # The same command again fetches only the day that failed.
    jan_server.requests.clear()
    again = synced.sync(["hf-daily"], "2024-01-01", "2024-01-03")
    assert not again.failed_days and again.added == len(ids_of("2024-01-02"))
    assert {r.params["date"] for r in jan_server.requests} == {"2024-01-02"}
    assert state.failed("hf-daily") == {} and "2024-01-02" in state.done("hf-daily")


@pytest.mark.parametrize("body", [b"{not json", b'{"error": "down for maintenance"}', b"\xff\xfe garbage"],
                         ids=["broken", "an object", "not text"])
def test_malformed_json_fails_the_day_and_the_rest_goes_in(synced, jan_server, body):
    jan_server.script(Fault(body=body), when=on_day("2024-01-03"))
    report = synced.sync(["hf-daily"], "2024-01-03", "2024-01-04")
    assert len(report.failed_days) == 1 and report.failed_days[0].startswith("hf-daily 2024-01-03: page 1:")
    assert report.added == len(ids_of("2024-01-04"))


def test_records_that_cant_be_read_are_skipped_by_where_they_were(synced, jan_server):
    day = jan_server.hf["2024-01-04"]
    day[1]["paper"]["summary"] = ""
    day[2] = "not a paper"
    report = synced.sync(["hf-daily"], "2024-01-04", "2024-01-04")
    assert report.skipped == ["hf-daily 2024-01-04 page 1 #2: no abstract", "hf-daily 2024-01-04 page 1 #3: expected an object, got str"]
    assert report.added == len(day) - 2 and not report.failed_days
    assert "2024-01-04" in SyncState(synced.settings).done("hf-daily")  # a bad record is no reason to fetch again


def test_a_token_goes_to_the_daily_papers_only_and_is_never_reported(new_assistant, jan_server, caplog, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    caplog.set_level("DEBUG")
    assistant = new_assistant("home", feeds=feed_settings(jan_server, hf_token="hf_s3cret"))
    jan_server.script(Fault(status=500), when=on_day("2024-01-04"))
    report = assistant.sync(["hf-daily", "arxiv:cs.LG"], "2024-01-04", "2024-01-04")
    assert all(r.headers.get("authorization") == "Bearer hf_s3cret" for r in jan_server.hf_requests())
    assert all("authorization" not in r.headers for r in jan_server.arxiv_requests())
    assert "hf_s3cret" not in report.model_dump_json() + caplog.text + repr(assistant.settings)


def test_the_general_hf_token_is_not_sent_to_a_mirror(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_TOKEN", "hf_general")
    assert Settings.test_profile(tmp_path, feeds={"hf_url": "http://127.0.0.1:9"}).feeds.hf_token.get_secret_value() == ""
    assert Settings.test_profile(tmp_path).feeds.hf_token.get_secret_value() == "hf_general"


def test_one_sync_of_an_index_at_a_time(synced):
    with sync_lock(synced.settings):
        with pytest.raises(SyncBusy, match="Another sync of this index is running"):
            synced.sync(["hf-daily"], "2024-01-04", "2024-01-04")
    assert synced.sync(["hf-daily"], "2024-01-04", "2024-01-04").added > 0


def test_a_stop_ends_the_run_and_the_next_carries_on(new_assistant):
    import threading

    with FeedServer(hf_months=["2024-01"], delay=0.2) as server:
        assistant = new_assistant("home", feeds=feed_settings(server))
        stop = threading.Event()
        seen: list[str] = []

        def stop_after_two(feed, day, what):
            seen.append(str(day))
            if len(seen) == 2:
                stop.set()

        report = assistant.sync(["hf-daily"], "2024-01-01", "2024-01-08", stop=stop, on_day=stop_after_two)
        assert report.stopped and seen == ["2024-01-01", "2024-01-02"]
        assert SyncState(assistant.settings).done("hf-daily") == {"2024-01-01", "2024-01-02"}
        rest = assistant.sync(["hf-daily"], "2024-01-01", "2024-01-08")
        assert not rest.stopped and rest.feeds[0].days == 6
        assert assistant.count() == len(ids_of(*[f"2024-01-0{d}" for d in range(1, 9)]))


def test_the_state_file_is_json_written_whole(synced):
    synced.sync(["hf-daily"], "2024-01-04", "2024-01-05")
    state = SyncState(synced.settings)
    data = json.loads(state.path.read_text())
    assert data["feeds"]["hf-daily"]["done"] == ["2024-01-04", "2024-01-05"]
    assert data["runs"][-1]["added"] == len(ids_of("2024-01-04", "2024-01-05"))
    assert not list(state.path.parent.glob("*.tmp"))
    status = synced.sync_status()
    assert status.through == {"hf-daily": "2024-01-05"} and status.last_added == data["runs"][-1]["added"]
    # The newest 20 of the 21 papers added (the last listed on the last day first).
    assert len(status.recent_new) == 20 and {pid for pid, _ in status.recent_new} < ids_of("2024-01-04", "2024-01-05")
    assert status.recent_new[0][0] == JAN["2024-01-05"][-1]["paper"]["id"]


def test_an_unreadable_state_file_is_set_aside_and_the_feeds_start_over(synced):
    state = SyncState(synced.settings)
    state.path.parent.mkdir(parents=True, exist_ok=True)
    state.path.write_text('{"version": 1, "feeds": {"hf-daily": {"done": ["2024-01')
    report = synced.sync(["hf-daily"], "2024-01-04", "2024-01-04")
    assert report.added > 0 and state.done("hf-daily") == {"2024-01-04"}
    assert len(list(state.path.parent.glob("*.unreadable-*"))) == 1


# --- arXiv ------------------------------------------------------------------------------------------------------


def test_arxiv_days_are_paged_to_total_results_with_the_pause_between_requests(new_assistant):
    with FeedServer() as server:
        assistant = new_assistant("home", feeds=feed_settings(server, arxiv_page_size=3, arxiv_pause=0.3))
        report = assistant.sync(["arxiv:cs.LG"], "2025-11-20", "2025-11-21")
        listed = {r["id"] for r in server.arxiv if "cs.LG" in r["categories"] and r["listing_date"] in ("2025-11-20", "2025-11-21")}
        assert report.added == len(listed) == 12 and not report.failed_days
        # 4 + 8 papers in pages of 3: starts 0, 3 on the first day; 0, 3, 6 on the second.
        assert [r.params["start"] for r in server.arxiv_requests()] == ["0", "3", "0", "3", "6"]
        assert server.arxiv_requests()[0].params["search_query"] == "cat:cs.LG AND submittedDate:[202511200000 TO 202511202359]"
        times = [r.at for r in server.arxiv_requests()]
        assert all(b - a >= 0.25 for a, b in zip(times, times[1:]))  # 0.3 s apart as sent; arrival jitters a little
        paper = assistant.paper(sorted(listed)[0])
        assert paper.categories and "cs.LG" in paper.categories and paper.url.startswith("https://arxiv.org/abs/")
        assert "v1" not in paper.paper_id


@pytest.mark.parametrize("body, reason", [
    (b"<feed xmlns='http://www.w3.org/2005/Atom'><entry>", "not well-formed XML"),
    (b"<html><body>Service unavailable</body></html>", "not an Atom feed"),
    (b"<feed xmlns='http://www.w3.org/2005/Atom'></feed>", "no opensearch:totalResults"),
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
     b"<feed xmlns='http://www.w3.org/2005/Atom'><title>&lol2;</title></feed>", "refused XML"),
    (b"<feed xmlns='http://www.w3.org/2005/Atom' xmlns:opensearch='http://a9.com/-/spec/opensearch/1.1/'>"
     b"<opensearch:totalResults>1</opensearch:totalResults><entry><id>http://arxiv.org/api/errors#incorrect_id</id>"
     b"<summary>incorrect id format for 1234.12345</summary></entry></feed>", "the arXiv API refused the query: incorrect id format"),
], ids=["cut", "html", "no total", "entities", "api error"])
def test_malformed_atom_fails_the_day_and_is_never_expanded(new_assistant, body, reason):
    with FeedServer() as server:
        server.script(Fault(body=body), when=lambda r: "202511200000" in r.params.get("search_query", ""))
        assistant = new_assistant("home", feeds=feed_settings(server))
        report = assistant.sync(["arxiv:cs.LG"], "2025-11-20", "2025-11-21")
        assert len(report.failed_days) == 1 and report.failed_days[0].startswith("arxiv:cs.LG 2025-11-20:")
        assert reason in report.failed_days[0]
        assert report.added == 8  # 2025-11-21 went in


def test_the_same_paper_from_both_feeds_is_one_paper_whatever_the_order(new_assistant):
    with FeedServer(hf_months=["2025-11"]) as server:
        orders = {"hf first": ["hf-daily", "arxiv:cs.LG"], "arxiv first": ["arxiv:cs.LG", "hf-daily"]}
        results = {}
        for name, order in orders.items():
            assistant = new_assistant(name.replace(" ", "-"), feeds=feed_settings(server))
            for feed in order:
                assistant.sync([feed], "2025-11-21", "2025-11-21")
            both = assistant.paper("2511.14865")
            results[name] = (assistant.count(), both, assistant.store.hashes(["2511.14865"]))
        hf_ids = {r["paper"]["id"] for r in server.hf["2025-11-21"]}
        arxiv_ids = {r["id"] for r in server.arxiv if "cs.LG" in r["categories"] and r["listing_date"] == "2025-11-21"}
        assert "2511.14865" in hf_ids & arxiv_ids
        for count, paper, _ in results.values():
            assert count == len(hf_ids | arxiv_ids)  # the shared paper once
            # What each feed knows: arXiv's category, the daily papers' upvotes, the earlier date of the two.
            assert paper.categories == ["cs.LG"] and paper.upvotes == 5 and paper.date == "2025-11-18"
        assert results["hf first"][2] == results["arxiv first"][2]  # the same paper, hash and all
