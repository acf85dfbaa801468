"""What the health banner says: probing the LLM endpoint, and turning the state of the store and
the endpoint into problems, each with its fix. No gradio here."""

from __future__ import annotations

import http.client
import ipaddress
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from enum import Enum
from typing import Any

from rag.ui.render import Problem

from rag.errors import LLMError, QuestionError, RagError, StoreError


class LLMState(Enum):
    STARTING = "starting"  # the local server is being assembled or loaded
    READY = "ready"
    BUSY = "busy"  # accepts connections but is generating (llama.cpp answers one at a time)
    LOADING = "loading"  # HTTP 503: the server is up and still loading its model
    DOWN = "down"
    REFUSED = "refused"  # 401/403: the key is wrong or missing
    WRONG_MODEL = "wrong_model"
    FAILED = "failed"  # the local server could not be started


@dataclass(frozen=True)
class Health:
    store_error: str | None
    llm: LLMState
    llm_detail: str | None
    endpoint: str
    model: str
    local: bool
    waiting_s: float = 0.0


def display_url(url: str) -> str:
    """The endpoint without user:password or query (they may hold credentials)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _opener(url: str) -> urllib.request.OpenerDirector:
    # A proxy from the environment must not catch 127.0.0.1; remote endpoints may need it.
    loopback = is_loopback(urllib.parse.urlsplit(url).hostname or "")
    handlers = [urllib.request.ProxyHandler({})] if loopback else []
    return urllib.request.build_opener(*handlers)


def _model_ids(body: Any) -> list[str]:
    data = body.get("data") if isinstance(body, dict) else None
    ids = [str(m.get("id")) for m in data or [] if isinstance(m, dict) and m.get("id")]
    return list(dict.fromkeys(ids))


def probe_llm(base_url: str, model: str, api_key: str | None, timeout_s: float = 2.0) -> LLMState:
    return probe_models(base_url, model, api_key, timeout_s)[0]


def probe_models(
    base_url: str, model: str, api_key: str | None, timeout_s: float = 2.0
) -> tuple[LLMState, list[str]]:
    """The endpoint's state and the models its `/models` lists (empty when it did not answer)."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    request = urllib.request.Request(base_url.rstrip("/") + "/models", headers=headers)
    try:
        with _opener(base_url).open(request, timeout=timeout_s) as resp:
            body = json.loads(resp.read(1_000_000))
    except urllib.error.HTTPError as e:
        codes = {503: LLMState.LOADING, 401: LLMState.REFUSED, 403: LLMState.REFUSED}
        return codes.get(e.code, LLMState.DOWN), []
    except urllib.error.URLError as e:
        return (LLMState.BUSY if isinstance(e.reason, TimeoutError) else LLMState.DOWN), []
    except TimeoutError:
        return LLMState.BUSY, []
    except (OSError, ValueError, http.client.HTTPException):
        return LLMState.DOWN, []
    ids = _model_ids(body)
    return (LLMState.READY if model in ids else LLMState.WRONG_MODEL), ids


def model_choices(served: list[str], configured: str) -> list[str]:
    """The model picker's choices: the endpoint's models, the configured one first; none (no
    picker) unless it serves more than one."""
    if len(served) < 2:
        return []
    return [configured] + [m for m in served if m != configured] if configured in served else served


def store_problem(error: str) -> Problem:
    fix = (
        "Run `rag ingest` (or restart `rag ui`, which ingests the bundled corpus into an empty "
        "store); check RAG_DATA_DIR or RAG_CHROMA_URL."
    )
    return Problem(f"No papers to search: {error}", fix)


def llm_problem(h: Health) -> Problem | None:
    where = f"{h.endpoint} (model {h.model})"
    if h.llm is LLMState.STARTING:
        return Problem(
            f"The local model is loading ({h.waiting_s:.0f} s so far).",
            "Wait a moment: sources can be searched already; answers start when it is ready.",
            "info",
        )
    if h.llm is LLMState.LOADING:
        return Problem(f"The LLM at {where} is still loading its model.", "Wait a moment.", "info")
    return _llm_failure(h, where)


def _llm_failure(h: Health, where: str) -> Problem | None:
    if h.llm is LLMState.FAILED:
        return Problem(
            f"The local LLM server could not be started: {h.llm_detail}",
            "Fix the cause above and restart `rag ui`, or point RAG_LLM_BASE_URL at a running "
            "OpenAI-compatible server.",
        )
    fixes = {
        LLMState.DOWN: "Start the server, or fix RAG_LLM_BASE_URL"
        + (" (the local server is restarted automatically)." if h.local else "."),
        LLMState.REFUSED: "The endpoint refused the key: set RAG_LLM_API_KEY.",
        LLMState.WRONG_MODEL: "It serves other models: set RAG_LLM_MODEL to one it lists.",
    }
    if h.llm not in fixes:
        return None
    what = {LLMState.DOWN: "does not answer", LLMState.REFUSED: "refused the request"}
    return Problem(f"The LLM endpoint {where} {what.get(h.llm, 'lacks the model')}.", fixes[h.llm])


def problems(h: Health) -> list[Problem]:
    found = [store_problem(h.store_error)] if h.store_error else []
    llm = llm_problem(h)
    return found + ([llm] if llm else [])


def explain(error: Exception, h: Health) -> str:
    """A failed turn's message for the chat: the error's own words, plus the fix when the
    cause is a known state (the model still loading is not a failure)."""
    if isinstance(error, LLMError) and h.llm in (LLMState.STARTING, LLMState.LOADING):
        return (
            "The model is still loading, so there is no answer yet; the sources on the right "
            "are what it will read. Ask again in a moment."
        )
    if isinstance(error, StoreError):
        return f"{error} — {store_problem(str(error)).fix}"
    if isinstance(error, QuestionError | RagError):
        return str(error)
    return f"unexpected {type(error).__name__}: {error} (see the server log)"


def readiness(h: Health, warming: str) -> tuple[str, str, str]:
    """(text, level, detail) of the header's readiness pill: loading / ready / model down.
    `warming` is ui/warm.py's phase ("embedder", "model" or "ready")."""
    if h.store_error:
        return "No papers to search", "error", store_problem(h.store_error).fix
    if warming == "embedder":
        return "Loading the embedder…", "busy", "Searching works once it is loaded."
    problem = llm_problem(h)
    if problem is not None and problem.level != "info":
        return f"Model down — {problem.fix}", "error", problem.what
    if h.llm in (LLMState.STARTING, LLMState.LOADING):
        return f"Loading the model… {h.waiting_s:.0f} s", "busy", "Sources can be searched already."
    if warming != "ready":
        return "Warming the model…", "busy", "Caching the prompt's rules for the first answer."
    busy = " · answering" if h.llm is LLMState.BUSY else ""
    return f"Ready{busy}", "ready", f"{h.model} at {h.endpoint}"
