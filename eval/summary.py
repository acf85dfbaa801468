"""From per-question records to the run summary (summary.json): aggregates by config and
question type (over all sets, and per question set), the abstention-threshold sweep per config
(on the rule's p(answerable); on the best dense similarity for the legacy gate), the rule's
cross-validated curve, and the matcher's agreement with the hand labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from rag.eval.configs import CONFIGS
from rag.eval.data import load_labels
from rag.eval.metrics import (
    CalibPoint,
    SweepRow,
    aggregate,
    choose_threshold,
    matcher_agreement,
    sweep,
    sweep_row,
    thresholds,
)
from rag.eval.records import EvalRecord

Metrics = dict[str, float | int | bool | None]
MATCHER_SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class Calibration(BaseModel):
    configured: float  # the rule's threshold before generation (legacy: abstain_min_score)
    applies: bool  # False without a score (bm25 under the legacy gate): nothing fires
    at_configured: dict[str, Any] | None
    chosen: dict[str, Any] | None
    rows: list[dict[str, Any]]
    reason: str
    score: str = "best dense similarity"  # what the threshold applies to
    cv_curve: list[dict[str, Any]] = []  # the fitted rule's out-of-fold curve (abstention.json)
    refusal: dict[str, Any] | None = None  # the bar after a model refusal, fitted on this run


class ConfigResult(BaseModel):
    name: str
    changes: str
    fingerprint: str
    n: int
    groups: dict[str, Metrics]
    calibration: Calibration


class SetResult(BaseModel):
    """One question set's results, config by config."""

    name: str
    n: int
    configs: list[ConfigResult]


class RunSummary(BaseModel):
    created: str
    commit: str | None
    model: str | None
    mode: str
    questions_file: str
    n_questions: int
    limit: int | None
    configs: list[ConfigResult]
    matcher: list[dict[str, Any]]  # agreement with the labels, one row per min_overlap
    floors_checked: bool = False
    floor_failures: list[str] = []
    missing_gold_titles: list[str] = []  # gold titles not in the store: their questions score 0
    sets: list[SetResult] = []  # per question set (when a run has more than one)

    def result(self, name: str) -> ConfigResult | None:
        return next((c for c in self.configs if c.name == name), None)


def _logistic(r: EvalRecord) -> bool:
    return bool(r.decision) and r.decision.get("rule") == "logistic"  # type: ignore[union-attr]


def calib_point(r: EvalRecord) -> CalibPoint:
    m = r.metrics
    p = r.decision.get("p_answerable") if r.decision and _logistic(r) else None
    return CalibPoint(
        best_similarity=float(p) if isinstance(p, int | float) else r.retrieval.best_similarity,
        unanswerable=r.type == "unanswerable",
        correct=bool(m.get("correct_if_answered")),
        model_abstained=bool(m.get("model_abstained")),
    )


def _why(chosen: SweepRow, configured: SweepRow, mode: str) -> str:
    basis = (
        "correct = at least half the answer points (numeric: the number) present"
        if mode == "full"
        else "retrieval only, so correct = a gold paper is among the sources given to the model "
        "and every answered unanswerable question counts as wrong (the model's own abstentions "
        "are not known): a full run gives the setting to use"
    )
    score = f"correct answers plus correct abstentions: {chosen.overall:.1%} of questions"
    if chosen.threshold == configured.threshold:
        return f"keep {chosen.threshold:.2f}: no threshold scores better ({score}). {basis}."
    return (
        f"{chosen.threshold:.2f} scores best ({score}, vs {configured.overall:.1%} at the "
        f"configured {configured.threshold:.2f}; coverage {chosen.coverage:.1%} vs "
        f"{configured.coverage:.1%}); the middle of the widest run of thresholds with that "
        f"score, for a margin both ways. {basis}."
    )


def _configured(records: Sequence[EvalRecord]) -> float:
    first = records[0] if records else None
    if first is not None and first.decision and _logistic(first):
        return float(first.decision.get("base_threshold") or 0.0)  # type: ignore[arg-type]
    return first.abstain_min_score if first else 0.0


