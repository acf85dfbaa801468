"""Fitting and cross-validating the abstention rule (rag/answer/abstention.py): numpy only.

- `fit_logistic`: L2-regularised logistic regression on standardised features, weights kept
  >= 0 (projected gradient descent), so the fitted rule is monotone in every feature.
- `youden_threshold`: the score threshold that maximises answered-answerable rate minus
  answered-unanswerable rate (Youden's J) on the training rows; ties take the middle one.
- `cross_validate`: out-of-fold decisions for any fit-and-threshold method over given splits
  (stratified k-fold, or leave-one-set-out).
- `figures` / `curve`: abstention precision, recall and false-abstention rate (unanswerable =
  positive, as in rag.eval.metrics.abstention_scores), and those against the threshold."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rag.eval.metrics import abstention_scores

from rag.answer.abstention import Params

Method = Callable[[np.ndarray, np.ndarray], Callable[[np.ndarray], np.ndarray]]
MODEL_ANSWER_SHARE = 0.05  # after a model abstention: answer only above 95% of unanswerable p


@dataclass(frozen=True)
class Logistic:
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def probability(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mean) / self.scale) @ self.weights + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-z)))


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 4000, lr: float = 0.5
) -> Logistic:
    """`y` = 1 for answerable. Weights >= 0; class-balanced loss (26 of 130 are unanswerable)."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    z = (x - mean) / scale
    sample = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        g = sample * (p - y) / len(y)
        w = np.maximum(w - lr * (z.T @ g + l2 * w / len(y)), 0.0)
        b -= lr * float(g.sum())
    return Logistic(mean, scale, w, b)


def youden_threshold(scores: np.ndarray, y: np.ndarray) -> float:
    """Answer when score >= threshold."""
    s = np.unique(scores)
    cands = np.concatenate([[s[0] - 1e-6], (s[:-1] + s[1:]) / 2, [s[-1] + 1e-6]])
    j = np.array([_youden(scores >= t, y) for t in cands])
    best = np.flatnonzero(j == j.max())
    return float(cands[best[len(best) // 2]])


def _youden(answered: np.ndarray, y: np.ndarray) -> float:
    tpr = answered[y == 1].mean() if (y == 1).any() else 0.0
    fpr = answered[y == 0].mean() if (y == 0).any() else 0.0
    return float(tpr - fpr)


def logistic_method(l2: float = 1.0) -> Method:
    def fit(x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        model = fit_logistic(x, y, l2)
        t = youden_threshold(model.probability(x), y)
        return lambda xs: model.probability(xs) >= t

    return fit


def single_feature_method(column: int) -> Method:
    def fit(x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        t = youden_threshold(x[:, column], y)
        return lambda xs: xs[:, column] >= t

    return fit


def stratified_folds(y: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """Test indices of k folds, each class spread evenly."""
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    for cls in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == cls))
        for n, i in enumerate(idx):
            folds[n % k].append(int(i))
    return [np.array(sorted(f)) for f in folds]


def group_folds(groups: Sequence[str]) -> list[np.ndarray]:
    """Leave one group (question set) out."""
    g = np.array(groups)
    return [np.flatnonzero(g == name) for name in dict.fromkeys(groups)]


def cross_validate(
    x: np.ndarray, y: np.ndarray, method: Method, folds: Sequence[np.ndarray]
) -> np.ndarray:
    """Out-of-fold `answered` decisions."""
    answered = np.zeros(len(y), dtype=bool)
    for test in folds:
        train = np.setdiff1d(np.arange(len(y)), test)
        answered[test] = method(x[train], y[train])(x[test])
    return answered


def figures(y: np.ndarray, answered: np.ndarray) -> dict[str, float | None]:
    rows = ((bool(u), bool(not a)) for u, a in zip(y == 0, answered, strict=True))
    return {k: (None if v is None else float(v)) for k, v in abstention_scores(rows).items()}


def auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Probability that an answerable question outscores an unanswerable one."""
    pos, neg = scores[y == 1], scores[y == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def curve(scores: np.ndarray, y: np.ndarray, thresholds: Sequence[float]) -> list[dict[str, float]]:
    """Abstention precision / recall / false-abstention at each threshold (for plotting)."""
    out = []
    for t in thresholds:
        f = figures(y, scores >= t)
        out.append(
            {"threshold": round(float(t), 4)} | {k: v for k, v in f.items() if v is not None}
        )
    return out


def fit_params(x: np.ndarray, y: np.ndarray, names: Sequence[str], l2: float = 1.0) -> Params:
    """The parameters rag/answer/abstention.py reads, fitted on all rows."""
    model = fit_logistic(x, y, l2)
    p = model.probability(x)
    t = youden_threshold(p, y)
    unanswerable = np.sort(p[y == 0])
    strict = float(np.quantile(unanswerable, 1 - MODEL_ANSWER_SHARE)) if len(unanswerable) else t
    return Params(
        tuple(names),
        tuple(round(float(v), 6) for v in model.mean),
        tuple(round(float(v), 6) for v in model.scale),
        tuple(round(float(v), 6) for v in model.weights),
        round(float(model.bias), 6),
        round(t, 4),
        round(max(t, strict), 4),
    )


# -- the bar after a model refusal, from full eval runs ---------------------------------------


def final_answered(p: np.ndarray, refused: np.ndarray, gated: np.ndarray, bar: float) -> np.ndarray:
    """Answered by the engine: not gated before generation, and either the model did not
    refuse or the evidence clears `bar` (then the evidence answer stands)."""
    return ~gated & (~refused | (p >= bar))


def refusal_bar(
    p: np.ndarray, refused: np.ndarray, gated: np.ndarray, y: np.ndarray, floor: float
) -> float:
    """The bar after a model refusal (>= the threshold `floor`) that maximises Youden's J of
    the final decisions; ties take the lowest (answers more)."""
    grid = sorted({floor, *np.round(np.unique(p[p >= floor]) + 1e-6, 6).tolist(), 1.01})
    j = [_youden(final_answered(p, refused, gated, t), y) for t in grid]
    return float(grid[int(np.argmax(j))])


def cv_refusal_bar(
    p: np.ndarray, refused: np.ndarray, gated: np.ndarray, y: np.ndarray, floor: float, k: int = 5
) -> dict[str, float | None]:
    """Out-of-fold figures of choosing the refusal bar on the other folds (10 seeds' mean)."""
    runs = []
    for seed in range(10):
        answered = np.zeros(len(y), dtype=bool)
        for test in stratified_folds(y, k, seed):
            train = np.setdiff1d(np.arange(len(y)), test)
            bar = refusal_bar(p[train], refused[train], gated[train], y[train], floor)
            answered[test] = final_answered(p[test], refused[test], gated[test], bar)
        runs.append(figures(y, answered))
    return {key: _mean_of([r[key] for r in runs]) for key in runs[0]}


def _mean_of(values: Sequence[float | None]) -> float | None:
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v else None
