"""The web chat served for real (Gradio on 127.0.0.1, the real engine and llama.cpp server),
driven through its API with gradio_client: a question, a follow-up in the same session, a stop,
and `rag ui` itself (ingest an empty store, start the model, stop it on SIGTERM).
LLM calls are few and short: the whole suite has to fit in CI's budget on 2 cores."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rag.ui.runtime import Deps, LLMLink

from rag.llm.session import LLMSession
from rag.settings import LLMSettings, Settings, UISettings

pytestmark = [pytest.mark.slow, pytest.mark.llm]
QUESTION = "What does QLoRA backpropagate gradients through?"
FOLLOW_UP = "What new data type does it introduce?"
MAX_TOKENS = 64  # short answers keep the suite fast
LONG_ANSWER = "Explain in detail how QLoRA saves memory, listing every technique it introduces."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], object], timeout_s: float, every_s: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every_s)
    return bool(check())


def app_settings(base: Settings, llm_url: str, **llm: object) -> Settings:
    """`base`'s store, the given LLM endpoint, the chat on a free port of 127.0.0.1."""
    return base.model_copy(
        update={
            "llm": LLMSettings(base_url=llm_url, **llm),
            "ui": UISettings(host="127.0.0.1", port=free_port()),
        }
    )


def make_deps(
    settings: Settings, retriever, store_error: str | None = None, history: Path | None = None
) -> Deps:
    """The app's parts; the saved chats in `history` (default: a fresh file of their own, so
    tests sharing one store never see each other's chats)."""
    from rag.ui.history import History

    from rag.wiring import build_engine

    link = LLMLink(LLMSession(settings), every_s=1.0)
    engine = build_engine(settings, link.client(), retriever) if retriever is not None else None
    path = history or Path(tempfile.mkdtemp(prefix="chats-")) / "chats.sqlite3"
    return Deps(settings, engine, retriever, store_error, link, History(path))


@contextmanager
def serving(deps: Deps) -> Iterator[str]:
    """The chat served in this process (Gradio runs in its own threads) until the block ends."""
    from rag.ui.app import build_app, launch

    app = build_app(deps)
    deps.start()
    launch(app, deps.settings, block=False)
    try:
        yield f"http://127.0.0.1:{deps.settings.ui.port}/"
    finally:
        app.close()
        deps.close()


@pytest.fixture(scope="module")
def chat_url(corpus_settings: Settings, retriever, llm_server) -> Iterator[str]:
    settings = app_settings(corpus_settings, llm_server.base_url, max_answer_tokens=MAX_TOKENS)
    with serving(make_deps(settings, retriever)) as url:
        yield url


def client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=True)


OUTPUTS = (
    "chat",
    "status",
    "sources",
    "box",
    "markdown",
    "bibtex",
    "chats",
    "title",
    "edit",
    "last",
)


def ask(c, question: str, k: int = 2, edit: str = "") -> dict:
    """One question through `/ask`, as the page sends it; the outputs by name."""
    model = LLMSettings.model_fields["model"].default
    out = c.predict(question, k, 0.1, "hybrid", model, edit, api_name="/ask")
    return dict(zip(OUTPUTS, out, strict=True))


def regenerate(c, k: int = 2) -> dict:
    model = LLMSettings.model_fields["model"].default
    return dict(
        zip(OUTPUTS, c.predict(k, 0.1, "hybrid", model, api_name="/regenerate"), strict=True)
    )


def downloaded(url: str, output: object) -> str:
    """The file behind a download button, fetched over HTTP as the browser would."""
    path = output["value"] if isinstance(output, dict) else output  # an update or a path
    quoted = urllib.parse.quote(str(path))
    with urllib.request.urlopen(f"{url}gradio_api/file={quoted}", timeout=10) as resp:
        return resp.read().decode("utf-8")


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="#([^"]+)"', html)


def card_ids(html: str) -> list[str]:
    """Anchors a citation may land on: the cards and the evidence sentences inside them."""
    cards = re.findall(r'<article class="src-card[^"]*" id="([^"]+)"', html)
    return cards + re.findall(r'<(?:mark|span) class="(?:support|ev)" id="([^"]+)"', html)


def test_a_question_then_a_follow_up_in_the_same_session(chat_url: str) -> None:
    c = client(chat_url)
    first = ask(c, QUESTION)
    assert "QLoRA" in first["sources"] and first["sources"].count('<article class="src-card') == 2
    assert 'class="answer final"' in first["chat"], first["chat"]
    links = hrefs(first["chat"])
    assert {x for x in links if x.startswith("src-")} <= set(card_ids(first["sources"]))
    md = downloaded(chat_url, first["markdown"])
    assert md.startswith("# ") and f"## 1. {QUESTION}" in md and "QLoRA" in md
    assert "@misc{" in downloaded(chat_url, first["bibtex"])

    second = ask(c, FOLLOW_UP)
    assert second["chat"].count('class="turn"') == 2
    assert QUESTION in second["chat"] and FOLLOW_UP in second["chat"]
    current = second["sources"].split('<details class="earlier">')[0]
    assert "QLoRA" in current  # "it" was resolved from the first turn
    cards = set(card_ids(second["sources"]))
    assert {x for x in hrefs(second["chat"]) if x.startswith("src-")} <= cards
    md = downloaded(chat_url, second["markdown"])  # the whole conversation, both turns
    assert f"## 1. {QUESTION}" in md and f"## 2. {FOLLOW_UP}" in md


