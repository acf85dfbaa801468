"""Answerable or not: the one abstention decision, for the engine and the eval alike.

`decide` turns four evidence features into p(answerable) with a small logistic model whose
weights are all >= 0 (more similarity, coverage or BM25 never makes a question less
answerable), and abstains when p is under the calibrated threshold:
  dense     best dense similarity of a retrieved paper (cosine, question vs chunk)
  sentence  best evidence-sentence score (fused dense + lexical, see rag/answer/evidence.py)
  overlap   the best paper's IDF-weighted coverage of the question's terms
  bm25      the best paper's BM25 for the question
A question that names a rare term of the best paper's title ("What is QLoRA?": the term is in
at most 1 % of the chunks, and no question term is missing from the corpus) is always put to
the model, whatever p: short definitional questions embed poorly (cosine 0.32 for that one)
and the fitted rule abstained on them. The model's refusal then stands as below; the eval
measures what this costs on unanswerable questions that reuse a paper's name.
A question asking for a quantity that no paper given states a figure of ("What perplexity
does …" where no sentence gives a perplexity: rag/answer/figures.py) abstains whatever p and
whatever the name rule says: such near-miss questions score like answerable ones on every
retrieval feature, and the model then borrows a figure stated for something else.
After generation, `model_abstained=True` applies `model_threshold`: the model's refusal
stands unless p reaches it (then the engine answers from the evidence, labelled as such). A
model that answered is not evidence: the bar stays at `threshold`. The refusal bar is chosen on
a full eval run (`bench/evidence.py --write --refusals RUN/results.jsonl`); on the 130-question
run it came out equal to `threshold`: the 1.5B model refused 10 answerable questions for every
unanswerable one the rule had let through, so its refusal only decides where the evidence rule
left the question to it (the named-term case above).

`Gate` is the rule of the engine before issue 11 (abstain when nothing was retrieved, or when
both the best dense similarity and the best chunk's term overlap are low; a model refusal
stands). Only the legacy pipeline uses it, through the same `decide`, so an old-vs-new
evaluation records both decisions the same way.

The parameters live in rag/answer/abstention.json, written by `bench/evidence.py --write`
(features, standardisation, weights, thresholds, the cross-validated figures and the
precision/recall curve). They depend on the evidence settings they were fitted with: refit
after changing the embedder, the scoring weights or the corpus substantially."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from rag.answer.evidence import Evidence
from rag.errors import ConfigError
from rag.index.retrieve import Retrieval

__all__ = [
    "FEATURES",
    "Features",
    "Params",
    "Gate",
    "Rule",
    "Decision",
    "features_of",
    "decide",
    "load_params",
    "default_params_path",
]

FEATURES = ("dense", "sentence", "overlap", "bm25")


@dataclass(frozen=True)
class Features:
    dense: float | None  # None when the dense retriever did not run (bm25 mode)
    sentence: float
    overlap: float
    bm25: float
    chunk_overlap: float = 0.0  # best retrieved chunk's share of question terms (the Gate's)
    hits: int = 1  # papers retrieved
    named: bool = False  # the question names a rare term the best paper's title carries
    unstated: str = ""  # the measure a quantity question asks for that no paper given states

    def values(self) -> dict[str, float]:
        """Feature name → value, a missing dense similarity counting as 0."""
        out = asdict(self)
        return {k: float(out[k] or 0.0) for k in FEATURES}

    def record(self) -> dict[str, float | str | None]:
        """Every feature, as the eval records it (a missing dense similarity stays None)."""
        out = asdict(self)
        return {
            k: v if isinstance(v, str) else None if v is None else round(float(v), 4)
            for k, v in out.items()
        }


@dataclass(frozen=True)
class Params:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float  # abstain when p(answerable) < threshold
    model_threshold: float  # after a model abstention, answer only when p >= this

    def probability(self, f: Features) -> float:
        v = f.values()
        z = self.bias + sum(
            w * (v[name] - m) / s
            for name, m, s, w in zip(
                self.features, self.mean, self.scale, self.weights, strict=True
            )
        )
        return 1.0 / (1.0 + math.exp(-z))

    def bar(self, model_abstained: bool | None) -> float:
        return self.model_threshold if model_abstained else self.threshold


@dataclass(frozen=True)
class Gate:
    """The pre-issue-11 engine's fixed gate (legacy pipeline): p is 1 when it answers, else 0."""

    min_dense: float = 0.32
    min_overlap: float = 0.5

    def probability(self, f: Features) -> float:
        weak_dense = f.dense is None or f.dense < self.min_dense
        weak = f.hits == 0 or (weak_dense and f.chunk_overlap < self.min_overlap)
        return 0.0 if weak else 1.0

    def bar(self, model_abstained: bool | None) -> float:
        return 1.5 if model_abstained else 0.5  # a model refusal always stands


