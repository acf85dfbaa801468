"""Sentence-level provenance with the real packaged embedder: each answer sentence is judged
against the evidence sentences it was given, by what distinguishes papers, not by what it
shares with the question; markers stay where the model put them."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answer import citations as cit
from rag.answer import provenance as prov
from rag.answer.citations import Support
from rag.answer.evidence import EvidenceIndex, EvidenceSentence, PaperEvidence
from rag.answer.vectors import SentenceVectors
from rag.index.store import StoredChunk

pytestmark = pytest.mark.slow  # loads the embedder (seconds)

DIVERSE = (
    "DiverseNet samples candidate responses with a determinantal point process.",
    "It raises distinct-4 by 12 points over nucleus sampling on open-ended dialogue.",
)
SPARSE = (
    "We prune the attention heads that carry no task signal.",
    "The pruned model keeps 99% of its accuracy on GLUE.",
)
PAPERS = [
    ("d", "DiverseNet: Diverse Response Generation", DIVERSE),
    ("s", "Pruning Only 0.5% of Heads", SPARSE),
]
QUESTION = "Which method promotes diversity in generated dialogue responses?"


def _chunk(pid: str, title: str, sentences: tuple[str, ...]) -> StoredChunk:
    text = " ".join(sentences)
    return StoredChunk(f"{pid}-0", pid, title, f"{title}\n{text}", text, 0, ())


@pytest.fixture(scope="module")
def setup(embedder):
    index = EvidenceIndex.build([_chunk(*p) for p in PAPERS])
    vectors = SentenceVectors(embedder)
    given = [
        (
            n,
            PaperEvidence(
                pid,
                title,
                n,
                tuple(EvidenceSentence(pid, title, i, s, 0.5, 0.5, 0.5) for i, s in enumerate(ss)),
            ),
        )
        for n, (pid, title, ss) in enumerate(PAPERS, start=1)
    ]

    def embed(texts: list[str]) -> np.ndarray:
        return np.asarray(embedder.embed(texts), dtype=np.float32)

    return prov.grounds(QUESTION, given, index, vectors.get), embed


def check(setup, *sentences: str) -> list[cit.Sentence]:
    grounds, embed = setup
    return prov.check(list(sentences), grounds, embed)


def test_a_specific_claim_keeps_its_citation_and_names_its_evidence_sentence(setup) -> None:
    (s,) = check(setup, "DiverseNet samples responses with a determinantal point process [1].")
    assert (s.support, s.citations) == (Support.SUPPORTED, (1,))
    assert s.evidence and s.evidence[0].sentence == DIVERSE[0] and s.evidence[0].n == 1


def test_a_restatement_of_the_question_supports_nothing(setup) -> None:
    (s,) = check(
        setup, "The method that promotes diversity in generated dialogue responses is [2]."
    )
    assert s.support == Support.UNSUPPORTED and s.citations == ()
    assert "restates the question" in (s.note or "")
    assert s.text.endswith("is “Pruning Only 0.5% of Heads”.")  # no hole where [2] was


def test_an_uncited_restatement_is_left_out(setup) -> None:
    out = check(setup, "The provided papers propose several approaches to promote diversity.")
    assert out == []


def test_a_figure_only_the_title_states_is_not_supported(setup) -> None:
    (s,) = check(setup, "It prunes around 0.5% of the attention heads with no task signal [2].")
    assert (s.support, s.citations) == (Support.UNSUPPORTED, ())
    assert "figure" in (s.note or "")
    (ok,) = check(setup, "It prunes the attention heads that carry no task signal [2].")
    assert (ok.support, ok.citations) == (Support.SUPPORTED, (2,))


def test_a_wrong_citation_moves_to_the_paper_whose_sentence_supports_it(setup) -> None:
    (s,) = check(setup, "The pruned model keeps 99% of its accuracy on GLUE [1].")
    assert (s.support, s.citations) == (Support.CORRECTED, (2,))
    assert s.text == "The pruned model keeps 99% of its accuracy on GLUE [2]."


def test_a_marker_inside_the_sentence_stays_where_the_model_put_it(setup) -> None:
    (s,) = check(setup, "The method described in [1] samples responses with a point process.")
    assert s.text == "The method described in [1] samples responses with a point process."
    assert s.citations == (1,)


def test_a_continuing_sentence_is_never_given_another_papers_citation_unflagged(setup) -> None:
    first, second = check(
        setup,
        "DiverseNet samples responses with a determinantal point process [1].",
        "It keeps 99% of its accuracy on GLUE.",
    )
    assert first.citations == (1,)
    assert second.citations == () and second.support == Support.UNCITED
    assert second.note and "[1]" in second.note and "[2]" in second.note


def test_an_uncited_specific_sentence_gets_its_paper(setup) -> None:
    (s,) = check(setup, "Distinct-4 rises by 12 points over nucleus sampling.")
    assert (s.support, s.citations) == (Support.ADDED, (1,))
    assert s.text.endswith("[1].")


def test_a_sentence_cut_off_by_the_token_limit_is_dropped(setup) -> None:
    out = check(setup, "DiverseNet samples responses with a point process [1].", "It also")
    assert len(out) == 1


def test_markers_are_rewritten_in_place() -> None:
    def name(n: int) -> str:
        return "“QLoRA”"

    assert cit.rewrite_markers("[2] proposes NF4.", lambda n: None, name) == "“QLoRA” proposes NF4."
    assert cit.rewrite_markers("QLoRA [1] uses NF4 [1].", lambda n: 3, name) == (
        "QLoRA [3] uses NF4 [3]."
    )
    assert cit.rewrite_markers("QLoRA [1], a method, uses NF4.", lambda n: None, name) == (
        "QLoRA, a method, uses NF4."
    )
    assert cit.split_sentences("A is fast (x). [2] proposes B. C holds. [3]") == [
        "A is fast (x).",
        "[2] proposes B.",
        "C holds. [3]",
    ]


def test_a_sentence_combining_two_papers_is_supported_by_both_together(setup) -> None:
    (s,) = check(
        setup,
        "DiverseNet uses a determinantal point process [1] while others prune attention heads "
        "with no task signal [2].",
    )
    assert (s.support, s.citations) == (Support.SUPPORTED, (1, 2))
    assert {r.n for r in s.evidence} == {1, 2}
    (one,) = check(setup, "DiverseNet samples responses with a determinantal point process [1][2].")
    assert one.citations == (1,)  # [2] adds nothing of its own
