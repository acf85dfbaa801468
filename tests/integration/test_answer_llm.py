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
from rag.answer.events import Done, Evidence, Retrieved, Token
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


def test_sources_and_evidence_arrive_before_the_first_token_and_citations_resolve(engine) -> None:
    events = list(engine.stream("What does QLoRA backpropagate gradients through?"))
    kinds = [type(e) for e in events]
    assert kinds[:2] == [Retrieved, Evidence] and kinds.index(Token) > 1 and kinds[-1] is Done
    instant = events[1]
    assert instant.extract.sentences and QLORA in {s.title for _, s in instant.extract.sentences}
    answer = events[-1].answer
    assert not answer.abstained
    assert QLORA in [s.hit.title for s in answer.cited]
    given = {s.n for s in answer.sources}
    assert all(n in given for s in answer.sentences for n in s.citations)
    cited = [s for s in answer.sentences if s.citations]
    assert cited and all(s.evidence for s in cited)  # every cited sentence names its evidence
    assert answer.timings["ttft_ms"] and answer.timings["prompt_tokens"] > 0
    assert answer.timings["evidence_ms"] < answer.timings["ttft_ms"]


def test_a_survey_answer_cites_many_papers_in_its_list(engine) -> None:
    answer = engine.ask("Which papers propose ways to compress the KV cache of LLMs?")
    assert answer.mode is not None and answer.mode.survey and not answer.abstained
    assert "\nPapers:\n" in answer.text
    assert len(answer.cited) >= 5  # the per-paper list cites every paper given


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
        "evidence_ms",
    }
    assert doc["evidence"] and set(doc["evidence"][0]) == {
        "n",
        "paper_id",
        "title",
        "sentence",
        "score",
        "page",
    }
    given = {h["given_as"]: h["paper_id"] for h in doc["retrieved"] if h["given_as"]}
    assert all(given[e["n"]] == e["paper_id"] for e in doc["evidence"])
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


def test_ask_no_llm_answers_from_the_evidence_without_a_model_process(
    corpus_settings: Settings, unused_port: int
) -> None:
    env = {"RAG_LLM_PORT": str(unused_port)}  # a model would have to be started here
    out = _cli(corpus_settings, env, "ask", "--json", "--no-llm", "What is QLoRA?")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["answer_kind"] == "extractive" and not doc["abstained"] and doc["evidence"]
    assert doc["timings"]["ttft_ms"] is None and "QLoRA" in doc["answer"]
    assert "Evidence (instant, extractive):" in out.stderr
    run_dir = corpus_settings.data_dir / "run"
    assert not (run_dir / f"server-{unused_port}.json").exists()  # no server was spawned


def test_a_figure_no_paper_states_abstains_before_the_model(engine) -> None:
    """The figure check on the real store: the seed corpus states how large a model QLoRA
    finetunes, but no abstract gives a count of Guanaco's training examples."""
    stated = engine.ask("How many parameters does the largest model finetuned with QLoRA have?")
    assert stated.decision is not None and stated.decision.features.unstated == ""
    assert not stated.abstained
    unstated = engine.ask("How many training examples does the Guanaco chatbot use?")
    assert unstated.abstained and unstated.abstain_reason == "figure"
    assert unstated.decision is not None and unstated.decision.features.unstated == "examples"
    assert unstated.timings.get("ttft_ms") is None  # the model was not asked
    assert unstated.evidence is not None  # the closest evidence is still shown


def test_the_cli_says_why_it_abstained(corpus_settings: Settings, unused_port: int) -> None:
    env = {"RAG_LLM_PORT": str(unused_port)}
    q = "How many training examples does the Guanaco chatbot use?"
    out = _cli(corpus_settings, env, "ask", "--no-llm", q)
    assert out.returncode == 0, out.stderr
    assert "do not contain the answer" in out.stdout
    assert "why: no paper given states a figure of the examples asked for" in out.stdout
