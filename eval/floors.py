"""CI floors: the lowest acceptable aggregate retrieval metrics per config (eval/floors.json),
measured on the full question set and set a little below; a run under a floor fails."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from pydantic import TypeAdapter, ValidationError
from rag.eval.data import EVAL_DIR

from rag.errors import ConfigError

FLOORS_FILE = EVAL_DIR / "floors.json"
Floors = dict[str, dict[str, float]]  # config name → metric → lowest acceptable value
_ADAPTER: TypeAdapter[Floors] = TypeAdapter(Floors)


def load_floors(path: Path) -> Floors:
    """Floors by config; keys starting with "_" (comments) are ignored."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return _ADAPTER.validate_python(_no_comments(raw))
    except (OSError, json.JSONDecodeError, ValidationError) as e:
        raise ConfigError(f"cannot read the floors file {path}: {e}") from e


def _no_comments(raw: object) -> object:
    return {k: v for k, v in raw.items() if not k.startswith("_")} if isinstance(raw, dict) else raw


def with_flags(floors: Floors, configs: list[str], flags: Mapping[str, float | None]) -> Floors:
    """Floors given on the command line apply to every config of the run and win over the file."""
    given = {k: v for k, v in flags.items() if v is not None}
    return {name: {**floors.get(name, {}), **given} for name in configs} if given else floors


def below(
    floors: Floors, results: Mapping[str, Mapping[str, float | int | bool | None]]
) -> list[str]:
    """One message per metric under its floor; results = config name → aggregate metrics."""
    out = []
    for name, limits in floors.items():
        if name not in results:
            continue
        for metric, floor in limits.items():
            value = results[name].get(metric)
            if value is None or float(value) < floor:
                out.append(f"{name}: {metric} = {_fmt(value)} is below the floor {floor:.3f}")
    return out


def _fmt(value: object) -> str:
    return "missing" if value is None else f"{float(value):.3f}"  # type: ignore[arg-type]
