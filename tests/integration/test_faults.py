"""Faults (issue 7): read-only or locked data dir, ingestion killed with SIGKILL, the local LLM
server killed mid-answer. Each leaves no partial state and a specific error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rag.errors import LLMError, StoreError
from rag.index.snapshot import snapshot_path
from rag.settings import LLMSettings, Settings
from rag.wiring import build_engine, open_retriever, run_ingest

pytestmark = pytest.mark.slow
ABSTRACT = "Sparse experts route each token to a few specialised feed-forward blocks. " * 3


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """A read-only bind mount: as root, chmod alone does not stop writes."""
    if subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True).returncode:
        pytest.fail("cannot bind-mount here; this test needs root (CI runs as root)")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_read_only_data_dir_is_refused_and_the_store_kept(tmp_path: Path) -> None:
    corpus = tmp_path / "a.jsonl"
    corpus.write_text(f'{{"title": "Routing Experts", "abstract": "{ABSTRACT}"}}\n')
    settings = Settings(data_dir=tmp_path / "data")
    _, first = run_ingest(settings, [corpus], progress=False)
    with read_only(settings.data_dir), pytest.raises(StoreError, match="read-only"):
        run_ingest(settings, [corpus], progress=False)
    assert open_retriever(settings).chunk_count == first.store_chunks


def test_a_read_only_store_can_still_be_searched(tmp_path: Path) -> None:
    """Issue #10.11: a read-only store refused search too; reading should work. A process
    without a model reads the store's snapshot when it has one (nothing to copy), and a copy
    of the store when it has none (it cannot write one there)."""
    corpus = tmp_path / "a.jsonl"
    corpus.write_text(f'{{"title": "Routing Experts", "abstract": "{ABSTRACT}"}}\n')
    settings = Settings(data_dir=tmp_path / "data")
    run_ingest(settings, [corpus], progress=False)
    env = {**os.environ, "RAG_DATA_DIR": str(settings.data_dir), "HF_HUB_OFFLINE": "1"}
    cli = [sys.executable, "-m", "rag.cli", "search", "--json", "sparse experts"]
    for snapshot in (True, False):
        if not snapshot:
            snapshot_path(settings).unlink()
        with read_only(settings.data_dir):
            hits = open_retriever(settings).search("sparse experts").hits
            assert [h.title for h in hits] == ["Routing Experts"]
            done = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr
            assert '"Routing Experts"' in done.stdout
            assert ("read-only; reading a copy" in done.stderr) is not snapshot, done.stderr
        assert snapshot_path(settings).exists() is snapshot


def test_a_writer_in_another_process_blocks_ingest(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from rag.settings import Settings; from rag.index.store import writer_lock\n"
            f"with writer_lock(Settings(data_dir={str(settings.data_dir)!r})):\n"
            "    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match="held by another writer"):
            run_ingest(settings, progress=False)
    finally:
        holder.kill()
        holder.wait()


def test_ingestion_killed_midway_completes_on_rerun(
    tmp_path: Path, corpus_settings: Settings
) -> None:
    env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data")}
    cmd = [sys.executable, "-m", "rag.cli", "ingest"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    seen = ""
    while "128/" not in seen and proc.poll() is None:  # progress bar: some batches are stored
        seen += proc.stderr.read(64)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = subprocess.run(cmd + ["-q"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "519 unique papers" in done.stdout and "0 stale removed" in done.stdout
    killed = open_retriever(Settings(data_dir=tmp_path / "data"))
    clean = open_retriever(corpus_settings)
    assert sorted(c.id for c in killed.store.all_chunks()) == sorted(
        c.id for c in clean.store.all_chunks()
    )


@pytest.mark.llm
def test_llm_server_killed_mid_answer(
    corpus_settings: Settings, gguf_path: Path, tmp_path: Path, retriever
) -> None:
    from rag.llm.client import OpenAIChatClient
    from rag.llm.server import LocalServer
    from tests.integration.servers import free_port

    server = LocalServer(gguf_path, "victim", free_port(), tmp_path / "run")
    with server:
        settings = corpus_settings.model_copy(
            update={
                "llm": LLMSettings(base_url=server.base_url, model="victim", max_answer_tokens=64)
            }
        )
        chat = OpenAIChatClient(settings.llm, server.base_url, server.ensure_running)
        engine = build_engine(settings, chat, retriever)
        stream = engine.stream("What is QLoRA?")
        with pytest.raises(LLMError, match=server.base_url.split("/v1")[0]):
            for event in stream:
                if type(event).__name__ in ("Status", "Token"):
                    os.kill(server.pid, signal.SIGKILL)
                    time.sleep(0.5)
        answer = engine.ask("What is QLoRA?")  # ensure_running() restarted the server
        assert answer.sources and server.healthy()
