"""IFBench data: the paper's 294 test prompts and IFEval prompts for train and val."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import dspy

from benchmarks.common import (
    Scale,
    Splits,
    require_files,
    resolve_data_dir,
    split_sizes,
)
from benchmarks.ifbench.registry import REGISTRY
from benchmarks.ifbench.text import set_stopwords_dir

NAME = "ifbench"
DATA_SUBDIR = "ifbench"
TEST_FILE = "IFBench_test.jsonl"
TRAIN_VAL_FILE = "IFEval_input_data.jsonl"
REQUIRED_FIELDS = ("prompt", "instruction_id_list", "kwargs")


def record_to_example(record: Mapping[str, Any], where: str) -> dspy.Example:
    """One JSONL record as a ``dspy.Example`` with input ``prompt``.

    Labels: ``instruction_id_list``, ``kwargs`` (one dict per instruction, unused keys dropped) and
    ``key``. Raises ValueError naming ``where`` for a malformed record or an instruction id that no
    checker handles, so a bad data file fails at load time rather than mid-evaluation.
    """
    missing = [f for f in REQUIRED_FIELDS if f not in record]
    if missing:
        raise ValueError(f"{where}: IFBench record lacks {missing}")
    ids = list(record["instruction_id_list"])
    kwargs = [dict(k or {}) for k in record["kwargs"]]
    if len(ids) != len(kwargs):
        raise ValueError(f"{where}: {len(ids)} instruction ids but {len(kwargs)} kwargs dicts")
    unknown = [i for i in ids if i not in REGISTRY]
    if unknown:
        raise ValueError(f"{where}: unknown IFBench instruction id(s) {unknown}; no checker is registered for them")
    return dspy.Example(
        key=record.get("key", where),
        prompt=record["prompt"],
        instruction_id_list=ids,
        kwargs=[{k: v for k, v in kw.items() if v is not None} for kw in kwargs],
    ).with_inputs("prompt")


def read_examples(path: Path) -> list[dspy.Example]:
    """Every record of a JSONL file as an example, in file order."""
    examples = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{line_number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{where}: not valid JSON ({error})") from None
            examples.append(record_to_example(record, where))
    return examples


def seeded_sample(pool: list[dspy.Example], size: int, seed: str) -> list[dspy.Example]:
    """``size`` items of ``pool`` drawn with ``seed``, kept in pool order; the whole pool if smaller."""
    if size >= len(pool):
        return list(pool)
    rng = random.Random(seed)
    return [pool[i] for i in sorted(rng.sample(range(len(pool)), size))]


def splits_from_pools(test_pool: list[dspy.Example], train_val_pool: list[dspy.Example], scale: Scale | str,
                      seed: int, sizes: tuple[int, int, int] | None) -> Splits:
    """Test: a seeded sample of the test pool (all of it when the size allows). Train and val: one
    seeded draw of ``n_train + n_val`` distinct train/val-pool items, cut into train then val, so
    the two never overlap."""
    n_train, n_val, n_test = split_sizes(scale, sizes)
    if n_train + n_val > len(train_val_pool):
        raise ValueError(
            f"{NAME}: train ({n_train}) + val ({n_val}) exceed the {len(train_val_pool)} prompts of {TRAIN_VAL_FILE}"
        )
    rng = random.Random(f"{NAME}-train-val-{seed}")
    chosen = rng.sample(range(len(train_val_pool)), n_train + n_val)
    train = [train_val_pool[i] for i in sorted(chosen[:n_train])]
    val = [train_val_pool[i] for i in sorted(chosen[n_train:])]
    test = seeded_sample(test_pool, n_test, f"{NAME}-test-{seed}")
    return Splits(train=train, val=val, test=test)


def load_splits(scale: Scale | str = "small", seed: int = 0, data_dir: str | os.PathLike[str] | None = None,
                sizes: tuple[int, int, int] | None = None) -> Splits:
    """IFBench splits from ``<data_dir>/ifbench``.

    Test is ``IFBench_test.jsonl``, the GEPA paper's exact 294 prompts (all of them at "paper" scale,
    a seeded sample at "small" scale or with a smaller ``sizes[2]``). Train and val are disjoint
    seeded samples of ``IFEval_input_data.jsonl`` (the paper's IF-RLVR training prompts are not
    public in usable form; IFEval prompts carry the same constraint family). The data directory is
    also remembered for the stopword list that some checkers read.
    """
    folder = resolve_data_dir(data_dir) / DATA_SUBDIR
    test_path, train_val_path = require_files(folder, [TEST_FILE, TRAIN_VAL_FILE], NAME)
    set_stopwords_dir(folder)
    return splits_from_pools(read_examples(test_path), read_examples(train_val_path), scale, seed, sizes)


def _hub_examples(rows: Iterable[Mapping[str, Any]], source: str) -> list[dspy.Example]:
    return [record_to_example(row, f"{source}[{i}]") for i, row in enumerate(rows)]


def load_public_splits(scale: Scale | str = "small", seed: int = 0, sizes: tuple[int, int, int] | None = None, *,
                       test_dataset: str = "allenai/IFBench_test", train_val_dataset: str = "google/IFEval",
                       **load_kwargs: Any) -> Splits:
    """The same splits from the public Hugging Face datasets (needs ``datasets`` and network access)."""
    try:
        import datasets
    except ImportError:
        raise ImportError("load_public_splits needs the 'datasets' package (pip install datasets)") from None
    test_rows = datasets.load_dataset(test_dataset, split="train", **load_kwargs)
    train_val_rows = datasets.load_dataset(train_val_dataset, split="train", **load_kwargs)
    return splits_from_pools(_hub_examples(test_rows, test_dataset), _hub_examples(train_val_rows, train_val_dataset),
                             scale, seed, sizes)
