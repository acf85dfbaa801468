"""Runs the questions through each config, question by question (so an interrupted run leaves
every config on the same questions), appending each record to results.jsonl as it finishes.

The retrieval abstention threshold (answer.abstain_min_score) is applied offline: engines run with
it switched off and each record keeps the best dense similarity, so the eval's metrics at the
configured threshold match `rag ask` and the calibration sweep can try every other threshold on
the same answers. The cost: questions under the threshold also reach the model."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import TYPE_CHECKING

from rag.eval.configs import config_settings
from rag.eval.data import EVAL_DIR, LABELS_FILE, Question, load_questions
from rag.eval.floors import below, load_floors, with_flags
from rag.eval.metrics import (
    Value,
    answer_metrics,
    correct,
    cost_metrics,
    numeric_match,
    retrieval_metrics,
)
from rag.eval.provenance import default_out_dir, git_commit, now
from rag.eval.records import (
    EvalRecord,
    Key,
    Mode,
    RetrievalRecord,
    append_record,
    load_records,
    pending,
    select,
)
from rag.eval.summary import RunSummary, config_result, matcher_rows, results_by_config

from rag.errors import ConfigError
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.answer.engine import AnswerEngine
    from rag.index.retrieve import Retrieval, Retriever
    from rag.schema import AskOutput

log = logging.getLogger(__name__)
TOP_N = 10  # papers the eval's own search ranks (recall@10, nDCG@10)
RESULTS = "results.jsonl"
LATEST_DIR = EVAL_DIR / "latest"
Evaluate = Callable[["Plan", Question], EvalRecord]
EXIT_BELOW_FLOOR = 3  # `rag eval` exit status when a metric is under its floor


@dataclass(frozen=True)
class EvalOptions:
    questions: Path
    configs: tuple[str, ...]
    retrieval_only: bool = False
    limit: int | None = None
    out: Path | None = None
    floors_file: Path | None = None  # floors are applied only when asked (CI passes ours)
    min_hit5: float | None = None  # command-line floors: every config, every run
    min_mrr: float | None = None
    latest: bool | None = None  # None = refresh eval/latest after a complete LLM run
    progress: bool = True

    @property
    def mode(self) -> Mode:
        return "retrieval" if self.retrieval_only else "full"


@dataclass(frozen=True)
class Plan:
    name: str
    settings: Settings  # as configured (the threshold included)

    @property
    def fingerprint(self) -> str:
        return self.settings.fingerprint()

    @property
    def engine_k(self) -> int:
        """Papers the answer engine retrieves; its threshold looks at their best similarity."""
        return max(self.settings.answer.max_sources, self.settings.retrieval.top_k)


@dataclass(frozen=True)
class EvalOutcome:
    out_dir: Path
    summary: RunSummary
    files: list[Path]


def run_eval(opts: EvalOptions, base: Settings) -> EvalOutcome:
    from rag.eval.report import write_reports

    questions = take(load_questions(opts.questions), opts.limit)
    missing = missing_gold_titles(questions, base)
    plans = [Plan(name, config_settings(name, base)) for name in dict.fromkeys(opts.configs)]
    out = opts.out or default_out_dir(opts.retrieval_only)
    wanted = [(p.name, opts.mode, p.fingerprint, q.qid) for q in questions for p in plans]
    todo = pending(wanted, load_records(out / RESULTS))
    if todo:
        log.info("%d of %d question runs to do; results in %s", len(todo), len(wanted), out)
        with evaluator(base, plans, opts.mode) as evaluate:
            run_pending(todo, questions, plans, evaluate, out / RESULTS, opts.progress)
    records = select(wanted, load_records(out / RESULTS))
    summary = summarize(opts, base, plans, records, len(questions))
    summary = summary.model_copy(update={"missing_gold_titles": missing})
    files = write_reports(out, summary, records)
    if opts.latest or (opts.latest is None and opts.mode == "full" and opts.limit is None):
        refresh_latest(files)
    return EvalOutcome(out, summary, files)


def missing_gold_titles(questions: Sequence[Question], base: Settings) -> list[str]:
    """Gold titles no stored paper has (by normalised title), in question order: someone else's
    question set over another corpus scores 0 on them, which should not pass unremarked."""
    from rag.sources.identity import normalise_title
    from rag.wiring import embedder_for, open_store

    stored = open_store(base, embedder_for(base)).chunk_index().values()
    keys = {normalise_title(k.title) for k in stored}
    gold = (t for q in questions for t in q.gold_titles)
    return list(dict.fromkeys(t for t in gold if normalise_title(t) not in keys))


def take(questions: Sequence[Question], limit: int | None) -> list[Question]:
    """The first `limit` questions taken round-robin across types, in file order within a type,
    so a small run still covers every type (unanswerable ones included)."""
    if limit is None:
        return list(questions)
    if limit < 1:
        raise ConfigError(f"--limit {limit}: give a positive number of questions")
    by_type: dict[str, list[Question]] = {}
    for q in questions:
        by_type.setdefault(q.type, []).append(q)
    rounds = zip_longest(*by_type.values())
    picked = [q for r in rounds for q in r if q is not None][:limit]
    return [q for q in questions if q in picked]


def run_pending(
    todo: Sequence[Key],
    questions: Sequence[Question],
    plans: Sequence[Plan],
    evaluate: Evaluate,
    results: Path,
    progress: bool,
) -> None:
    from rag.progress import progress as progress_bar

    by_qid, by_name = {q.qid: q for q in questions}, {p.name: p for p in plans}
    bar = progress_bar(len(todo), "eval", "q", progress, iterable=todo, dynamic_ncols=True)
    for name, _, _, qid in bar:
        bar.set_postfix_str(f"{name} {qid}")
        append_record(results, evaluate(by_name[name], by_qid[qid]))


@contextmanager
def evaluator(base: Settings, plans: Sequence[Plan], mode: Mode) -> Iterator[Evaluate]:
    """Builds the shared parts once (embedder, store, one retriever per retrieval setting and,
    for full runs, the LLM server and one engine per config); stops a server it started."""
    from rag.llm.session import llm_session
    from rag.wiring import build_engine, embedder_for, open_store

    embedder = embedder_for(base)
    retrievers = _retrievers(plans, open_store(base, embedder), embedder)
    memo = {name: Memo(r) for name, r in retrievers.items()}
    if mode == "retrieval":
        yield lambda p, q: retrieval_only_record(p, q, memo[p.name])
        return
    with llm_session(base) as session:
        chat = session.client()
        engines = {
            p.name: build_engine(ungated(p.settings), chat, retrievers[p.name]) for p in plans
        }
        yield lambda p, q: full_record(p, q, memo[p.name], engines[p.name])


class Memo:
    """A retriever's searches, kept: configs sharing retrieval settings (default, hybrid-k3,
    hybrid-k5) share one search per question. Retrieval is deterministic."""

    def __init__(self, retriever: Retriever) -> None:
        self.retriever = retriever
        self._seen: dict[tuple[str, int, str], Retrieval] = {}

    def search(self, question: str, top_k: int, mode: str) -> Retrieval:
        key = (question, top_k, mode)
        if key not in self._seen:
            self._seen[key] = self.retriever.search(question, top_k=top_k, mode=mode)
        return self._seen[key]


def _retrievers(plans: Sequence[Plan], store: object, embedder: object) -> dict[str, Retriever]:
    from rag.index.retrieve import Retriever

    built: dict[str, Retriever] = {}
    for p in plans:
        key = p.settings.retrieval.model_dump_json()
        if key not in built:
            built[key] = Retriever(
                store,  # type: ignore[arg-type]
                embedder,  # type: ignore[arg-type]
                p.settings.retrieval,
                p.settings.answer.max_question_chars,
            )
            built[key].load()
    return {p.name: built[p.settings.retrieval.model_dump_json()] for p in plans}


def ungated(s: Settings) -> Settings:
    """The settings with the retrieval threshold switched off (it is applied offline)."""
    return s.model_copy(update={"answer": s.answer.model_copy(update={"abstain_min_score": -1.0})})


def search(p: Plan, q: Question, retriever: Memo) -> tuple[RetrievalRecord, dict[str, Value]]:
    """The eval's own search (top 10, the config's mode) and its retrieval metrics."""
    r = retriever.search(q.question, top_k=max(TOP_N, p.engine_k), mode=p.settings.retrieval.mode)
    sims = [h.dense_similarity for h in r.hits]
    rec = RetrievalRecord(
        paper_ids=[h.paper_id for h in r.hits],
        titles=[h.title for h in r.hits],
        dense_similarities=[None if x is None else round(x, 4) for x in sims],
        retrieve_ms=round(r.retrieve_ms, 1),
        best_similarity=max((x for x in sims[: p.engine_k] if x is not None), default=None),
    )
    given = r.hits[: p.settings.answer.max_sources]
    m = retrieval_metrics(rec.paper_ids, q.gold_ids, len(given) or 1)
    if q.type == "numeric":
        m["number_in_sources"] = numeric_match(" ".join(h.chunk for h in given), q.answer_points)
    return rec, m | {"retrieve_ms": rec.retrieve_ms}


def gated(p: Plan, rec: RetrievalRecord) -> bool:
    """`rag ask` would abstain without calling the model (no hits, or weak best similarity)."""
    best = rec.best_similarity
    weak = best is not None and best < p.settings.answer.abstain_min_score
    return not rec.paper_ids or weak


def _record(
    p: Plan, q: Question, rec: RetrievalRecord, m: dict[str, Value], ask: AskOutput | None = None
) -> EvalRecord:
    return EvalRecord(
        config=p.name,
        qid=q.qid,
        type=q.type,
        question=q.question,
        mode="full" if ask else "retrieval",
        fingerprint=p.fingerprint,
        model=p.settings.llm.model if ask else None,
        abstain_min_score=p.settings.answer.abstain_min_score,
        retrieval=rec,
        answer=ask,
        metrics=m,
        finished_at=now(),
    )


def retrieval_only_record(p: Plan, q: Question, retriever: Memo) -> EvalRecord:
    rec, m = search(p, q, retriever)
    m |= {"gated": gated(p, rec), "abstained": gated(p, rec), "model_abstained": False}
    m["correct_if_answered"] = correct(q.type, m)
    return _record(p, q, rec, m)


def full_record(p: Plan, q: Question, retriever: Memo, engine: AnswerEngine) -> EvalRecord:
    from rag.schema import ask_output

    rec, m = search(p, q, retriever)
    answer = engine.ask(q.question)
    rec = rec.model_copy(update={"best_similarity": answer.retrieval.best_similarity})
    ask = ask_output(answer, p.settings.llm.model, ungated(p.settings).fingerprint())
    return _record(p, q, rec, full_metrics(p, q, rec, ask, m), ask)


def full_metrics(
    p: Plan, q: Question, rec: RetrievalRecord, ask: AskOutput, m: dict[str, Value]
) -> dict[str, Value]:
    """Retrieval metrics `m` plus the answer's, at the configured threshold (applied offline)."""
    is_gated = gated(p, rec)
    m = m | {"gated": is_gated, "model_abstained": ask.abstained}
    as_answered = answer_metrics(q.type, ask, ask.abstained, q.answer_points, q.gold_ids)
    m["correct_if_answered"] = correct(q.type, m | as_answered)
    m |= answer_metrics(q.type, ask, is_gated or ask.abstained, q.answer_points, q.gold_ids)
    return m | ({} if is_gated else cost_metrics(ask.timings))


