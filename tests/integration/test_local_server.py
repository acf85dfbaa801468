"""The local llama.cpp server: one per port, reused not duplicated, restarted, never orphaned."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rag.errors import LLMUnavailableError
from rag.llm.server import LocalServer

pytestmark = [pytest.mark.slow, pytest.mark.llm]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


def _gone(pid: int) -> bool:
    """No such process, or a zombie nobody reaped yet (it no longer runs)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _wait_gone(pid: int, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.1)
    return False


def test_server_answers_models_with_alias(llm_server: LocalServer, model_alias: str) -> None:
    body = _get(f"{llm_server.base_url}/models")
    assert model_alias in [m["id"] for m in body["data"]]
    assert llm_server.owned and llm_server.healthy()


def test_second_server_on_same_port_reuses_and_does_not_own(
    llm_server: LocalServer, gguf_path: Path, tmp_path: Path
) -> None:
    second = LocalServer(gguf_path, llm_server.model_alias, llm_server.port, tmp_path / "run")
    assert second.start() == llm_server.base_url
    assert not second.owned and second.pid is None
    second.stop()
    assert llm_server.pid is not None and not _gone(llm_server.pid)
    assert llm_server.healthy()


def _stream_chat(base_url: str, alias: str, first_chunk: threading.Event, out: list[dict]) -> None:
    body = {
        "model": alias,
        "messages": [{"role": "user", "content": "Write a 300-word story about a robot."}],
        "max_tokens": 96,
        "temperature": 0,
        "stream": True,
    }
    req = urllib.request.Request(
        f"{base_url}/chat/completions",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=120) as resp:
        for raw in resp:
            line = raw.decode().strip()
            if line.startswith("data: {"):
                out.append(json.loads(line[6:]))
                first_chunk.set()


def test_start_during_an_answer_reuses_the_busy_server_and_does_not_cut_the_answer(
    llm_server: LocalServer, gguf_path: Path, llm_run_dir: Path
) -> None:
    first_chunk, chunks = threading.Event(), []
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(
            _stream_chat, llm_server.base_url, llm_server.model_alias, first_chunk, chunks
        )
        while not first_chunk.wait(0.2) and not answer.done():
            pass
        assert first_chunk.is_set(), answer.result()  # re-raises the streamer's error, if any
        assert not answer.done()
        # Same run dir as the app would share: the state file says the busy port is ours.
        second = LocalServer(gguf_path, llm_server.model_alias, llm_server.port, llm_run_dir)
        assert second.start() == llm_server.base_url and not second.owned
        answer.result(timeout=180)
    reasons = [c["choices"][0].get("finish_reason") for c in chunks if c["choices"]]
    assert reasons[-1] == "length"  # ran to max_tokens: the probes did not interrupt it


def test_killed_server_is_restarted_then_stopped_for_good(
    gguf_path: Path, model_alias: str, unused_port: int, tmp_path: Path
) -> None:
    server = LocalServer(gguf_path, model_alias, unused_port, tmp_path / "run")
    server.start()
    first_pid = server.pid
    assert first_pid is not None
    os.kill(first_pid, signal.SIGKILL)
    os.waitid(os.P_PID, first_pid, os.WEXITED | os.WNOWAIT)  # dead, left for Popen to reap
    assert server.ensure_running() == server.base_url
    assert server.pid not in (None, first_pid)
    assert server.healthy()
    second_pid = server.pid
    server.stop()
    assert second_pid is not None and _gone(second_pid)
    assert not server.owned and not server.healthy()
    assert not (tmp_path / "run" / f"server-{server.port}.json").exists()
    server.stop()  # idempotent


_PARENT = """
import sys, time
from pathlib import Path
from rag.llm.server import LocalServer
server = LocalServer(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
server.start()
print(server.pid, flush=True)
time.sleep(600)
"""


def test_killing_the_parent_leaves_no_orphan_server(
    gguf_path: Path, model_alias: str, unused_port: int, tmp_path: Path
) -> None:
    port = unused_port
    args = [str(gguf_path), model_alias, str(port), str(tmp_path / "run")]
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, *args], stdout=subprocess.PIPE, text=True
    )
    try:
        server_pid = int(parent.stdout.readline())  # type: ignore[union-attr]
    finally:
        parent.kill()
        parent.wait()
    assert _wait_gone(server_pid)
    assert not LocalServer(gguf_path, model_alias, port, tmp_path / "run").healthy()


class _OtherHandler(BaseHTTPRequestHandler):
    body = b'{"object": "list", "data": [{"id": "some-other-model"}]}'

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


class _NotFoundHandler(_OtherHandler):
    def do_GET(self) -> None:
        self.send_error(404)


@pytest.fixture(params=[_OtherHandler, _NotFoundHandler], ids=["other-model", "not-found"])
def foreign_port(request: pytest.FixtureRequest) -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), request.param)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_port_held_by_another_program_is_refused(
    foreign_port: int, gguf_path: Path, model_alias: str, tmp_path: Path
) -> None:
    server = LocalServer(gguf_path, model_alias, foreign_port, tmp_path / "run")
    with pytest.raises(LLMUnavailableError, match="RAG_LLM_PORT"):
        server.start()
    assert not server.owned


def test_server_that_dies_at_startup_reports_its_log(
    model_alias: str, unused_port: int, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file" * 100)
    server = LocalServer(bad, model_alias, unused_port, tmp_path / "run", startup_timeout_s=120)
    with pytest.raises(LLMUnavailableError, match="exited during startup") as err:
        server.start()
    assert "last lines of" in str(err.value) and len(str(err.value).splitlines()) > 2
    assert not server.owned
