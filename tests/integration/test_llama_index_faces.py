"""Our retriever and answer engine used from LlamaIndex code: LlamaIndex's own retriever
evaluator scores the PaperRetriever on our lookup questions, and a QueryEngineTool asks the
cited query engine (the real packaged model on the session's llama.cpp server)."""

from __future__ import annotations

import asyncio

import pytest

from rag.index.li_retriever import PaperRetriever
from rag.sources.identity import paper_id
from tests.conftest import load_questions

pytestmark = pytest.mark.slow


def test_llama_index_retriever_evaluator_scores_our_retriever(retriever) -> None:
    from llama_index.core.evaluation import RetrieverEvaluator

    evaluator = RetrieverEvaluator.from_metric_names(
        ["hit_rate", "mrr"], retriever=PaperRetriever(retriever, top_k=5)
    )
    questions = load_questions("lookup")
    results = [
        asyncio.run(
            evaluator.aevaluate(q["question"], expected_ids=[paper_id(q["gold_titles"][0])])
        )
        for q in questions
    ]
    hit_rate = sum(r.metric_vals_dict["hit_rate"] for r in results) / len(results)
    mrr = sum(r.metric_vals_dict["mrr"] for r in results) / len(results)
    assert hit_rate >= 0.95 and mrr >= 0.85, (hit_rate, mrr)


def test_retrieved_nodes_carry_the_paper_and_its_sources(retriever) -> None:
    nodes = PaperRetriever(retriever, top_k=3).retrieve("4-bit finetuning of a 65B model")
    assert len(nodes) == 3 and nodes[0].node.metadata["title"].startswith("QLoRA")
    assert nodes[0].node.node_id == nodes[0].node.metadata["paper_id"]
    assert nodes[0].node.metadata["sources"] and nodes[0].score > nodes[-1].score


@pytest.mark.llm
def test_query_engine_tool_answers_with_citations(corpus_settings, llm_server, retriever) -> None:
    from llama_index.core.tools import QueryEngineTool

    from rag.llm.client import OpenAIChatClient
    from rag.settings import LLMSettings
    from rag.wiring import build_query_engine

    settings = corpus_settings.model_copy(
        update={"llm": LLMSettings(base_url=llm_server.base_url, max_answer_tokens=64)}
    )
    chat = OpenAIChatClient(settings.llm, llm_server.base_url)
    tool = QueryEngineTool.from_defaults(
        build_query_engine(settings, chat, retriever),
        name="papers",
        description="Cited answers from the paper collection",
    )
    out = tool.call("What does QLoRA backpropagate gradients through?")
    response = out.raw_output
    assert response.source_nodes and response.metadata["citations"], response.metadata
    cited = {c["paper_id"] for c in response.metadata["citations"]}
    given = {n.node.metadata["paper_id"]: n.node.metadata["n"] for n in response.source_nodes}
    assert cited <= set(given) and str(out) == response.response


@pytest.mark.llm
def test_streaming_query_engine_ends_with_the_checked_answer(
    corpus_settings, llm_server, retriever
) -> None:
    from rag.llm.client import OpenAIChatClient
    from rag.settings import LLMSettings
    from rag.wiring import build_query_engine

    settings = corpus_settings.model_copy(
        update={"llm": LLMSettings(base_url=llm_server.base_url, max_answer_tokens=64)}
    )
    chat = OpenAIChatClient(settings.llm, llm_server.base_url)
    engine = build_query_engine(settings, chat, retriever, streaming=True)
    streaming = engine.query("Which approach finetunes a 65B model on one 48GB GPU?")
    assert streaming.source_nodes  # known before the first token
    draft = "".join(streaming.response_gen)
    final = streaming.get_response()
    assert draft.strip() and final.metadata["answer"] == final.response
    assert final.metadata["abstained"] or final.metadata["citations"]
