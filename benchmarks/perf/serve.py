"""What the OpenAI-compatible endpoint adds to `Assistant.ask`: the same questions, direct and through `rag serve`.

    python -m benchmarks.perf.serve [-n 50] [--clients 20] [--per-client 3] [--concurrency 2] [--embedder minilm|hashing]

The bundled corpus is indexed in a fresh data folder (MiniLM by default). Then, in this run:

1. `Assistant.ask` in this process: each of ``-n`` questions of eval/questions.jsonl (the answerable ones
   without history) once, after a warm-up pass over them all (untimed; the server gets the same); then ``--clients`` threads at once, each asking
   ``--per-client`` questions (no bound: all of them compete for the cores).
2. The assistant is closed and the real `rag serve` is started on 127.0.0.1 over the same folder
   (RAG_SERVE_CONCURRENCY=``--concurrency``). The `openai` client asks the same questions: plain
   (request -> whole completion) and streamed (request -> first text piece, and -> `data: [DONE]`); then
   ``--clients`` clients at once, each with its own `openai.OpenAI`, asking the same questions as in 1.

Each endpoint answer is compared with the direct one (text and cited papers): any difference is counted.
p50/p95 in ms; the endpoint's overhead is its p50/p95 minus `Assistant.ask`'s. The figures go to
benchmarks/results/perf/serve[-TAG].json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import add_results_arguments, free_port, percentile, seed_questions, write_results


def ms(values: list[float]) -> dict:
    return {"p50": round(statistics.median(values) * 1000, 1), "p95": round(percentile(values, 95) * 1000, 1)}


def at_once(clients: int, per_client: int, questions: list[str], call) -> tuple[list[float], float, list]:
    """``clients`` threads, each calling ``call(client_index, question)`` for its ``per_client`` questions
    (started together): every call's latency, the wall time, the results in order."""
    start = threading.Barrier(clients)

    def client(i: int):
        own = [questions[(i * per_client + j) % len(questions)] for j in range(per_client)]
        start.wait()
        out = []
        for question in own:
            began = time.perf_counter()
            result = call(i, question)
            out.append((time.perf_counter() - began, question, result))
        return out

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        rows = [row for rows in pool.map(client, range(clients)) for row in rows]
    return [r[0] for r in rows], time.perf_counter() - began, [(q, res) for _, q, res in rows]


