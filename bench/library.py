"""A library of PDFs through the one ingest path, then search. Prints, from one run: pages/s and
chunks/s of the whole ingestion (parse + chunk + embed + store), the share of time in parsing
(pypdfium2 in its sandboxed worker, cleaning, metadata), chunking, embedding and storing, and
search latency (p50/p95) over the store afterwards, with and without a filter.

    .venv/bin/python bench/library.py [--count 100] [--queries 60]
        [--dir ~/.cache/rag-papers-bench/pdfs]

The PDFs are printed by headless Chromium (tests/fixtures/pdfs.py: few-page papers, different
for each n) once and kept in --dir; bench/pdf_parsers.py uses the same files."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class TimedEmbedder:
    """The real embedder, with the seconds spent inside it counted."""

    def __init__(self, real) -> None:
        self.real, self.name, self.seconds = real, real.name, 0.0

    def embed(self, texts: list[str]) -> list[list[float]]:
        start = time.perf_counter()
        try:
            return self.real.embed(texts)
        finally:
            self.seconds += time.perf_counter() - start


class TimedCounter:
    def __init__(self, real) -> None:
        self.real, self.seconds = real, 0.0

    def __call__(self, text: str) -> int:
        start = time.perf_counter()
        try:
            return self.real(text)
        finally:
            self.seconds += time.perf_counter() - start


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def latencies(retriever, questions: list[str], **kw) -> list[float]:
    retriever.search(questions[0], **kw)  # the question embedder's first call loads it
    out = []
    for q in questions:
        start = time.perf_counter()
        retriever.search(q, **kw)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100, help="PDFs to ingest (>= 100 for #13)")
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument(
        "--dir", type=Path, default=Path.home() / ".cache" / "rag-papers-bench" / "pdfs"
    )
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))  # tests/fixtures/pdfs.py prints the PDFs
    from rag.index.embed import TokenCounter, make_embedder, packaged_model_dir
    from rag.index.filters import make_filters
    from rag.index.ingest import ingest
    from rag.settings import Settings
    from rag.sources.loader import load_corpus
    from rag.wiring import open_retriever, open_store
    from tests.fixtures import pdfs as fx

    files = fx.small_papers(args.dir, args.count)
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="bench-library-")))
    embedder = TimedEmbedder(make_embedder(settings.embed))
    embedder.real.embed(["warm-up"])  # model load is not throughput
    count = TimedCounter(TokenCounter(packaged_model_dir()))
    store = open_store(settings, embedder, create=True)

    start = time.perf_counter()
    parsed = load_corpus(files, settings.sources)
    parse_s = time.perf_counter() - start
    mark = time.perf_counter()
    summary = ingest(
        parsed.papers, store, embedder, count, settings.chunk, settings.chroma.batch_size,
        progress=False, read=parsed.read,
    )  # fmt: skip
    ingest_s = time.perf_counter() - mark
    total = parse_s + ingest_s
    store_s = ingest_s - embedder.seconds - count.seconds
    pages = sum(len(p.pages) for p in parsed.papers)

    retriever = open_retriever(settings, embedder.real)
    questions = [f"routing variance in workflow number {n}" for n in range(args.queries)]
    plain = latencies(retriever, questions)
    source = make_filters(source=files[0].name, year="2000-")
    filtered = latencies(retriever, questions, filters=source)

    print(f"PDFs: {len(files)} files, {len(parsed.papers)} papers, {pages} pages, "
          f"{summary.chunks} chunks; {parsed.rejected} rejected")  # fmt: skip
    print(f"ingestion: {total:.1f} s  ->  {pages / total:.1f} pages/s, "
          f"{summary.chunks / total:.1f} chunks/s, {len(files) / total:.2f} files/s")  # fmt: skip
    for what, secs in (
        ("parse (PDF worker, clean, metadata)", parse_s),
        ("chunk (sentence split, token counts)", count.seconds),
        ("embed (all-MiniLM-L6-v2)", embedder.seconds),
        ("store (Chroma upsert) + plan", store_s),
    ):
        print(f"  {what:38} {secs:7.1f} s  {secs / total:6.1%}")
    print(
        f"search ({len(plain)} q, hybrid): p50 {pct(plain, 50):.1f} ms, p95 {pct(plain, 95):.1f} ms"
    )
    print(f"search with --source/--year filters: p50 {pct(filtered, 50):.1f} ms, "
          f"p95 {pct(filtered, 95):.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
