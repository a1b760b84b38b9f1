"""Pieces every benchmark shares: data-directory resolution, split sizes and the paper's split recipe."""

from __future__ import annotations

import os
import random
import threading
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, Sequence, TypeVar

import dspy

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_ENV_VAR = "GEPA_DSPY_DATA"
Scale = Literal["small", "paper"]

#: (train, val, test) sizes per scale. "paper" is the GEPA paper's 150/300/300. "small" is sized so
#: that one optimizer run on the local 2-core LM fits in about half an hour.
SCALE_SIZES: dict[str, tuple[int, int, int]] = {
    "small": (20, 20, 40),
    "paper": (150, 300, 300),
}

T = TypeVar("T")


@dataclass(frozen=True)
class Splits:
    """Train/val/test lists of ``dspy.Example`` with their inputs marked."""

    train: list[dspy.Example]
    val: list[dspy.Example]
    test: list[dspy.Example]


class DataNotFoundError(FileNotFoundError):
    """Raised when a benchmark's files are missing from the data directory."""


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The benchmark data directory: the argument, else ``$GEPA_DSPY_DATA``, else ``../shared/data``."""
    if data_dir is not None:
        return Path(data_dir).expanduser().resolve()
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    return (PROJECT_ROOT.parent / "shared" / "data").resolve()


def require_files(directory: Path, names: Sequence[str], benchmark: str) -> list[Path]:
    """Return ``directory/name`` for each name, or raise a DataNotFoundError naming every missing file."""
    paths = [directory / name for name in names]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise DataNotFoundError(
            f"{benchmark}: missing data file(s): {', '.join(missing)}. Pass data_dir=... or set "
            f"${DATA_ENV_VAR} to the folder that holds the benchmark data (see shared/data/README.md)."
        )
    return paths


def split_sizes(scale: Scale | str = "small", sizes: tuple[int, int, int] | None = None) -> tuple[int, int, int]:
    """(train, val, test) sizes for a scale, or the explicit override ``sizes``."""
    if sizes is not None:
        if len(sizes) != 3 or any(int(s) < 0 for s in sizes):
            raise ValueError(f"sizes must be three non-negative ints (train, val, test), got {sizes!r}")
        return tuple(int(s) for s in sizes)  # type: ignore[return-value]
    if scale not in SCALE_SIZES:
        raise ValueError(f"scale must be one of {sorted(SCALE_SIZES)}, got {scale!r}")
    return SCALE_SIZES[scale]


def paper_split(pool: Sequence[T], seed: int, sizes: tuple[int, int, int]) -> tuple[list[T], list[T], list[T]]:
    """The paper's recipe: cut the ordered pool into 20% train / 40% val / 40% test blocks, then
    draw a seeded sample of the requested size from each block (order kept as in the pool).

    Deterministic for a given pool order and seed; the three parts are disjoint by construction.
    A block smaller than its requested size is returned whole.
    """
    n = len(pool)
    n_train = n // 5
    n_val = (2 * n) // 5
    blocks = (pool[:n_train], pool[n_train : n_train + n_val], pool[n_train + n_val :])
    out: list[list[T]] = []
    for i, (block, size) in enumerate(zip(blocks, sizes)):
        rng = random.Random(f"{seed}-{i}")
        idx = sorted(rng.sample(range(len(block)), min(size, len(block))))
        out.append([block[j] for j in idx])
    return out[0], out[1], out[2]


def score_of(value: Any) -> float:
    """The numeric score of a metric result: a number, or an object with a numeric ``.score``."""
    score = getattr(value, "score", value)
    if isinstance(score, bool):
        return float(score)
    if not isinstance(score, (int, float)):
        raise TypeError(f"metric returned {value!r}; expected a number or an object with a numeric .score")
    return float(score)


@dataclass
class Counters:
    """Named integer counters several threads may add to at once; subclasses declare them as ``name: int = 0``."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
