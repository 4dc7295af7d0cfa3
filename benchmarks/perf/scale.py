"""Ingest throughput, re-ingest and update cost, latency and retrieval quality at scale; LlamaIndex beside.

    pip install -e ".[bench]"   # LlamaIndex's Chroma store, for the side-by-side (or --skip-llamaindex)
    nice -n 5 python -m benchmarks.perf.scale --corpus ../shared/data/arxiv/sample_5000.jsonl --limit 5000 --tag 5000

Prints the figures of BENCHMARKS.md's "Scale" section (a benchmark, not a test):

- ingest: the bundled 67 abstracts, then ``--limit`` arXiv abstracts into the same fresh data folder (the
  model already loaded): abstracts/s, chunks/s, wall and CPU seconds, the process's peak RSS;
- the pure model encode of exactly the chunks that ingest embedded, in the same process right after, and
  the ratio ingest / encode (wall and CPU: the machine is shared, CPU seconds are steadier);
- re-ingest of the same file (nothing changes) and a daily update (1% of the abstracts changed plus 1% new),
  with the BM25 rebuild that the first search after the update pays;
- p50/p95 of ``retrieve`` (k=10, hybrid) and extractive ``ask`` over eval/questions.jsonl, at 67 and at
  67 + limit abstracts, embedded and through a ``chroma run`` server on 127.0.0.1;
- retrieval quality at scale: the seed questions (eval/questions.jsonl, answerable ones) over the 67 seed
  papers alone and mixed into the arXiv abstracts: is their paper the first hit / in the first 5;
- LlamaIndex's default pipeline (``VectorStoreIndex.from_documents``: 1,024-token SentenceSplitter chunks)
  with the same MiniLM into Chroma: time, chunks cut at MiniLM's 256 word pieces and the word pieces lost,
  and the same seed-question recall (``--skip-llamaindex`` to leave it out).

On an index built once (the full 115k takes hours here), ``--home DIR`` measures only what is asked of a
built index: the seed is ingested into it (67 abstracts), then latency and seed recall, embedded and through
a ``chroma run`` server on DIR/chroma:

    benchmarks/perf/ingest_full.sh DATA_FOLDER      # or: RAG_HOME=DATA_FOLDER rag ingest --progress FILE
    python -m benchmarks.perf.scale --home DATA_FOLDER --tag 115k

The figures go to benchmarks/results/perf/scale[-TAG].json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    ARXIV_SAMPLE,
    BUNDLED,
    add_results_arguments,
    peak_rss_gb,
    percentile,
    seed_questions,
    set_ef_search,
    start_chroma_server,
    write_results,
)


class Clock:
    """Wall and CPU seconds (CPU summed over every thread of this process) of a block."""

    def __enter__(self):
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


def latencies(assistant, questions) -> dict[str, tuple[float, float]]:
    for q in questions[:5]:  # warm-up: BM25 matrix, caches
        assistant.ask(q.question, answer_mode="extractive")
    retrieve, ask = [], []
    for q in questions:
        started = time.perf_counter()
        assistant.retrieve(q.question, k=10)
        retrieve.append(time.perf_counter() - started)
        started = time.perf_counter()
        assistant.ask(q.question, answer_mode="extractive")
        ask.append(time.perf_counter() - started)
    return {
        "retrieve": (round(percentile(retrieve, 50) * 1000, 1), round(percentile(retrieve, 95) * 1000, 1)),
        "ask": (round(percentile(ask, 50) * 1000, 1), round(percentile(ask, 95) * 1000, 1)),
    }


def recall(ranked_titles: list[list[str]], questions) -> tuple[float, float]:
    at1 = at5 = 0
    for titles, q in zip(ranked_titles, questions):
        wanted = set(q.relevant_titles)
        at1 += bool(titles[:1] and titles[0] in wanted)
        at5 += bool(wanted & set(titles[:5]))
    return round(at1 / len(questions), 4), round(at5 / len(questions), 4)


def our_recall(assistant, questions, retriever=None) -> tuple[float, float]:
    return recall([[h.title for h in assistant.retrieve(q.question, k=5, retriever=retriever)] for q in questions], questions)


def recall_by_type(assistant, questions) -> dict[str, tuple[float, float]]:
    """Hybrid R@1/R@5 per question type: a "which papers study X" question may be answered at 115k by a paper
    outside the 67 that the seed set can't know of; a paraphrase or a quoted fact can't."""
    kinds = sorted({q.type for q in questions})
    return {kind: our_recall(assistant, [q for q in questions if q.type == kind]) for kind in kinds}


def ingested_chunk_texts(path: Path, limit: int, settings, embedder) -> list[str]:
    """Exactly the texts ingest embedded for ``path`` (first ``limit`` records, first record of an id wins)."""
    from rag.corpus import read_corpus
    from rag.index.chunking import chunk_paper, embedding_text
    from rag.types import Paper

    texts, seen = [], set()
    c = settings.chunking
    for i, item in enumerate(read_corpus(path)):
        if i >= limit:
            break
        if not isinstance(item, Paper) or item.paper_id in seen:
            continue
        seen.add(item.paper_id)
        for chunk in chunk_paper(item, embedder.count_tokens, c.max_tokens, c.overlap_sentences, c.max_sentences):
            texts.append(embedding_text(item.title, chunk.text))
    return texts


def write_update(source: Path, limit: int, out: Path) -> tuple[int, int]:
    """The first ``limit`` records with 1% of abstracts changed, plus 1% records not ingested before."""
    lines = source.read_text(encoding="utf-8").splitlines()
    share = max(1, limit // 100)
    changed = new = 0
    with out.open("w", encoding="utf-8") as handle:
        for i, line in enumerate(lines[: limit + share]):
            record = json.loads(line)
            if i < limit and i % 100 == 7:
                record["abstract"] += " We release our code."
                changed += 1
            elif i >= limit:
                new += 1
            handle.write(json.dumps(record) + "\n")
    return changed, new


def llamaindex_default(papers, embed_model, data: Path, questions, count_tokens) -> dict:
    """LlamaIndex's default pipeline into Chroma with the same MiniLM, and what its chunks lose."""
    import chromadb
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.schema import MetadataMode
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from rag.index.embedding import MAX_WORD_PIECES

    client = chromadb.PersistentClient(path=str(data), settings=chromadb.Settings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("llamaindex_default", embedding_function=None)
    documents = [Document(text=p.abstract, doc_id=p.paper_id, metadata={"title": p.title}) for p in papers]
    with Clock() as clock:
        index = VectorStoreIndex.from_documents(
            documents,
            storage_context=StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection)),
            embed_model=embed_model,
        )
    nodes = list(index.docstore.docs.values()) or []
    if not nodes:  # with a vector store holding the text, the docstore is empty: read the nodes back
        got = collection.get(include=["documents", "metadatas"])
        embed_texts = [f"title: {m.get('title', '')}\n\n{d}" for d, m in zip(got["documents"], got["metadatas"])]
    else:
        embed_texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    lengths = count_tokens(embed_texts)
    room = MAX_WORD_PIECES - 2  # [CLS] and [SEP]
    cut = [n for n in lengths if n > room]
    retriever = index.as_retriever(similarity_top_k=15)
    titles_by_id = {p.paper_id: p.title for p in papers}
    ranked = []
    for q in questions:
        titles: list[str] = []
        for hit in retriever.retrieve(q.question):
            title = titles_by_id.get(hit.node.ref_doc_id or "", hit.node.metadata.get("title", ""))
            if title not in titles:
                titles.append(title)
        ranked.append(titles)
    return {
        "seconds": clock.wall,
        "cpu": clock.cpu,
        "chunks": len(lengths),
        "cut": len(cut),
        "lost": sum(n - room for n in cut),
        "total": sum(lengths),
        "recall": recall(ranked, questions),
    }


