"""The two ways the dense search reaches Chroma (rag/index/dense.py) return the same chunks with
the same cosines, and a process that starts no model never imports LlamaIndex."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rag.index.dense import ChromaDense, LlamaIndexDense
from rag.index.filters import Filters, where
from rag.settings import Settings
from tests.conftest import REPO_ROOT, load_questions

pytestmark = pytest.mark.slow
QUESTIONS = [q["question"] for q in load_questions()[:12]]


def clauses(chunks) -> dict[str, dict | None]:
    """No filter; a source filter over a third of the files (one and several keys); and a year
    filter, which the bundled corpus (no years) admits nothing through."""
    keys = sorted({k for c in chunks for k in c.source_keys})
    return {
        "none": None,
        "one-file": where(Filters(source="x"), keys[:1]),
        "a-third": where(Filters(source="x"), keys[::3]),
        "year": where(Filters(year_from=2023)),
    }


@pytest.fixture(scope="module")
def both(retriever):
    store, embedder = retriever.store, retriever.embedder
    n = retriever.cfg.candidates
    return LlamaIndexDense(store, embedder, n), ChromaDense(store, embedder), n


@pytest.mark.parametrize("name", ["none", "one-file", "a-third", "year"])
def test_llamaindex_and_direct_chroma_agree(retriever, both, name: str) -> None:
    li, direct, n = both
    clause = clauses(retriever.chunks())[name]
    for q in QUESTIONS:
        a, b = li.search(q, n, clause), direct.search(q, n, clause)
        assert [cid for cid, _ in a] == [cid for cid, _ in b], q
        assert bool(a) is (name != "year"), q
        for (_, x), (_, y) in zip(a, b, strict=True):
            assert abs(x - y) < 1e-5, q


def test_a_smaller_n_is_the_head_of_the_list(both) -> None:
    li, direct, n = both
    q = QUESTIONS[0]
    assert [c for c, _ in li.search(q, 5, None)] == [c for c, _ in direct.search(q, n, None)][:5]


@pytest.mark.parametrize(
    "argv",
    [["ask", "--no-llm", "--json", "What is QLoRA?"], ["search", "--json", "What is QLoRA?"]],
    ids=["ask-no-llm", "search"],
)
def test_a_process_without_a_model_never_imports_llama_index(
    corpus_settings: Settings, argv: list[str]
) -> None:
    code = (
        "import sys\n"
        "from rag.cli import main\n"
        f"rc = main({argv!r})\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith('llama_index')),"
        " file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    env = {**os.environ, "RAG_DATA_DIR": str(corpus_settings.data_dir)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert '"paper_id"' in out.stdout  # it did answer / search
    assert "LOADED []" in out.stderr
