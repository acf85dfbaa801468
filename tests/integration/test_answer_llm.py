"""Cited answers end to end with the real packaged model behind a real llama.cpp server.
LLM calls are few and short: the whole suite has to fit in CI's budget on 2 cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.answer.conversation import Conversation
from rag.answer.events import Done, Retrieved, Token
from rag.answer.prompts import ABSTAIN_PHRASE
from rag.llm.client import OpenAIChatClient
from rag.settings import LLMSettings, Settings
from rag.wiring import build_engine

pytestmark = [pytest.mark.slow, pytest.mark.llm]
QLORA = "QLoRA: Efficient Finetuning of Quantized LLMs"


@pytest.fixture(scope="module")
def engine(corpus_settings: Settings, llm_server, retriever):
    settings = corpus_settings.model_copy(
        update={"llm": LLMSettings(base_url=llm_server.base_url, max_answer_tokens=96)}
    )
    return build_engine(settings, OpenAIChatClient(settings.llm, llm_server.base_url), retriever)


def test_sources_arrive_before_the_first_token_and_citations_resolve(engine) -> None:
    events = list(engine.stream("What does QLoRA backpropagate gradients through?"))
    kinds = [type(e) for e in events]
    assert kinds[0] is Retrieved and kinds.index(Token) > 0 and kinds[-1] is Done
    answer = events[-1].answer
    assert not answer.abstained
    assert QLORA in [s.hit.title for s in answer.cited]
    given = {s.n for s in answer.sources}
    assert all(n in given for s in answer.sentences for n in s.citations)
    assert answer.timings["ttft_ms"] and answer.timings["prompt_tokens"] > 0


def test_off_corpus_question_abstains_and_cites_nothing(engine) -> None:
    answer = engine.ask("What is the boiling point of liquid nitrogen at sea level?")
    assert answer.abstained and answer.text == ABSTAIN_PHRASE and answer.cited == []


def test_follow_up_resolves_it_from_the_previous_turn(engine) -> None:
    conv = Conversation()
    engine.ask("Which method finetunes a 65B model on a single 48GB GPU?", conv)
    follow = engine.ask("What new data type does it introduce?", conv)
    assert "QLoRA" in follow.standalone_question or "65B" in follow.standalone_question
    assert QLORA in [s.hit.title for s in follow.cited] or not follow.abstained
    assert QLORA in [s.hit.title for s in follow.sources]


def _cli(settings: Settings, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "RAG_DATA_DIR": str(settings.data_dir), **env}
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_ask_json_against_a_separately_started_server(
    corpus_settings: Settings, llm_server
) -> None:
    env = {
        "RAG_LLM_BASE_URL": llm_server.base_url,
        "RAG_LLM_API_KEY": "sk-test-secret-123",
        "RAG_LLM_MAX_ANSWER_TOKENS": "64",
    }
    out = _cli(corpus_settings, env, "ask", "--json", "What is QLoRA?")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) >= {
        "question",
        "answer",
        "abstained",
        "citations",
        "sentences",
        "retrieved",
        "timings",
        "model",
        "fingerprint",
    }
    assert set(doc["timings"]) >= {
        "retrieve_ms",
        "ttft_ms",
        "total_ms",
        "prompt_tokens",
        "cached_tokens",
    }
    titles = {h["paper_id"]: h["title"] for h in doc["retrieved"]}
    assert all(titles[c["paper_id"]] == c["title"] for c in doc["citations"])
    assert "sk-test-secret-123" not in out.stdout + out.stderr


def test_ask_starts_the_local_server_by_itself(
    corpus_settings: Settings, gguf_path: Path, unused_port: int
) -> None:
    model_dir = corpus_settings.data_dir / "model"
    model_dir.mkdir(exist_ok=True)
    for f in gguf_path.parent.iterdir():  # hard links keep the verified stamp valid: no re-assembly
        if not (model_dir / f.name).exists():
            os.link(f, model_dir / f.name)
    env = {"RAG_LLM_PORT": str(unused_port), "RAG_LLM_MAX_ANSWER_TOKENS": "48"}
    out = _cli(corpus_settings, env, "ask", "--json", "What is QLoRA?")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["retrieved"]
    import psutil

    leftovers = [
        p for p in psutil.process_iter(["cmdline"]) if str(unused_port) in (p.info["cmdline"] or [])
    ]
    assert leftovers == [], "the server the command started outlived it"
