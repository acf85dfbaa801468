"""What every entry point sets up for its process: log levels, and SIGTERM ending the program
through `finally` blocks (so a local LLM server we started is stopped)."""

from __future__ import annotations

import logging
import signal
from typing import Any

NOISY = ("httpx", "chromadb", "sentence_transformers", "transformers")


def configure_logging(level: int = logging.WARNING) -> None:
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)


def exit_on_sigterm() -> None:
    """SIGTERM raises SystemExit(143) in the main thread, so context managers clean up."""

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, handler)
