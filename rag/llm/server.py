"""Lifecycle of the local llama.cpp server (llama-cpp-python's OpenAI-compatible server).

One server per machine and port: `start()` reuses a healthy server of ours that already answers
(without owning it) and refuses a port held by another program. A server we spawn dies with us
(Linux parent-death signal, set in the child by rag/llm/launch.py), is restarted by
`ensure_running()` if it crashed, and is stopped by `stop()`. Run files live in `run_dir`:
`server-<port>.json` (pid, port, alias), `.log`, `.lock`.

The parent-death signal fires when the *thread* that spawned the server exits, so call `start()`
from a long-lived thread (the main thread), not from a request-handler thread.
"""

from __future__ import annotations

import fcntl
import http.client
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from rag.errors import LLMUnavailableError, ModelError
from rag.settings import Settings

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
_PROBE_TIMEOUT_S = 2.0
_POLL_S = 0.25
_STOP_TIMEOUT_S = 10.0
_LOG_TAIL_LINES = 15


def local_url(port: int) -> str:
    """The base URL of the local server on `port`."""
    return f"http://{HOST}:{port}/v1"


class Probe(Enum):
    OURS = "serves our model"
    OTHER = "answers, but not with our model"
    BUSY = "accepts connections but does not answer in time"
    FREE = "nothing listens"


@dataclass(frozen=True)
class ServerState:
    """Written when we spawn a server; lets another process recognise it while it is busy."""

    pid: int
    port: int
    alias: str