def titles(sources_html: str) -> list[str]:
    current = sources_html.split('<details class="earlier">')[0]
    return re.findall(r'class="src-title">([^<]+)<', current)


def test_regenerate_answers_again_on_the_same_sources(chat_url: str) -> None:
    c = client(chat_url)
    first = ask(c, QUESTION)
    again = regenerate(c)
    assert again["chat"].count('class="turn"') == 1  # the answer replaced, not added
    assert titles(again["sources"]) == titles(first["sources"])
    md = downloaded(chat_url, again["markdown"])
    assert md.count("## 1. ") == 1 and "## 2." not in md


def test_a_new_session_starts_without_history(chat_url: str) -> None:
    from gradio_client import Client

    fresh = Client(chat_url, verbose=False)
    out = dict(
        zip(OUTPUTS, fresh.predict("", 2, 0.1, "hybrid", None, "", api_name="/ask"), strict=True)
    )
    assert "Type a question first" in out["status"] and 'class="turn"' not in out["chat"]


def disconnects(server) -> int:
    """Requests the llama.cpp server saw its client walk away from (it stops generating)."""
    log = server.run_dir / f"server-{server.port}.log"
    return log.read_text(errors="replace").count("Disconnected from client")


def test_stop_ends_generation_and_the_next_question_still_works(chat_url: str, llm_server) -> None:
    c = client(chat_url)
    before = disconnects(llm_server)
    model = LLMSettings.model_fields["model"].default
    job = c.submit(LONG_ANSWER, 2, 0.1, "hybrid", model, "", api_name="/ask")

    def streaming() -> bool:
        return any("answer streaming" in out[0] for out in job.outputs())

    assert wait_until(lambda: streaming() or job.done(), 600) and streaming(), job.outputs()[-1:]
    job.cancel()
    assert wait_until(job.done, 30)
    # The HTTP stream is closed (not left to finish), so the server stops generating.
    assert wait_until(lambda: disconnects(llm_server) > before, 60), "generation went on"
    assert wait_until(llm_server.healthy, 60)

    after = ask(c, "What is QLoRA?")
    assert after["chat"].count('class="turn"') == 2
    assert "Stopped. This answer is incomplete." in after["chat"]
    md = downloaded(chat_url, after["markdown"])  # the export holds the stopped turn too
    assert f"## 1. {LONG_ANSWER}" in md and "Stopped: this answer is incomplete." in md
    assert 'class="answer final"' in after["chat"] or 'class="answer abstained"' in after["chat"]


# -- `rag ui` as a user runs it ---------------------------------------------------------------


def _tiny_corpus(folder: Path) -> Path:
    folder.mkdir()
    rows = [
        {"title": "Paged Attention for Serving", "abstract": "We page the key-value cache " * 8},
        {"title": "Sparse Mixtures of Experts", "abstract": "Experts are routed sparsely " * 8},
    ]
    (folder / "tiny.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return folder


def _link_model(gguf_path: Path, data_dir: Path) -> None:
    model_dir = data_dir / "model"
    model_dir.mkdir(parents=True)
    for f in gguf_path.parent.iterdir():  # hard links keep the verified stamp: no re-assembly
        os.link(f, model_dir / f.name)


def _llama_on(port: int) -> list:
    import psutil

    return [
        p
        for p in psutil.process_iter(["cmdline"])
        if "llama_cpp.server" in " ".join(p.info["cmdline"] or [])
        and str(port) in (p.info["cmdline"] or [])
    ]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def test_rag_ui_ingests_an_empty_store_serves_and_stops_its_server_on_sigterm(
    tmp_path: Path, gguf_path: Path
) -> None:
    data_dir = tmp_path / "data"
    _link_model(gguf_path, data_dir)
    ui_port, llm_port = free_port(), free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "RAG_DATA_DIR": str(data_dir),
        "RAG_CORPUS_DIR": str(_tiny_corpus(tmp_path / "corpus")),
        "RAG_UI_PORT": str(ui_port),
        "RAG_LLM_PORT": str(llm_port),
    }
    env.pop("RAG_LLM_BASE_URL", None)
    log = (tmp_path / "ui.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ui"], env=env, stdout=log, stderr=log
    )
    try:
        assert wait_until(lambda: _answers(f"http://127.0.0.1:{ui_port}/"), 300), _tail(log)
        llm = f"http://127.0.0.1:{llm_port}/v1/models"
        assert wait_until(lambda: _answers(llm), 300), _tail(log)
        assert _llama_on(llm_port), "no local LLM server was started"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, 143), _tail(log)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert wait_until(lambda: not _llama_on(llm_port), 15), "the LLM server outlived `rag ui`"
    assert "ingesting the corpus" in _tail(log)
    from rag.wiring import open_retriever

    assert open_retriever(Settings(data_dir=data_dir)).paper_count == 2


def _tail(log) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-3000:]
