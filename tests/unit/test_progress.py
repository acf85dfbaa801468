"""Progress off a terminal: a few plain lines, not one per update (CI logs)."""

from __future__ import annotations

import io

from rag.progress import SparseProgress


def test_sparse_progress_prints_about_ten_lines_for_a_thousand_updates() -> None:
    out = io.StringIO()
    with SparseProgress(1000, "embedding", "chunk", out=out, every_s=3600) as bar:
        for _ in range(1000):
            bar.update(1)
    lines = out.getvalue().splitlines()
    assert 5 <= len(lines) <= 12, lines
    assert lines[-1].startswith("embedding: 1,000/1,000 chunk (100%)")


def test_iterating_counts_each_item_and_ends_with_a_line() -> None:
    out = io.StringIO()
    bar = SparseProgress(3, "eval", "q", out=out, iterable=["a", "b", "c"], every_s=3600)
    assert list(bar) == ["a", "b", "c"]
    bar.close()
    assert out.getvalue().splitlines()[-1].startswith("eval: 3/3 q (100%)")
