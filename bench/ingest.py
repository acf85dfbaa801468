"""Ingestion and search benchmark on the seed corpus. Prints, from one run:
raw embedder throughput, ingestion throughput (parse + chunk + embed + store), search p50/p95.

    .venv/bin/python bench/ingest.py [--queries 100]

Targets (issue 3): ingestion >= 0.8 x raw embedder throughput; search p95 <= 100 ms."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from rag.eval.data import QUESTIONS_FILE

from rag.index.embed import TokenCounter, make_embedder, packaged_model_dir
from rag.index.ingest import chunk_all
from rag.settings import Settings
from rag.sources.loader import load_corpus
from rag.wiring import open_retriever, run_ingest


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=100)
    args = ap.parse_args()
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="bench-ingest-")))
    papers = load_corpus([settings.corpus_dir]).papers
    chunks = chunk_all(papers, settings.chunk, TokenCounter(packaged_model_dir()))
    embedder = make_embedder(settings.embed)
    embedder.embed(["warm-up"])  # model load is not throughput
    t = time.perf_counter()
    embedder.embed([c.text for c in chunks])
    raw = len(chunks) / (time.perf_counter() - t)
    t = time.perf_counter()
    _, summary = run_ingest(settings, progress=False)
    secs = time.perf_counter() - t
    ingest_rate = summary.chunks / secs
    retriever = open_retriever(settings)
    questions = [json.loads(x)["question"] for x in QUESTIONS_FILE.open()]
    questions = (questions * 2)[: args.queries]
    retriever.search(questions[0])
    lat = []
    for q in questions:
        t = time.perf_counter()
        retriever.search(q)
        lat.append((time.perf_counter() - t) * 1000)
    print(f"chunks: {len(chunks)}  papers: {len(papers)}")
    print(f"raw embedder throughput : {raw:7.1f} chunks/s")
    print(
        f"ingestion throughput    : {ingest_rate:7.1f} chunks/s, {summary.papers / secs:6.1f} papers/s "
        f"(parse+chunk+embed+store, {secs:.1f} s; includes model load)"
    )
    print(f"ingestion / raw         : {ingest_rate / raw:7.2f}  (target >= 0.80)")
    print(
        f"search latency ({len(lat)} q, {settings.retrieval.mode}): p50 {pct(lat, 50):.1f} ms, "
        f"p95 {pct(lat, 95):.1f} ms  (target p95 <= 100 ms)"
    )


if __name__ == "__main__":
    main()
