"""Named evaluation configs: settings overrides applied to the base settings with
`model_copy(update=…)` on the nested sections. Only the retrieval and answer sections change here:
the store (embedder, chunking) and the LLM server are shared by all configs of one run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rag.errors import ConfigError
from rag.settings import Settings


@dataclass(frozen=True)
class Config:
    retrieval: dict[str, Any] = field(default_factory=dict)
    answer: dict[str, Any] = field(default_factory=dict)
    answers_only: bool = False  # differs only in how answers are written: skipped by "all"
    # in a retrieval-only run (its retrieval metrics equal the default's)

    def apply(self, s: Settings) -> Settings:
        return s.model_copy(
            update={
                "retrieval": s.retrieval.model_copy(update=self.retrieval),
                "answer": s.answer.model_copy(update=self.answer),
            }
        )

    def describe(self) -> str:
        parts = [
            f"{sec}.{k}={v}"
            for sec in ("retrieval", "answer")
            for k, v in getattr(self, sec).items()
        ]
        return ", ".join(parts) or "the settings as given"


CONFIGS: dict[str, Config] = {
    "default": Config(),
    # The engine before issue 11: each paper's best chunk trimmed, the fixed gate, one retry.
    "legacy": Config(answer={"pipeline": "legacy", "mode": "generative"}),
    "generative": Config(answer={"mode": "generative"}, answers_only=True),
    "hybrid": Config(answer={"mode": "hybrid"}, answers_only=True),
    "extractive": Config(answer={"mode": "extractive"}, answers_only=True),
    "dense": Config(retrieval={"mode": "dense"}),
    "bm25": Config(retrieval={"mode": "bm25"}),
    "hybrid-k3": Config(retrieval={"mode": "hybrid"}, answer={"max_sources": 3}),
    "hybrid-k5": Config(retrieval={"mode": "hybrid"}, answer={"max_sources": 5}),
}
BASELINE = "default"  # deltas in the report are against this config


def config_names(given: list[str] | None, retrieval_only: bool) -> tuple[str, ...]:
    """--config values: names (repeated or comma-separated, e.g. `legacy,default`), or "all".
    Unset: every config when retrieval only (seconds each; not those that differ only in how
    answers are written), the baseline alone for LLM runs (a model answer per question)."""
    names = [
        n for g in (given or (["all"] if retrieval_only else [BASELINE])) for n in g.split(",")
    ]
    every = [n for n, c in CONFIGS.items() if not (retrieval_only and c.answers_only)]
    expanded = [n for name in names for n in (every if name == "all" else [name.strip()])]
    unknown = [n for n in expanded if n not in CONFIGS]
    if unknown:
        raise ConfigError(
            f"unknown eval config {unknown[0]!r}; choose from all, {', '.join(CONFIGS)}"
        )
    return tuple(dict.fromkeys(expanded))


def config_settings(name: str, base: Settings) -> Settings:
    if name not in CONFIGS:
        raise ConfigError(f"unknown eval config {name!r}; choose from {', '.join(CONFIGS)}")
    return CONFIGS[name].apply(base)
