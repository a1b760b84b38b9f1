"""The CI check that the default llama.cpp build holds no AMX or AVX-512 code (.ci/check_server_instructions.py)
finds such code when it is there: a tiny library compiled with AMX tile and AVX-512 instructions."""

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

CHECK = Path(__file__).resolve().parents[1] / ".ci" / "check_server_instructions.py"

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("objdump") is None,
                                reason="needs gcc and objdump")


def _check_module():
    spec = importlib.util.spec_from_file_location("check_server_instructions", CHECK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _compile(tmp_path: Path, source: str, *flags: str) -> Path:
    (tmp_path / "k.c").write_text("#include <immintrin.h>\n" + source)
    library = tmp_path / "libk.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", *flags, str(tmp_path / "k.c"), "-o", str(library)], check=True)
    return library


def test_amx_and_avx512_code_is_found(tmp_path):
    library = _compile(tmp_path, "void f(float *a, float *b) { _mm512_storeu_ps(b, _mm512_loadu_ps(a)); }\n"
                                 "void g(void *c) { _tile_loadconfig(c); _tile_dpbssd(0, 1, 2); _tile_release(); }\n",
                       "-mavx512f", "-mamx-tile", "-mamx-int8")
    found = _check_module().counts(library)
    assert found["amx"] == 3 and found["avx512"] == 2


def test_avx2_code_passes(tmp_path):
    library = _compile(tmp_path, "void f(float *a, float *b) { _mm256_storeu_ps(b, _mm256_loadu_ps(a)); }\n", "-mavx2")
    assert _check_module().counts(library) == {"amx": 0, "avx512": 0, "avx2": 2}
