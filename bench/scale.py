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
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import psutil

DIM = 384
CHROMA_CLI = Path(sys.executable).parent / "chroma"
CONFIG = {"hnsw": {"space": "cosine"}}
INCLUDE = ["documents", "metadatas", "distances"]


@dataclass(frozen=True)
class Run:
    mode: str
    size: int
    ingest_per_s: float
    p50_ms: float
    p95_ms: float
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
    """Ids, documents and metadata like rag.store writes: ~3 chunks per paper."""
    ids, docs, metas = [], [], []
    for k in range(start, start + n):
        pid = f"p{k // 3:015x}"
        title = " ".join(rng.choices(vocab, k=9)).capitalize()
        docs.append(title + "\n" + " ".join(rng.choices(vocab, k=120)))
        ids.append(f"{pid}-{k % 3}")
        sources = json.dumps([f"{k % 4:03d}_listing.txt"])
        metas.append({"paper_id": pid, "title": title, "position": k % 3, "sources": sources})
    return {"ids": ids, "documents": docs, "metadatas": metas}


def ingest(col: Any, size: int, batch: int, seed: int) -> float:
    """Vectors per second, counting only the time inside `collection.add`."""
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    vocab = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 10))) for _ in range(3000)]
    spent = 0.0
    for start in range(0, size, batch):
        n = min(batch, size - start)
        rows, vecs = fake_batch(rng, vocab, start, n), unit_vectors(nrng, n)
        t = time.perf_counter()
        col.add(embeddings=vecs, **rows)
        spent += time.perf_counter() - t
    return size / spent


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


def measure(client: Any, size: int, queries: int) -> tuple[float, list[float], int]:
    col = client.create_collection("scale", configuration=CONFIG, embedding_function=None)
    batch = min(1000, client.get_max_batch_size())  # 5461 in chroma 1.5
    rate = ingest(col, size, batch, seed=size)
    assert col.count() == size
    return rate, query_latencies(col, queries, seed=size), batch


def run_one(mode: str, size: int, queries: int) -> Run:
    import chromadb

    os.environ["ANONYMIZED_TELEMETRY"] = "False"  # offline: no phone-home attempts
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        db = Path(tmp) / "db"
        server_rss = None
        if mode == "embedded":
            rate, lat, batch = measure(chromadb.PersistentClient(path=str(db)), size, queries)
        else:
            with chroma_server(db) as (client, server):
                rate, lat, batch = measure(client, size, queries)
                server_rss = tree_rss_mb(server)
        client_rss = psutil.Process().memory_info().rss / 2**20
        disk = disk_mb(db)  # after the server stopped: what it flushed is on disk
    return Run(mode, size, rate, pct(lat, 50), pct(lat, 95), client_rss, server_rss, disk, batch)


def run_isolated(mode: str, size: int, queries: int) -> Run:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(run_one, mode, size, queries).result()


def growth(runs: list[Run], field: str) -> str:
    vals = [(r.size, getattr(r, field)) for r in runs]
    steps = [f"x{b / a:.2f}" for (_, a), (_, b) in zip(vals, vals[1:], strict=False) if a]
    return " then ".join(steps)


def print_table(runs: list[Run]) -> None:
    print("| mode | chunks | ingest (vec/s) | query p50 (ms) | query p95 (ms) | RSS client (MB) "
          "| RSS server (MB) | disk (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        server = f"{r.rss_server_mb:.0f}" if r.rss_server_mb is not None else "-"
        print(f"| {r.mode} | {r.size:,} | {r.ingest_per_s:,.0f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} "
              f"| {r.rss_client_mb:.0f} | {server} | {r.disk_mb:.1f} |")


def print_growth(runs: list[Run]) -> None:
    for mode in sorted({r.mode for r in runs}):
        rs = [r for r in runs if r.mode == mode]
        print(f"\n{mode}: each step is x{rs[1].size // rs[0].size if len(rs) > 1 else 1} chunks")
        for field in ("ingest_per_s", "p50_ms", "p95_ms", "rss_client_mb", "rss_server_mb", "disk_mb"):
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
    print(f"\n{time.strftime('%Y-%m-%d')}, {psutil.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print_table(runs)
    print_growth(runs)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in runs], indent=1))


if __name__ == "__main__":
    main()
