"""Runs the questions of one or more question sets through each config, appending each record
to results.jsonl as it finishes (an interrupted run resumes where it stopped).

Retrieval-only runs go question by question. Full (LLM) runs go config by config: the local
server keeps the last prompt's prefix in its KV cache, so a config's questions in a row share
its cached system prompt, as a user's questions in one chat do; interleaving configs would make
every question of every config pay for its rules again.

Abstention is the engine's: each record holds the decision before generation (the same
`rag.answer.abstention.decide`, every feature it used) and the answer as shipped, so the
report's abstention curve calibrates what `rag ask` does. A follow-up row's `history` turns are
asked first, in one Conversation, and its question is then asked in it."""

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
from rag.eval.data import EVAL_DIR, LABELS_FILE, Question, load_sets
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
from rag.eval.summary import (
    RunSummary,
    config_result,
    matcher_rows,
    results_by_config,
    set_results,
)

from rag.errors import ConfigError
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.answer.conversation import Conversation
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
    questions: Path | tuple[Path, ...]  # one question file or several (reported side by side)
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

    @property
    def files(self) -> tuple[Path, ...]:
        return self.questions if isinstance(self.questions, tuple) else (self.questions,)


@dataclass(frozen=True)
class Plan:
    name: str
    settings: Settings  # as configured (the threshold included)

    @property
    def fingerprint(self) -> str:
        return self.settings.fingerprint()

    @property
    def engine_k(self) -> int:
        """Papers the answer engine retrieves."""
        from rag.answer.context import SEARCH_K

        if self.settings.answer.pipeline == "legacy":
            return max(self.settings.answer.max_sources, self.settings.retrieval.top_k)
        return SEARCH_K


@dataclass(frozen=True)
class EvalOutcome:
    out_dir: Path
    summary: RunSummary
    files: list[Path]


def run_eval(opts: EvalOptions, base: Settings) -> EvalOutcome:
    from rag.eval.report import write_reports

    questions = take_sets(load_sets(opts.files), opts.limit)
    missing = missing_gold_titles(questions, base)
    plans = [Plan(name, config_settings(name, base)) for name in dict.fromkeys(opts.configs)]
    out = opts.out or default_out_dir(opts.retrieval_only)
    wanted = wanted_keys(plans, questions, opts.mode)
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


def wanted_keys(plans: Sequence[Plan], questions: Sequence[Question], mode: Mode) -> list[Key]:
    """Question by question for retrieval; config by config for full runs (see above)."""
    if mode == "full":
        return [(p.name, mode, p.fingerprint, q.qid) for p in plans for q in questions]
    return [(p.name, mode, p.fingerprint, q.qid) for q in questions for p in plans]


def take_sets(questions: Sequence[Question], limit: int | None) -> list[Question]:
    """`take` within each question set (`--limit N`: N questions of every set)."""
    sets = list(dict.fromkeys(q.set for q in questions))
    return [q for name in sets for q in take([x for x in questions if x.set == name], limit)]


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
    """Builds the shared parts once (embedder, store, one retriever per retrieval setting, one
    engine per config and, for full runs, the LLM server); stops a server it started."""
    from rag.llm.session import llm_session
    from rag.wiring import build_engine, embedder_for, open_store

    embedder = embedder_for(base)
    retrievers = _retrievers(plans, open_store(base, embedder), embedder)
    memo = {name: Memo(r) for name, r in retrievers.items()}
    if mode == "retrieval":
        built = {p.name: build_engine(p.settings, None, retrievers[p.name], "now") for p in plans}
        yield lambda p, q: retrieval_only_record(p, q, memo[p.name], built[p.name])
        return
    with llm_session(base) as session:
        chat = session.client()
        engines = {p.name: build_engine(p.settings, chat, retrievers[p.name], "now") for p in plans}
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


def search(
    p: Plan, q: Question, retriever: Memo, query: str | None = None
) -> tuple[RetrievalRecord, dict[str, Value]]:
    """The eval's own search (top 10, the config's mode) for `query` (a follow-up's standalone
    question; the question itself otherwise) and its retrieval metrics."""
    r = retriever.search(
        query or q.question, top_k=max(TOP_N, p.engine_k), mode=p.settings.retrieval.mode
    )
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


