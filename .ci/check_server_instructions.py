"""Check that the installed llama.cpp server build holds no AMX tile and no AVX-512 instruction (issue 31).

    python .ci/check_server_instructions.py

A `-march=native` build on a cloud VM whose CPU advertises AMX died with SIGSEGV right after llama.cpp's
threadpool start; rebuilding without AMX fixed it. The default build (PORTABLE_CMAKE_ARGS in
gepa_dspy/local_lm/install_hints.py: GGML_NATIVE=OFF, AVX2 baseline) must therefore contain no AMX code at all,
and no AVX-512 code either, so that the same wheel runs on every x86-64 CPU with AVX2. This disassembles every
shared library and executable next to the server binary (objdump, from binutils) and fails, naming the file,
if any holds an AMX tile instruction or touches a zmm register. It prints the counts it found, so the CI log
shows the check looked at real code (the AVX2 `ymm` count is far above zero in libggml-cpu).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from gepa_dspy.local_lm.binary import find_server_binary

AMX = re.compile(r"\b(ldtilecfg|sttilecfg|tileloadd|tileloaddt1|tilestored|tilezero|tilerelease|tdp\w+)\b")
AVX512 = re.compile(r"%zmm\d+|%k[1-7]\b")
AVX2 = re.compile(r"%ymm\d+")


def counts(path: Path) -> dict[str, int]:
    listing = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(path)], capture_output=True, text=True,
                             check=True).stdout
    return {"amx": len(AMX.findall(listing)), "avx512": len(AVX512.findall(listing)),
            "avx2": len(AVX2.findall(listing))}


def main() -> int:
    if shutil.which("objdump") is None:
        print("check_server_instructions: objdump not found (install binutils)", file=sys.stderr)
        return 2
    server = find_server_binary()
    files = sorted(p for p in server.parent.iterdir() if p.is_file() and not p.is_symlink()
                   and (p.suffix == ".so" or ".so." in p.name or p == server))
    bad = []
    total_avx2 = 0
    for path in files:
        found = counts(path)
        total_avx2 += found["avx2"]
        print(f"{path.name}: {found}")
        if found["amx"] or found["avx512"]:
            bad.append(path.name)
    if bad:
        print(f"check_server_instructions: AMX or AVX-512 code in {bad}: this build is not the portable default",
              file=sys.stderr)
        return 1
    if total_avx2 == 0:
        print("check_server_instructions: no AVX2 code found either: the disassembly did not see the kernels",
              file=sys.stderr)
        return 1
    print(f"check_server_instructions: OK ({len(files)} files, no AMX, no AVX-512, {total_avx2} AVX2 operands)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
