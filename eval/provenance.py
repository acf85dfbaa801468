"""Where a run comes from: the git commit (read from .git without running git) and the default
output directory runs/eval-<date>-<shortsha>/ (under the working directory)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent  # the repo root when run from a checkout


def _ref(git: Path, ref: str) -> str | None:
    loose = git / ref
    if loose.is_file():
        return loose.read_text(encoding="utf-8").strip()
    packed = git / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            sha, _, name = line.partition(" ")
            if name.strip() == ref:
                return sha
    return None


def git_commit(repo: Path = CHECKOUT) -> str | None:
    """The commit HEAD points at, or None outside a git checkout."""
    git = repo / ".git"
    try:
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        return _ref(git, head[5:].strip()) if head.startswith("ref:") else head or None
    except OSError:
        return None


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def default_out_dir(retrieval_only: bool, repo: Path = CHECKOUT) -> Path:
    """runs/eval-<date>-<shortsha>/ (…-retrieval/ for retrieval-only runs): a second run on the
    same day and commit lands in the same directory and resumes it."""
    sha = (git_commit(repo) or "nogit")[:7]
    name = f"eval-{datetime.now(UTC):%Y-%m-%d}-{sha}" + ("-retrieval" if retrieval_only else "")
    return Path("runs") / name  # under the working directory
