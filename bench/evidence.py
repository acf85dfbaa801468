"""Evidence-layer study, no LLM: the real embedder and retriever over an ingested store.

    RAG_DATA_DIR=/work/evidence-store .venv/bin/python bench/evidence.py [--write] [--json F]

Over eval/questions.jsonl (easy), questions_hard.jsonl (hard) and followups.jsonl (history and
question joined as the query), it prints: evidence latency p50/p95 (retrieval included; cold
sentence cache and precomputed); prompt tokens of today's trimmed chunks vs the selected
evidence; gold-paper coverage of the given papers; answer-point recall of the extractive
answer (rag.eval.matching) by set and type; survey-detection accuracy; and the abstention
rule under cross-validation. `--write` refits rag/answer/abstention.json on easy + hard."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rag.eval import abstention_fit as fit
from rag.eval.data import EVAL_DIR, Question, load_questions
from rag.eval.metrics import point_recall, recall_at

from rag.answer.abstention import FEATURES, Features, default_params_path, features_of
from rag.answer.context import LegacyContexts
from rag.answer.evidence import Evidence, EvidenceConfig, EvidenceIndex, extract, gather
from rag.answer.prompts import load_prompts
from rag.answer.survey import Mode, detect
from rag.answer.vectors import SentenceVectors
from rag.index.embed import TokenCounter, packaged_model_dir
from rag.index.retrieve import Retrieval, Retriever
from rag.settings import Settings
from rag.wiring import open_retriever

SETS = {"easy": "questions.jsonl", "hard": "questions_hard.jsonl", "followups": "followups.jsonl"}
SEARCH_K = 10
# Dense cosine only, no paper prior, no diversity, no budget: "the three most similar sentences".
BASELINE = EvidenceConfig(
    budget_tokens=10**6,
    dense_weight=1.0,
    paper_weight=0.0,
    lam=1.0,
    min_relative=0.0,
    max_similarity=2.0,
    max_per_paper=99,
)


@dataclass(frozen=True)
class Row:
    q: Question
    set: str
    query: str
    mode: Mode
    retrieval: Retrieval
    evidence: Evidence
    features: Features
    latency_ms: float
    old_tokens: int
    new_tokens: int
    context_old: float | None  # answer points present in today's trimmed chunks (titles included)
    context_new: float | None  # … in the selected evidence: the ceiling of a model answer
    recall: float | None  # extractive answer
    recall_titled: float | None
    recall_baseline: float | None  # the 3 sentences most similar to the question (dense only)
    given4: float | None  # gold recall among the first 4 papers
    given: float | None  # … among the papers given in the detected mode


def query_of(path: Path) -> list[tuple[Question, str]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    qs = load_questions(path)
    return [
        (q, " ".join([*r.get("history", []), q.question])) for q, r in zip(qs, rows, strict=True)
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true", help="refit rag/answer/abstention.json")
    ap.add_argument("--json", type=Path, help="write all figures (and the curve) here")
    ap.add_argument(
        "--refusals",
        type=Path,
        help="results.jsonl of a full-answer eval run (its 'default' config): choose the bar "
        "after a model refusal on it (Youden, 5-fold figures) instead of the fixed quantile",
    )
    args = ap.parse_args()
    settings = Settings()
    retriever = open_retriever(settings)
    tools = Tools.build(settings, retriever)
    questions = [
        (q, query, name) for name, f in SETS.items() for q, query in query_of(EVAL_DIR / f)
    ]
    cold = [tools.row(q, query, name) for q, query, name in questions]
    t = time.perf_counter()
    warmed = tools.vectors.warm(tools.index.all_sentences())
    warm_s = time.perf_counter() - t
    rows = [tools.row(q, query, name) for q, query, name in questions]
    out: dict[str, Any] = {"index_build_ms": tools.build_ms, "warm_sentences": warmed}
    out["warm_s"] = round(warm_s, 1)
    print(f"evidence index built in {tools.build_ms:.0f} ms; ", end="")
    print(f"{warmed} sentences left to precompute after the cold pass took {warm_s:.1f} s")
    out["latency"] = latency_table(cold, rows)
    out["tokens"] = token_table(rows)
    out["coverage"] = coverage_table(rows)
    out["recall"] = recall_table(rows)
    out["survey"] = survey_table(rows)
    out["abstention"] = abstention_study(rows, args.write, settings, args.refusals)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


@dataclass
class Tools:
    retriever: Retriever
    index: EvidenceIndex
    vectors: SentenceVectors
    count: TokenCounter
    legacy: LegacyContexts  # the old engine's trimmed chunks (no model is called)
    build_ms: float

    @classmethod
    def build(cls, settings: Settings, retriever: Retriever) -> Tools:
        count = TokenCounter(packaged_model_dir())
        t = time.perf_counter()
        index = EvidenceIndex.build(retriever.chunks())
        build_ms = round((time.perf_counter() - t) * 1000, 1)
        vectors = SentenceVectors(retriever.embedder)
        vectors.get(["warm-up"])  # loads the model; not part of any question's latency
        legacy = LegacyContexts(retriever, count, load_prompts(), settings.answer)
        return cls(retriever, index, vectors, count, legacy, build_ms)

    def row(self, q: Question, query: str, set_name: str) -> Row:
        start = time.perf_counter()
        r = self.retriever.search(query, top_k=SEARCH_K)
        mode = detect(query, [h.dense_similarity for h in r.hits])
        cfg = EvidenceConfig(
            budget_tokens=mode.budget_tokens, max_per_paper=mode.sentences_per_paper
        )
        ev = gather(query, r.hits[: mode.papers], self.index, self.vectors, self.count, cfg)
        ex = extract(ev, distinct_papers=mode.survey)
        latency = (time.perf_counter() - start) * 1000
        base = gather(query, r.hits[: mode.papers], self.index, self.vectors, self.count, BASELINE)
        base_text = extract(base, 3, 3, 0.0).text
        given = [p.paper_id for p in ev.papers]
        gold = q.gold_ids
        old = self.old_sources(r, q.question)
        return Row(
            q=q,
            set=set_name,
            query=query,
            mode=mode,
            retrieval=r,
            evidence=ev,
            features=features_of(r, ev),
            latency_ms=latency,
            old_tokens=self.blocks([(s.hit.title, s.passage) for s in old]),
            new_tokens=self.blocks([(p.title, p.passage) for p in ev.papers]),
            context_old=self.context(q, [(s.hit.title, s.passage) for s in old]),
            context_new=self.context(q, [(p.title, p.passage) for p in ev.papers]),
            recall=self.recall(q, ex.text),
            recall_titled=self.recall(q, ex.text_with_titles),
            recall_baseline=self.recall(q, base_text),
            given4=recall_at([h.paper_id for h in r.hits], gold, 4) if gold else None,
            given=len(set(given) & gold) / len(gold) if gold else None,
        )

    def old_sources(self, r: Retrieval, question: str) -> list[Any]:
        return self.legacy._sources(r.hits[: self.legacy.cfg.max_sources], question)

    @staticmethod
    def recall(q: Question, answer: str) -> float | None:
        return point_recall(answer, q.answer_points, False) if q.answerable else None

    def context(self, q: Question, papers: Sequence[tuple[str, str]]) -> float | None:
        text = " ".join(f"{t}: {p}" for t, p in papers)
        return point_recall(text, q.answer_points, False) if q.answerable else None

    def blocks(self, papers: Sequence[tuple[str, str]]) -> int:
        src = self.legacy.prompts.source
        return self.count(
            "\n".join(src.format(n=n, title=t, passage=p) for n, (t, p) in enumerate(papers, 1))
        )


def pct(values: Sequence[float], q: int) -> float:
    v = sorted(values)
    return round(float(np.percentile(v, q)), 1) if v else float("nan")


def table(title: str, header: Sequence[str], body: Sequence[Sequence[Any]]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    for line in body:
        print("| " + " | ".join(_fmt(x) for x in line) + " |")


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.3f}" if abs(x) < 10 else f"{x:.0f}"
    return str(x)


def by_set(rows: Sequence[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {"all": list(rows)}
    for r in rows:
        groups.setdefault(r.set, []).append(r)
    return groups


def latency_table(cold: Sequence[Row], warm: Sequence[Row]) -> dict[str, Any]:
    body, out = [], {}
    for name, rows in (("cold cache", cold), ("precomputed", warm)):
        ms = [r.latency_ms for r in rows]
        ev = [r.evidence.evidence_ms for r in rows]
        rt = [r.retrieval.retrieve_ms for r in rows]
        out[name] = {"p50": pct(ms, 50), "p95": pct(ms, 95), "evidence_p50": pct(ev, 50)}
        body.append(
            [name, len(rows), pct(rt, 50), pct(ev, 50), pct(ev, 95), pct(ms, 50), pct(ms, 95)]
        )
    head = [
        "sentence vectors",
        "n",
        "retrieve p50",
        "evidence p50",
        "evidence p95",
        "total p50",
        "total p95",
    ]
    table("Latency (ms): question → evidence + extractive answer, retrieval included", head, body)
    return out


def token_table(rows: Sequence[Row]) -> dict[str, Any]:
    body: list[list[Any]] = []
    out: dict[str, dict[str, Any]] = {}
    for key, group in by_set(rows).items():
        for kind in ("lookup", "survey"):
            g = [r for r in group if r.mode.survey == (kind == "survey")]
            if not g:
                continue
            old = statistics.mean(r.old_tokens for r in g)
            new = statistics.mean(r.new_tokens for r in g)
            papers = statistics.mean(len(r.evidence.papers) for r in g)
            c_old, c_new = _mean([r.context_old for r in g]), _mean([r.context_new for r in g])
            out[f"{key}/{kind}"] = {"old": old, "new": new, "papers": papers}
            out[f"{key}/{kind}"] |= {"points_old": c_old, "points_new": c_new}
            body.append(
                [key, kind, len(g), old, new, f"{new / old - 1:+.0%}", papers, c_old, c_new]
            )
    head = ["set", "mode", "n", "old tokens", "new tokens", "change", "papers"]
    head += ["points in old", "points in new"]
    title = "Sources block: tokens (mean) and answer points it holds (old = 4 trimmed chunks)"
    table(title, head, body)
    return out


def coverage_table(rows: Sequence[Row]) -> dict[str, Any]:
    body, out = [], {}
    for key, group in by_set(rows).items():
        look = [r for r in group if r.q.answerable and len(r.q.gold_ids) < 3]
        surv = [r for r in group if len(r.q.gold_ids) >= 3]
        hit = _mean([float((r.given or 0) > 0) for r in look])
        at4, given = _mean([r.given4 for r in surv]), _mean([r.given for r in surv])
        out[key] = {"lookup_hit": hit, "survey_at4": at4, "survey_given": given}
        body.append([key, len(look), hit, len(surv), at4, given])
    head = [
        "set",
        "n (<3 gold)",
        "gold among given",
        "n (>=3 gold)",
        "gold share @4",
        "gold share @given",
    ]
    table("Gold-paper coverage of the given evidence", head, body)
    return out


def recall_table(rows: Sequence[Row]) -> dict[str, Any]:
    body, out = [], {}
    for key, group in by_set(rows).items():
        for qtype in ("all", "lookup", "numeric", "synthesis"):
            g = [r for r in group if r.recall is not None and qtype in ("all", r.q.type)]
            if g:
                a, b = _mean([r.recall for r in g]), _mean([r.recall_titled for r in g])
                c = _mean([r.recall_baseline for r in g])
                out[f"{key}/{qtype}"] = {"sentences": a, "with_titles": b, "dense_top3": c}
                body.append([key, qtype, len(g), c, a, b])
    head = ["set", "type", "n", "dense top-3 (baseline)", "extractive", "… with titles"]
    table("Answer-point recall of the extractive answer (answerable questions)", head, body)
    return out


def survey_table(rows: Sequence[Row]) -> dict[str, Any]:
    body, out = [], {}
    for key in ("hard", "easy"):
        g = [r for r in rows if r.set == key]
        truth = [
            r.q.type == "synthesis" and len(r.q.gold_ids) >= (3 if key == "hard" else 2) for r in g
        ]
        said = [r.mode.survey for r in g]
        acc = _mean([float(a == b) for a, b in zip(truth, said, strict=True)])
        tp = sum(a and b for a, b in zip(truth, said, strict=True))
        out[key] = {"accuracy": acc, "surveys": sum(truth), "detected": sum(said), "tp": tp}
        body.append([key, len(g), sum(truth), sum(said), tp, acc])
    head = ["set", "n", "true surveys", "detected", "both", "accuracy"]
    table(
        "Survey detection (hard: synthesis with >=3 gold; easy: synthesis with >=2 gold)",
        head,
        body,
    )
    return out


def _mean(values: Sequence[float | None]) -> float | None:
    v = [x for x in values if x is not None]
    return statistics.mean(v) if v else None


def todays_gates(rows: Sequence[Row], settings: Settings) -> dict[str, np.ndarray]:
    """Today's fixed gates on the same questions (no fitting): the engine's `_weak_evidence`
    (dense < 0.32 and overlap < 0.5 over its 5 papers) and the eval's `gated()` (dense only)."""
    cfg = settings.answer
    top = [Retrieval(r.query, r.retrieval.hits[:5], "hybrid", 0.0) for r in rows]
    dense = [t.best_similarity or 0.0 for t in top]
    engine = [
        d < cfg.abstain_min_score and t.best_overlap < cfg.abstain_min_overlap
        for d, t in zip(dense, top, strict=True)
    ]
    return {
        "today: engine gate (fixed)": ~np.array(engine),
        "today: eval gate (fixed)": np.array([d >= cfg.abstain_min_score for d in dense]),
    }


