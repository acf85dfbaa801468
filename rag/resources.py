"""Files shipped with the package: the prompt templates and the bundled corpus. They are package
data (pyproject maps prompts/ to `rag.prompt_files` and data/ to `rag.bundled`), so a source
checkout, an editable install and an installed wheel find them the same way."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _folder(package: str) -> Path:
    return Path(str(files(package)))


def prompts_dir() -> Path:
    return _folder("rag.prompt_files")


def corpus_dir() -> Path:
    return _folder("rag.bundled") / "corpus"
