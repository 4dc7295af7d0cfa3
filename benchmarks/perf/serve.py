"""What the OpenAI-compatible endpoint adds to `Assistant.ask`: the same questions, direct and through `rag serve`.

    python -m benchmarks.perf.serve [-n 50] [--clients 20] [--per-client 3] [--concurrency 2] [--embedder minilm|hashing]

The bundled corpus is indexed in a fresh data folder (MiniLM by default), and `rag serve`'s app is started
over that same `Assistant` on 127.0.0.1 (in this process, in a server thread, as the tests do). After a
warm-up pass (untimed), each of ``-n`` questions of eval/questions.jsonl (the answerable ones without
history) is asked three ways back to back, so a busy machine's load falls on all three alike:

    Assistant.ask         the call itself
    endpoint, plain       the `openai` client: request -> the whole completion parsed
    endpoint, streamed    request -> first text piece, and -> `data: [DONE]`

Then ``--clients`` threads at once, each asking ``--per-client`` questions: through `Assistant.ask` directly
(no bound: all of them compete for the cores), then through the endpoint, each thread with its own
`openai.OpenAI` (the server computes ``--concurrency`` answers at once, RAG_SERVE_CONCURRENCY). The clients
share this process with the server, so their own JSON work counts against the endpoint: an upper bound.

Each endpoint answer is compared with the direct one (text and cited papers): any difference is counted.
p50/p95 in ms; the overhead is the endpoint's figure minus `Assistant.ask`'s, question by question. The
figures go to benchmarks/results/perf/serve[-TAG].json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import add_results_arguments, percentile, seed_questions, write_results


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
    from rag.serve.openai_api import build_app
    from rag.serve.run import ServerThread
    from rag.serve.service import Service

    questions = [q.question for q in seed_questions()][: args.n]
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(home=Path(folder), embedding={"backend": args.embedder}, llm={"base_url": "", "api_key": ""},
                            serve={"concurrency": args.concurrency})
        assistant = Assistant(settings)
        began = time.perf_counter()
        service = Service(assistant, args.concurrency)
        service.prepare()
        print(f"{assistant.count()} papers indexed ({args.embedder}) in {time.perf_counter() - began:.0f} s")
        server = ServerThread(build_app(service, settings.serve)).start()
        clients = [openai.OpenAI(base_url=f"{server.url}/v1", api_key="none", max_retries=0, timeout=600) for _ in range(args.clients)]

        def complete(i: int, question: str, **kwargs):
            return clients[i].chat.completions.create(model="rag-abstracts", messages=[{"role": "user", "content": question}], **kwargs)

        def stream(question: str) -> tuple[float, str]:
            began, first_at, text = time.perf_counter(), None, ""
            for chunk in complete(0, question, stream=True):
                piece = chunk.choices[0].delta.content if chunk.choices else ""
                if piece and first_at is None:
                    first_at = time.perf_counter()
                text += piece or ""
            return (first_at or time.perf_counter()) - began, text

        try:
            for question in questions:  # warm-up: the model, the stored sentence vectors of the papers asked about
                assistant.ask(question)
                complete(0, question)
            direct, plain, first, streamed, answers, differ = [], [], [], [], {}, 0
            for n, question in enumerate(questions):
                for step in (0, 1, 2)[n % 3:] + (0, 1, 2)[: n % 3]:  # the order turns, so no way always goes first
                    began = time.perf_counter()
                    if step == 0:
                        answer = assistant.ask(question)
                        direct.append(time.perf_counter() - began)
                        answers[question] = (answer.text, [c.paper_id for c in answer.citations])
                    elif step == 1:
                        completion = complete(0, question)
                        plain.append(time.perf_counter() - began)
                        got_plain = (completion.choices[0].message.content, [c["paper_id"] for c in completion.citations])
                    else:
                        first_s, text = stream(question)
                        streamed.append(time.perf_counter() - began)
                        first.append(first_s)
                differ += (got_plain != answers[question]) + (text.strip() != answers[question][0])
            direct_many, direct_wall, _ = at_once(args.clients, args.per_client, questions, lambda i, q: assistant.ask(q))
            many, wall, results = at_once(args.clients, args.per_client, questions, complete)
            differ += sum(res.choices[0].message.content != answers[q][0] for q, res in results)
        finally:
            server.stop()
            assistant.close()

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
            "overhead_plain": ms([a - b for a, b in zip(plain, direct)]),
            "overhead_streamed_total": ms([a - b for a, b in zip(streamed, direct)]),
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
