"""Progress for long work (ingestion, model assembly, eval runs): a tqdm bar on a terminal,
sparse lines otherwise (a CI log gets a line per 10 % or per 30 s, not one per update)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any, TextIO

EVERY_S = 30.0
EVERY_SHARE = 0.10


class SparseProgress:
    """The part of tqdm's surface we use, printing a plain line now and then."""

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str = "it",
        out: TextIO | None = None,
        every_s: float = EVERY_S,
        iterable: Iterable[Any] | None = None,
    ) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.n = 0
        self._out = out or sys.stderr
        self._every_s = every_s
        self._iterable = iterable
        self._start = self._last_at = time.monotonic()
        self._last_share = 0.0
        self._postfix = ""

    def update(self, n: int = 1) -> None:
        self.n += n
        share = self.n / self.total if self.total else 1.0
        now = time.monotonic()
        if share - self._last_share >= EVERY_SHARE or now - self._last_at >= self._every_s:
            self._print(now)

    def set_postfix_str(self, text: str) -> None:
        self._postfix = text

    def __iter__(self) -> Iterator[Any]:
        for item in self._iterable or ():
            yield item
            self.update()

    def close(self) -> None:
        if self.n != self.total or self._last_share < 1.0:
            self._print(time.monotonic())

    def __enter__(self) -> SparseProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _print(self, now: float) -> None:
        share = self.n / self.total if self.total else 1.0
        elapsed = now - self._start
        eta = f", ETA {_secs(elapsed / share - elapsed)}" if 0 < share < 1 else ""
        tail = f" [{self._postfix}]" if self._postfix else ""
        print(
            f"{self.desc}: {self.n:,}/{self.total:,} {self.unit} ({share:.0%}), "
            f"{_secs(elapsed)} elapsed{eta}{tail}",
            file=self._out,
            flush=True,
        )
        self._last_at, self._last_share = now, share


def _secs(s: float) -> str:
    return f"{s / 60:.0f} min" if s >= 90 else f"{s:.0f} s"


class _Off(SparseProgress):
    def _print(self, now: float) -> None:
        pass


def progress(
    total: int,
    desc: str,
    unit: str = "it",
    enabled: bool = True,
    iterable: Iterable[Any] | None = None,
    **tqdm_kw: Any,
) -> Any:
    """A progress bar: tqdm when stderr is a terminal, SparseProgress lines when it is not,
    silent when not `enabled`. Use as a context manager or iterate over it."""
    if not enabled:
        return _Off(total, desc, unit, iterable=iterable)
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, **tqdm_kw)
    return SparseProgress(total, desc, unit, iterable=iterable)
