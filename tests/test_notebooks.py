"""The notebooks under notebooks/ stay valid and runnable without a kernel or a real LM.

* both are valid nbformat v4 notebooks and every code cell compiles (IPython ``%``/``!`` lines removed);
* every ``import`` in their code cells resolves: the module imports and the imported names exist;
* quickstart.ipynb runs top to bottom (its code cells ``exec``-ed in one namespace) with the scripted LMs of
  notebooks/offline_lms.py and a tiny budget;
* reproduce.ipynb runs against a tiny synthetic runs folder (only once benchmarks/compare.py provides the
  functions it uses);
* the committed quickstart holds the outputs of a real run (executed, no errors, not the scripted LMs).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Iterator

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
QUICKSTART = NOTEBOOK_DIR / "quickstart.ipynb"
REPRODUCE = NOTEBOOK_DIR / "reproduce.ipynb"
NOTEBOOKS = [QUICKSTART, REPRODUCE]
COMPARE_FUNCTIONS = ("load_records", "results_frame", "table_markdown", "plot_score_vs_calls", "plot_prompt_lengths")


def read(path: Path) -> Any:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def code_cells(nb: Any) -> list[Any]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def python_source(cell: Any) -> str:
    """The cell's source without IPython magics and shell escapes (``%...``, ``!...``)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines())


