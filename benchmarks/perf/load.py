"""Load: N concurrent chat sessions against the running web UI for a fixed time. Prints what BENCHMARKS.md records.

    python -m benchmarks.perf.load                # starts `rag ui` itself: 127.0.0.1, fresh data folder, MiniLM
    python -m benchmarks.perf.load --url http://127.0.0.1:7860/ [--pid PID]   # an app already running here

Each session is its own `gradio_client.Client` (so its own Gradio session and server-side chat state) and
is about its own paper: it asks that paper's question in the chat, then a follow-up ("What do they
propose?") that only the session's own conversation can resolve, then the same follow-up through /ask
with its own explicit history. A follow-up answer that cites a paper other than the session's own is a
cross-session leak (another session's paper) or a wrong resolution (any other paper); both are counted.

Bounded on purpose: loopback addresses only, at most 50 sessions and 10 minutes. The figures go to
benchmarks/results/perf/load[-TAG].json.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from benchmarks.common import QUESTIONS, add_results_arguments, free_port, percentile, resident_mb, write_results
from rag.access import is_loopback  # this script loads only an app on this machine

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

FOLLOW_UPS = ["What do they propose?", "What did they evaluate it on?", "What are the main results?"]
MAX_SESSIONS, MAX_SECONDS = 50, 600


def rss_mb(pid: int) -> float | None:
    """Resident memory of the app's process (chroma runs in it), or None once it is gone."""
    value = resident_mb(pid)
    return None if math.isnan(value) else value


def session_questions(n: int) -> list[tuple[str, str]]:
    """(question, title) of n fact questions about n different papers."""
    chosen, titles = [], set()
    for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item["type"] == "fact" and item["answerable"] and len(item["relevant_titles"]) == 1:
            title = item["relevant_titles"][0]
            if title not in titles:
                titles.add(title)
                chosen.append((item["question"], title))
    if len(chosen) < n:
        raise SystemExit(f"only {len(chosen)} distinct papers among the fact questions; ask for fewer sessions")
    return chosen[:n]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    answered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    refused: int = 0
    followups: int = 0
    followups_own: int = 0
    followups_other_session: int = 0
    followups_other_paper: int = 0
    checked: int = 0
    differing: int = 0
    differing_examples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, seconds: float | None, error: str | None = None) -> None:
        with self.lock:
            if error is None:
                self.answered += 1
                self.latencies.append(seconds or 0.0)
            else:
                self.failed += 1
                if len(self.errors) < 10:
                    self.errors.append(error)


def final_message(outputs: list) -> str:
    value = outputs[-1][1][-1]["content"]
    return value if isinstance(value, str) else "".join(part.get("text", "") for part in value)


