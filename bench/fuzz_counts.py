"""Fuzzing counts: every corpus-parser property of tests/unit/test_corpus_fuzz.py rerun with a larger
budget. Prints, per property: examples run, parser issues raised on them (rejected or warned
lines: the fuzzer reached the error paths) and property failures (parser bugs; 0 is the goal).

    .venv/bin/python bench/fuzz_counts.py [--examples 2000] [--only jsonl line_soup]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hypothesis import given, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests` is not an installed package

from tests.unit import test_corpus_fuzz as fuzz  # noqa: E402


def describe(e: BaseException) -> str:
    """One line per distinct failure Hypothesis found."""
    found = e.exceptions if isinstance(e, BaseExceptionGroup) else (e,)
    return "\n    ".join(f"{type(x).__name__}: {str(x).splitlines()[0][:160]}" for x in found)


def run_property(name: str, examples: int) -> tuple[int, int, str, float]:
    """(examples run, parser issues, failure or "", seconds) for one property."""
    prop = fuzz.PROPERTIES[name]
    budget = max(1, int(examples * prop.share))
    test = settings(fuzz.FUZZ, max_examples=budget, database=None)(given(prop.strategy)(prop.check))
    before, issues_before = fuzz.COUNTS[name], fuzz.ISSUES[name]
    start = time.perf_counter()
    failure = ""
    try:
        test()
    except Exception as e:  # a falsified property: report it and go on with the others
        failure = describe(e)
    runs, issues = fuzz.COUNTS[name] - before, fuzz.ISSUES[name] - issues_before
    return runs, issues, failure, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=2000, help="budget per property")
    ap.add_argument("--only", nargs="+", choices=sorted(fuzz.PROPERTIES), help="run these only")
    args = ap.parse_args()
    names = args.only or list(fuzz.PROPERTIES)
    print(
        f"{'property':18s} {'examples':>9s} {'parser issues':>14s} {'failures':>9s} {'seconds':>8s}"
    )
    total_runs = total_failures = 0
    for name in names:
        runs, issues, failure, secs = run_property(name, args.examples)
        total_runs += runs
        total_failures += bool(failure)
        print(f"{name:18s} {runs:9,d} {issues:14,d} {int(bool(failure)):9d} {secs:8.1f}")
        if failure:
            print(f"    {failure}")
    print(f"{'total':18s} {total_runs:9,d} {'':14s} {total_failures:9d}")


if __name__ == "__main__":
    main()
