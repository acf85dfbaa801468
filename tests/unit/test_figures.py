"""The figure check of rag/answer/figures.py: a quantity question is answerable only from a
paper that states a figure of the measure asked."""

from __future__ import annotations

import pytest

from rag.answer.abstention import Features, decide, features_from_record, load_params
from rag.answer.figures import asked_measure, states_figure, unstated_measure


@pytest.mark.parametrize(
    ("question", "head"),
    [
        ("What perplexity does the model reach on the Pile?", ("perplexity",)),
        ("What top-1 accuracy does it get on ImageNet?", ("accuracy",)),
        ("How many training instances are in the collection?", ("instances",)),
        ("How many GPU hours were needed?", ("hours",)),
        ("With quantization, what context length does X enable?", ("length",)),
        ("What success rate do agents reach at the hardest level?", ("rate",)),
        # not judged: no quantity asked, or a measure that cannot be read
        ("What does LoFiT train?", ()),
        ("Which method finetunes a 65B model on one GPU?", ()),
        ("How much further does it shrink the cache?", ()),
        ("By what factor does task scaling improve efficiency?", ()),
        ("What search algorithm did AlphaGo Zero combine with self-play?", ()),
    ],
)
def test_the_measure_asked_for(question: str, head: tuple[str, ...]) -> None:
    assert asked_measure(question) == head


def test_a_figure_of_the_measure_is_a_number_beside_its_word() -> None:
    head = ("perplexity",)
    assert states_figure("It reaches a perplexity of 6.2 on the Pile.", head, set())
    assert states_figure("Perplexities drop by 12 points.", head, set())  # stem, plural
    assert not states_figure("It gains 28.1 ROUGE-1 points.", head, set())  # another measure
    assert not states_figure("It lowers perplexity on the Pile.", head, set())  # no number
    # a number the question gave is not an answer
    assert not states_figure("The 1.3B model has low perplexity.", head, {"1.3"})


def test_a_fraction_or_rate_may_be_stated_as_a_percentage() -> None:
    assert states_figure("It removes up to 25% of the parameters.", ("fraction",), set())
    assert states_figure("Agents drop from 18% at level 1 to 4%.", ("rate",), set())
    assert not states_figure("It uses 25 GPUs for the run.", ("fraction",), set())
    assert not states_figure("Latency improves by 25%.", ("hours",), set())


def test_unstated_when_no_paper_given_states_the_figure() -> None:
    q = "What perplexity does the hybrid attention model reach?"
    quiet = ["We propose a hybrid attention model.", "It matches attention on recall at 1.3B."]
    loud = ["Our model reaches 6.2 perplexity."]
    assert unstated_measure(q, [quiet]) == "perplexity"
    assert unstated_measure(q, [quiet, loud]) == ""  # any paper given may state it
    assert unstated_measure("Which paper proposes a hybrid model?", [quiet]) == ""


def test_an_unstated_figure_abstains_whatever_the_other_features_say() -> None:
    rule = load_params()
    strong = Features(0.9, 0.9, 1.0, 60.0, 1.0, 4, named=True)
    assert decide(strong, rule).answerable
    unstated = Features(0.9, 0.9, 1.0, 60.0, 1.0, 4, named=True, unstated="latency")
    d = decide(unstated, rule)
    assert not d.answerable and "latency" in d.reason
    # the eval re-decides from the record: the field survives the round trip
    assert features_from_record(d.record()) == unstated
    assert features_from_record(decide(strong, rule).record()).unstated == ""