def calibrate(records: Sequence[EvalRecord], mode: str) -> Calibration:
    configured = _configured(records)
    points = [calib_point(r) for r in records]
    logistic = bool(records) and _logistic(records[0])
    grid = thresholds(0.0, 1.0, 0.02) if logistic else thresholds()
    applies = any(p.best_similarity is not None for p in points)
    rows = sweep(points, sorted({*grid, configured})) if applies else []
    chosen = choose_threshold(rows, configured)
    at = sweep_row(points, configured) if points else None
    reason = _why(chosen, at, mode) if chosen and at else "no dense similarity: nothing to sweep"
    return Calibration(
        configured=configured,
        applies=applies,
        at_configured=asdict(at) if at else None,
        chosen=asdict(chosen) if chosen else None,
        rows=[asdict(r) for r in rows],
        reason=reason,
        score="p(answerable) of the abstention rule" if logistic else "best dense similarity",
        cv_curve=cv_curve() if logistic else [],
        refusal=refusal(records, configured) if logistic and mode == "full" else None,
    )


def refusal(records: Sequence[EvalRecord], floor: float) -> dict[str, Any] | None:
    """The bar after a model refusal: shipped, best on this run, and that choice's 5-fold
    out-of-fold figures (the model's own abstention as the rule's fifth input)."""
    import numpy as np
    from rag.eval import abstention_fit as fit

    rows = [r for r in records if r.decision and isinstance(r.decision.get("p_answerable"), float)]
    if len({r.type == "unanswerable" for r in rows}) < 2 or len(rows) < 10:
        return None
    p = np.array([float(r.decision["p_answerable"]) for r in rows])  # type: ignore[index,arg-type]
    refused = np.array([bool(r.metrics.get("model_abstained")) for r in rows])
    gated = np.array([bool(r.metrics.get("gated")) for r in rows])
    y = np.array([int(r.type != "unanswerable") for r in rows])
    shipped = max(float(r.decision.get("threshold") or 0.0) for r in rows)  # type: ignore[union-attr,arg-type]
    return {
        "shipped": shipped,
        "at_shipped": fit.figures(y, fit.final_answered(p, refused, gated, shipped)),
        "chosen": fit.refusal_bar(p, refused, gated, y, floor),
        "cv": fit.cv_refusal_bar(p, refused, gated, y, floor),
        "model_refusals": int(refused.sum()),
    }


def cv_curve() -> list[dict[str, Any]]:
    """The shipped rule's 5-fold out-of-fold precision/recall curve (rag/answer/abstention.json)."""
    import json

    from rag.answer.abstention import default_params_path

    try:
        doc = json.loads(default_params_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    curve = doc.get("curve", [])
    return curve if isinstance(curve, list) else []


def config_result(name: str, records: Sequence[EvalRecord], mode: str) -> ConfigResult:
    return ConfigResult(
        name=name,
        changes=CONFIGS[name].describe() if name in CONFIGS else "",
        fingerprint=records[0].fingerprint if records else "",
        n=len(records),
        groups=aggregate([(r.type, r.metrics) for r in records]),
        calibration=calibrate(records, mode),
    )


def set_results(records: Sequence[EvalRecord], names: Sequence[str], mode: str) -> list[SetResult]:
    """Per question set (in the order given), each config's results on it."""
    sets = list(dict.fromkeys(r.set for r in records))
    if len(sets) < 2:
        return []
    out = []
    for name in sets:
        rs = [r for r in records if r.set == name]
        configs = [config_result(c, [r for r in rs if r.config == c], mode) for c in names]
        out.append(SetResult(name=name or "(unnamed)", n=len({r.qid for r in rs}), configs=configs))
    return out


def matcher_rows(labels_file: Path) -> list[dict[str, Any]]:
    if not labels_file.exists():
        return []
    labels = load_labels(labels_file)
    return [asdict(matcher_agreement(labels, t)) for t in MATCHER_SWEEP]


def results_by_config(s: RunSummary) -> dict[str, Metrics]:
    return {c.name: c.groups["all"] for c in s.configs}
