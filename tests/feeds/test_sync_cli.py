"""`rag sync` as a user runs it: its JSON report, exit codes, bad input, a kill -9 and the run that resumes,
`--every`, and running beside the chat (refused on an embedded store, fine on a Chroma server)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from rag import Assistant, Settings
from rag.cli import main
from rag.feeds.locks import claim_embedded
from rag.feeds.state import SyncState
from tests.fixtures.assistants import index_state, index_state_at
from tests.fixtures.feeds import FeedServer, Fault, hf_days
from tests.fixtures.files import BUNDLED
from tests.fixtures.processes import cli_env, cli_runner, interruptible, kill_ingest_after, start_rag_ui, stop_process
from tests.fixtures.servers import free_port

JAN = hf_days(["2024-01"])
KEYS = {"added", "updated", "unchanged", "skipped", "fetched", "requests", "failed_days"}


def sync_env(home, server: FeedServer, **extra: str) -> dict[str, str]:
    """`cli_env` with the feeds pointed at ``server``, fast (no arXiv pause, short retry waits)."""
    return cli_env(home, RAG_FEEDS_HF_URL=server.url, RAG_FEEDS_ARXIV_URL=server.url, RAG_FEEDS_ARXIV_PAUSE="0",
                   RAG_FEEDS_RETRY_BACKOFF="0.01", RAG_FEEDS_MAX_RETRIES="1", HF_TOKEN="", **extra)


def ids_of(*days: str) -> set[str]:
    return {r["paper"]["id"] for day in days for r in JAN[day]}


@pytest.mark.slow
def test_rag_sync_reports_json_on_its_last_line_and_exits_1_when_a_day_failed(tmp_path):
    with FeedServer(hf_months=["2024-01"]) as server:
        run = cli_runner(sync_env(tmp_path / "home", server))
        server.script(*[Fault(status=500)] * 2, when=lambda r: r.params.get("date") == "2024-01-03")
        first = run("sync", "hf-daily", "--from", "2024-01-01", "--to", "2024-01-04", "--json")
        assert first.returncode == 1, first.stderr
        report = json.loads(first.stdout.strip().splitlines()[-1])
        assert KEYS <= set(report)
        assert report["added"] == report["fetched"] == len(ids_of("2024-01-01", "2024-01-02", "2024-01-04"))
        assert report["failed_days"] == ["hf-daily 2024-01-03: page 1: HTTP 500 (2 tries)"]
        assert report["requests"] == len(server.requests) and report["skipped"] == []
        assert "hf-daily 2024-01-02: 16 papers, 16 new" in first.stderr  # a line per day on stderr

        second = run("sync", "hf-daily", "--from", "2024-01-01", "--to", "2024-01-04", "--json")
        assert second.returncode == 0, second.stderr
        again = json.loads(second.stdout.strip().splitlines()[-1])
        assert (again["added"], again["requests"], again["failed_days"]) == (len(ids_of("2024-01-03")), 1, [])
        plain = run("sync", "hf-daily", "--from", "2024-01-01", "--to", "2024-01-04")
        assert plain.returncode == 0 and "0 added, 0 updated, 0 unchanged, 0 skipped" in plain.stdout
        assert "nothing new to fetch" in plain.stdout


@pytest.mark.parametrize("args, message", [
    (["--from", "2024-02-30"], "--from '2024-02-30' is not a date"),
    (["--from", "yesterday"], "is not a date: write it YYYY-MM-DD"),
    (["--from", "2024-01-05", "--to", "2024-01-01"], "--to 2024-01-01 is before --from 2024-01-05"),
    (["--to", "2024-01-01"], "--to needs --from"),
    (["--from", "2999-01-01"], "is in the future"),
    (["--category", "cs.LG"], "--category is for arxiv"),
    (["--every", "soon"], "'soon' is not a duration"),
    (["--every", "6h", "--from", "2024-01-01"], "leave out --from and --to"),
], ids=["no such day", "not a date", "to before from", "to alone", "future", "category for hf", "bad every", "every with dates"])
def test_bad_input_is_a_clear_error_with_exit_2(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.setenv("RAG_HOME", str(tmp_path / "home"))
    assert main(["sync", "hf-daily", *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "home" / "chroma").exists()  # refused before the index was opened


@pytest.mark.parametrize("args, message", [
    (["arxiv", "--category", "cs.lg", "--from", "2024-01-01"], "'cs.lg' is not an arXiv category; did you mean cs.LG?"),
    (["arxiv", "--from", "2024-01-01"], "Name the arXiv categories to sync"),
], ids=["unknown category", "no category"])
def test_an_unknown_or_missing_category_is_exit_2(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.setenv("RAG_HOME", str(tmp_path / "home"))
    assert main(["sync", *args]) == 2
    assert message in capsys.readouterr().err


def test_an_unknown_feed_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sync", "rss"])
    assert exit_.value.code == 2 and "invalid choice: 'rss'" in capsys.readouterr().err


@pytest.mark.slow
def test_a_sync_killed_mid_run_loses_nothing_and_the_next_run_resumes(tmp_path, new_assistant):
    days = [f"2024-01-{d:02d}" for d in range(1, 13)]
    with FeedServer(hf_months=["2024-01"], delay=0.1) as server:
        home = tmp_path / "killed"
        env = sync_env(home, server)
        process = subprocess.Popen([sys.executable, "-m", "rag.cli", "sync", "hf-daily", "--from", days[0], "--to", days[-1], "-q"],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kill_ingest_after(process, home, papers=25)
        state = SyncState(Settings.test_profile(home))
        done_before = state.done("hf-daily")
        assert done_before < set(days)  # some days in, not all
        server.requests.clear()
        resumed = cli_runner(env)("sync", "hf-daily", "--from", days[0], "--to", days[-1], "--json")
        assert resumed.returncode == 0, resumed.stderr
        assert not {r.params["date"] for r in server.requests} & done_before  # the days done were not fetched again
        assert state.done("hf-daily") == set(days)
        # The same index as an uninterrupted run's.
        whole = new_assistant("whole", feeds={"hf_url": server.url})
        whole.sync(["hf-daily"], days[0], days[-1])
        assert index_state_at(home) == index_state(whole)
        assert len(index_state(whole)[0]) == len(ids_of(*[d for d in days if d in JAN]))


@pytest.mark.slow
def test_every_keeps_syncing_until_ctrl_c(tmp_path):
    with FeedServer() as server:  # no papers on today's dates: what is checked is the schedule
        env = sync_env(tmp_path / "home", server, RAG_FEEDS_BACKFILL_DAYS="3", RAG_FEEDS_RECHECK_DAYS="2")
        process = subprocess.Popen([sys.executable, "-m", "rag.cli", "sync", "hf-daily", "--every", "1s", "--json"],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
        try:
            runs = [json.loads(process.stdout.readline()) for _ in range(3)]
        finally:
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=60)
        assert process.returncode == 0 and "Stopped." in err
        # The first run takes the backfill (3 days); then the day it could mark done is skipped: 2 days a run.
        assert [run["requests"] for run in runs] == [3, 2, 2]
        assert all(KEYS <= set(run) and not run["failed_days"] for run in runs)


@pytest.mark.slow
def test_rag_sync_and_rag_ui_dont_share_an_embedded_index(tmp_path):
    with FeedServer(hf_months=["2024-01"]) as server:
        env = sync_env(tmp_path / "home", server)
        ui, lines = start_rag_ui(free_port(), env)
        try:
            assert "The chat is on" in "".join(lines), "".join(lines)
            refused = cli_runner(env)("sync", "hf-daily", "--from", "2024-01-04", "--to", "2024-01-04")
            assert refused.returncode == 2 and not server.requests
            assert f"rag ui (pid {ui.pid}) is serving the index" in refused.stderr and "RAG_FEEDS_EVERY" in refused.stderr
        finally:
            stop_process(ui, lines)
        # And the other way round: a chat is not started over an index a `rag sync` is writing.
        claim = claim_embedded(Settings.test_profile(tmp_path / "home"), "rag sync", shared=False)
        try:
            ui, lines = start_rag_ui(free_port(), env)
            output = stop_process(ui, lines)
            assert ui.returncode == 2 and f"rag sync (pid " in output and "is writing the index" in output
        finally:
            claim.release()


@pytest.mark.server
@pytest.mark.slow
def test_on_a_chroma_server_a_sync_runs_beside_a_chat_in_another_process(tmp_path, chroma_server):
    # One machine: the chat and the sync share RAG_HOME, so the BM25 file too; the chat looks again at every
    # question here (every 30 s by default) and finds what the other process wrote.
    chroma = {"host": "127.0.0.1", "port": chroma_server, "collection": "feeds-beside-chat"}
    chat = Assistant(Settings.test_profile(tmp_path / "home", chroma=chroma))
    chat.lexical.recheck_every = 0
    try:
        chat.ingest([BUNDLED])
        with FeedServer(hf_months=["2024-01"], delay=0.05) as server:
            env = sync_env(tmp_path / "home", server, RAG_CHROMA_HOST="127.0.0.1", RAG_CHROMA_PORT=str(chroma_server),
                           RAG_CHROMA_COLLECTION="feeds-beside-chat")
            answers: list[str] = []
            sync = subprocess.Popen([sys.executable, "-m", "rag.cli", "sync", "hf-daily", "--from", "2024-01-01", "--to",
                                     "2024-01-08", "--json", "-q"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                while sync.poll() is None:  # the chat answers all the while the other process writes
                    answers.append(chat.ask("How does online dictionary learning converge?").text)
                    time.sleep(0.2)
                out, err = sync.communicate(timeout=240)
            finally:
                if sync.poll() is None:
                    sync.kill()
            assert sync.returncode == 0, err
            report = json.loads(out.strip().splitlines()[-1])
            assert report["added"] == len(ids_of(*[f"2024-01-0{d}" for d in range(1, 9) if f"2024-01-0{d}" in JAN]))
            assert answers and all(answers)
            # What the sync wrote is found by the chat's BM25 side too.
            title = JAN["2024-01-08"][0]["paper"]["title"].replace("\n", " ")
            assert chat.retrieve(title, k=1, retriever="bm25")[0].paper_id == JAN["2024-01-08"][0]["paper"]["id"]
            assert chat.count() == 67 + report["added"]
    finally:
        chat.close()