def abstention_study(
    rows: Sequence[Row], write: bool, settings: Settings, refusals: Path | None = None
) -> dict[str, Any]:
    train = [r for r in rows if r.set in ("easy", "hard")]
    x = np.array([[r.features.values()[k] for k in FEATURES] for r in train])
    y = np.array([int(r.q.answerable) for r in train])
    methods = {f"threshold on {k}": fit.single_feature_method(i) for i, k in enumerate(FEATURES)}
    methods["logistic (4 features)"] = fit.logistic_method()
    splits = {f"5-fold x{n}": fit.stratified_folds(y, 5, seed=n) for n in range(10)}
    loso = fit.group_folds([r.set for r in train])
    body: list[list[Any]] = []
    out: dict[str, Any] = {}
    for name, method in methods.items():
        cv = [fit.figures(y, fit.cross_validate(x, y, method, f)) for f in splits.values()]
        lo = fit.figures(y, fit.cross_validate(x, y, method, loso))
        avg = {k: _mean([c[k] for c in cv]) for k in cv[0]}
        out[name] = {"5fold": avg, "leave_one_set_out": lo}
        body.append([name, *avg.values(), *lo.values()])
    for name, answered in todays_gates(train, settings).items():
        f = fit.figures(y, answered)
        out[name] = {"fixed": f}
        body.append([name, *f.values(), "", "", ""])
    head = ["rule", "5-fold prec", "recall", "false abst.", "LOSO prec", "recall", "false abst."]
    table(
        "Abstention under cross-validation (unanswerable = positive; 10 x 5-fold mean)", head, body
    )
    out["auc"] = {k: fit.auc(x[:, i], y) for i, k in enumerate(FEATURES)}
    params = fit.fit_params(x, y, FEATURES)
    if refusals:
        params, out["refusal"] = refusal_bar_from_run(params, refusals)
        print(f"Bar after a model refusal, from {refusals}: {json.dumps(out['refusal'])}")
    out["params"] = params.__dict__
    out["followups"] = heldout(rows, params)
    out["curve"] = oof_curve(x, y)
    print(f"\nAUC per feature: {json.dumps({k: round(v, 3) for k, v in out['auc'].items()})}")
    print(f"Fitted on easy+hard: {json.dumps(out['params'])}")
    print(f"Follow-ups, held out: {json.dumps(out['followups'])}")
    if write:
        write_params(params, out)
    return out


