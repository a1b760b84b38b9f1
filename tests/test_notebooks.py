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
    """benchmarks.compare if it exists with every function reproduce.ipynb uses, else skip the test."""
    if not (ROOT / "benchmarks" / "compare.py").exists():
        pytest.skip("benchmarks/compare.py does not exist yet")
    module = importlib.import_module("benchmarks.compare")
    missing = [name for name in COMPARE_FUNCTIONS if not hasattr(module, name)]
    if missing:
        pytest.skip(f"benchmarks.compare lacks {missing}")
    return module


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
    assert results.parents[0] == [] and all(p and p[0] < i for i, p in enumerate(results.parents) if i)
    assert len(results.per_val_instance_best_candidates) == 4
    assert namespace["optimized_test_score"] > namespace["seed_test_score"]
    for expected in ("Seed program:", "Optimized instruction", "└── #1 reflection", "Candidates on at least one front",
                     "Test score: seed"):
        assert expected in printed
    assert "ISO 4217" in namespace["instruction_of"](namespace["optimized"])


def test_reproduce_runs_on_a_synthetic_runs_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compare_module()
    pytest.skip("synthetic runs folder: written once benchmarks/compare.py's record format is known")
