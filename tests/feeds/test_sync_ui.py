"""The chat and the feeds: `rag ui`'s background sync (RAG_FEEDS_EVERY) while questions are answered, and the
header's status line (when the feeds last synced, what came in), escaped like every corpus text."""

from __future__ import annotations

import datetime
import time

import pytest

from rag.feeds.state import SyncStatus
from tests.fixtures.feeds import FeedServer, feed_settings, hf_days
from tests.fixtures.files import BUNDLED
from tests.fixtures.servers import serve_app
from ui import render
from ui.handlers import Handlers

NOW = datetime.datetime(2024, 6, 3, 12, 0, tzinfo=datetime.timezone.utc)


def test_the_status_line_says_when_and_what_and_escapes_titles():
    status = SyncStatus(last_run="2024-06-03T10:00:00+00:00", last_added=2, last_failed_days=1,
                        recent_new=[("2406.00001", "<img src=x onerror=alert(1)> Attention & more"), ("2406.00002", "Plain")])
    html = render.sync_status(status, now=NOW)
    assert "Feeds synced 2 hours ago: 2 new papers, 1 day to retry" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt; Attention &amp; more" in html
    assert "<li>Plain</li>" in html and "2024-06-03T10:00:00+00:00" in html
    assert render.sync_status(SyncStatus(last_run="2024-06-03T11:59:30+00:00"), now=NOW).count("just now: 0 new papers") == 1
    assert render.sync_status(SyncStatus(), now=NOW) == "" and render.sync_status(None) == ""
    assert render.header(67, None).endswith("67 papers indexed</span></div>")  # no feeds: the header as it was


@pytest.mark.slow
def test_rag_ui_syncs_in_the_background_and_answers_meanwhile(new_assistant):
    from gradio_client import Client

    days = ["2024-01-08", "2024-01-09", "2024-01-10"]
    with FeedServer(hf_months=["2024-01"], today_is=days[-1]) as server:
        assistant = new_assistant("home", corpus=[BUNDLED], feeds=feed_settings(server, every=3600, backfill_days=3))
        handlers = Handlers(assistant)
        assert "Feeds synced" not in handlers.header()
        server.hold()  # the sync waits on its first request while a question is asked
        demo, url = serve_app(assistant)
        try:
            schedule = demo.rag_schedule
            deadline = time.monotonic() + 60
            while not server.requests and time.monotonic() < deadline:
                time.sleep(0.05)
            assert schedule.running.is_set()
            answer = Client(url, verbose=False).predict("How does online dictionary learning converge?", api_name="/ask")
            assert answer["citations"] and not answer["refused"] and schedule.running.is_set()
            server.release()
            while schedule.runs == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert schedule.runs == 1 and not schedule.running.is_set()
        finally:
            demo.rag_schedule.stop()
            demo.close()
        listed = [r["paper"] for day in days for r in hf_days(["2024-01"])[day]]
        assert assistant.count() == 67 + len({p["id"] for p in listed})
        header = handlers.header()
        assert f"{67 + len({p['id'] for p in listed})} papers indexed" in header
        assert f"Feeds synced just now: {len({p['id'] for p in listed})} new papers" in header
        assert render.text(assistant.paper(listed[-1]["id"]).title) in header  # the newest paper is listed
        assert {r.params["date"] for r in server.hf_requests()} == {
            (datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=n)).isoformat() for n in range(3)}
