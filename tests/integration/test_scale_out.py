"""The same code against a `chroma run` server and an OpenAI-compatible embeddings server, by
configuration alone (issue 7). Everything on 127.0.0.1, started here and stopped after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.llm.session import llm_session
from rag.settings import ChromaSettings, EmbedSettings, LLMSettings, Settings
from rag.sources.loader import load_corpus
from rag.wiring import build_engine, open_retriever, run_ingest
from tests.conftest import load_questions
from tests.integration.servers import chroma_server, embeddings_server

pytestmark = pytest.mark.slow
QUESTIONS = [q["question"] for q in load_questions("lookup")[:10]]


@pytest.fixture(scope="module")
def server_settings(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("chroma-server")
    with chroma_server(root / "db") as url:
        settings = Settings(data_dir=root / "data", chroma=ChromaSettings(url=url))
        run_ingest(settings, progress=False)
        yield settings


def test_ingest_through_the_server_is_idempotent(server_settings: Settings) -> None:
    parsed, summary = run_ingest(server_settings, progress=False)
    assert len(parsed.papers) == 519 and summary.added == 0 and summary.removed == 0
    assert not (server_settings.data_dir / "chroma").exists()  # nothing embedded on the side


def test_server_store_gives_the_same_results_as_the_embedded_one(
    server_settings, retriever
) -> None:
    remote = open_retriever(server_settings, retriever.embedder)
    assert (remote.chunk_count, remote.paper_count) == (
        retriever.chunk_count,
        retriever.paper_count,
    )
    for q in QUESTIONS:
        assert [h.paper_id for h in remote.search(q).hits] == [
            h.paper_id for h in retriever.search(q).hits
        ]


@pytest.mark.llm
def test_ask_through_server_store_and_separate_llm(server_settings: Settings, llm_server) -> None:
    settings = server_settings.model_copy(
        update={"llm": LLMSettings(base_url=llm_server.base_url, max_answer_tokens=48)}
    )
    with llm_session(settings) as session:  # a remote endpoint: nothing is started
        answer = build_engine(settings, session.client()).ask("What is QLoRA?")
    assert answer.sources and answer.sources[0].hit.title.startswith("QLoRA")


def test_unreachable_chroma_server_is_a_clear_error(tmp_path: Path, unused_port: int) -> None:
    from rag.errors import StoreError

    settings = Settings(
        data_dir=tmp_path, chroma=ChromaSettings(url=f"http://127.0.0.1:{unused_port}")
    )
    with pytest.raises(StoreError, match="cannot reach the Chroma server"):
        open_retriever(settings)


def test_embeddings_endpoint_matches_the_local_embedder(tmp_path: Path, embedder) -> None:
    papers = load_corpus([Path(__file__).parents[2] / "data" / "corpus"]).papers[:40]
    corpus = tmp_path / "subset.jsonl"
    corpus.write_text(
        "\n".join(json.dumps({"title": p.title, "abstract": p.abstract}) for p in papers)
    )
    with embeddings_server(tmp_path / "embed.log") as url:
        remote = Settings(
            data_dir=tmp_path / "data", embed=EmbedSettings(backend="openai", base_url=url)
        )
        local = Settings(data_dir=tmp_path / "data")
        run_ingest(remote, [corpus], progress=False)
        run_ingest(local, [corpus], progress=False)
        assert remote.collection_name() != local.collection_name()  # never mixed
        r_remote, r_local = open_retriever(remote), open_retriever(local, embedder)
        for p in papers[:5]:
            q = p.abstract.split(". ")[0]
            assert r_remote.search(q).hits[0].paper_id == r_local.search(q).hits[0].paper_id
