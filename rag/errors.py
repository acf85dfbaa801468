"""The exception tree. Every message says what happened and what to do.

RagError
├── ConfigError            you misconfigured it (bad setting, bad question, bad path)
│   └── QuestionError      empty or oversized question
└── RunError               it failed at run time
    ├── CorpusError        a corpus file cannot be read at all
    │   └── WorkerError    a sandboxed parser worker failed
    │       ├── WorkerTimeoutError   it ran past its wall-time limit and was killed
    │       ├── WorkerMemoryError    it ran out of its address-space limit
    │       └── WorkerCrashError     it died (signal, hard crash) or raised something unexpected
    ├── StoreError         the vector store is missing, locked, read-only or unreachable
    │   └── IndexDamagedError   its vector index answers for fewer chunks than it holds
    ├── EmbeddingError     the embedder cannot be loaded or reached
    ├── ModelError         the packaged GGUF cannot be assembled
    ├── HistoryError       the chat history file cannot be read or written
    └── LLMError
        ├── LLMUnavailableError   endpoint down, refusing, or too slow
        └── LLMResponseError      endpoint answered with an error or garbage
"""

from __future__ import annotations


class RagError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(RagError):
    """The operator asked for something that cannot work."""


class QuestionError(ConfigError):
    """The question is empty or too long."""


class RunError(RagError):
    """Something failed at run time."""


class CorpusError(RunError):
    pass


class WorkerError(CorpusError):
    pass


class WorkerTimeoutError(WorkerError):
    pass


class WorkerMemoryError(WorkerError):
    pass


class WorkerCrashError(WorkerError):
    def __init__(self, message: str, signal_name: str | None = None) -> None:
        super().__init__(message)
        self.signal_name = signal_name  # set when the worker was killed by a signal


class StoreError(RunError):
    pass


class IndexDamagedError(StoreError):
    """The collection's documents are there but its vector index is damaged or incomplete;
    `rag ingest --rebuild` re-embeds them into a fresh one."""

    def __init__(self, message: str, chunks: int | None = None) -> None:
        super().__init__(message)
        self.chunks = chunks  # what the metadata holds, when it could still be counted


class EmbeddingError(RunError):
    pass


class ModelError(RunError):
    pass


class LLMError(RunError):
    pass


class LLMUnavailableError(LLMError):
    pass


class LLMResponseError(LLMError):
    pass


class HistoryError(RunError):
    pass
