"""Run one parse of an untrusted file in a child process with a wall-time and a memory limit, so
a hostile PDF can neither hang the app nor take it down.

The child comes from the "forkserver" context: it is forked from a small server process that
never ran the app, so it inherits none of the app's threads (Gradio, torch) or open stores, and
forking it costs about 50 ms here (spawn: about 90 ms). As with any non-fork start method, the
app's main script must keep its work under `if __name__ == "__main__":`. Before the work starts, the child sets
RLIMIT_AS (address space) on itself, so a runaway allocation fails with MemoryError in the child.
The parent waits at most `timeout_s` for the answer and then SIGKILLs the child.

`fn` and its arguments must be picklable (a module-level function); so must its result.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from rag.errors import (
    RagError,
    WorkerCrashError,
    WorkerError,
    WorkerMemoryError,
    WorkerTimeoutError,
)

__all__ = ["Limits", "run_limited"]
T = TypeVar("T")
_JOIN_S = 5.0


@dataclass(frozen=True)
class Limits:
    timeout_s: float
    memory_mb: int


def run_limited(
    fn: Callable[..., T], *args: Any, limits: Limits, preload: tuple[str, ...] = ()
) -> T:
    """fn(*args) in a fresh child process; raises a WorkerError subclass if a limit is hit.
    `preload`: modules the fork server imports once, so children start with them loaded."""
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    # Takes effect when the server starts (first call): the app's main module, fn's module and
    # `preload` are imported once there, not again in every child.
    ctx.set_forkserver_preload(["__main__", fn.__module__, *preload])
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(sender, fn, args, limits.memory_mb), daemon=True)
    try:
        proc.start()
    except OSError as e:
        raise WorkerCrashError(f"could not start a worker process: {e}; free some memory") from e
    sender.close()  # the child holds the only writer: EOF on the pipe means it died
    try:
        return _await(receiver, proc, limits)
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(_JOIN_S)
        receiver.close()


def _await(receiver: Connection, proc: Any, limits: Limits) -> Any:
    if not receiver.poll(limits.timeout_s):
        proc.kill()
        proc.join(_JOIN_S)
        raise WorkerTimeoutError(f"worker still running after {limits.timeout_s:g} s; killed it")
    try:
        status, value = receiver.recv()
    except (EOFError, OSError) as e:
        proc.join(_JOIN_S)
        raise _death(proc.exitcode) from e
    if status == "ok":
        return value
    if status == "memory":
        raise WorkerMemoryError(f"worker ran out of its {limits.memory_mb} MB memory limit")
    if isinstance(value, RagError):
        raise value
    raise WorkerCrashError(f"worker failed: {value}")


def _death(exitcode: int | None) -> WorkerError:
    """A signal here is a crash in native code, often an allocation refused by RLIMIT_AS."""
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        return WorkerCrashError(f"worker died with {name}", signal_name=name)
    return WorkerCrashError(f"worker exited with code {exitcode} before answering")


def _child(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...], memory_mb: int) -> None:
    _limit_memory(memory_mb)
    try:
        result: tuple[str, Any] = ("ok", fn(*args))
    except MemoryError:
        result = ("memory", None)
    except RagError as e:
        result = ("error", e)
    # The worker's top level is an entry point: whatever a parser raises on a hostile file is
    # reported to the parent as a failure of that one file, never left to kill the app.
    except Exception as e:  # noqa: BLE001
        result = ("error", f"{type(e).__name__}: {e}")
    try:
        conn.send(result)
    except MemoryError:
        conn.send(("memory", None))
    conn.close()


def _limit_memory(memory_mb: int) -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = memory_mb << 20
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