def refusal_bar_from_run(params: Any, path: Path) -> tuple[Any, dict[str, Any]]:
    """The bar after a model refusal chosen on a full eval run: each record re-decided with
    `params` (its recorded features), the model's refusal as recorded."""
    from dataclasses import replace

    from rag.answer.abstention import decide, features_from_record

    recs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    recs = [r for r in recs if r.get("config") == "default" and r.get("decision")]
    feats = [features_from_record(r["decision"]) for r in recs]
    p = np.array([params.probability(f) for f in feats])
    gated = np.array([not decide(f, params).answerable for f in feats])
    refused = np.array([bool(r["decision"].get("model_abstained")) for r in recs])
    y = np.array([int(r["type"] != "unanswerable") for r in recs])
    bar = fit.refusal_bar(p, refused, gated, y, params.threshold)
    info = {
        "run": str(path),
        "n": len(recs),
        "model_refusals": int(refused.sum()),
        "quantile_bar": params.model_threshold,
        "at_quantile_bar": fit.figures(
            y, fit.final_answered(p, refused, gated, params.model_threshold)
        ),
        "chosen": round(bar, 4),
        "at_chosen": fit.figures(y, fit.final_answered(p, refused, gated, bar)),
        "cv_5fold": fit.cv_refusal_bar(p, refused, gated, y, params.threshold),
    }
    return replace(params, model_threshold=round(bar, 4)), info


