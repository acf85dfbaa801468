"""The abstention decision (rag/answer/abstention.py) and its fitting (rag.eval.abstention_fit):
thresholds, monotonicity, the model's refusal, the features it reports, the shipped parameters."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from rag.eval import abstention_fit as fit

from rag.answer.abstention import FEATURES, Features, Params, decide, load_params
from rag.errors import ConfigError

# One feature that matters (dense), read directly: p = sigmoid(10 * (dense - 0.5)).
DENSE_ONLY = Params(FEATURES, (0.5, 0, 0, 0), (0.1, 1, 1, 1), (1.0, 0, 0, 0), 0.0, 0.5, 0.8)


def feats(dense: float | None = 0.5, sentence=0.5, overlap=0.5, bm25=20.0) -> Features:
    return Features(dense, sentence, overlap, bm25)


def test_threshold_splits_answer_from_abstain() -> None:
    assert decide(feats(dense=0.52), DENSE_ONLY).answerable
    assert not decide(feats(dense=0.48), DENSE_ONLY).answerable
    assert not decide(feats(dense=None), DENSE_ONLY).answerable  # no dense score = 0


def test_the_models_refusal_raises_the_bar() -> None:
    middling = feats(dense=0.6)  # p = 0.73: above 0.5, below 0.8
    assert decide(middling, DENSE_ONLY, model_abstained=None).answerable
    assert decide(middling, DENSE_ONLY, model_abstained=False).answerable
    refused = decide(middling, DENSE_ONLY, model_abstained=True)
    assert not refused.answerable and "model abstained" in refused.reason
    overridden = decide(feats(dense=0.7), DENSE_ONLY, model_abstained=True)
    assert overridden.answerable and "overrides" in overridden.reason


def test_a_question_naming_the_best_papers_term_goes_to_the_model() -> None:
    weak = replace(feats(dense=0.3), named=True)  # "What is QLoRA?": p far under the bar
    asked = decide(weak, DENSE_ONLY)
    assert asked.answerable and "names the best paper" in asked.reason
    assert decide(weak, DENSE_ONLY, model_abstained=False).answerable
    assert not decide(weak, DENSE_ONLY, model_abstained=True).answerable  # a refusal stands
    assert not decide(replace(weak, named=False), DENSE_ONLY).answerable
    assert decide(weak, DENSE_ONLY).record()["feature_named"] == 1.0
    from rag.answer.abstention import Gate, features_from_record

    assert features_from_record(decide(weak, DENSE_ONLY).record()).named
    assert not decide(replace(weak, hits=0), Gate()).answerable  # the legacy gate ignores it


def test_the_decision_reports_every_feature() -> None:
    d = decide(feats(dense=0.41, sentence=0.33, overlap=0.25, bm25=7.5), DENSE_ONLY)
    rec = d.record()
    assert {k: rec[f"feature_{k}"] for k in FEATURES} == {
        "dense": 0.41,
        "sentence": 0.33,
        "overlap": 0.25,
        "bm25": 7.5,
    }
    assert rec["answerable"] is False and rec["threshold"] == 0.5
    assert 0 < rec["p_answerable"] < 0.5 and "too weak" in str(rec["reason"])


@pytest.fixture(scope="module")
def shipped() -> Params:
    return load_params()


def test_shipped_rule_is_monotone_in_every_feature(shipped: Params) -> None:
    """Raising any feature never turns an answer into an abstention."""
    grid = {"dense": [0.2, 0.45, 0.7], "sentence": [0.2, 0.45, 0.7], "overlap": [0.0, 0.5, 1.0]}
    grid["bm25"] = [5.0, 25.0, 60.0]
    for combo in itertools.product(*grid.values()):
        base = Features(*combo)
        p = shipped.probability(base)
        for name in FEATURES:
            up = replace(base, **{name: getattr(base, name) + 0.1 * (100 if name == "bm25" else 1)})
            assert shipped.probability(up) >= p - 1e-12


def test_shipped_rule_separates_clear_cases(shipped: Params) -> None:
    assert 0 < shipped.threshold <= shipped.model_threshold < 1
    assert decide(feats(0.75, 0.7, 0.9, 50.0), shipped).answerable
    assert not decide(feats(0.15, 0.15, 0.1, 3.0), shipped).answerable
    assert not decide(Features(None, 0.0, 0.0, 0.0), shipped).answerable  # nothing retrieved


def test_a_broken_parameter_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "abstention.json"
    bad.write_text(json.dumps({"params": {"features": ["dense"]}}))
    with pytest.raises(ConfigError, match="recalibrate"):
        load_params(bad)
    params = json.loads(Path(str(_shipped_path())).read_text())
    params["params"]["weights"][0] = -1.0
    bad.write_text(json.dumps(params))
    with pytest.raises(ConfigError, match="negative"):
        load_params(bad)


def _shipped_path() -> Path:
    from rag.answer.abstention import default_params_path

    return default_params_path()


# -- fitting ---------------------------------------------------------------------------------


def toy(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Feature 0 separates the classes; feature 1 is anti-correlated noise."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.7).astype(int)
    x0 = np.where(y == 1, 0.6, 0.3) + rng.normal(0, 0.08, n)
    x1 = -x0 + rng.normal(0, 0.05, n)
    return np.column_stack([x0, x1]), y


def test_fitted_weights_are_never_negative() -> None:
    x, y = toy()
    model = fit.fit_logistic(x, y)
    assert model.weights[0] > 0 and model.weights[1] == 0.0


def test_youden_threshold_falls_between_the_classes() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    y = np.array([0, 0, 0, 1, 1, 1])
    assert 0.3 < fit.youden_threshold(scores, y) < 0.7


def test_cross_validation_scores_unseen_folds_only() -> None:
    x, y = toy()
    answered = fit.cross_validate(x, y, fit.logistic_method(), fit.stratified_folds(y, 5, 0))
    f = fit.figures(y, answered)
    assert f["abstain_recall"] > 0.8 and f["false_abstention"] < 0.2
    shuffled = np.random.default_rng(1).permutation(y)  # labels unrelated to features
    chance = fit.figures(
        shuffled,
        fit.cross_validate(
            x, shuffled, fit.logistic_method(), fit.stratified_folds(shuffled, 5, 0)
        ),
    )
    assert chance["abstain_recall"] + (1 - chance["false_abstention"]) < 1.4


def test_folds_partition_the_rows_and_keep_both_classes() -> None:
    y = np.array([0] * 10 + [1] * 40)
    folds = fit.stratified_folds(y, 5, seed=3)
    assert sorted(np.concatenate(folds).tolist()) == list(range(50))
    assert all((y[f] == 0).sum() == 2 for f in folds)


def test_the_refusal_bar_keeps_refusals_that_are_right_and_overrides_wrong_ones() -> None:
    # answerable (y=1) questions the model refused have high p; unanswerable ones middling p.
    p = np.array([0.9, 0.95, 0.5, 0.6, 0.55, 0.7, 0.8, 0.2])
    refused = np.array([True, True, True, True, True, False, False, False])
    gated = p < 0.3
    y = np.array([1, 1, 0, 0, 0, 1, 1, 0])
    bar = fit.refusal_bar(p, refused, gated, y, floor=0.3)
    assert 0.6 < bar <= 0.9
    answered = fit.final_answered(p, refused, gated, bar)
    assert answered.tolist() == [True, True, False, False, False, True, True, False]
