"""Prompt templates live as files in prompts/; this loads them and checks their placeholders,
so a template edited into a wrong shape fails at start-up, not mid-answer."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ConfigError
from rag.resources import prompts_dir

# The one abstention phrase: used by the system prompt, the answer code, the eval and the tests.
ABSTAIN_PHRASE = "The provided papers do not contain the answer."

PLACEHOLDERS: dict[str, set[str]] = {
    # the legacy pipeline (each paper's best chunk)
    "system": {"abstain_phrase"},
    "sources": {"sources", "question"},
    "source": {"n", "title", "passage"},
    "followup": {"question"},
    "retry": {"n", "question"},
    # the evidence pipeline (evidence sentences grouped by paper)
    "evidence_system": {"abstain_phrase"},
    "evidence": {"papers", "task", "question"},
    "paper": {"n", "title", "sentences"},
    "lookup": set(),
    "survey": set(),
    "followup_evidence": {"papers", "question"},
}


@dataclass(frozen=True)
class Prompts:
    system: str
    sources: str
    source: str
    followup: str
    retry: str
    evidence_system: str
    evidence: str
    paper: str
    lookup: str
    survey: str
    followup_evidence: str

    def system_text(self, legacy: bool = True) -> str:
        template = self.system if legacy else self.evidence_system
        return template.format(abstain_phrase=ABSTAIN_PHRASE)


def fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def load_prompts(directory: Path | None = None) -> Prompts:
    directory = directory or prompts_dir()
    texts: dict[str, str] = {}
    for name, expected in PLACEHOLDERS.items():
        path = directory / f"{name}.md"
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ConfigError(f"prompt template {path} is missing: {e.strerror}") from e
        if fields(text) != expected:
            raise ConfigError(
                f"prompt {path} has placeholders {sorted(fields(text))}, expected {sorted(expected)}"
            )
        texts[name] = text
    return Prompts(**texts)


def safe(text: str) -> str:
    """Paper text cannot close its <source> delimiter and pose as instructions."""
    return re.sub(r"</?\s*source\b", "‹source", text, flags=re.IGNORECASE)