def gated(decision: dict[str, Value | str] | None, engine: AnswerEngine) -> bool:
    """Whether `rag ask` abstains before generation, re-decided from the recorded features
    with the engine's own rule and the one `decide` (tests/unit/test_eval_agreement.py)."""
    from rag.answer.abstention import decide, features_from_record

    if decision is None:
        return True
    return not decide(features_from_record(decision), engine.rule).answerable


def _record(
    p: Plan,
    q: Question,
    rec: RetrievalRecord,
    m: dict[str, Value],
    decision: dict[str, Value | str] | None,
    ask: AskOutput | None = None,
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
        set=q.set,
        history=list(q.history),
        decision=decision,
    )


def _before(
    engine: AnswerEngine, q: Question, conv: Conversation
) -> tuple[str, dict[str, Value | str]]:
    """The standalone query and the decision before generation, as the engine makes them."""
    from rag.answer.abstention import decide

    ctx = engine.contexts.build(q.question, conv)
    return ctx.standalone, decide(ctx.features, engine.rule).record()


def retrieval_only_record(
    p: Plan, q: Question, retriever: Memo, engine: AnswerEngine
) -> EvalRecord:
    conv = _standalone_history(q)
    standalone, decision = _before(engine, q, conv)
    rec, m = search(p, q, retriever, standalone)
    is_gated = not bool(decision["answerable"])
    m |= {"gated": is_gated, "abstained": is_gated, "model_abstained": False}
    m["correct_if_answered"] = correct(q.type, m)
    return _record(p, q, rec, m, decision)


def _standalone_history(q: Question) -> Conversation:
    """A conversation holding only the history's standalone questions (no model needed)."""
    from rag.answer.conversation import Conversation, Turn, condense

    conv = Conversation()
    for h in q.history:
        conv.turns.append(Turn(h, condense(h, conv), "", (), [], []))
    return conv


def full_record(p: Plan, q: Question, retriever: Memo, engine: AnswerEngine) -> EvalRecord:
    from rag.answer.conversation import Conversation
    from rag.schema import ask_output

    conv = Conversation()
    for h in q.history:  # a follow-up: the earlier turns first, in the same conversation
        engine.ask(h, conv)
    answer = engine.ask(q.question, conv)
    rec, m = search(p, q, retriever, answer.standalone_question)
    ask = ask_output(answer, p.settings.llm.model, p.fingerprint)
    decision = ask.decision  # the final one; `gated` re-decides the first from its features
    return _record(p, q, rec, full_metrics(q, ask, m, gated(decision, engine)), decision, ask)


def full_metrics(
    q: Question, ask: AskOutput, m: dict[str, Value], is_gated: bool
) -> dict[str, Value]:
    """Retrieval metrics `m` plus the answer's, as shipped (the engine's own abstention)."""
    model_abstained = ask.abstained and not is_gated
    m = m | {"gated": is_gated, "model_abstained": model_abstained}
    m |= answer_metrics(q.type, ask, ask.abstained, q.answer_points, q.gold_ids)
    m["correct_if_answered"] = correct(q.type, m)
    m["evidence_answer"] = ask.answer_kind in ("evidence", "extractive")
    return m | ({} if is_gated else cost_metrics(ask.timings))


def summarize(
    opts: EvalOptions, base: Settings, plans: Sequence[Plan], records: Sequence[EvalRecord], n: int
) -> RunSummary:
    summary = RunSummary(
        created=now(),
        commit=git_commit(),
        model=None if opts.retrieval_only else base.llm.model,
        mode=opts.mode,
        questions_file=", ".join(str(f) for f in opts.files),
        n_questions=n,
        limit=opts.limit,
        configs=[
            config_result(p.name, [r for r in records if r.config == p.name], opts.mode)
            for p in plans
        ],
        matcher=matcher_rows(LABELS_FILE),
        sets=set_results(records, [p.name for p in plans], opts.mode),
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
