"""Survey vs lookup detection. The wordings are written for these tests, not taken from the
eval question files (the rule must not be tuned to a question by its wording)."""

from __future__ import annotations

import pytest

from rag.answer.survey import SurveyRule, detect

NEUTRAL = [0.62, 0.57, 0.49, 0.41]  # neither flat nor one clear winner
WINNER = [0.81, 0.55, 0.50, 0.47]
FLAT = [0.60, 0.59, 0.58, 0.575, 0.40]


@pytest.mark.parametrize(
    "question",
    [
        "Which papers study speculative decoding for faster inference?",
        "Give me an overview of work on KV cache compression.",
        "What studies evaluate retrieval-augmented generation on medical questions?",
        "How do papers in the collection measure long-context ability?",
        "Compare LoRA and prefix tuning.",
        "What approaches exist for detecting hallucinated claims?",
        "Which methods have been proposed for continual learning without replay?",
    ],
)
def test_survey_wordings(question: str) -> None:
    mode = detect(question, NEUTRAL)
    assert mode.survey, mode.reason


@pytest.mark.parametrize(
    "question",
    [
        "What learning rate does the paper on ELECTRA use?",
        "Is there a method that prunes attention heads at inference time?",
        "Which approach quantizes activations to 8 bits without retraining?",
        "How many tokens was the model trained on?",
        "Has anyone trained a language model on only a million words?",
        "According to the Switch Transformer work, how many experts are used?",
        "Our accuracy compared with the baseline went up; what dataset was used?",
        "Is there a survey of parameter-efficient fine-tuning?",  # asks for one (survey) paper
    ],
)
def test_lookup_wordings(question: str) -> None:
    mode = detect(question, NEUTRAL)
    assert not mode.survey, mode.reason


def test_the_score_spread_tips_plural_wording() -> None:
    q = "What techniques reduce the memory of optimizer states?"
    assert detect(q, NEUTRAL).survey
    assert not detect(q, WINNER).survey  # one paper clearly answers it
    assert detect(q, FLAT).spread == 1


def test_explicit_wording_outweighs_the_spread() -> None:
    assert detect("Which papers propose sparse attention patterns?", WINNER).survey
    assert not detect("Is there a paper on sparse attention patterns?", FLAT).survey


def test_spread_alone_never_makes_a_survey() -> None:
    assert not detect("Sparse attention patterns for long documents", FLAT).survey


def test_survey_mode_is_wider_with_fewer_sentences_per_paper() -> None:
    rule = SurveyRule()
    survey = detect("Which papers study tokenizer-free models?", NEUTRAL, rule)
    lookup = detect("Is there a tokenizer-free model?", NEUTRAL, rule)
    assert (survey.papers, survey.sentences_per_paper) == (
        rule.survey_papers,
        rule.survey_sentences,
    )
    assert survey.papers > lookup.papers
    assert survey.sentences_per_paper < lookup.sentences_per_paper
    assert "survey" in survey.reason and "lookup" in lookup.reason


def test_missing_similarities_do_not_count() -> None:
    assert detect("Which approaches compress prompts?", [None, None]).spread == 0