def measure_built(home: Path, embedder, questions, settings_of, skip_server: bool) -> dict:
    """Latency and seed recall on an index already built in ``home`` (it gains the 67 seed abstracts); the figures."""
    from rag import Assistant

    with Clock() as opening:
        assistant = Assistant(settings_of(home), embedder=embedder)
        assistant.ensure_ready()
        before = assistant.count()
    chunks = assistant.store.count_chunks()
    print(f"opened {home}: {before:,} abstracts, {chunks:,} chunks in {opening.wall:.1f} s "
          f"(BM25 side loaded or rebuilt); peak RSS {peak_rss_gb():.2f} GB")
    # A resumed build must hold exactly the chunks its paper records announce: none doubled, none missing.
    announced = sum(meta.get("chunks", 0) for _, meta, _ in assistant.store.iter_papers())
    print(f"consistency: the paper records announce {announced:,} chunks, the store holds {chunks:,} "
          f"({'equal' if announced == chunks else 'DIFFERENT'}); BM25 side holds {assistant.lexical.count():,} papers; "
          f"an ingest left unfinished: {assistant.store.ingest_unfinished()}")
    with Clock() as seeding:
        seed = assistant.ingest([BUNDLED], progress=False)
    started = time.perf_counter()
    assistant.lexical.search("graph neural networks", 5)  # the first search after a change rebuilds BM25
    rebuild = time.perf_counter() - started
    total = assistant.count()
    print(f"seed mixed in: {seed.added} added, {seed.unchanged} unchanged in {seeding.wall:.1f} s; "
          f"BM25 rebuild over {total:,} on the next search: {rebuild:.1f} s")
    at = latencies(assistant, questions)
    hybrid = our_recall(assistant, questions)
    dense = our_recall(assistant, questions, retriever="dense")
    bm25 = our_recall(assistant, questions, retriever="bm25")
    by_type = recall_by_type(assistant, questions)
    print(f"\n{total:,} abstracts, embedded: retrieve p50/p95 {at['retrieve'][0]:.0f}/{at['retrieve'][1]:.0f} ms, "
          f"ask p50/p95 {at['ask'][0]:.0f}/{at['ask'][1]:.0f} ms (goal p50 < 100 / < 300 ms)")
    print(f"seed questions ({len(questions)}) over the seed mixed into {total:,}: R@1/R@5 hybrid {hybrid[0]:.3f}/{hybrid[1]:.3f}, "
          f"dense {dense[0]:.3f}/{dense[1]:.3f}, BM25 {bm25[0]:.3f}/{bm25[1]:.3f}; hybrid by type: "
          + ", ".join(f"{kind} ({sum(q.type == kind for q in questions)}) {r1:.3f}/{r5:.3f}" for kind, (r1, r5) in by_type.items()))
    print(f"peak RSS so far: {peak_rss_gb():.2f} GB")
    assistant.close()
    figures = {
        "abstracts_before": before,
        "chunks_before": chunks,
        "open_s": round(opening.wall, 2),
        "chunks_announced": announced,
        "consistent": announced == chunks,
        "seed": {"added": seed.added, "unchanged": seed.unchanged, "seconds": round(seeding.wall, 2)},
        "bm25_rebuild_s": round(rebuild, 2),
        "abstracts": total,
        "embedded_ms": at,
        "seed_recall_at_1_5": {"hybrid": hybrid, "dense": dense, "bm25": bm25, "questions": len(questions), "hybrid_by_type": by_type},
        "peak_rss_gb": round(peak_rss_gb(), 2),
    }
    if skip_server:
        return figures
    server, port = start_chroma_server(home / "chroma")
    client = Path(tempfile.mkdtemp(prefix="rag-scale-client-"))
    try:
        remote = Assistant(settings_of(client, chroma={"host": "127.0.0.1", "port": port}), embedder=embedder)
        with Clock() as building:
            remote.ensure_ready()  # a new machine: its BM25 side is built from the server's papers
        sn = latencies(remote, questions)
        print(f"\nChroma server (chroma run on 127.0.0.1 over {home / 'chroma'}), {remote.count():,} abstracts: "
              f"retrieve p50/p95 {sn['retrieve'][0]:.0f}/{sn['retrieve'][1]:.0f} ms, ask p50/p95 {sn['ask'][0]:.0f}/{sn['ask'][1]:.0f} ms; "
              f"a new client's BM25 side built from the server in {building.wall:.1f} s")
        remote.close()
        figures["server"] = {"ms": sn, "bm25_from_server_s": round(building.wall, 1)}
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(client, ignore_errors=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ARXIV_SAMPLE)
    parser.add_argument("--limit", type=int, default=5000)
    parser.add_argument("--skip-llamaindex", action="store_true")
    parser.add_argument("--skip-server", action="store_true")
    parser.add_argument("--ef-search", type=int, help="with --home: set the chunk collection's HNSW ef_search first")
    parser.add_argument("--home", type=Path, help="measure an index already built in this data folder (no ingest benchmark)")
    add_results_arguments(parser)
    args = parser.parse_args()

    from rag import Assistant, Settings
    from rag.index.embedding import make_embedder

    settings_of = lambda home, **kw: Settings(home=home, corpus={"auto_index": False}, llm={"base_url": "", "api_key": ""}, **kw)  # noqa: E731
    embedder = make_embedder("minilm").load()
    embedder.encode(["warm up"])
    questions = seed_questions()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; corpus {args.corpus} (first {args.limit:,})")
    print(f"peak RSS with the model loaded: {peak_rss_gb():.2f} GB")
    if args.home:
        if args.ef_search:
            set_ef_search(args.home, args.ef_search)
        figures = measure_built(args.home, embedder, questions, settings_of, args.skip_server)
        figures["ef_search"] = args.ef_search
        write_results("scale", figures, args)
        return

    base = Path(tempfile.mkdtemp(prefix="rag-scale-"))
    try:
        assistant = Assistant(settings_of(base / "home"), embedder=embedder)
        seed = assistant.ingest([BUNDLED], progress=False)
        at67 = latencies(assistant, questions)
        recall67 = our_recall(assistant, questions)
        print(f"\n67 abstracts ({seed.chunks} chunks), embedded: retrieve p50/p95 {at67['retrieve'][0]:.0f}/{at67['retrieve'][1]:.0f} ms, "
              f"ask p50/p95 {at67['ask'][0]:.0f}/{at67['ask'][1]:.0f} ms; seed questions R@1/R@5 {recall67[0]:.3f}/{recall67[1]:.3f} ({len(questions)} questions)")

        # --- ingest vs pure encode -------------------------------------------------------------------
        with Clock() as ingest:
            report = assistant.ingest([args.corpus], limit=args.limit, progress=False)
        rss_ingest = peak_rss_gb()
        texts = ingested_chunk_texts(args.corpus, args.limit, assistant.settings, embedder)
        assert len(texts) == report.chunks, (len(texts), report.chunks)
        with Clock() as encode:
            embedder.encode(texts)
        n = report.added
        print(f"\ningest {n:,} abstracts -> {report.chunks:,} chunks: {ingest.wall:.1f} s wall ({n / ingest.wall:.1f} abstracts/s, "
              f"{report.chunks / ingest.wall:.0f} chunks/s), {ingest.cpu:.0f} CPU s; peak RSS so far {rss_ingest:.2f} GB")
        print(f"pure MiniLM encode of the same {len(texts):,} chunk texts: {encode.wall:.1f} s wall "
              f"({len(texts) / encode.wall:.0f} chunks/s), {encode.cpu:.0f} CPU s")
        print(f"ratio ingest / encode: {ingest.wall / encode.wall:.3f} wall, {ingest.cpu / encode.cpu:.3f} CPU (goal <= 1.15)")
        figures = {
            "at_67": {"chunks": seed.chunks, "embedded_ms": at67, "seed_recall_at_1_5": recall67, "questions": len(questions)},
            "ingest": {"abstracts": n, "chunks": report.chunks, "wall_s": round(ingest.wall, 1), "cpu_s": round(ingest.cpu, 1),
                       "abstracts_per_s": round(n / ingest.wall, 2), "peak_rss_gb": round(rss_ingest, 2)},
            "encode": {"chunks": len(texts), "wall_s": round(encode.wall, 1), "cpu_s": round(encode.cpu, 1)},
            "ingest_over_encode": {"wall": round(ingest.wall / encode.wall, 3), "cpu": round(ingest.cpu / encode.cpu, 3)},
        }

        # --- re-ingest and a daily update ---------------------------------------------------------------
        with Clock() as again:
            same = assistant.ingest([args.corpus], limit=args.limit, progress=False)
        print(f"\nre-ingest the same {args.limit:,}: {again.wall:.2f} s ({again.wall / ingest.wall:.1%} of the first ingest; "
              f"{same.unchanged:,} unchanged, {same.chunks} chunks embedded)")
        update = base / "update.jsonl"
        changed, new = write_update(args.corpus, args.limit, update)
        with Clock() as daily:
            upd = assistant.ingest([update], progress=False)
        started = time.perf_counter()
        assistant.lexical.search("graph neural networks", 5)  # the first search after a change rebuilds BM25
        rebuild = time.perf_counter() - started
        started = time.perf_counter()
        assistant.lexical.search("graph neural networks", 5)
        warm_search = time.perf_counter() - started
        print(f"daily update ({changed} changed + {new} new of {args.limit + new:,}): {daily.wall:.1f} s "
              f"({upd.updated} updated, {upd.added} added, {upd.chunks} chunks embedded); "
              f"BM25 rebuild from stored term counts on the next search: {rebuild * 1000:.0f} ms (a search after it: {warm_search * 1000:.0f} ms)")
        figures["reingest"] = {"wall_s": round(again.wall, 2), "share_of_ingest": round(again.wall / ingest.wall, 4)}
        figures["update"] = {"changed": changed, "new": new, "wall_s": round(daily.wall, 1), "updated": upd.updated,
                             "added": upd.added, "chunks": upd.chunks, "bm25_rebuild_ms": round(rebuild * 1000, 1)}

        total = assistant.count()
        atn = latencies(assistant, questions)
        recalln = our_recall(assistant, questions)
        recalln_dense = our_recall(assistant, questions, retriever="dense")
        print(f"\n{total:,} abstracts (seed + arXiv), embedded: retrieve p50/p95 {atn['retrieve'][0]:.0f}/{atn['retrieve'][1]:.0f} ms, "
              f"ask p50/p95 {atn['ask'][0]:.0f}/{atn['ask'][1]:.0f} ms")
        print(f"seed questions over the seed mixed into {total:,}: hybrid R@1/R@5 {recalln[0]:.3f}/{recalln[1]:.3f} "
              f"(67 alone: {recall67[0]:.3f}/{recall67[1]:.3f}); dense only {recalln_dense[0]:.3f}/{recalln_dense[1]:.3f}")
        figures["at_scale"] = {"abstracts": total, "embedded_ms": atn,
                               "seed_recall_at_1_5": {"hybrid": recalln, "dense": recalln_dense}}

        # --- the same through a Chroma server -------------------------------------------------------------
        if not args.skip_server:
            served = base / "served-chroma"
            shutil.copytree(base / "home" / "chroma", served)  # the embedded store's files, served as they are
            empty = base / "served-empty"
            empty.mkdir()
            big, big_port = start_chroma_server(served)
            small, small_port = start_chroma_server(empty)
            try:
                remote67 = Assistant(settings_of(base / "client67", chroma={"host": "127.0.0.1", "port": small_port}), embedder=embedder)
                remote67.ingest([BUNDLED], progress=False)
                s67 = latencies(remote67, questions)
                remote = Assistant(settings_of(base / "client", chroma={"host": "127.0.0.1", "port": big_port}), embedder=embedder)
                started = time.perf_counter()
                remote.ensure_ready()  # a new machine: its BM25 side is built from the server's papers
                bm25_from_server = time.perf_counter() - started
                sn = latencies(remote, questions)
                print(f"\nChroma server (chroma run on 127.0.0.1), 67 abstracts: retrieve p50/p95 {s67['retrieve'][0]:.0f}/{s67['retrieve'][1]:.0f} ms, "
                      f"ask p50/p95 {s67['ask'][0]:.0f}/{s67['ask'][1]:.0f} ms")
                print(f"Chroma server, {remote.count():,} abstracts: retrieve p50/p95 {sn['retrieve'][0]:.0f}/{sn['retrieve'][1]:.0f} ms, "
                      f"ask p50/p95 {sn['ask'][0]:.0f}/{sn['ask'][1]:.0f} ms; a new client's BM25 side built from the server in {bm25_from_server:.1f} s")
                figures["server"] = {"at_67_ms": s67, "at_scale_ms": sn, "bm25_from_server_s": round(bm25_from_server, 1)}
            finally:
                for process in (big, small):
                    process.terminate()
                    process.wait(timeout=30)

        # --- LlamaIndex's default pipeline ----------------------------------------------------------------
        if not args.skip_llamaindex:
            from rag.corpus import read_corpus
            from rag.types import Paper

            papers = [p for p in read_corpus(BUNDLED) if isinstance(p, Paper)]
            seen = {p.paper_id for p in papers}
            for i, item in enumerate(read_corpus(args.corpus)):
                if i >= args.limit:
                    break
                if isinstance(item, Paper) and item.paper_id not in seen:
                    seen.add(item.paper_id)
                    papers.append(item)
            li = llamaindex_default(papers, assistant.as_llamaindex_embedding(), base / "llamaindex", questions, embedder.count_tokens)
            ours = seed.seconds + report.seconds
            print(f"\nLlamaIndex VectorStoreIndex.from_documents (default 1,024-token chunks), same MiniLM, into Chroma, "
                  f"{len(papers):,} abstracts: {li['seconds']:.1f} s ({li['chunks']:,} chunks; ours: {ours:.1f} s, "
                  f"{seed.chunks + report.chunks:,} chunks)")
            print(f"  chunks longer than MiniLM's 254 word pieces (silently cut): {li['cut']:,} of {li['chunks']:,} "
                  f"({li['cut'] / max(li['chunks'], 1):.0%}); word pieces never embedded: {li['lost']:,} of {li['total']:,} "
                  f"({li['lost'] / max(li['total'], 1):.1%}); ours: 0 cut")
            print(f"  seed questions over the same {len(papers):,}: LlamaIndex R@1/R@5 {li['recall'][0]:.3f}/{li['recall'][1]:.3f}; "
                  f"ours hybrid {recalln[0]:.3f}/{recalln[1]:.3f}, ours dense {recalln_dense[0]:.3f}/{recalln_dense[1]:.3f} "
                  f"(ours also holds the update's {new} extra papers)")
            figures["llamaindex"] = {"abstracts": len(papers), "ours_seconds": round(ours, 1), **li}
        print(f"\npeak RSS of the whole run: {peak_rss_gb():.2f} GB; load average now {os.getloadavg()[0]:.1f}")
        figures["peak_rss_gb"] = round(peak_rss_gb(), 2)
        write_results("scale", figures, args)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
