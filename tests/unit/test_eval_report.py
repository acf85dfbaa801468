"""Reports and floors: the comparison marks the best config and the deltas, every text from
questions and answers is escaped, the files parse, and a metric under its floor is reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rag.eval.floors import below, load_floors, with_flags
from rag.eval.records import EvalRecord, RetrievalRecord
from rag.eval.report import best, delta, markdown, write_reports
from rag.eval.runner import EvalOptions, check_floors
from rag.eval.summary import RunSummary, config_result

from rag.schema import AskOutput

NASTY = "<script>alert('x')</script> & friends"


def rec(
    config: str, qid: str, qtype: str, hit: float, sim: float, answer: str | None
) -> EvalRecord:
    metrics = {"hit@5": hit, "mrr": hit, "abstained": False, "correct_if_answered": hit == 1.0}
    ask = None
    if answer is not None:
        ask = AskOutput(
            question=NASTY,
            answer=answer,
            abstained=False,
            citations=[],
            sentences=[],
            retrieved=[],
            timings={},
            model="m",
            fingerprint="f",
        )
    return EvalRecord(
        config=config,
        qid=qid,
        type=qtype,  # type: ignore[arg-type]
        question=NASTY,
        mode="full" if ask else "retrieval",
        fingerprint=f"fp-{config}",
        model="m" if ask else None,
        abstain_min_score=0.32,
        retrieval=RetrievalRecord(
            paper_ids=["p"],
            titles=["t"],
            dense_similarities=[sim],
            retrieve_ms=2.0,
            best_similarity=sim,
        ),
        answer=ask,
        metrics=metrics if qtype != "unanswerable" else {"abstained": sim < 0.32},
        finished_at="2026-01-01T00:00:00+00:00",
    )


RECORDS = [
    rec("default", "L1", "lookup", 1.0, 0.6, NASTY),
    rec("default", "U1", "unanswerable", 0.0, 0.2, "no"),
    rec("dense", "L1", "lookup", 0.0, 0.6, "fine"),
    rec("dense", "U1", "unanswerable", 0.0, 0.4, "no"),
]


def summary() -> RunSummary:
    return RunSummary(
        created="2026-01-01T00:00:00+00:00",
        commit="abc1234",
        model="m",
        mode="full",
        questions_file="q.jsonl",
        n_questions=2,
        limit=None,
        configs=[
            config_result(name, [r for r in RECORDS if r.config == name], "full")
            for name in ("default", "dense")
        ],
        matcher=[{"min_overlap": 0.6, "n": 75, "agreement": 0.9, "precision": 1.0, "recall": 0.8}],
    )


def test_best_value_and_delta_follow_the_direction_of_the_metric() -> None:
    assert best([0.5, 0.9, None, 0.9], higher_better=True) == {1, 3}
    assert best([300.0, 200.0], higher_better=False) == {1}
    assert best([0.5, 0.5], higher_better=True) == set()
    assert delta(0.75, 0.5, "rate") == "+0.250" and delta(None, 0.5, "rate") == ""


def test_markdown_compares_configs_with_the_best_in_bold_and_deltas(tmp_path: Path) -> None:
    md = markdown(summary())
    assert "| hit@5 | **1.000** | 0.000 (-1.000) |" in md
    assert "abc1234" in md and "fp-dense" in md


def test_the_files_parse_and_all_question_and_answer_text_is_escaped(tmp_path: Path) -> None:
    (tmp_path / "results.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in RECORDS))
    files = write_reports(tmp_path, summary(), RECORDS)
    assert {f.name for f in files} == {"results.jsonl", "summary.json", "report.md", "report.html"}
    html = (tmp_path / "report.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count("data:image/png;base64,") >= 2
    back = RunSummary.model_validate(json.loads((tmp_path / "summary.json").read_text()))
    assert (
        back.result("default") is not None and back.result("default").groups["all"]["hit@5"] == 1.0
    )


def test_the_calibration_records_a_chosen_threshold_and_why() -> None:
    cal = summary().configs[0].calibration
    assert cal.applies and cal.chosen is not None and cal.configured == 0.32
    assert "correct answers plus correct abstentions" in cal.reason


def test_floors_report_each_metric_below_and_flags_win_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "floors.json"
    path.write_text('{"_comment": "x", "default": {"hit@5": 0.9, "mrr": 0.5}}')
    floors = load_floors(path)
    results = {"default": {"hit@5": 0.8, "mrr": 0.6}, "dense": {"hit@5": 1.0, "mrr": None}}
    assert below(floors, results) == ["default: hit@5 = 0.800 is below the floor 0.900"]
    flagged = with_flags(floors, ["default", "dense"], {"hit@5": None, "mrr": 0.55})
    assert flagged == {"default": {"hit@5": 0.9, "mrr": 0.55}, "dense": {"mrr": 0.55}}
    assert below(flagged, results)[-1] == "dense: mrr = missing is below the floor 0.550"


def test_file_floors_apply_to_the_whole_question_set_only(tmp_path: Path) -> None:
    path = tmp_path / "floors.json"
    path.write_text('{"dense": {"hit@5": 0.9}}')
    whole = EvalOptions(Path("q"), ("default", "dense"), floors_file=path)
    assert check_floors(whole, summary()).floor_failures == [
        "dense: hit@5 = 0.000 is below the floor 0.900"
    ]
    partial = EvalOptions(Path("q"), ("default", "dense"), floors_file=path, limit=1)
    assert not check_floors(partial, summary()).floors_checked
    flags = EvalOptions(Path("q"), ("default",), floors_file=None, limit=1, min_hit5=0.5)
    assert check_floors(flags, summary()).floor_failures == [
        "dense: hit@5 = 0.000 is below the floor 0.500"
    ]


@pytest.mark.parametrize("bad", ["[1, 2]", '{"default": {"hit@5": "high"}}', "{"])
def test_a_malformed_floors_file_is_an_operator_error(tmp_path: Path, bad: str) -> None:
    from rag.errors import ConfigError

    path = tmp_path / "floors.json"
    path.write_text(bad)
    with pytest.raises(ConfigError):
        load_floors(path)