def ask_alone(client, question: str, follow: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Cited titles of the question and of its follow-up, asked through /ask with nothing else running."""
    answer = client.predict(question, api_name="/ask")
    history = [{"role": "user", "content": question},
               {"role": "assistant", "content": answer["text"], "paper_ids": [c["paper_id"] for c in answer["citations"]]}]
    reply = client.predict(follow, history, api_name="/ask")
    return tuple(c["title"] for c in answer["citations"]), tuple(c["title"] for c in reply["citations"])


def compare(tally: Tally, baseline: dict, key, cited: list[str], where: str) -> None:
    """An answer under load must cite what the same question cites when asked alone."""
    expected = baseline.get(key)
    if expected is None:
        return
    with tally.lock:
        tally.checked += 1
        if tuple(cited) != tuple(expected):
            tally.differing += 1
            if len(tally.differing_examples) < 5:
                tally.differing_examples.append(f"{where} {key}: {cited} under load, {list(expected)} alone")


def run_session(index: int, url: str, mine: tuple[str, str], titles: list[str], stop: float, tally: Tally, auth, baseline: dict) -> None:
    from gradio_client import Client

    question, own_title = mine
    others = [t for t in titles if t != own_title]
    client = Client(url, verbose=False, auth=auth)
    turn = 0
    while time.monotonic() < stop:
        follow = FOLLOW_UPS[(index + turn) % len(FOLLOW_UPS)]
        turn += 1
        # 1. the session's own question, in the chat (the server keeps this session's history)
        started = time.perf_counter()
        try:
            job = client.submit(question, [], "extractive", 5, "", "", [], api_name="/chat")
            job.result(timeout=120)
            first = final_message(job.outputs())
            tally.record(time.perf_counter() - started)
            compare(tally, baseline, (index, None), [html.unescape(t) for t in SOURCE_TITLE.findall(first)], "chat")
        except Exception as exc:  # counted, never fatal: the run goes on
            tally.record(None, f"chat: {type(exc).__name__}: {exc}"[:300])
            continue
        if time.monotonic() >= stop:
            break
        # 2. a follow-up only this session's chat history resolves
        started = time.perf_counter()
        try:
            job = client.submit(follow, [], "extractive", 5, "", "", [], api_name="/chat")
            job.result(timeout=120)
            text = final_message(job.outputs())
            tally.record(time.perf_counter() - started)
            check_followup(text, own_title, others, tally, rendered=True)
            compare(tally, baseline, (index, follow), [html.unescape(t) for t in SOURCE_TITLE.findall(text)], "chat follow-up")
        except Exception as exc:
            tally.record(None, f"chat follow-up: {type(exc).__name__}: {exc}"[:300])
        if time.monotonic() >= stop:
            break
        # 3. the same through /ask with this session's own explicit history
        started = time.perf_counter()
        try:
            answer = client.predict(question, api_name="/ask")
            history = [{"role": "user", "content": question},
                       {"role": "assistant", "content": answer["text"], "paper_ids": [c["paper_id"] for c in answer["citations"]]}]
            reply = client.predict(follow, history, api_name="/ask")
            tally.record(time.perf_counter() - started)
            check_followup(reply, own_title, others, tally, rendered=False)
            compare(tally, baseline, (index, None), [c["title"] for c in answer["citations"]], "ask")
            compare(tally, baseline, (index, follow), [c["title"] for c in reply["citations"]], "ask follow-up")
        except Exception as exc:
            tally.record(None, f"ask: {type(exc).__name__}: {exc}"[:300])


SOURCE_TITLE = re.compile(r'<span class="rag-source-title">(.*?)</span>', re.DOTALL)


def check_followup(result, own_title: str, others: list[str], tally: Tally, rendered: bool) -> None:
    if rendered:  # the chat's final message: its sources panel names the cited papers
        cited = [html.unescape(t) for t in SOURCE_TITLE.findall(result)]
        refused = not cited
    else:
        cited = [c["title"] for c in result["citations"]]
        refused = result["refused"]
    from_sessions = [t for t in cited if t in others]
    elsewhere = [t for t in cited if t != own_title and t not in others]
    with tally.lock:
        tally.followups += 1
        if refused:
            tally.refused += 1
        elif cited == [own_title] or set(cited) == {own_title}:
            tally.followups_own += 1
        if from_sessions:
            tally.followups_other_session += 1
        elif elsewhere:
            tally.followups_other_paper += 1


def start_ui(home: Path, concurrency: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env.update(RAG_HOME=str(home), HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False",
               RAG_UI_ANSWER_CONCURRENCY=str(concurrency))
    rag = Path(sys.executable).parent / "rag"
    process = subprocess.Popen([str(rag), "ui", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    for line in process.stdout:
        print("  ui:", line.rstrip(), flush=True)
        if "The chat is on" in line:
            break
        if time.monotonic() > deadline:
            break
    else:
        raise SystemExit("`rag ui` stopped before serving")
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # keep the pipe drained
    return process, f"http://127.0.0.1:{port}/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an app already running on this machine (loopback only)")
    parser.add_argument("--pid", type=int, help="its process id, for the memory figures")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=2, help="RAG_UI_ANSWER_CONCURRENCY of the started app")
    parser.add_argument("--auth", help="user:password, when the app has a login")
    add_results_arguments(parser)
    args = parser.parse_args()
    if not 1 <= args.sessions <= MAX_SESSIONS or not 0 < args.seconds <= MAX_SECONDS:
        raise SystemExit(f"bounded: 1-{MAX_SESSIONS} sessions, at most {MAX_SECONDS} s")
    process = None
    temp = tempfile.TemporaryDirectory(prefix="rag-load-")
    if args.url:
        host = urlparse(args.url).hostname or ""
        if not is_loopback(host):
            raise SystemExit(f"{host}: this script only loads an app on this machine (loopback)")
        url, pid = args.url, args.pid
    else:
        process, url = start_ui(Path(temp.name) / "home", args.concurrency)
        pid = process.pid
    auth = tuple(args.auth.split(":", 1)) if args.auth else None

    pairs = session_questions(args.sessions)
    titles = [t for _, t in pairs]
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(1.0):
            value = rss_mb(pid) if pid else None
            if value is not None:
                samples.append(value)

    try:
        # Warm-up: one answer, so the first-question model work is not counted as load.
        from gradio_client import Client

        # The baseline: every session's questions asked alone, one at a time.
        alone = Client(url, verbose=False, auth=auth)
        baseline: dict = {}
        for i, (question, _) in enumerate(pairs):
            for follow in FOLLOW_UPS:
                baseline[(i, None)], baseline[(i, follow)] = ask_alone(alone, question, follow)
        rss_start = rss_mb(pid) if pid else None
        tally = Tally()
        threading.Thread(target=sample, daemon=True).start()
        began = time.monotonic()
        stop = began + args.seconds
        threads = [threading.Thread(target=run_session, args=(i, url, pairs[i], titles, stop, tally, auth, baseline)) for i in range(args.sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - began
        done.set()
        rss_end = rss_mb(pid) if pid else None
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        temp.cleanup()

    print(f"\n{args.sessions} sessions for {args.seconds:.0f} s against {url} (answer concurrency {args.concurrency if process else 'as served'})")
    print(f"answered {tally.answered}, failed {tally.failed}")
    print(f"latency p50 {percentile(tally.latencies, 50):.2f} s, p95 {percentile(tally.latencies, 95):.2f} s, max {max(tally.latencies, default=float('nan')):.2f} s")
    print(f"throughput {tally.answered / elapsed:.2f} answers/s over {elapsed:.0f} s")
    print(f"follow-ups {tally.followups}: citing only the session's own paper {tally.followups_own}, refused {tally.refused}, "
          f"citing another session's paper {tally.followups_other_session}, citing some other paper {tally.followups_other_paper}")
    print(f"answers compared with the same question asked alone: {tally.checked}, differing: {tally.differing}")
    for example in tally.differing_examples:
        print("  differs:", example)
    rss = None
    if rss_start is not None and rss_end is not None:
        peak = max(samples, default=rss_end)
        quarters = [samples[min(len(samples) - 1, len(samples) * q // 4)] for q in (1, 2, 3)] if samples else []
        print(f"server RSS: {rss_start:.0f} MB at start, {' / '.join(f'{v:.0f}' for v in quarters)} MB at 1/4, 1/2, 3/4, "
              f"{rss_end:.0f} MB at end, {peak:.0f} MB peak ({len(samples)} samples, one a second)")
        rss = {"start_mb": round(rss_start), "quarters_mb": [round(v) for v in quarters], "end_mb": round(rss_end), "peak_mb": round(peak)}
    for error in tally.errors:
        print("  error:", error)
    write_results("load", {
        "sessions": args.sessions,
        "seconds": round(elapsed, 1),
        "answer_concurrency": args.concurrency if process else None,
        "answered": tally.answered,
        "failed": tally.failed,
        "latency_s": {"p50": round(percentile(tally.latencies, 50), 2), "p95": round(percentile(tally.latencies, 95), 2),
                      "max": round(max(tally.latencies, default=float("nan")), 2)},
        "answers_per_s": round(tally.answered / elapsed, 2),
        "compared_with_alone": tally.checked,
        "differing_from_alone": tally.differing,
        "followups": {"total": tally.followups, "own_paper_only": tally.followups_own, "refused": tally.refused,
                      "another_sessions_paper": tally.followups_other_session, "some_other_paper": tally.followups_other_paper},
        "server_rss": rss,
        "errors": tally.errors,
    }, args)


if __name__ == "__main__":
    main()
