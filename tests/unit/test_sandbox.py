"""The parser sandbox: a child that hangs is killed and reported, one that allocates past its
memory limit is reported, a crash is reported, and a well-behaved child's result comes back."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from rag.errors import WorkerCrashError, WorkerMemoryError, WorkerTimeoutError
from rag.sources.sandbox import Limits, run_limited

LIMITS = Limits(timeout_s=20, memory_mb=256)


def sleep_forever(pid_file: str) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(600)


def allocate(mb: int) -> int:
    return len(bytearray(mb << 20))


def segfault() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def fail() -> None:
    raise KeyError("no such object 12 0 R")


def pages(n: int) -> list[str]:
    return [f"page {i}" for i in range(1, n + 1)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_result_of_a_well_behaved_child_comes_back() -> None:
    assert run_limited(pages, 3, limits=LIMITS) == ["page 1", "page 2", "page 3"]


def test_child_past_its_time_limit_is_killed_and_reported(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    started = time.monotonic()
    with pytest.raises(WorkerTimeoutError, match=r"still running after 1 s; killed"):
        run_limited(sleep_forever, str(pid_file), limits=Limits(timeout_s=1, memory_mb=256))
    assert time.monotonic() - started < 30  # it did not wait for the 600 s sleep
    pid = int(pid_file.read_text())
    assert not _alive(pid)


def test_child_past_its_memory_limit_is_reported() -> None:
    with pytest.raises(WorkerMemoryError, match="256 MB memory limit"):
        run_limited(allocate, 1024, limits=LIMITS)


def test_the_same_allocation_under_the_limit_works() -> None:
    assert run_limited(allocate, 64, limits=LIMITS) == 64 << 20


def test_child_that_crashes_is_reported_with_its_signal() -> None:
    with pytest.raises(WorkerCrashError, match="SIGSEGV"):
        run_limited(segfault, limits=LIMITS)


def test_exception_in_child_is_reported_not_raised_raw() -> None:
    with pytest.raises(WorkerCrashError, match="KeyError: 'no such object 12 0 R'"):
        run_limited(fail, limits=LIMITS)
