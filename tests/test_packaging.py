"""Installing or importing gepa_dspy has no side effects beyond its own package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_import_leaves_litellm_cost_map_setting_alone():
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    code = "import os, gepa_dspy; print(os.environ.get('LITELLM_LOCAL_MODEL_COST_MAP', '<unset>'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "<unset>"


def test_only_the_library_is_installed():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert include == ["gepa_dspy*"], "benchmarks/ must not be installed as a top-level package"
