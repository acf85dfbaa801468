"""The one settings object. Built in entry points only; the narrowest part is passed down.

Each section reads its own environment prefix, so the documented names hold:
RAG_DATA_DIR, RAG_CHROMA_URL, RAG_LLM_BASE_URL, RAG_LLM_MODEL, RAG_LLM_API_KEY (falling back to
OPENAI_API_KEY), RAG_UI_HOST, RAG_UI_PORT, and every other field as RAG_<SECTION>_<FIELD>.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import ConfigError
from rag.resources import corpus_dir

# Longest title or abstract (and listing line) accepted: a 5 MB abstract is 27,000 chunks, about
# an hour of embedding and a gigabyte of memory, for what is certainly not an abstract.
DEFAULT_MAX_RECORD_CHARS = 20_000
MAX_TOP_K = 50  # papers one search returns at most (`rag search -k`, RAG_RETRIEVAL_TOP_K)
MAX_SOURCES = 10  # papers one answer is given at most (`rag ask -k`, RAG_ANSWER_MAX_SOURCES)


def _cfg(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", frozen=True)


class ChromaSettings(BaseSettings):
    model_config = _cfg("RAG_CHROMA_")
    url: str | None = Field(
        None, description="http://host:port of a `chroma run` server; unset = embedded store."
    )
    collection_prefix: str = Field("papers", description="Prefix of the derived collection name.")
    batch_size: int = Field(64, ge=1, description="Chunks embedded and written per batch.")


class EmbedSettings(BaseSettings):
    model_config = _cfg("RAG_EMBED_")
    backend: Literal["local", "openai"] = Field(
        "local", description="local = packaged all-MiniLM-L6-v2; openai = a /v1/embeddings server."
    )
    model: str = Field(
        "all-MiniLM-L6-v2", description="Model name (sent to the server when backend=openai)."
    )
    base_url: str | None = Field(None, description="OpenAI-compatible embeddings base URL.")
    api_key: SecretStr | None = Field(None, description="Bearer key for the embeddings server.")
    max_tokens: int = Field(256, description="Word pieces the embedder reads; longer is cut.")
    batch_size: int = Field(16, ge=1, description="Texts per forward pass.")


class ChunkSettings(BaseSettings):
    model_config = _cfg("RAG_CHUNK_")
    max_tokens: int = Field(
        200,
        ge=32,
        le=250,
        description="Word pieces per chunk, title included (embedder reads 256).",
    )
    overlap_sentences: int = Field(1, ge=0, description="Sentences repeated between chunks.")


class RetrievalSettings(BaseSettings):
    model_config = _cfg("RAG_RETRIEVAL_")
    mode: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="hybrid = reciprocal-rank fusion of dense and BM25."
    )
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="Papers returned (and given to the LLM).")
    candidates: int = Field(30, ge=1, description="Chunks each retriever returns before fusion.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")


class LLMSettings(BaseSettings):
    model_config = _cfg("RAG_LLM_")
    base_url: str | None = Field(
        None,
        description="OpenAI-compatible base URL (…/v1). Unset = start the packaged local model.",
    )
    model: str = Field("qwen2.5-coder-1.5b-instruct-q4_k_m", description="Model name sent.")
    api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("RAG_LLM_API_KEY", "OPENAI_API_KEY"),
        description="Bearer key; falls back to OPENAI_API_KEY. Never logged.",
    )
    timeout_s: float = Field(120.0, gt=0, description="Seconds without a token before giving up.")
    temperature: float = Field(0.1, ge=0, le=2, description="Sampling temperature.")
    max_answer_tokens: int = Field(256, ge=16, description="Longest answer generated.")
    port: int = Field(8765, description="Port of the local llama.cpp server on 127.0.0.1.")
    n_ctx: int = Field(4096, description="Context window of the local server.")
    n_threads: int = Field(2, ge=1, description="CPU threads of the local server.")
    n_batch: int = Field(128, ge=8, description="Prompt batch of the local server.")
    startup_timeout_s: float = Field(180.0, description="Seconds to wait for the local server.")
    draft: Literal["none", "prompt-lookup"] = Field(
        "none",
        description="Speculative decoding of the local server: prompt-lookup drafts tokens copied "
        "from the prompt (llama-cpp-python's LlamaPromptLookupDecoding); none = off.",
    )
    draft_tokens: int = Field(10, ge=1, le=64, description="Tokens drafted per prompt-lookup step.")


class AnswerSettings(BaseSettings):
    model_config = _cfg("RAG_ANSWER_")
    mode: Literal["generative", "hybrid", "extractive"] = Field(
        "hybrid",
        description="hybrid = the model's checked answer followed by the evidence sentences it "
        "does not already say (the evidence answer alone if the model abstains on answerable "
        "evidence); generative = the model's checked answer alone; "
        "extractive = the evidence sentences alone, no model (`rag ask --no-llm`).",
    )
    pipeline: Literal["evidence", "legacy"] = Field(
        "evidence",
        description="evidence = scored evidence sentences of whole abstracts, survey mode, one "
        "abstention rule; legacy = each paper's best chunk trimmed (the engine before issue 11), "
        "kept for old-vs-new evaluation.",
    )
    prompt_budget_tokens: int = Field(
        600, ge=100, description="Uncached prompt budget: sources + question (prefill ~50 tok/s)."
    )
    max_question_chars: int = Field(2000, ge=10, description="Longer questions are refused.")
    max_sources: int = Field(
        4,
        ge=1,
        le=MAX_SOURCES,
        description="Papers given to the LLM per answer (lookup questions).",
    )
    survey_sources: int = Field(
        8,
        ge=1,
        le=MAX_SOURCES,
        description="Papers given for a survey question (evidence pipeline).",
    )
    evidence_budget_tokens: int = Field(
        260, ge=50, description="Evidence tokens (titles, sentences, tags) for a lookup question."
    )
    survey_budget_tokens: int = Field(
        600, ge=50, description="Evidence tokens for a survey question (1-2 sentences a paper)."
    )
    survey_prompt_papers: int = Field(
        3,
        ge=1,
        le=MAX_SOURCES,
        description="Survey: papers the model reads (its best sentence each) for the synthesis; "
        "the per-paper list covers every given paper without the model.",
    )
    survey_answer_tokens: int = Field(
        120, ge=16, description="Longest survey synthesis generated (the list follows it)."
    )
    abstain_override_min: float = Field(
        0.55,
        description="legacy pipeline: if the model abstains although the best source is at least "
        "this similar, it is asked once more (guards against false abstention by the small model).",
    )
    abstain_min_score: float = Field(
        0.32,
        description="legacy pipeline: abstain when the best dense similarity is below this…",
    )
    abstain_min_overlap: float = Field(
        0.5,
        description="…and under this share of the question's terms is in any source (legacy; "
        "the evidence pipeline uses the calibrated rule of rag/answer/abstention.py).",
    )
    support_min: float = Field(
        0.35,
        description="legacy pipeline: sentence-to-chunk similarity at or above which a citation "
        "is supported.",
    )
    evidence_support_min: float = Field(
        0.45,
        description="evidence pipeline: provenance score (dense similarity fused with the share of "
        "the sentence's own terms, not the question's, found in an evidence sentence) at or above "
        "which an evidence sentence supports an answer sentence.",
    )
    abstention_params: Path | None = Field(
        None, description="Abstention rule parameters (JSON); unset = rag/answer/abstention.json."
    )


class UISettings(BaseSettings):
    model_config = _cfg("RAG_UI_")
    host: str = Field("127.0.0.1", description="Interface the chat binds to.")
    port: int = Field(7860, description="Port of the chat.")
    auth: str | None = Field(None, description="user:password for a login; advised off loopback.")
    concurrency: int = Field(1, ge=1, description="Answers generated at once (local model: 1).")
    max_upload_mb: float = Field(
        50.0, gt=0, description="Largest file the chat page accepts as an upload, in MB."
    )


class SourceSettings(BaseSettings):
    model_config = _cfg("RAG_SOURCES_")
    max_record_chars: int = Field(
        DEFAULT_MAX_RECORD_CHARS,
        ge=1000,
        description="Longest title or abstract accepted, in characters (whitespace collapsed), "
        "in every format; also the longest line of a listing dump. Longer records are rejected "
        "with an issue.",
    )
    max_pdf_pages: int = Field(
        1000, ge=1, description="Pages read from one PDF; later pages are skipped with a warning."
    )
    max_file_mb: float = Field(
        100.0,
        gt=0,
        description="Files (PDFs, exports, listings, uploads) larger than this many MB are "
        "skipped with an error.",
    )
    pdf_timeout_s: float = Field(
        120.0, gt=0, description="Wall time one PDF may take to parse before its worker is killed."
    )
    pdf_memory_mb: int = Field(
        1024, ge=64, description="Address-space limit (MB) of the worker process parsing a PDF."
    )
    library_root: Path | None = Field(
        None,
        description="Folder that export attachments must stay inside; unset = the export's folder.",
    )

    @field_validator("library_root", mode="before")
    @classmethod
    def _expand_home(cls, value: Any) -> Any:
        # "~/Zotero/storage" from the environment: a folder named "~" would hold no attachment.
        return Path(value).expanduser() if isinstance(value, str) and value.strip() else value


class Settings(BaseSettings):
    model_config = _cfg("RAG_")
    data_dir: Path = Field(
        Path.home() / ".local" / "share" / "rag-papers",
        description="Where the embedded store, the assembled GGUF and run files live.",
    )
    corpus_dir: Path = Field(
        default_factory=corpus_dir, description="Corpus ingested when no path is given."
    )
    chroma: ChromaSettings = Field(default_factory=ChromaSettings)
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    ui: UISettings = Field(default_factory=UISettings)
    sources: SourceSettings = Field(default_factory=SourceSettings)

    @field_validator("data_dir", mode="before")
    @classmethod
    def _data_dir_given(cls, value: Any) -> Any:
        # Path("") is ".": the store would be written into whatever the current directory is.
        if isinstance(value, str | Path) and not str(value).strip():
            raise ValueError(
                "it is empty; give a directory, or unset it for the default "
                "~/.local/share/rag-papers"
            )
        return Path(value).expanduser() if isinstance(value, str) else value

    def index_fingerprint(self) -> str:
        """What shapes the vectors: changing any of it selects another collection."""
        shape = f"{self.embed.backend}|{self.embed.model}|{self.chunk.max_tokens}|" + str(
            self.chunk.overlap_sentences
        )
        return hashlib.sha256(shape.encode()).hexdigest()[:10]

    def collection_name(self) -> str:
        return f"{self.chroma.collection_prefix}-{self.index_fingerprint()}"

    def fingerprint(self) -> str:
        """Everything that shapes an answer, for reports and `rag ask --json`."""
        parts = [
            self.index_fingerprint(),
            self.retrieval.model_dump_json(),
            self.llm.model,
            str(self.llm.temperature),
            self.answer.model_dump_json(),
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


SECTIONS: tuple[type[BaseSettings], ...] = (
    Settings,
    ChromaSettings,
    EmbedSettings,
    ChunkSettings,
    RetrievalSettings,
    LLMSettings,
    AnswerSettings,
    UISettings,
    SourceSettings,
)


def load_settings() -> Settings:
    """The settings from the environment; a bad value is one ConfigError line naming the
    variable, the value and what is allowed (entry points turn it into exit status 2)."""
    try:
        settings = Settings()
    except ValidationError as e:
        raise ConfigError(describe_error(e)) from e
    check_data_dir(settings)
    return settings


def check_data_dir(settings: Settings) -> None:
    """A data dir that is a file is a setting to fix (mkdir would only say "File exists")."""
    d = settings.data_dir
    if d.exists() and not d.is_dir():
        raise ConfigError(
            f"RAG_DATA_DIR={str(d)!r} is not valid: it is a file, not a directory; "
            "give a directory (it is created if missing)"
        )


def describe_error(e: ValidationError) -> str:
    err = e.errors()[0]
    section = next((c for c in SECTIONS if c.__name__ == e.title), Settings)
    name = str(err["loc"][0]) if err["loc"] else ""
    field = section.model_fields.get(name)
    env = str(section.model_config.get("env_prefix", "")) + name.upper()
    secret = field is not None and "SecretStr" in str(field.annotation)
    value = "…" if secret else repr(err.get("input"))
    if err["type"] == "value_error":
        why = str(err["msg"]).removeprefix("Value error, ")
    else:
        why = f"expected {allowed(field)}" if field else str(err["msg"])
    more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
    return f"{env}={value} is not valid: {why}{more}"


def allowed(field: FieldInfo) -> str:
    """What a field accepts, in words: 'an integer between 1 and 50', 'one of a, b'."""
    ann: Any = field.annotation
    if get_origin(ann) is not Literal and get_args(ann):  # X | None
        ann = next(a for a in get_args(ann) if a is not type(None))
    if get_origin(ann) is Literal:
        return "one of " + ", ".join(str(a) for a in get_args(ann))
    noun = {int: "an integer", float: "a number", bool: "true or false", Path: "a path"}
    return noun.get(ann, "text") + _bounds(field)


def _bounds(field: FieldInfo) -> str:
    b = {
        k: getattr(m, k) for m in field.metadata for k in ("ge", "gt", "le", "lt") if hasattr(m, k)
    }
    if "ge" in b and "le" in b:
        return f" between {b['ge']:g} and {b['le']:g}"
    parts = [
        f"{word} {b[k]:g}"
        for k, word in (
            ("ge", "of at least"),
            ("gt", "above"),
            ("le", "of at most"),
            ("lt", "below"),
        )
        if k in b
    ]
    return " " + " and ".join(parts) if parts else ""
