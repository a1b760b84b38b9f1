"""PUPA (from PAPILLON): loading ``PUPA_New.csv`` and cutting the paper's train/val/test split."""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path
from typing import Any

import dspy

from benchmarks.common import Scale, Splits, require_files, resolve_data_dir, split_sizes

DATA_SUBDIR = "pupa"
CSV_NAME = "PUPA_New.csv"
REQUIRED_COLUMNS = (
    "conversation_hash",
    "predicted_category",
    "user_query",
    "target_response",
    "pii_units",
    "redacted_query",
)
#: The GEPA paper's split of the CSV's data rows (0-based, end exclusive): train, val, test.
PAPER_BLOCKS: tuple[tuple[int, int], tuple[int, int], tuple[int, int]] = ((0, 111), (111, 222), (222, 443))
PII_SEPARATOR = "||"


def parse_pii_units(field: str) -> list[str]:
    """Split a ``pii_units`` cell on ``||``: strip each unit, drop empty ones and repeats.

    Repeats (compared case-insensitively, first spelling kept) are dropped so that one private
    item cannot count twice in the leakage fraction; 10 of the paper's 443 rows repeat a unit.
    """
    units: list[str] = []
    seen: set[str] = set()
    for raw in field.split(PII_SEPARATOR):
        unit = raw.strip()
        key = unit.casefold()
        if unit and key not in seen:
            seen.add(key)
            units.append(unit)
    return units


def read_rows(csv_path: Path) -> list[dict[str, str]]:
    """All data rows of the PUPA CSV as dicts, after checking that every needed column is present."""
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"pupa: {csv_path} lacks column(s) {missing}; found {reader.fieldnames}")
        return list(reader)


def row_to_example(row: dict[str, str], row_index: int) -> dspy.Example:
    """One CSV row as a ``dspy.Example`` whose only input is ``user_query``."""
    return dspy.Example(
        user_query=row["user_query"],
        target_response=row["target_response"],
        pii_units=parse_pii_units(row["pii_units"]),
        reference_redaction=row["redacted_query"],
        category=row["predicted_category"],
        conversation_hash=row["conversation_hash"],
        row=row_index,
    ).with_inputs("user_query")


def sample_block(block: list[dspy.Example], size: int, seed: int, block_index: int) -> list[dspy.Example]:
    """A seeded sample of ``size`` items from ``block`` in CSV order; the whole block if it is smaller."""
    if size >= len(block):
        return list(block)
    rng = random.Random(f"pupa-{seed}-{block_index}")
    return [block[i] for i in sorted(rng.sample(range(len(block)), size))]


def splits_from_rows(
    rows: list[dict[str, str]], scale: Scale | str, seed: int, sizes: tuple[int, int, int] | None, source: str
) -> Splits:
    """Cut PUPA rows (in file order) into the paper's blocks and subsample each to the requested size."""
    wanted = split_sizes(scale, sizes)
    needed = PAPER_BLOCKS[-1][1]
    if len(rows) < needed:
        raise ValueError(f"pupa: {source} has {len(rows)} data rows, the paper's split needs {needed}")
    parts = []
    for block_index, ((start, end), size) in enumerate(zip(PAPER_BLOCKS, wanted)):
        block = [row_to_example(rows[i], i) for i in range(start, end)]
        parts.append(sample_block(block, size, seed, block_index))
    return Splits(train=parts[0], val=parts[1], test=parts[2])


def load_splits(
    scale: Scale | str = "small",
    seed: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
    sizes: tuple[int, int, int] | None = None,
) -> Splits:
    """PUPA train/val/test from ``<data_dir>/pupa/PUPA_New.csv``.

    The parts are the paper's row blocks [0:111], [111:222] and [222:443]. At ``scale="paper"``
    (requested sizes 150/300/300, larger than the blocks) each block is returned whole: 111/111/221.
    At ``scale="small"`` or with ``sizes=(train, val, test)`` each block is subsampled with a
    seeded RNG, keeping CSV order. Parts are disjoint by row, but the CSV itself repeats some
    user queries across blocks (see docs/benchmarks-pupa.md).
    """
    split_sizes(scale, sizes)  # reject a bad scale before touching the disk
    (csv_path,) = require_files(resolve_data_dir(data_dir) / DATA_SUBDIR, [CSV_NAME], "pupa")
    return splits_from_rows(read_rows(csv_path), scale, seed, sizes, str(csv_path))


def load_public_splits(
    scale: Scale | str = "small",
    seed: int = 0,
    sizes: tuple[int, int, int] | None = None,
    *,
    dataset_name: str = "Columbia-NLP/PUPA",
    config: str = "pupa_new",
    split: str = "train",
    **load_kwargs: Any,
) -> Splits:
    """The same splits from the public Hugging Face copy of PUPA (needs ``datasets`` and network access)."""
    try:
        import datasets
    except ImportError as error:
        raise ImportError(
            "pupa: loading the public dataset needs the 'datasets' package (pip install datasets) and access to "
            "the Hugging Face Hub; without them use load_splits(data_dir=...) with the local CSV"
        ) from error
    rows = [dict(row) for row in datasets.load_dataset(dataset_name, config, split=split, **load_kwargs)]
    missing = [c for c in REQUIRED_COLUMNS if rows and c not in rows[0]]
    if missing:
        raise ValueError(f"pupa: {dataset_name}/{config} lacks column(s) {missing}")
    return splits_from_rows(rows, scale, seed, sizes, f"{dataset_name}/{config}[{split}]")
