"""A cold `rag ask --no-llm`: how long a fresh process takes to print the evidence answer.

    RAG_DATA_DIR=... .venv/bin/python bench/cli_cold.py [--runs 3] [--rag "CMD"]

Each question is asked in a new process (`rag ask --no-llm --json Q`), `--runs` times, and the
wall time of the whole process is printed beside the process's own timings (retrieval, evidence)
and the part spent before the question was read (imports, opening the store: wall minus the
process's total). The warm-up process also writes the store's snapshot when it is missing or
stale (rag/index/snapshot.py), as any first process after a change does. `--rag` runs another
command in its place, e.g. an older checkout:
`--rag "env PYTHONPATH=/old/checkout .venv/bin/python -m rag.cli"`."""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTIONS = [
    "Which method finetunes a 65B model on a single 48GB GPU?",
    "How do attention sinks affect streaming language models?",
    "Which benchmark tests tool-using agents with real user queries?",
]


def one(cmd: list[str], question: str) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    out = subprocess.run(
        [*cmd, "ask", "--no-llm", "--json", question],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),  # `python -m rag.cli` puts the cwd first on sys.path
    )
    wall = time.perf_counter() - start
    return wall, json.loads(out.stdout)["timings"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    default = str(Path(sys.executable).with_name("rag"))
    ap.add_argument("--rag", default=default, help="the rag command to time")
    args = ap.parse_args()
    cmd = shlex.split(args.rag)
    one(cmd, QUESTIONS[0])  # warm-up: the file cache (and the store snapshot), not the process
    rows = []
    for q in QUESTIONS:
        for _ in range(args.runs):
            wall, t = one(cmd, q)
            rows.append((wall, t["total_ms"] / 1000, t.get("evidence_ms") or 0.0))
    walls = sorted(r[0] for r in rows)
    print(f"{len(rows)} cold processes ({args.runs} per question) of: {args.rag}")
    print(f"{'figure':34} {'p50':>7} {'max':>7}")
    for name, vals in (
        ("wall s (whole process)", walls),
        ("answer s (question in -> printed)", sorted(r[1] for r in rows)),
        ("start-up s (wall - answer)", sorted(r[0] - r[1] for r in rows)),
        ("evidence ms", sorted(r[2] for r in rows)),
    ):
        print(f"{name:34} {statistics.median(vals):7.2f} {vals[-1]:7.2f}")


if __name__ == "__main__":
    main()
