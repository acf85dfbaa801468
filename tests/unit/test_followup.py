"""The follow-up rule and the follow-up retrieval: which questions refer back, how the previous
turn's papers stay in play, when the engine abstains instead of answering from an unrelated
paper, and regenerating on the same sources. Wordings here are our own (not the eval's)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.answer import followup
from rag.answer.conversation import Conversation, Cue, Turn, condense, followup_cue
from rag.answer.events import Source
from rag.index.retrieve import PaperHit, Retrieval
from rag.llm.client import ChatTurn
from rag.settings import RetrievalSettings
from tests.unit.test_answer_plumbing import FakeChatClient, engine


@pytest.mark.parametrize(
    "question",
    [
        "How does the gated variant work?",
        "Is the smaller version any good?",
        "What did that benchmark measure?",
        "Which results does the second method report?",
        "And the last one?",
        "How do these compare on speed?",
        "Why does the proposed loss help?",
        "What did the authors release?",
        "Was it tested on code?",
        "How much does that save?",
        "Does their approach need labels?",
        "Also, what about multilingual data?",
    ],
)
def test_references_back_are_follow_ups(question: str) -> None:
    assert followup_cue(question) is Cue.REFERENCE


@pytest.mark.parametrize(
    "question",
    [
        "Which paper shows that sparse attention scales to long documents?",
        "Is there a method that distils a ranker into a dual encoder for retrieval?",
        "What do papers find about tokenizer-free language models trained on bytes?",
    ],
)
def test_self_contained_questions_are_not(question: str) -> None:
    assert followup_cue(question) is None


def test_a_bare_short_question_borrows_words_only() -> None:
    assert followup_cue("What about vision transformers?") is Cue.REFERENCE  # "what about"
    assert followup_cue("Vision transformers too?") is Cue.SHORT


def hit(pid: str, sim: float = 0.6) -> PaperHit:
    return PaperHit(1, pid, f"Paper {pid}", 0.0, f"text of {pid}", f"c-{pid}", ("f.txt",), sim)


def turn(question: str, pids: list[str]) -> Turn:
    sources = [Source(i, hit(p), f"text of {p}") for i, p in enumerate(pids, start=1)]
    messages = [ChatTurn("system", "rules"), ChatTurn("user", question)]
    return Turn(question, question, "an answer [1].", tuple(pids), sources, messages)


class RoutedRetriever:
    """Hits per query: the question alone finds `own`, anything longer finds `joined`."""

    cfg = RetrievalSettings()

    def __init__(self, own: list[PaperHit], joined: list[PaperHit], alone: str) -> None:
        self.own, self.joined, self.alone, self.queries = own, joined, alone, []

    def search(self, q: str, top_k: int | None = None, mode: str | None = None) -> Retrieval:
        self.queries.append(q)
        hits = self.own if q == self.alone else self.joined
        return Retrieval(q, hits[: top_k or 5], mode or "hybrid", 1.0)


FIRST = "How can activation outliers be removed for 8-bit quantization?"
GATED = "How does the gated variant work?"


def test_a_definite_reference_keeps_the_previous_paper_first() -> None:
    # Alone, "the gated variant" only finds unrelated gated papers, weakly; joined, the outlier
    # paper is third behind two other quantization papers. It was given last turn: it leads.
    own = [hit("gated-rnn", 0.26), hit("gated-mlp", 0.25), hit("gated-cnn", 0.24)]
    joined = [hit("quant-a"), hit("quant-b"), hit("outliers"), hit("gated-rnn", 0.3)]
    conv = Conversation([turn(FIRST, ["outliers", "other"])])
    found = followup.retrieve(RoutedRetriever(own, joined, GATED), GATED, conv, 4, None)
    ids = [h.paper_id for h in found.retrieval.hits]
    assert ids[0] == "outliers"
    assert found.standalone == f"{FIRST} {GATED}" and not found.weak_followup


def test_a_self_contained_question_with_a_pronoun_keeps_its_own_paper() -> None:
    q = "Which method pages the KV cache, and how much memory does it save?"
    own = [hit("paged"), hit("kv-a"), hit("kv-b")]
    joined = [hit("outliers"), hit("paged"), hit("other")]
    conv = Conversation([turn(FIRST, ["outliers", "other"])])
    found = followup.retrieve(RoutedRetriever(own, joined, q), q, conv, 4, None)
    assert "paged" in [h.paper_id for h in found.retrieval.hits]


def test_only_what_the_question_alone_really_matches_counts() -> None:
    hits = [hit("strong", 0.6), hit("weak", 0.2), replace(hit("words-only"), dense_similarity=None)]
    assert [h.paper_id for h in followup.matching(hits)] == ["strong"]
    bm25_only = [replace(hit("a"), dense_similarity=None)]
    assert followup.matching(bm25_only) == bm25_only  # no similarities at all: keep them


def test_without_a_previous_turn_the_question_is_searched_once_alone() -> None:
    r = RoutedRetriever([hit("a")], [hit("b")], GATED)
    found = followup.retrieve(r, GATED, Conversation(), 4, None)
    assert r.queries == [GATED] and found.standalone == GATED and found.cue is None
    assert condense(GATED, None) == GATED


def weakness(top: PaperHit, previous: tuple[str, ...] = ("outliers",)) -> bool:
    retrieval = Retrieval("q", [top], "hybrid", 1.0)
    return followup.TurnQuery("q", retrieval, Cue.REFERENCE, previous).weak_followup


def test_a_reference_whose_best_paper_is_new_and_weak_is_weak() -> None:
    assert weakness(hit("unrelated", 0.3))
    assert not weakness(hit("unrelated", 0.7))  # a strong new paper: a change of topic
    assert not weakness(hit("outliers", 0.2))  # the previous paper itself: the model decides


def test_the_engine_abstains_on_a_weak_follow_up_without_calling_the_model() -> None:
    llm = FakeChatClient(["Tasks share skills [1]."])
    eng = engine(llm)
    conv = Conversation()
    eng.ask("How are skills shared?", conv)
    far = RoutedRetriever([hit("far", 0.2)], [hit("far", 0.25)], "x")
    eng.contexts = replace(eng.contexts, retriever=far)  # type: ignore[type-var]
    answer = eng.ask("How does the sparse variant work?", conv)
    assert answer.abstained and answer.abstain_reason == "followup"
    assert len(llm.calls) == 1


def test_regenerating_on_the_same_sources_sends_the_same_prompt() -> None:
    llm = FakeChatClient(["Tasks share skills [1].", "Skills are shared [1]."])
    eng = engine(llm)
    first = eng.ask("How are skills shared?", Conversation())
    again = eng.ask(
        "How are skills shared?", Conversation(), sources=first.sources, temperature=0.6
    )
    assert llm.calls[0] == llm.calls[1]  # same prefix: the server's KV cache is reused
    assert [s.hit.paper_id for s in again.sources] == [s.hit.paper_id for s in first.sources]
    assert again.timings["retrieve_ms"] == 0.0


def test_a_follow_up_that_wants_a_new_paper_gets_a_fresh_prompt() -> None:
    last = turn(FIRST, ["a", "b"])
    assert followup.reuses_last_turn(last, ["b", "a"])
    assert not followup.reuses_last_turn(last, ["a", "new"])
    assert not followup.reuses_last_turn(None, ["a"])
