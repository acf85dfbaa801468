"""The local llama.cpp server's first step in its own process: ask the kernel to kill it when
its parent dies (PR_SET_PDEATHSIG, even a SIGKILL of the parent: no orphaned server), then run
`llama_cpp.server` with the remaining arguments.

    python -m rag.llm.launch PARENT_PID llama_cpp.server --model ...

This runs after exec, not in a `preexec_fn`: Python code between fork and exec can deadlock a
process with threads (the UI imports Gradio while its supervisor thread starts the server; a
clean-clone run hung in that fork with no child)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import runpy
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    parent, module, *rest = argv
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != int(parent):  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