def start_rag_serve(home: Path, embedder: str, concurrency: int) -> tuple[subprocess.Popen, str]:
    """`rag serve` over ``home`` on a free port, once it says the index is open: the process and its /v1 URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env.update(RAG_HOME=str(home), RAG_EMBEDDING_BACKEND=embedder, RAG_CORPUS_AUTO_INDEX="false",
               RAG_SERVE_CONCURRENCY=str(concurrency), HF_HUB_OFFLINE="1")
    process = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    while not any("papers indexed" in line for line in lines):
        line = process.stdout.readline()
        if not line:
            raise SystemExit("rag serve did not start:\n" + "".join(lines))
        lines.append(line)
    threading.Thread(target=process.stdout.read, daemon=True).start()  # keep its pipe from filling
    return process, f"http://127.0.0.1:{port}/v1"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=50, help="questions asked one at a time")
    parser.add_argument("--clients", type=int, default=20, help="clients at once")
    parser.add_argument("--per-client", type=int, default=3, help="questions each of them asks")
    parser.add_argument("--concurrency", type=int, default=2, help="RAG_SERVE_CONCURRENCY of the server")
    parser.add_argument("--embedder", choices=["minilm", "hashing"], default="minilm")
    add_results_arguments(parser)
    args = parser.parse_args()

    import openai

    from rag import Assistant, Settings

    questions = [q.question for q in seed_questions()][: args.n]
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        settings = Settings(home=home, embedding={"backend": args.embedder}, llm={"base_url": "", "api_key": ""})
        assistant = Assistant(settings)
        began = time.perf_counter()
        assistant.ensure_ready(progress=False)
        print(f"{assistant.count()} papers indexed ({args.embedder}) in {time.perf_counter() - began:.0f} s")

        for question in questions:  # warm-up: the model, and the stored sentence vectors of the papers asked about
            assistant.ask(question)
        direct, answers = [], {}
        for question in questions:
            began = time.perf_counter()
            answer = assistant.ask(question)
            direct.append(time.perf_counter() - began)
            answers[question] = (answer.text, [c.paper_id for c in answer.citations])
        direct_many, direct_wall, _ = at_once(args.clients, args.per_client, questions, lambda i, q: assistant.ask(q))
        assistant.close()

        process, url = start_rag_serve(home, args.embedder, args.concurrency)
        try:
            clients = [openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=600) for _ in range(args.clients)]
            client = clients[0]

            def complete(i: int, question: str, **kwargs):
                return clients[i].chat.completions.create(model="rag-abstracts", messages=[{"role": "user", "content": question}], **kwargs)

            for question in questions:  # the same warm-up in the server's process
                complete(0, question)
            plain, first, streamed, differ = [], [], [], 0
            for question in questions:
                began = time.perf_counter()
                completion = complete(0, question)
                plain.append(time.perf_counter() - began)
                got = (completion.choices[0].message.content, [c["paper_id"] for c in completion.citations])
                differ += got != answers[question]
                began, first_at, text = time.perf_counter(), None, ""
                for chunk in complete(0, question, stream=True):
                    piece = chunk.choices[0].delta.content if chunk.choices else ""
                    if piece and first_at is None:
                        first_at = time.perf_counter()
                    text += piece or ""
                streamed.append(time.perf_counter() - began)
                first.append((first_at or time.perf_counter()) - began)
                differ += text.strip() != answers[question][0]
            many, wall, results = at_once(args.clients, args.per_client, questions, complete)
            differ += sum(res.choices[0].message.content != answers[q][0] for q, res in results)
        finally:
            process.terminate()
            process.wait(timeout=30)

    served = args.clients * args.per_client
    figures = {
        "questions": len(questions),
        "embedder": args.embedder,
        "server_concurrency": args.concurrency,
        "clients_at_once": args.clients,
        "questions_per_client": args.per_client,
        "answers_differing_from_assistant_ask": differ,
        "ms": {
            "assistant_ask": ms(direct),
            "endpoint_plain": ms(plain),
            "endpoint_streamed_first_piece": ms(first),
            "endpoint_streamed_total": ms(streamed),
            "overhead_plain": {k: round(ms(plain)[k] - ms(direct)[k], 1) for k in ("p50", "p95")},
            "overhead_streamed_total": {k: round(ms(streamed)[k] - ms(direct)[k], 1) for k in ("p50", "p95")},
            "assistant_ask_at_once": ms(direct_many),
            "endpoint_at_once": ms(many),
        },
        "answers_per_s": {"assistant_ask_at_once": round(served / direct_wall, 2), "endpoint_at_once": round(served / wall, 2)},
    }
    print(f"{len(questions)} questions one at a time; {args.clients} clients x {args.per_client} at once "
          f"(server concurrency {args.concurrency}); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print("| ms | p50 | p95 |\n|---|---|---|")
    for key, label in [("assistant_ask", "`Assistant.ask`, in process"), ("endpoint_plain", "endpoint, plain"),
                       ("overhead_plain", "  **overhead, plain**"), ("endpoint_streamed_first_piece", "endpoint, streamed: first piece"),
                       ("endpoint_streamed_total", "endpoint, streamed: to `[DONE]`"), ("overhead_streamed_total", "  **overhead, streamed**"),
                       ("assistant_ask_at_once", f"`Assistant.ask`, {args.clients} threads at once"),
                       ("endpoint_at_once", f"endpoint, {args.clients} clients at once")]:
        print(f"| {label} | {figures['ms'][key]['p50']} | {figures['ms'][key]['p95']} |")
    print(f"\nanswers/s at once: {figures['answers_per_s']}; answers differing from Assistant.ask: {differ}")
    write_results("serve", figures, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
