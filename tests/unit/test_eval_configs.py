"""Eval configs: named overrides of the nested settings, and which ones a run uses."""

from __future__ import annotations

from pathlib import Path

import pytest
from rag.eval.configs import BASELINE, CONFIGS, config_names, config_settings

from rag.errors import ConfigError
from rag.settings import Settings


def test_configs_override_only_their_section_and_change_the_fingerprint(tmp_path: Path) -> None:
    base = Settings(data_dir=tmp_path)
    k3 = config_settings("hybrid-k3", base)
    dense = config_settings("dense", base)
    assert k3.answer.max_sources == 3 and k3.retrieval.mode == "hybrid"
    assert dense.retrieval.mode == "dense" and dense.answer == base.answer
    assert config_settings(BASELINE, base).fingerprint() == base.fingerprint()
    distinct = {n: config_settings(n, base) for n in CONFIGS}
    by_settings = {s.model_dump_json(): s.fingerprint() for s in distinct.values()}
    assert len(set(by_settings.values())) == len(by_settings)  # one fingerprint per setting
    legacy = config_settings("legacy", base)
    assert legacy.answer.pipeline == "legacy" and legacy.fingerprint() != base.fingerprint()


def test_retrieval_only_runs_every_config_and_llm_runs_the_baseline_by_default() -> None:
    retrieval = tuple(n for n, c in CONFIGS.items() if not c.answers_only)
    assert config_names(None, retrieval_only=True) == retrieval
    assert "legacy" in retrieval and "extractive" not in retrieval
    assert config_names(None, retrieval_only=False) == (BASELINE,)
    assert config_names(["legacy,default"], retrieval_only=False) == ("legacy", "default")
    assert config_names(["dense", "all"], retrieval_only=False)[0] == "dense"
    assert config_names(["bm25", "bm25"], retrieval_only=True) == ("bm25",)


def test_an_unknown_config_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="hybrid-k5"):
        config_names(["hybird"], retrieval_only=True)
