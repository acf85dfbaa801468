"""Retrieval quality on questions written from the corpus, and the `rag search --json` contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rag.errors import ConfigError
from rag.settings import Settings
from tests.conftest import load_questions

pytestmark = pytest.mark.slow
LOOKUPS = load_questions("lookup")


def test_names_are_rare_terms_of_the_title_and_every_term_must_be_known(retriever) -> None:
    title = "QLoRA: Efficient Finetuning of Quantized LLMs"
    assert retriever.names("What is QLoRA?", title) == ("qlora",)
    assert retriever.names("What is attention?", title) == ()  # common, and not in the title
    assert retriever.names("How does QLoRA compare with AlphaFold2?", title) == ()  # unknown term


def test_the_question_set_has_at_least_20_paraphrased_lookups() -> None:
    assert sum(q["notes"].startswith("paraphrased") for q in LOOKUPS) >= 20


@pytest.mark.parametrize("q", LOOKUPS, ids=[q["qid"] for q in LOOKUPS])
def test_hybrid_finds_the_paper_in_the_top_5(retriever, q: dict) -> None:
    hits = retriever.search(q["question"], top_k=5).hits
    assert q["gold_titles"][0] in [h.title for h in hits]


def test_results_are_papers_each_once_with_their_best_chunk(retriever) -> None:
    hits = retriever.search("mixture of experts routing for multi-task learning", top_k=10).hits
    assert len({h.paper_id for h in hits}) == len(hits) == 10
    assert [h.rank for h in hits] == list(range(1, 11))
    chunks = {c.id: c for c in retriever.chunks()}
    assert all(h.chunk and h.chunk in chunks[h.chunk_id].text for h in hits)


@pytest.mark.parametrize("mode", ["dense", "bm25"])
def test_single_retrievers_stay_selectable(retriever, mode: str) -> None:
    r = retriever.search("QLoRA finetuning of quantized models", mode=mode)
    assert r.mode == mode and r.hits[0].title.startswith("QLoRA")


def run_cli(
    settings: Settings, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAG_DATA_DIR": str(settings.data_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_search_json_schema(corpus_settings: Settings) -> None:
    out = run_cli(
        corpus_settings, "search", "--json", "-k", "3", "shared hypernetworks for adapters"
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) >= {"question", "results", "timings"} and "retrieve_ms" in doc["timings"]
    assert len(doc["results"]) == 3
    assert set(doc["results"][0]) >= {"rank", "paper_id", "title", "score", "chunk", "sources"}


def test_search_file_passes_fields_through(corpus_settings: Settings, tmp_path) -> None:
    qfile = tmp_path / "q.jsonl"
    qfile.write_text(
        '{"question": "instruction pre-training", "qid": "x1"}\n\n{"question": "QLoRA", "qid": "x2"}\n'
    )
    out = run_cli(corpus_settings, "search", "--json", "--file", str(qfile))
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["qid"] for r in rows] == ["x1", "x2"] and all(r["results"] for r in rows)


def test_empty_question_is_a_clear_error_not_a_traceback(corpus_settings: Settings) -> None:
    out = run_cli(corpus_settings, "search", "   ")
    assert out.returncode == 2 and "empty" in out.stderr and "Traceback" not in out.stderr


BATCH = [
    '{"question": "QLoRA finetuning of quantized models", "qid": "a"}',
    "{not json",
    '{"question": "   ", "qid": "c"}',
    '{"qid": "d"}',
    "",
    '{"question": "instruction pre-training", "qid": "e"}',
]


def test_search_file_reports_each_bad_line_and_runs_the_rest(
    corpus_settings: Settings, tmp_path
) -> None:
    """Issue #10.8: the batch stopped at the first bad line; later questions never ran."""
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("\n".join(BATCH) + "\n")
    out = run_cli(corpus_settings, "search", "--json", "-k", "1", "--file", str(qfile))
    assert out.returncode == 2, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r.get("qid") for r in rows] == ["a", None, "c", "d", "e"]
    assert [r.get("line") for r in rows] == [None, 2, 3, 4, None]
    assert rows[1]["error"].startswith("not JSON (") and "empty" in rows[2]["error"]
    assert rows[4]["results"][0]["title"].startswith("Instruction Pre-Training")
    text = run_cli(corpus_settings, "search", "-k", "1", "--file", str(qfile))
    assert text.returncode == 2
    assert [ln.split(": error: ")[0] for ln in text.stderr.splitlines()] == [
        f"{qfile}:2",
        f"{qfile}:3",
        f"{qfile}:4",
    ]
    assert text.stdout.count("instruction pre-training  (") == 1  # the last question ran


@pytest.mark.parametrize("k", [0, -1, 51])
def test_the_retriever_refuses_a_bad_number_of_papers(retriever, k: int) -> None:
    """Issue #10.9, for callers of the Python API and the eval: no silent default, no slicing."""
    with pytest.raises(ConfigError, match=f"-k {k} is not valid"):
        retriever.search("QLoRA", top_k=k)
    hits = retriever.search("QLoRA", top_k=50).hits  # the most allowed; candidates bound it too
    assert 5 < len(hits) <= 50 and len({h.paper_id for h in hits}) == len(hits)
