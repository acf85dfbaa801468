"""Scale benchmark: embedded Chroma (PersistentClient) against a `chroma run` server on 127.0.0.1,
at 1k / 10k / 100k synthetic chunks shaped like ours (384-d unit vectors, a title + ~120-word
document, metadata paper_id / title / position / sources JSON). Prints, per mode and size:
ingestion rate, query p50/p95 (n_results=30, as the retriever asks), resident memory and disk.

    .venv/bin/python bench/scale.py [--sizes 1000 10000 100000] [--queries 200]

Each (mode, size) runs in a fresh process so one run's memory does not count in the next. The
vectors are random, so the HNSW graph is a worst case for recall but the same work per insert.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import psutil

CpuClock = Callable[[], float]
DIM = 384
CHROMA_CLI = Path(sys.executable).parent / "chroma"
CONFIG = {"hnsw": {"space": "cosine"}}
INCLUDE = ["documents", "metadatas", "distances"]


@dataclass(frozen=True)
class Run:
    mode: str
    size: int
    ingest_per_s: float
    ingest_cpu_s: float  # CPU seconds of client + server while ingesting: load-independent
    p50_ms: float
    p95_ms: float
    scan_s: float  # every id + document + metadata paged out, as Retriever.load does at startup
    rss_client_mb: float
    rss_server_mb: float | None
    disk_mb: float
    batch: int


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def fake_batch(rng: random.Random, vocab: list[str], start: int, n: int) -> dict[str, Any]:
    """Ids, documents and metadata like rag.index.store writes: ~3 chunks per paper."""
    ids, docs, metas = [], [], []
    for k in range(start, start + n):
        pid = f"p{k // 3:015x}"
        title = " ".join(rng.choices(vocab, k=9)).capitalize()
        docs.append(title + "\n" + " ".join(rng.choices(vocab, k=120)))
        ids.append(f"{pid}-{k % 3}")
        sources = json.dumps([f"{k % 4:03d}_listing.txt"])
        metas.append({"paper_id": pid, "title": title, "position": k % 3, "sources": sources})
    return {"ids": ids, "documents": docs, "metadatas": metas}


def ingest(col: Any, size: int, batch: int, seed: int, cpu: CpuClock) -> tuple[float, float]:
    """(vectors per second, CPU seconds), counting only the time inside `collection.add`."""
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    vocab = [
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 10)))
        for _ in range(3000)
    ]
    spent = cpu_spent = 0.0
    for start in range(0, size, batch):
        n = min(batch, size - start)
        rows, vecs = fake_batch(rng, vocab, start, n), unit_vectors(nrng, n)
        t, c = time.perf_counter(), cpu()
        col.add(embeddings=vecs, **rows)
        spent, cpu_spent = spent + time.perf_counter() - t, cpu_spent + cpu() - c
    return size / spent, cpu_spent


def query_latencies(col: Any, queries: int, seed: int) -> list[float]:
    vecs = unit_vectors(np.random.default_rng(seed + 1), queries + 1)
    col.query(query_embeddings=vecs[:1], n_results=30, include=INCLUDE)  # warm-up
    out = []
    for v in vecs[1:]:
        t = time.perf_counter()
        col.query(query_embeddings=v[None, :], n_results=30, include=INCLUDE)
        out.append((time.perf_counter() - t) * 1000)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_heartbeat(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> Any:
    import chromadb

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chroma run exited with {proc.returncode}; see its log")
        with contextlib.suppress(Exception):  # connection refused until the server is up
            client = chromadb.HttpClient(host="127.0.0.1", port=port)
            client.heartbeat()
            return client
        time.sleep(0.3)
    raise RuntimeError(f"chroma run on 127.0.0.1:{port} gave no heartbeat in {timeout:.0f} s")


@contextlib.contextmanager
def chroma_server(path: Path) -> Iterator[tuple[Any, psutil.Process]]:
    port = free_port()
    cmd = [str(CHROMA_CLI), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    with open(path.parent / "server.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield wait_heartbeat(port, proc), psutil.Process(proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def tree_rss_mb(proc: psutil.Process) -> float:
    procs = [proc, *proc.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs) / 2**20


def disk_mb(path: Path) -> float:
    """Allocated size, like `du`: HNSW files may be sparse or preallocated."""
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file()) / 2**20


def measure(client: Any, size: int, queries: int, server: psutil.Process | None) -> dict[str, Any]:
    """Ingest, query, then memory (before the full scan, which only the retriever's start pays)."""
    col = client.create_collection("scale", configuration=CONFIG, embedding_function=None)
    batch = min(1000, client.get_max_batch_size())  # 5461 in chroma 1.5
    rate, cpu_s = ingest(col, size, batch, size, lambda: cpu_seconds(server))
    assert col.count() == size
    lat = query_latencies(col, queries, seed=size)
    return {
        "ingest_per_s": rate,
        "ingest_cpu_s": cpu_s,
        "p50_ms": pct(lat, 50),
        "p95_ms": pct(lat, 95),
        "rss_client_mb": psutil.Process().memory_info().rss / 2**20,
        "rss_server_mb": tree_rss_mb(server) if server else None,
        "scan_s": full_scan_seconds(col, size),
        "batch": batch,
    }


def cpu_seconds(server: psutil.Process | None) -> float:
    """CPU time of this process, plus the server's (and its children's) when there is one."""
    procs = [server, *server.children(recursive=True)] if server else []
    return time.process_time() + sum(sum(p.cpu_times()[:2]) for p in procs)


def full_scan_seconds(col: Any, size: int, page: int = 2000) -> float:
    """Pages of 2,000 like rag.index.store.Store._pages: the retriever holds every chunk for BM25."""
    t, seen = time.perf_counter(), 0
    while got := col.get(include=["documents", "metadatas"], limit=page, offset=seen)["ids"]:
        seen += len(got)
    assert seen == size
    return time.perf_counter() - t


def run_one(mode: str, size: int, queries: int) -> Run:
    import chromadb

    os.environ["ANONYMIZED_TELEMETRY"] = "False"  # offline: no phone-home attempts
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        db = Path(tmp) / "db"
        if mode == "embedded":
            got = measure(chromadb.PersistentClient(path=str(db)), size, queries, None)
        else:
            with chroma_server(db) as (client, server):
                got = measure(client, size, queries, server)
        disk = disk_mb(db)  # after the server stopped: what it flushed is on disk
    return Run(mode, size, **got, disk_mb=disk)


def run_isolated(mode: str, size: int, queries: int) -> Run:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(run_one, mode, size, queries).result()


def growth(runs: list[Run], field: str) -> str:
    vals = [(r.size, getattr(r, field)) for r in runs]
    steps = [f"x{b / a:.2f}" for (_, a), (_, b) in zip(vals, vals[1:], strict=False) if a]
    return " then ".join(steps)


def print_table(runs: list[Run]) -> None:
    print(
        "| mode | chunks | ingest (vec/s) | ingest CPU (s) | query p50 (ms) | query p95 (ms) "
        "| full scan (s) | RSS client (MB) | RSS server (MB) | disk (MB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        server = f"{r.rss_server_mb:.0f}" if r.rss_server_mb is not None else "-"
        print(
            f"| {r.mode} | {r.size:,} | {r.ingest_per_s:,.0f} | {r.ingest_cpu_s:.1f} "
            f"| {r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.scan_s:.2f} "
            f"| {r.rss_client_mb:.0f} | {server} | {r.disk_mb:.1f} |"
        )


def print_growth(runs: list[Run]) -> None:
    for mode in sorted({r.mode for r in runs}):
        rs = [r for r in runs if r.mode == mode]
        print(f"\n{mode}: each step is x{rs[1].size // rs[0].size if len(rs) > 1 else 1} chunks")
        for field in (
            "ingest_per_s",
            "ingest_cpu_s",
            "p50_ms",
            "p95_ms",
            "scan_s",
            "rss_client_mb",
            "rss_server_mb",
            "disk_mb",
        ):
            if getattr(rs[0], field) is not None:
                print(f"  {field:14s} {growth(rs, field)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--modes", nargs="+", default=["embedded", "server"])
    ap.add_argument("--json", type=Path, help="also write the runs here")
    args = ap.parse_args()
    runs = []
    for mode in args.modes:
        for size in args.sizes:
            t = time.perf_counter()
            runs.append(run_isolated(mode, size, args.queries))
            print(f"{mode} {size:,}: {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    print(
        f"\n{time.strftime('%Y-%m-%d')}, {psutil.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    print_table(runs)
    print_growth(runs)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in runs], indent=1))


if __name__ == "__main__":
    main()
