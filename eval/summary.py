"""From per-question records to the run summary (summary.json): aggregates by config and
question type, the abstention-threshold sweep per config, and the matcher's agreement with the
hand labels."""

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
    configured: float  # answer.abstain_min_score of the config
    applies: bool  # False without dense similarities (bm25): the threshold never fires
    at_configured: dict[str, Any] | None
    chosen: dict[str, Any] | None
    rows: list[dict[str, Any]]
    reason: str


class ConfigResult(BaseModel):
    name: str
    changes: str
    fingerprint: str
    n: int
    groups: dict[str, Metrics]
    calibration: Calibration


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

    def result(self, name: str) -> ConfigResult | None:
        return next((c for c in self.configs if c.name == name), None)


def calib_point(r: EvalRecord) -> CalibPoint:
    m = r.metrics
    return CalibPoint(
        best_similarity=r.retrieval.best_similarity,
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


def calibrate(records: Sequence[EvalRecord], mode: str) -> Calibration:
    configured = records[0].abstain_min_score if records else 0.0
    points = [calib_point(r) for r in records]
    applies = any(p.best_similarity is not None for p in points)
    rows = sweep(points, sorted({*thresholds(), configured})) if applies else []
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
    )


def config_result(name: str, records: Sequence[EvalRecord], mode: str) -> ConfigResult:
    return ConfigResult(
        name=name,
        changes=CONFIGS[name].describe() if name in CONFIGS else "",
        fingerprint=records[0].fingerprint if records else "",
        n=len(records),
        groups=aggregate([(r.type, r.metrics) for r in records]),
        calibration=calibrate(records, mode),
    )


def matcher_rows(labels_file: Path) -> list[dict[str, Any]]:
    if not labels_file.exists():
        return []
    labels = load_labels(labels_file)
    return [asdict(matcher_agreement(labels, t)) for t in MATCHER_SWEEP]


def results_by_config(s: RunSummary) -> dict[str, Metrics]:
    return {c.name: c.groups["all"] for c in s.configs}
