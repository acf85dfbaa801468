"""Integration fixtures: the real packaged GGUF and one real llama.cpp server per session."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.llm.model import ensure_gguf
from rag.llm.server import LocalServer
from rag.settings import LLMSettings

# Outside tmp_path on purpose: assembling 1.1 GB takes seconds, so it survives test runs.
MODEL_CACHE = Path.home() / ".cache" / "rag-papers-test" / "model"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def unused_port() -> int:
    """A port nothing listens on right now (on 127.0.0.1)."""
    return _free_port()


@pytest.fixture(scope="session")
def model_alias() -> str:
    """The alias the app asks for by default (RAG_LLM_MODEL's default, not the environment's)."""
    return str(LLMSettings.model_fields["model"].default)


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    return ensure_gguf(MODEL_CACHE, progress=False)


@pytest.fixture(scope="session")
def llm_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("run")


@pytest.fixture(scope="session")
def llm_server(gguf_path: Path, llm_run_dir: Path, model_alias: str) -> Iterator[LocalServer]:
    server = LocalServer(gguf_path, model_alias, _free_port(), llm_run_dir, startup_timeout_s=300)
    with server:
        yield server