def heldout(rows: Sequence[Row], params: Any) -> dict[str, Any]:
    from rag.answer.abstention import decide

    g = [r for r in rows if r.set == "followups"]
    y = np.array([int(r.q.answerable) for r in g])
    answered = np.array([decide(r.features, params).answerable for r in g])
    return {"n": len(g), **fit.figures(y, answered)}


def oof_curve(x: np.ndarray, y: np.ndarray) -> list[dict[str, float]]:
    """Out-of-fold p(answerable) (5-fold, seed 0) against the threshold."""
    p = np.zeros(len(y))
    for test in fit.stratified_folds(y, 5, seed=0):
        train = np.setdiff1d(np.arange(len(y)), test)
        p[test] = fit.fit_logistic(x[train], y[train]).probability(x[test])
    return fit.curve(p, y, [i / 20 for i in range(1, 20)])


def write_params(params: Any, study: dict[str, Any]) -> None:
    path = default_params_path()
    doc = {
        "about": "Abstention rule of rag/answer/abstention.py, fitted by bench/evidence.py "
        "--write on eval/questions.jsonl + questions_hard.jsonl (answerable vs unanswerable). "
        "p(answerable) = sigmoid(bias + sum(weights * (x - mean) / scale)); abstain when "
        "p < threshold (Youden-optimal on the fit); after a model abstention answer only when "
        "p >= model_threshold (chosen on a full eval run when `refusal` is present — Youden's "
        "J of the final decisions, 5-fold figures beside it — else above 95% of unanswerable "
        "questions' p).",
        "params": params.__dict__,
        "cv": {k: v for k, v in study.items() if k not in ("params", "curve")},
        "curve": study["curve"],
    }
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
