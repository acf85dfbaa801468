"""The answer-point matcher: number normalisation, token overlap, abstention, and its agreement
with the 75 hand-labelled pairs (measured: agreement 0.947, precision 1.000, recall 0.902)."""

from __future__ import annotations

import pytest
from rag.eval.data import ABSTAIN_POINT, load_labels
from rag.eval.matching import MIN_OVERLAP, content_tokens, match_point, numbers, point_present
from rag.eval.metrics import matcher_agreement

from rag.answer.prompts import ABSTAIN_PHRASE


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3.3 million", 3.3e6),
        ("a 3.3M-token context", 3.3e6),
        ("193k instances", 193e3),
        ("193,000 instances", 193e3),
        ("138,949 pairs", 138949),
        ("two thousand hours", 2000),
        ("93x faster", 93),
        ("93 times faster", 93),
        ("12B parameters", 12e9),
        ("about 150m auxiliary models", 150e6),
        ("accuracy of 45.6%", 45.6),
    ],
)
def test_numbers_are_normalised_to_values(text: str, value: float) -> None:
    assert numbers(text) == [pytest.approx(value)]


def test_ranges_give_both_ends_and_citation_markers_are_not_numbers() -> None:
    assert numbers("falls by 16–33% [1]") == [16, 33]
    assert numbers("23.8-31.7×") == [23.8, 31.7]
    assert numbers("an A100 GPU [2]") == []


def test_magnitude_and_digit_order_matter() -> None:
    assert not point_present("about 360 billion parameters", "360 million", abstained=False)
    assert not point_present("share 87% of heads", "78%", abstained=False)
    assert not point_present("over 1,600 tasks", "1,616", abstained=False)
    assert point_present("with 138949 pairs", "138,949", abstained=False)


def test_content_tokens_are_stemmed_without_stop_words_units_or_number_words() -> None:
    assert content_tokens("The adapters were backpropagated through ten times") == {
        "adapt",
        "backpropag",
    }


def test_a_point_needs_its_numbers_and_enough_of_its_words() -> None:
    answer = "WorkArena [1] is a benchmark of 29 tasks on ServiceNow, with BrowserGym."
    assert point_present(answer, "29 tasks", abstained=False)
    assert not point_present(answer, "33 tasks", abstained=False)
    m = match_point(answer, "remote-hosted benchmark of 29 tasks", abstained=False)
    assert m.numbers_ok and m.overlap == pytest.approx(3 / 5) and m.present is (MIN_OVERLAP <= 0.6)


def test_an_abstention_holds_only_the_abstention_point() -> None:
    assert point_present(ABSTAIN_PHRASE, ABSTAIN_POINT, abstained=True)
    assert not point_present("QLoRA uses NF4 [1].", ABSTAIN_POINT, abstained=False)
    assert not point_present("QLoRA? " + ABSTAIN_PHRASE, "QLoRA", abstained=True)


def test_the_matcher_agrees_with_the_hand_labels() -> None:
    score = matcher_agreement(load_labels())
    assert score.n == 75
    assert score.agreement >= 0.92
    assert score.precision is not None and score.precision >= 0.95
    assert score.recall is not None and score.recall >= 0.85
