"""Citation parsing and checking on crafted sentences (no model: similarities are given)."""

import pytest

from rag.answer import citations as cit
from rag.answer.prompts import ABSTAIN_PHRASE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A claim [1].", [1]),
        ("Two sources [1, 3].", [1, 3]),
        ("Adjacent [1][2].", [1, 2]),
        ("A range [1-3].", [1, 2, 3]),
        ("En dash [2–4].", [2, 3, 4]),
        ("Repeated [2] and [2].", [2]),
        ("No citation here.", []),
        ("Absurd range [1-300].", [1, 300]),
        ("Year [2023] style.", [2023]),
    ],
)
def test_parse(text: str, expected: list[int]) -> None:
    assert cit.parse(text) == expected


def test_split_keeps_citations_with_their_sentence() -> None:
    text = "C-Poly shares skills [1]. It beats baselines [1][2]. Done."
    assert cit.split_sentences(text) == [
        "C-Poly shares skills [1].",
        "It beats baselines [1][2].",
        "Done.",
    ]


CHECK = cit.Checker(support_min=0.4)


def test_supported_citation_is_kept() -> None:
    s = CHECK.check("Skills are shared [1].", [1], [0.7, 0.2])
    assert (s.citations, s.support) == ((1,), cit.Support.SUPPORTED)


def test_out_of_range_number_never_survives() -> None:
    s = CHECK.check("Skills are shared [7].", [7], [0.7, 0.2])
    assert 7 not in s.citations and "[7]" not in s.text
    assert (s.citations, s.support) == ((1,), cit.Support.ADDED)


def test_wrong_citation_is_moved_to_the_supporting_source() -> None:
    s = CHECK.check("Experts route tokens [1].", [1], [0.1, 0.8])
    assert (s.citations, s.support, s.text) == (
        (2,),
        cit.Support.CORRECTED,
        "Experts route tokens [2].",
    )


def test_unsupported_citation_is_dropped_and_flagged() -> None:
    s = CHECK.check("The moon is cheese [1].", [1], [0.1, 0.15])
    assert (s.citations, s.support, s.text) == ((), cit.Support.UNSUPPORTED, "The moon is cheese.")


def test_uncited_factual_sentence_gets_its_source_or_a_flag() -> None:
    added = CHECK.check("The method shares skills across tasks.", [], [0.2, 0.6])
    flagged = CHECK.check("The method shares skills across tasks.", [], [0.2, 0.3])
    assert (added.citations, added.support) == ((2,), cit.Support.ADDED)
    assert (flagged.citations, flagged.support) == ((), cit.Support.UNCITED)


def test_abstention_is_recognised_and_cites_nothing() -> None:
    s = CHECK.check(ABSTAIN_PHRASE, [], [0.9])
    assert (s.citations, s.support) == ((), cit.Support.ABSTENTION)
    assert cit.is_abstention("The sources do not contain information about protein folding.")
    assert not cit.is_abstention("C-Poly does not contain dense layers [1].")


def test_check_answer_end_to_end_with_given_similarities() -> None:
    def fake_similarity(sentences: list[str]) -> list[list[float]]:
        return [[0.9, 0.1] if "skills" in s else [0.1, 0.9] for s in sentences]

    out = cit.check_answer(
        "It shares skills [2]. Experts route tokens [9].", 2, fake_similarity, CHECK
    )
    assert [(s.citations, s.support) for s in out] == [
        ((1,), cit.Support.CORRECTED),
        ((2,), cit.Support.ADDED),
    ]


def test_a_figure_the_source_does_not_state_is_not_supported() -> None:
    known = [{"20000", "80"}, {"145"}]
    ok = CHECK.check("Training took 20,000 GPU hours [1].", [1], [0.8, 0.2], known)
    made_up = CHECK.check("Training took 35,000 GPU hours [1].", [1], [0.8, 0.2], known)
    assert ok.support == cit.Support.SUPPORTED
    assert (made_up.support, made_up.citations) == (cit.Support.UNSUPPORTED, ())


def test_numbers_ignore_citation_markers_and_thousands_separators() -> None:
    assert cit.numbers("It uses 1,024 experts and 3.5% of compute [2][3].") == {"1024", "3.5"}