def optional_import_nodes(tree: ast.AST) -> set[int]:
    """ids of import statements inside ``try: ... except ImportError`` (allowed to be missing)."""
    optional: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        caught = set()
        for handler in node.handlers:
            types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            caught |= {t.id for t in types if isinstance(t, ast.Name)}
        if caught & {"ImportError", "ModuleNotFoundError"}:
            for stmt in node.body:
                optional |= {id(n) for n in ast.walk(stmt) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return optional


def imports_of(nb: Any) -> list[tuple[str, str | None]]:
    """(module, name) for every import in the code cells; name is None for ``import module``."""
    found: list[tuple[str, str | None]] = []
    for cell in code_cells(nb):
        tree = ast.parse(python_source(cell))
        optional = optional_import_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in optional:
                continue
            if isinstance(node, ast.Import):
                found += [(alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"relative import in a notebook: {ast.unparse(node)}"
                found += [(node.module or "", alias.name) for alias in node.names]
    return found


@contextlib.contextmanager
def notebook_environment(monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[None]:
    """Run as Jupyter would: cwd = notebooks/, which is importable; restores gepa_dspy's logger afterwards."""
    monkeypatch.chdir(NOTEBOOK_DIR)
    monkeypatch.syspath_prepend(str(NOTEBOOK_DIR))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    gepa_log = logging.getLogger("gepa_dspy")
    level, handlers = gepa_log.level, list(gepa_log.handlers)
    try:
        yield
    finally:
        gepa_log.setLevel(level)
        gepa_log.handlers[:] = handlers


def run_cells(nb: Any, overrides: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
    """exec every code cell in one namespace; ``overrides`` are applied right after the ``parameters`` cell."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for index, cell in enumerate(code_cells(nb)):
            code = compile(python_source(cell), f"<cell {index}>", "exec")
            exec(code, namespace)  # noqa: S102 - running our own notebook is the point of this test
            if "parameters" in cell.metadata.get("tags", []):
                namespace.update(overrides or {})
    return namespace, out.getvalue()


def compare_module() -> Any:
    """benchmarks.compare if it imports and has every function reproduce.ipynb uses, else skip the test."""
    try:
        module = importlib.import_module("benchmarks.compare")
    except ImportError as exc:
        pytest.skip(f"benchmarks.compare does not import: {exc}")
    missing = [name for name in COMPARE_FUNCTIONS if not hasattr(module, name)]
    if missing:
        pytest.skip(f"benchmarks.compare lacks {missing}")
    return module


def synthetic_record(benchmark: str, optimizer: str, seed: int) -> dict[str, Any]:
    """A finished run's record.json with the fields benchmarks.compare's report reads (see docs/compare.md)."""
    test = {"baseline": 0.3, "gepa": 0.5}[optimizer] + 0.05 * seed
    calls = 0 if optimizer == "baseline" else 30 + seed
    instruction = f"Synthetic {optimizer} instruction for {benchmark}, seed {seed}."
    return {
        "schema": 1, "benchmark": benchmark, "optimizer": optimizer, "seed": seed, "scale": "tiny", "split_seed": seed,
        "sizes": {"train": 4, "val": 4, "test": 8},
        "lms": {"task": {"model": "scripted:task"}, "reflection": {"model": "scripted:reflection"}},
        "budget": None if optimizer == "baseline" else 40, "budget_source": "--budget", "metric_calls": calls,
        "wall_seconds": {"optimize": 12.0 * (optimizer != "baseline"), "val_eval": 1.0, "test_eval": 2.0, "total": 15.0},
        "lm_usage": {"optimization": {"task": {"calls": calls, "prompt_tokens": 100 * calls, "completion_tokens": 10 * calls},
                                      "reflection": {"calls": 2 * (optimizer != "baseline"), "prompt_tokens": 900,
                                                     "completion_tokens": 120}}},
        "val": {"mean": test, "n": 4, "scores": [test] * 4, "errors": 0},
        "test": {"mean": test, "n": 8, "scores": [test] * 8, "errors": 0},
        "prompts": {"tokenizer": "words", "instructions": {"predict": instruction},
                    "instruction_chars": len(instruction), "instruction_tokens": len(instruction.split()),
                    "demos": 0, "demo_tokens": 0},
        "curve": [] if optimizer == "baseline" else [[4, 0.25], [calls, test]],
        "finished_at": "2026-11-30T00:00:00+00:00",
    }


def write_runs_folder(root: Path) -> int:
    count = 0
    for benchmark in ("ifbench", "pupa"):
        for optimizer in ("baseline", "gepa"):
            for seed in (0, 1):
                folder = root / benchmark / optimizer / f"seed{seed}"
                folder.mkdir(parents=True)
                (folder / "record.json").write_text(json.dumps(synthetic_record(benchmark, optimizer, seed)))
                count += 1
    return count


# -- static checks --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_valid_nbformat_4(path: Path) -> None:
    nb = read(path)
    assert nb.nbformat == 4
    nbformat.validate(nb)
    assert code_cells(nb), "a notebook without code"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_code_cell_compiles(path: Path) -> None:
    for index, cell in enumerate(code_cells(read(path))):
        compile(python_source(cell), f"{path.name} cell {index}", "exec")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_imports_resolve(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    imports = imports_of(read(path))
    assert imports
    if any(module.startswith("benchmarks.compare") for module, _ in imports):
        compare_module()
    monkeypatch.syspath_prepend(str(NOTEBOOK_DIR))
    for module_name, name in imports:
        module = importlib.import_module(module_name)
        if name is not None and name != "*" and not hasattr(module, name):
            importlib.import_module(f"{module_name}.{name}")  # a submodule; raises if it does not exist either


def test_committed_quickstart_holds_outputs_of_a_real_run() -> None:
    cells = code_cells(read(QUICKSTART))
    assert all(cell.execution_count for cell in cells), "commit quickstart.ipynb executed"
    outputs = [output for cell in cells for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"], "the committed run raised"
    text = "".join(str(o.get("text", "")) for o in outputs)
    assert "Optimized program:" in text
    assert "scripted stand-in" not in text, "committed outputs must come from the local model, not the scripted LMs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_outputs_have_no_errors(path: Path) -> None:
    errors = [o for cell in code_cells(read(path)) for o in cell.outputs if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]


# -- running the notebooks --------------------------------------------------------------------------


def test_quickstart_runs_with_scripted_lms(monkeypatch: pytest.MonkeyPatch) -> None:
    tiny = {"TRAIN_SIZE": 6, "VAL_SIZE": 4, "TEST_SIZE": 4, "MAX_METRIC_CALLS": 24, "NUM_THREADS": 2}
    with notebook_environment(monkeypatch, GEPA_DSPY_NOTEBOOK_LM="scripted"):
        namespace, printed = run_cells(read(QUICKSTART), overrides=tiny)

    results = namespace["results"]
    assert namespace["optimizer"].max_metric_calls == 24 and results.total_metric_calls <= 24
    assert len(namespace["valset"]) == 4 and len(namespace["testset"]) == 4
    # The scripted reflection LM adds one rule per step, each rule raises the score: a chain of accepted children.
    assert len(results.candidates) >= 2
    assert results.parents[0] == [None] and all(p and p[0] < i for i, p in enumerate(results.parents) if i)
    assert len(results.per_val_instance_best_candidates) == 4
    assert namespace["optimized_test_score"] > namespace["seed_test_score"]
    for expected in ("Seed program:", "Optimized instruction", "└── #1 reflection", "Candidates on at least one front",
                     "Test score: seed"):
        assert expected in printed
    assert "ISO 4217" in namespace["instruction_of"](namespace["optimized"])


def test_reproduce_runs_on_a_synthetic_runs_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compare_module()
    runs = tmp_path / "runs" / "synthetic"
    n_runs = write_runs_folder(runs)
    with notebook_environment(monkeypatch, GEPA_DSPY_RUNS=str(runs)):
        namespace, printed = run_cells(read(REPRODUCE))

    assert len(namespace["records"]) == n_runs and len(namespace["frame"]) == n_runs
    assert f"{n_runs} run record(s) in {runs}" in printed
    table = namespace["table"]
    assert "GEPA (ours)" in table and "IFBench" in table and "PUPA" in table
    for png in (namespace["score_png"], namespace["length_png"]):
        assert Path(png).stat().st_size > 1000 and not Path(png).is_relative_to(runs)
    assert "Synthetic gepa instruction for pupa, seed 1." in printed
    assert sorted(p.name for p in runs.iterdir()) == ["ifbench", "pupa"]  # nothing written into the runs folder


def test_reproduce_says_what_to_do_without_a_runs_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compare_module()
    with notebook_environment(monkeypatch, GEPA_DSPY_RUNS=str(tmp_path / "missing")):
        with pytest.raises(FileNotFoundError, match="python -m benchmarks.compare"):
            run_cells(read(REPRODUCE))
