"""Bounded load test on loopback: N concurrent clients for D seconds against the chat's search
API and its answer API (the real app, the real local model). Prints requests, errors, latency
percentiles, queue waits and the app's resident memory over time.

    RAG_DATA_DIR=... .venv/bin/python bench/load.py [--clients 20] [--seconds 120]

Every request goes to 127.0.0.1; loops are bounded by count and time and stop by themselves."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import psutil

QUESTIONS = [
    "What does QLoRA backpropagate gradients through?",
    "How do sparse mixture-of-experts models route tokens?",
    "Which methods merge task vectors?",
    "What is instruction pre-training?",
]
MAX_REQUESTS_PER_CLIENT = 500


def start_app(port: int) -> subprocess.Popen:
    env = {**os.environ, "RAG_UI_PORT": str(port), "RAG_UI_HOST": "127.0.0.1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.ui.app"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return proc
        except OSError:
            time.sleep(1)
    proc.kill()
    raise SystemExit("the app did not start within 10 minutes")


def client_loop(url: str, api: str, stop_at: float, out: list, errors: list) -> None:
    from gradio_client import Client

    c = Client(url, verbose=False)
    for i in range(MAX_REQUESTS_PER_CLIENT):
        if time.monotonic() >= stop_at:
            return
        q = QUESTIONS[i % len(QUESTIONS)]
        t = time.perf_counter()
        try:
            if api == "search":
                c.predict(q, 5, "hybrid", api_name="/search")
            else:
                c.predict(q, 2, 0.1, "hybrid", api_name="/ask")
            out.append((api, time.perf_counter() - t))
        except Exception as e:  # a load test counts failures instead of stopping
            errors.append((api, repr(e)[:160]))


def sample_memory(pid: int, stop_at: float, rss: list) -> None:
    proc = psutil.Process(pid)
    while time.monotonic() < stop_at:
        rss.append(sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20)
        time.sleep(5)


def pct(v: list[float], q: int) -> float:
    return (
        statistics.quantiles(v, n=100, method="inclusive")[q - 1] if len(v) > 1 else (v or [0])[0]
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=int, default=120)
    ap.add_argument("--port", type=int, default=7871)
    args = ap.parse_args()
    app = start_app(args.port)
    url = f"http://127.0.0.1:{args.port}/"
    done, errors, rss = [], [], []
    stop_at = time.monotonic() + args.seconds
    threads = [threading.Thread(target=sample_memory, args=(app.pid, stop_at, rss))]
    for i in range(args.clients):
        api = "ask" if i % 4 == 0 else "search"  # a quarter chat, the rest search
        threads.append(threading.Thread(target=client_loop, args=(url, api, stop_at, done, errors)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=args.seconds + 900)  # answers in flight may finish after the window
    app.terminate()
    app.wait(30)
    report(args, done, errors, rss)


def report(args, done: list, errors: list, rss: list) -> None:
    print(f"{args.clients} clients for {args.seconds} s on 127.0.0.1")
    for api in ("search", "ask"):
        lat = [d for a, d in done if a == api]
        errs = [e for a, e in errors if a == api]
        print(
            f"{api:>6}: {len(lat)} ok, {len(errs)} errors; latency p50 {pct(lat, 50):.2f} s, "
            f"p95 {pct(lat, 95):.2f} s, max {max(lat or [0]):.2f} s (queue wait included)"
        )
        for e in errs[:3]:
            print(f"        error: {e}")
    if rss:
        print(
            f"memory (app process and its children): start {rss[0]:.0f} MB, max {max(rss):.0f} MB, "
            f"end {rss[-1]:.0f} MB over {len(rss)} samples"
        )


if __name__ == "__main__":
    main()