Rule = Params | Gate


@dataclass(frozen=True)
class Decision:
    answerable: bool
    probability: float
    threshold: float  # the bar that applied
    features: Features
    model_abstained: bool | None
    reason: str
    rule: str = "logistic"  # logistic | gate
    base_threshold: float = 0.0  # the bar before generation (raised after a model refusal)

    def record(self) -> dict[str, float | bool | str | None]:
        """Flat fields for eval records and logs: the decision and every feature it used."""
        return {
            "answerable": self.answerable,
            "p_answerable": round(self.probability, 4),
            "threshold": self.threshold,
            "base_threshold": self.base_threshold,
            "model_abstained": self.model_abstained,
            "reason": self.reason,
            "rule": self.rule,
            **{f"feature_{k}": v for k, v in self.features.record().items()},
        }


def features_of(
    retrieval: Retrieval, evidence: Evidence | None, named: bool = False, unstated: str = ""
) -> Features:
    """The features of one question: retrieval's best dense similarity and chunk overlap, and
    the evidence's sentence, coverage and BM25 scores (zero without evidence); `named` and
    `unstated`: see `decide`."""
    if evidence is None:
        return Features(
            retrieval.best_similarity, 0.0, 0.0, 0.0, retrieval.best_overlap, len(retrieval.hits)
        )
    return Features(
        retrieval.best_similarity,
        evidence.best_sentence,
        evidence.term_overlap,
        evidence.best_bm25,
        retrieval.best_overlap,
        len(retrieval.hits),
        named,
        unstated,
    )


def features_from_record(rec: dict[str, object]) -> Features:
    """The features a `Decision.record()` holds (what the eval re-decides from)."""

    def num(name: str) -> float:
        v = rec.get(f"feature_{name}")
        return float(v) if isinstance(v, int | float) else 0.0

    dense = rec.get("feature_dense")
    return Features(
        float(dense) if isinstance(dense, int | float) else None,
        num("sentence"),
        num("overlap"),
        num("bm25"),
        num("chunk_overlap"),
        int(num("hits")),
        bool(num("named")),
        str(rec.get("feature_unstated") or ""),
    )


def decide(f: Features, rule: Rule, model_abstained: bool | None = None) -> Decision:
    """Abstain or answer: the one decision, for the engine and the eval. `model_abstained`:
    None before generation, else whether the model refused."""
    p = rule.probability(f)
    bar = rule.bar(model_abstained)
    kind = "gate" if isinstance(rule, Gate) else "logistic"
    if f.unstated and isinstance(rule, Params):
        why = f"no paper given states a figure of the {f.unstated} asked for (p={p:.2f})"
        return Decision(False, p, bar, f, model_abstained, why, kind, rule.bar(None))
    if f.named and not model_abstained and isinstance(rule, Params):
        bar = 0.0  # the model is asked; only its refusal (under model_threshold) abstains
    ok = p >= bar
    reason = _reason(ok, p, bar, f, model_abstained)
    return Decision(ok, p, bar, f, model_abstained, reason, kind, rule.bar(None))


def _reason(ok: bool, p: float, bar: float, f: Features, model: bool | None) -> str:
    v = f.values()
    weakest = min(FEATURES, key=lambda k: v[k] / (1 + abs(v[k])))  # a hint, not the cause
    if ok and model:
        return f"evidence overrides the model's abstention (p={p:.2f} >= {bar:.2f})"
    if ok and f.named and bar == 0.0:
        return f"the question names the best paper's own term (p={p:.2f}): the model decides"
    if ok:
        return f"evidence is strong enough (p={p:.2f} >= {bar:.2f})"
    who = "the model abstained and " if model else ""
    return f"{who}evidence is too weak (p={p:.2f} < {bar:.2f}; weakest: {weakest}={v[weakest]:.2f})"


def default_params_path() -> Path:
    return Path(str(resources.files("rag.answer").joinpath("abstention.json")))


def load_params(path: Path | None = None) -> Params:
    """The calibrated parameters (rag/answer/abstention.json unless `path` is given)."""
    path = path or default_params_path()
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["params"]
        params = Params(
            tuple(data["features"]),
            tuple(data["mean"]),
            tuple(data["scale"]),
            tuple(data["weights"]),
            float(data["bias"]),
            float(data["threshold"]),
            float(data["model_threshold"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(
            f"cannot read abstention parameters from {path}: {e}; "
            "rerun `bench/evidence.py --write` to recalibrate"
        ) from e
    if set(params.features) - set(FEATURES) or any(w < 0 for w in params.weights):
        raise ConfigError(f"{path}: unknown features or negative weights; recalibrate")
    return params
