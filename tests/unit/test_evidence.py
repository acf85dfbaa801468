"""The evidence layer: abstracts rebuilt from chunks, sentence selection under a budget, the
extractive answer. Similarity-dependent tests use the real packaged embedder."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rag.answer.evidence import EvidenceConfig, EvidenceIndex, extract, gather
from rag.answer.select import Budget, Pool, select
from rag.answer.sentences import candidate_indices, overlap_words, rebuild, rebuild_abstract
from rag.answer.vectors import SentenceVectors
from rag.errors import EmbeddingError
from rag.index.chunking import chunk_paper
from rag.index.embed import TokenCounter, packaged_model_dir
from rag.index.retrieve import PaperHit
from rag.index.store import StoredChunk
from rag.sources.records import Paper

ABSTRACT = (
    "Sparse mixtures of experts route each token to a few experts. "
    "We study how routing decisions change during training. "
    "Early in training the router assigns tokens almost uniformly. "
    "Later, experts specialise on syntactic categories such as punctuation. "
    "We propose a load-balancing loss that keeps every expert busy. "
    "It improves perplexity by 4% at equal compute. "
    "Code and checkpoints are released."
)


@pytest.fixture(scope="module")
def count() -> TokenCounter:
    return TokenCounter(packaged_model_dir())


def stored(paper: Paper, max_tokens: int, overlap: int, count: TokenCounter) -> list[StoredChunk]:
    return [
        StoredChunk(c.id, c.paper_id, c.title, c.text, c.passage, c.position, c.sources)
        for c in chunk_paper(paper, max_tokens, overlap, count)
    ]


def paper(pid: str, title: str, abstract: str) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, sources=("t.txt",))


def chunk(pid: str, position: int, passage: str, title: str = "T") -> StoredChunk:
    return StoredChunk(
        f"{pid}-{position}", pid, title, f"{title}\n{passage}", passage, position, ()
    )


def hit(pid: str, title: str, rank: int, sim: float, chunk_id: str = "") -> PaperHit:
    return PaperHit(rank, pid, title, 0.0, "", chunk_id or f"{pid}-0", (), sim)


# -- rebuilding abstracts -------------------------------------------------------------------


@pytest.mark.parametrize("overlap", [0, 1, 2])
def test_rebuilt_abstract_states_each_sentence_once(overlap: int, count: TokenCounter) -> None:
    chunks = stored(paper("p1", "Routing in MoE", ABSTRACT), 48, overlap, count)
    assert len(chunks) >= 3  # the abstract really was split, with repeated sentences
    random.Random(0).shuffle(chunks)  # the store returns chunks in any order
    assert rebuild_abstract(chunks) == ABSTRACT


def test_a_chance_echo_at_a_chunk_boundary_is_kept() -> None:
    # "the" ends one chunk and starts the next by chance (overlap 0): not a chunking repeat.
    chunks = [chunk("p", 0, "Results improve with scale and the"), chunk("p", 1, "the end.")]
    assert overlap_words(["and", "the"], ["the", "end."]) == 0
    assert rebuild_abstract(chunks) == "Results improve with scale and the the end."


def test_sentences_remember_their_first_chunk() -> None:
    chunks = [chunk("p", 0, "A one. B two."), chunk("p", 1, "B two. C three.")]
    text = rebuild(chunks)
    assert text.sentences == ("A one.", "B two.", "C three.")
    assert text.positions == (0, 0, 1)


def test_a_long_paper_offers_only_retrieved_chunks_and_neighbours() -> None:
    chunks = [chunk("p", i, f"Sentence {i} here.") for i in range(12)]
    text = rebuild(chunks)
    near = candidate_indices(text, {"p-5"}, max_whole_chunks=6, neighbours=1)
    assert [text.sentences[i] for i in near] == [f"Sentence {i} here." for i in (4, 5, 6)]
    short = rebuild(chunks[:3])
    assert candidate_indices(short, {"p-0"}, max_whole_chunks=6, neighbours=1) == [0, 1, 2]


# -- selection (explicit scores and similarities) -------------------------------------------


def pool(scores: list[float], papers: list[int], tokens: list[int], sim=None) -> Pool:
    n = len(scores)
    similarity = np.eye(n) if sim is None else np.asarray(sim)
    return Pool(scores, papers, tokens, similarity, [10] * (max(papers) + 1))


def cost(p: Pool, chosen: list[int]) -> int:
    return sum(p.tokens[i] for i in chosen) + sum(
        p.paper_cost[k] for k in {p.papers[i] for i in chosen}
    )


@pytest.mark.parametrize("budget", [25, 60, 100, 400])
def test_selection_never_exceeds_the_budget(budget: int) -> None:
    p = pool([0.9, 0.8, 0.7, 0.6, 0.5, 0.85], [0, 0, 1, 1, 2, 2], [30, 20, 15, 25, 10, 40])
    chosen = select(p, Budget(budget, max_per_paper=3, min_relative=0.0))
    assert cost(p, chosen) <= budget
    assert chosen  # something fits in every budget tried


def test_every_paper_gets_a_sentence_before_any_gets_a_second() -> None:
    p = pool([0.9, 0.88, 0.87, 0.3, 0.25], [0, 0, 0, 1, 2], [10] * 5)
    chosen = select(p, Budget(70, max_per_paper=3, min_relative=0.0))
    assert {p.papers[i] for i in chosen} == {0, 1, 2}  # weak papers kept; 70 = 3 papers + 1 more


def test_per_paper_cap_holds() -> None:
    p = pool([0.9, 0.89, 0.88, 0.87, 0.2], [0, 0, 0, 0, 1], [5] * 5)
    chosen = select(p, Budget(500, max_per_paper=2, min_relative=0.0))
    assert sum(p.papers[i] == 0 for i in chosen) == 2


# -- gather with the real embedder ------------------------------------------------------------

A1 = "The router sends every token to the two experts with the highest gate values."
A2 = "Each token is routed to the two experts that have the highest gate values."  # A1 again
A3 = "Training used 512 TPU chips for three weeks."
B1 = "A capacity factor limits how many tokens each expert may receive per batch."
B2 = "Dropped tokens skip the expert layer through the residual connection."
QUESTION = "How are tokens routed to experts and what happens when an expert is full?"


@pytest.fixture(scope="module")
def moe_index() -> EvidenceIndex:
    return EvidenceIndex.build(
        [
            chunk("a", 0, f"{A1} {A2} {A3}", "Top-2 gating"),
            chunk("b", 0, f"{B1} {B2}", "Expert capacity"),
            chunk(
                "c", 0, "We release a dataset of cooking recipes. It has 1,000 dishes.", "Recipes"
            ),
        ]
    )


HITS = [
    hit("a", "Top-2 gating", 1, 0.6),
    hit("b", "Expert capacity", 2, 0.5),
    hit("c", "Recipes", 3, 0.1),
]


@pytest.mark.slow
def test_near_duplicates_are_not_both_given(moe_index, embedder, count) -> None:
    vectors = SentenceVectors(embedder)
    sims = vectors.get([A1, A2, B2]) @ vectors.get([A1, A2, B2]).T
    assert sims[0, 1] > 0.8 > sims[0, 2]  # the premise: A2 restates A1, B2 does not
    ev = gather(QUESTION, HITS[:2], moe_index, vectors, count, EvidenceConfig(budget_tokens=400))
    given = [s.text for p in ev.papers for s in p.sentences]
    assert not {A1, A2} <= set(given)
    assert B2 in given  # the other paper's different sentence took the place
    assert not {A1, A2} <= {s.text for s in ev.ranked}  # nor both in the extractive answer


@pytest.mark.slow
def test_evidence_keeps_budget_and_one_sentence_per_paper(moe_index, embedder, count) -> None:
    vectors = SentenceVectors(embedder)
    cfg = EvidenceConfig(budget_tokens=110)
    ev = gather(QUESTION, HITS, moe_index, vectors, count, cfg)
    assert [p.paper_id for p in ev.papers][:2] == ["a", "b"]  # best evidence first
    assert {p.paper_id for p in ev.papers} == {"a", "b", "c"}
    assert all(p.sentences for p in ev.papers)
    assert ev.tokens <= cfg.budget_tokens
    assert all(
        s.paper_id == p.paper_id and s.title == p.title for p in ev.papers for s in p.sentences
    )


@pytest.mark.slow
def test_extractive_answer_cites_the_numbered_papers(moe_index, embedder, count) -> None:
    ev = gather(QUESTION, HITS, moe_index, SentenceVectors(embedder), count)
    ex = extract(ev, min_sentences=2, max_sentences=4)
    assert 2 <= len(ex.sentences) <= 4
    for n, s in ex.sentences:
        assert ev.papers[n - 1].paper_id == s.paper_id
        assert f"[{n}]" in ex.text
    assert "Recipes" not in {ev.papers[n - 1].title for n, _ in ex.sentences}
    survey = extract(ev, min_sentences=2, max_sentences=2, distinct_papers=True)
    assert len({n for n, _ in survey.sentences}) == 2


class CountingEmbedder:
    def __init__(self, name: str = "counting") -> None:
        self.name = name
        self.seen: list[str] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.seen.extend(texts)
        return [[float(len(t)), 1.0] for t in texts]


def test_vectors_embed_each_text_once() -> None:
    e = CountingEmbedder()
    v = SentenceVectors(e)
    v.get(["a", "b"])
    v.get(["b", "c", "a"])
    assert e.seen == ["a", "b", "c"]


def test_saved_vectors_come_back_for_the_same_embedder_only(tmp_path) -> None:
    path = tmp_path / "vectors.bin"
    first = SentenceVectors(CountingEmbedder())
    first.warm(["alpha", "beta"])
    first.save(path)
    again = SentenceVectors(CountingEmbedder())
    assert again.load(path) == 2
    assert np.array_equal(again.get(["beta"]), first.get(["beta"]))
    assert again.embedder.seen == []  # nothing re-embedded
    with pytest.raises(EmbeddingError, match="delete it"):
        SentenceVectors(CountingEmbedder("other")).load(path)


def test_a_file_that_needs_pickle_or_is_torn_is_ignored_not_unpickled(tmp_path) -> None:
    pickled = tmp_path / "old.npz"
    with pickled.open("wb") as fh:  # the earlier format: texts as an object array
        np.savez(fh, texts=np.array(["alpha"], dtype=object), vectors=np.ones((1, 2)))
    torn = tmp_path / "torn.npz"
    torn.write_bytes(b"PK\x03\x04 not a zip")
    vectors = SentenceVectors(CountingEmbedder())
    assert vectors.load(pickled) == 0 and vectors.load(torn) == 0 and len(vectors) == 0


def test_the_answers_own_picks_lead_the_selection_within_budget() -> None:
    p = pool([0.9, 0.5, 0.85, 0.3], [0, 0, 1, 2], [10] * 4)
    chosen = select(p, Budget(60, max_per_paper=3, min_relative=0.0), first=[1])
    assert chosen[0] == 1 and cost(p, chosen) <= 60
    assert {p.papers[i] for i in chosen} == {0, 1, 2}  # every paper still gets a sentence


def test_a_question_in_several_sentences_is_scored_part_by_part() -> None:
    from rag.answer.evidence import question_parts

    q = "I want to merge fine-tuned models into one. Is there a method that drops outliers?"
    assert question_parts(q) == [
        "I want to merge fine-tuned models into one.",
        "Is there a method that drops outliers?",
    ]
    assert question_parts("How does QLoRA save memory?") == []