def summarize(
    opts: EvalOptions, base: Settings, plans: Sequence[Plan], records: Sequence[EvalRecord], n: int
) -> RunSummary:
    summary = RunSummary(
        created=now(),
        commit=git_commit(),
        model=None if opts.retrieval_only else base.llm.model,
        mode=opts.mode,
        questions_file=str(opts.questions),
        n_questions=n,
        limit=opts.limit,
        configs=[
            config_result(p.name, [r for r in records if r.config == p.name], opts.mode)
            for p in plans
        ],
        matcher=matcher_rows(LABELS_FILE),
    )
    return check_floors(opts, summary)


def check_floors(opts: EvalOptions, summary: RunSummary) -> RunSummary:
    """Floors only when asked. A floors file (`--floors`, measured on a whole question set)
    holds for the complete set only (not with --limit); command-line floors always."""
    use_file = opts.floors_file is not None and opts.limit is None
    floors = load_floors(opts.floors_file) if use_file and opts.floors_file else {}
    names = [c.name for c in summary.configs]
    floors = with_flags(floors, names, {"hit@5": opts.min_hit5, "mrr": opts.min_mrr})
    failures = below(floors, results_by_config(summary))
    update = {"floors_checked": bool(floors), "floor_failures": failures}
    return summary.model_copy(update=update)


def refresh_latest(files: Sequence[Path]) -> None:
    """eval/latest/ keeps the Markdown summary and HTML report of the last complete LLM run."""
    LATEST_DIR.mkdir(parents=True, exist_ok=True)
    for f in files:
        if f.suffix in (".md", ".html"):
            shutil.copyfile(f, LATEST_DIR / f.name)