class LocalServer:
    """The packaged GGUF served on 127.0.0.1:port under `model_alias`."""

    def __init__(
        self,
        model_path: Path,
        model_alias: str,
        port: int,
        run_dir: Path,
        n_ctx: int = 4096,
        n_threads: int = 2,
        n_batch: int = 128,
        startup_timeout_s: float = 180.0,
        draft_tokens: int | None = None,
    ) -> None:
        self.model_path = model_path
        self.model_alias = model_alias
        self.port = port
        self.run_dir = run_dir
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.n_batch = n_batch
        self.startup_timeout_s = startup_timeout_s
        self.draft_tokens = draft_tokens  # prompt-lookup decoding: tokens drafted per step
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = False
        self._mutex = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Settings, model_path: Path) -> LocalServer:
        llm = settings.llm
        return cls(
            model_path=model_path,
            model_alias=llm.model,
            port=llm.port,
            run_dir=settings.data_dir / "run",
            n_ctx=llm.n_ctx,
            n_threads=llm.n_threads,
            n_batch=llm.n_batch,
            startup_timeout_s=llm.startup_timeout_s,
            draft_tokens=llm.draft_tokens if llm.draft == "prompt-lookup" else None,
        )

    # -- public surface ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return local_url(self.port)

    @property
    def owned(self) -> bool:
        """True when this object spawned the server (and so stops it)."""
        return self._proc is not None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def healthy(self) -> bool:
        """The server answers /v1/models with our alias (False while it generates an answer)."""
        return self._probe() is Probe.OURS

    def start(self) -> str:
        """Reuse a healthy server of ours on the port, or spawn one; return the base URL."""
        with self._mutex, self._start_lock():
            if self._proc is not None and self._proc.poll() is None:
                return self.base_url
            probe = self._probe()
            if probe is Probe.OURS or (probe is Probe.BUSY and self._recorded_server_alive()):
                log.info("reusing the local LLM server already on %s", self.base_url)
            elif probe is Probe.FREE:
                self._spawn()
                self._wait_ready()
            else:
                raise LLMUnavailableError(self._port_taken_message(probe))
            self._started = True
            return self.base_url

    def ensure_running(self) -> str:
        """Restart the server if we own it and it died; start it if never started."""
        with self._mutex:
            if self._proc is not None:
                code = self._proc.poll()
                if code is None:
                    return self.base_url
                log.warning("local LLM server (pid %d) exited with %s; restarting", self.pid, code)
                self._forget_process()
            elif self._started:
                if self._probe() in (Probe.OURS, Probe.BUSY):
                    return self.base_url  # another process's server: answering or generating
                log.warning("the shared local LLM server on port %d went away", self.port)
            return self.start()

    def stop(self) -> None:
        """Stop the server if we own it (terminate, then kill); idempotent."""
        with self._mutex:
            self._started = False
            proc = self._proc
            if proc is None:
                return
            if proc.poll() is None:
                log.info("stopping local LLM server (pid %d)", proc.pid)
                _terminate(proc)
            self._forget_process()

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- run files ----------------------------------------------------------------------------

    def _run_file(self, suffix: str) -> Path:
        return self.run_dir / f"server-{self.port}{suffix}"

    @contextmanager
    def _start_lock(self) -> Iterator[None]:
        """Two processes starting at once: the second waits, then reuses the first's server."""
        path = self._run_file(".lock")
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fh = open(path, "a+")  # noqa: SIM115 - held for the whole block
        except OSError as e:
            raise LLMUnavailableError(
                f"cannot create {path}: {e.strerror}; check RAG_DATA_DIR"
            ) from e
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("another process is starting the local LLM server; waiting")
                fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def _write_state(self, pid: int) -> None:
        state = ServerState(pid=pid, port=self.port, alias=self.model_alias)
        tmp = self._run_file(".json.tmp")
        tmp.write_text(json.dumps(asdict(state)))
        os.replace(tmp, self._run_file(".json"))

    def _read_state(self) -> ServerState | None:
        try:
            return ServerState(**json.loads(self._run_file(".json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def _recorded_server_alive(self) -> bool:
        """A server we recorded is still running: a busy port is then ours, not a stranger's."""
        state = self._read_state()
        if state is None or (state.port, state.alias) != (self.port, self.model_alias):
            return False
        return _is_llama_server(state.pid)

    def _forget_process(self) -> None:
        state = self._read_state()
        if state is not None and self._proc is not None and state.pid == self._proc.pid:
            self._run_file(".json").unlink(missing_ok=True)
        self._proc = None

    # -- spawning -------------------------------------------------------------------------------

    def _command(self) -> list[str]:
        return [
            # rag.llm.launch: the server dies with us (see there), then runs llama_cpp.server
            sys.executable, "-m", "rag.llm.launch", str(os.getpid()), "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", self.model_alias,
            "--host", HOST,
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
            "--n_threads_batch", str(self.n_threads),
            "--n_batch", str(self.n_batch),
            # The default (True) ends a streaming answer as soon as any other request waits,
            # a health probe included: answers would be cut short.
            "--interrupt_requests", "False",
            *self._draft(),
        ]  # fmt: skip

    def _draft(self) -> list[str]:
        """llama-cpp-python 0.3.36 drafts with LlamaPromptLookupDecoding whenever draft_model
        is set (llama_cpp/server/model.py): candidate tokens copied from the prompt."""
        if self.draft_tokens is None:
            return []
        return [
            "--draft_model", "prompt-lookup-decoding",
            "--draft_model_num_pred_tokens", str(self.draft_tokens),
        ]  # fmt: skip

    def _spawn(self) -> None:
        if not self.model_path.is_file():
            raise ModelError(f"model file {self.model_path} is missing; assemble it first")
        log_path = self._run_file(".log")
        log.info("starting local LLM server on %s (log: %s)", self.base_url, log_path)
        with open(log_path, "wb") as log_fh:
            self._proc = _popen(self._command(), log_fh)
        self._write_state(self._proc.pid)

    def _wait_ready(self) -> None:
        started = time.monotonic()
        deadline = started + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                self._fail_early_exit()
            if self._probe() is Probe.OURS:
                log.info("local LLM server ready in %.1f s", time.monotonic() - started)
                return
            time.sleep(_POLL_S)
        self.stop()
        raise LLMUnavailableError(
            f"the local LLM server did not answer within {self.startup_timeout_s:.0f} s; "
            f"see {self._run_file('.log')} or raise RAG_LLM_STARTUP_TIMEOUT_S"
        )

    def _fail_early_exit(self) -> None:
        code = self._proc.returncode if self._proc is not None else None
        self._forget_process()
        raise LLMUnavailableError(
            f"the local LLM server exited during startup (code {code}); last lines of "
            f"{self._run_file('.log')}:\n{_tail(self._run_file('.log'))}"
        )

    def _port_taken_message(self, probe: Probe) -> str:
        return (
            f"port {self.port} on {HOST} is taken by another program (it {probe.value}, "
            f"expected model {self.model_alias!r}); stop it or set RAG_LLM_PORT to a free port"
        )

    # -- health -------------------------------------------------------------------------------

    def _probe(self) -> Probe:
        try:
            body = _get_json(f"{self.base_url}/models", _PROBE_TIMEOUT_S)
        except TimeoutError:
            return Probe.BUSY
        except ConnectionRefusedError:
            return Probe.FREE
        except (OSError, http.client.HTTPException, ValueError):
            return Probe.OTHER
        return Probe.OURS if self.model_alias in _model_ids(body) else Probe.OTHER


def _get_json(url: str, timeout_s: float) -> Any:
    """GET url → parsed JSON, unwrapping urllib's URLError so callers see the OS error."""
    # An empty ProxyHandler: an http_proxy in the environment must not catch 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout_s) as resp:
            return json.loads(resp.read(1_000_000))
    except urllib.error.HTTPError:
        raise
    except urllib.error.URLError as e:
        raise (e.reason if isinstance(e.reason, OSError) else e) from e


def _model_ids(body: Any) -> set[str]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return set()
    return {str(m.get("id")) for m in data if isinstance(m, dict)}


def _popen(cmd: list[str], log_fh: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=log_fh,
        stderr=subprocess.STDOUT,
        # Own session: a Ctrl-C meant for us (e.g. to cancel one answer) does not hit the server.
        start_new_session=True,
    )


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        log.warning("local LLM server (pid %d) ignored SIGTERM; killing it", proc.pid)
        proc.kill()
        proc.wait()


def _is_llama_server(pid: int) -> bool:
    """pid is alive and runs llama_cpp.server (guards against a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"llama_cpp.server" in cmdline


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 8192))
            text = fh.read().decode("utf-8", "replace")
    except OSError as e:
        return f"(cannot read the log: {e.strerror})"
    return "\n".join(text.splitlines()[-lines:])
