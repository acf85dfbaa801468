"""Shared fixtures: the real packaged embedder and a real Chroma store in a tmp dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = REPO_ROOT / "eval" / "questions.jsonl"


def load_questions(kind: str | None = None) -> list[dict]:
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    return [r for r in rows if kind is None or r["type"] == kind]


@pytest.fixture(scope="session")
def embedder():
    from rag.index.embed import LocalEmbedder, packaged_model_dir

    return LocalEmbedder(packaged_model_dir())


@pytest.fixture(scope="session")
def corpus_settings(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[Settings]:
    """The bundled corpus ingested once into a persistent Chroma in a tmp dir."""
    from rag.wiring import run_ingest

    settings = Settings(data_dir=tmp_path_factory.mktemp("store"))
    run_ingest(settings, progress=False)
    yield settings


@pytest.fixture(scope="session")
def retriever(corpus_settings: Settings, embedder):
    from rag.wiring import open_retriever

    return open_retriever(corpus_settings, embedder)


def settings_in(path: Path, **kw) -> Settings:
    return Settings(data_dir=path, **kw)


@pytest.fixture(scope="session")
def pdf_fixtures(tmp_path_factory: pytest.TempPathFactory):
    """The PDFs of tests/fixtures/pdfs.py, printed by headless Chromium once per session."""
    from tests.fixtures.pdfs import build_all

    return build_all(tmp_path_factory.mktemp("pdfs"))


def cli_modules(settings: Settings, *argv: str) -> tuple[dict, list[str]]:
    """A `rag` command run in a fresh process on `settings`' store: its JSON output, and which
    of chromadb and llama_index that process imported."""
    code = (
        "import sys\n"
        "from rag.cli import main\n"
        f"rc = main({list(argv)!r})\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'chromadb', 'llama_index'})\n"
        "print('LOADED', heavy, file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    env = {**os.environ, "RAG_DATA_DIR": str(settings.data_dir)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stderr.rsplit("LOADED ", 1)[1].replace("'", '"'))
    return json.loads(out.stdout), loaded
