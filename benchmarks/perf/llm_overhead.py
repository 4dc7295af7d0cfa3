"""What our own code adds around the LLM endpoint: time to first token and total, against the server's own.

    python -m benchmarks.perf.llm_overhead [-n 50] [--delay 0.2] [--piece-delay 0.01] [--embedder minilm|hashing]

A fake chat-completions server on 127.0.0.1 (tests/fake_openai.py) waits ``--delay`` seconds before its
first token and ``--piece-delay`` between words, then streams an answer that quotes and cites the first two
sources of the prompt it was sent. The bundled corpus is indexed with the real MiniLM embedder, and each of
``-n`` questions of eval/questions.jsonl is asked through `Assistant.stream` (answer_mode "llm"). Per question:

    ours, first token  = stream() called -> first text piece received by the caller
    server, first token = request read by the server -> first text written (its own clock)
    ours, total        = stream() called -> the checked Answer received
    server, total      = request read -> last byte written

The overhead is ours minus the server's: question handling, retrieval, the prompt, HTTP and SSE parsing,
marker renumbering, and (in the total) the citation check. p50/p95 over the questions, after one warm-up.
The figures go to benchmarks/results/perf/llm-overhead[-TAG].json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import QUESTIONS, add_results_arguments, percentile, write_results
from rag import Assistant, Settings
from rag.text.sentences import split_sentences
from tests.fake_openai import FakeOpenAI, Reply, Request  # the repository's fake endpoint (run from the root)

SOURCE = re.compile(r'<source n="(\d+)" title="[^"]*">\n(.*?)\n</source>', re.DOTALL)


def model(delay: float, piece_delay: float):
    """A fake model: the first sentence of sources 1 and 2, each cited."""

    def reply(request: Request) -> Reply:
        sources = SOURCE.findall(request.prompt)[:2]
        parts = []
        for number, abstract in sources:
            sentences = split_sentences(abstract)
            if sentences:
                parts.append(f"{sentences[0].text.rstrip('.')} [{number}].")
        return Reply(" ".join(parts) or "The indexed abstracts don't answer this.", delay=delay, piece_delay=piece_delay)

    return reply


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=50, help="questions")
    parser.add_argument("--delay", type=float, default=0.2, help="server's wait before its first token (s)")
    parser.add_argument("--piece-delay", type=float, default=0.01, help="server's wait between words (s)")
    parser.add_argument("--questions", default=str(QUESTIONS))
    parser.add_argument("--embedder", choices=["minilm", "hashing"], default="minilm",
                        help="hashing: our code without the model's forward passes")
    add_results_arguments(parser)
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in Path(args.questions).read_text().splitlines() if line.strip()][: args.n]

    with FakeOpenAI() as server, tempfile.TemporaryDirectory() as home:
        settings = Settings(
            home=Path(home), embedding={"backend": args.embedder}, llm={"base_url": server.base_url, "api_key": "sk-bench", "model": "fake"}
        )
        assistant = Assistant(settings)
        assistant.ensure_ready(progress=False)
        rows = []
        for i, question in enumerate([questions[0], *questions]):
            server.script(model(args.delay, args.piece_delay))
            started = time.perf_counter()
            first = None
            stream = assistant.stream(question, answer_mode="llm")
            for piece in stream:
                if first is None and piece.strip():
                    first = time.perf_counter()
            answer = stream.answer
            ended = time.perf_counter()
            request = server.chat_requests[-1]
            assert answer is not None and answer.mode == "llm", answer
            if i == 0:
                continue  # warm-up
            rows.append({
                "ours_first": first - started,
                "server_first": request.first_text - request.received,
                "ours_total": ended - started,
                "server_total": request.done - request.received,
                "before_request": request.received - started,  # the server runs in this process: one clock
                "after_done": ended - request.done,
            })
        assistant.close()

    def col(name: str) -> list[float]:
        return [r[name] * 1000 for r in rows]

    over_first = [a - b for a, b in zip(col("ours_first"), col("server_first"))]
    over_total = [a - b for a, b in zip(col("ours_total"), col("server_total"))]
    print(f"{len(rows)} questions, server delay {args.delay * 1000:.0f} ms to first token + {args.piece_delay * 1000:.0f} ms per word, "
          f"embedder {assistant.embedder.name}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print("| ms | p50 | p95 |")
    print("|---|---|---|")
    rows_ms = [
        ("time to first token, through `Assistant.stream`", col("ours_first")),
        ("  the server's own time to first token", col("server_first")),
        ("  **our overhead to first token**", over_first),
        ("  of which before the request is sent (question, retrieval, prompt)", col("before_request")),
        ("total, to the checked `Answer`", col("ours_total")),
        ("  the server's own total", col("server_total")),
        ("  **our overhead in total** (incl. the citation check)", over_total),
        ("  of which after the server's last byte (the citation check)", col("after_done")),
    ]
    for label, values in rows_ms:
        print(f"| {label} | {statistics.median(values):.1f} | {percentile(values, 95):.1f} |")
    keys = ["ours_first_token", "server_first_token", "overhead_first_token", "before_request",
            "ours_total", "server_total", "overhead_total", "after_server_done"]
    write_results("llm-overhead", {
        "questions": len(rows),
        "embedder": assistant.embedder.name,
        "server_delay_ms": args.delay * 1000,
        "server_piece_delay_ms": args.piece_delay * 1000,
        "ms": {key: {"p50": round(statistics.median(values), 1), "p95": round(percentile(values, 95), 1)}
               for key, (_, values) in zip(keys, rows_ms)},
    }, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
