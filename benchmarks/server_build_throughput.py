"""Tokens per second of two llama-server builds (e.g. -march=native against the portable default), interleaved.

    python -m benchmarks.server_build_throughput NATIVE_LLAMA_SERVER PORTABLE_LLAMA_SERVER [ROUNDS]
    python -m benchmarks.server_build_throughput --same-code NATIVE_LLAMA_SERVER PORTABLE_LLAMA_SERVER

Each round starts each build in turn on the fast model (one slot), sends three fixed /completion requests
(96 generated tokens, temperature 0, no prompt cache) and reads llama-server's own timings; the medians per
build are printed as JSON. Run it on an idle machine: under other CPU load llama.cpp slows down far more than
proportionally, and the comparison means nothing.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import urllib.request
from pathlib import Path

from gepa_dspy.local_lm import start_server

PROMPT = ("Below is a list of payment messages. For each, write the currency code and amount.\n" * 6
          + "Message: Paid 1,299.00 EUR at Hotel Bellevue on 3 March.\nAnswer:")


def measure(builds: dict[str, str], rounds: int) -> dict[str, dict[str, list[float]]]:
    results: dict[str, dict[str, list[float]]] = {name: {"generated": [], "prompt": []} for name in builds}
    for r in range(rounds):
        for name, binary in builds.items():
            with start_server("fast", binary=binary, parallel=1, ctx_size=4096) as server:
                for i in range(3):
                    body = json.dumps({"prompt": f"{PROMPT} ({r}.{i})", "n_predict": 96, "temperature": 0,
                                       "cache_prompt": False, "ignore_eos": True}).encode()
                    request = urllib.request.Request(f"{server.url}/completion", body, {"Content-Type": "application/json"})
                    with urllib.request.urlopen(request, timeout=300) as reply:
                        timings = json.load(reply)["timings"]
                    results[name]["generated"].append(timings["predicted_per_second"])
                    results[name]["prompt"].append(timings["prompt_per_second"])
                    print(name, r, i, f"{timings['predicted_per_second']:.1f}", f"{timings['prompt_per_second']:.1f}",
                          file=sys.stderr, flush=True)
    return results


def kernel_code(server: str) -> list[str]:
    """The CPU backend's instructions (``libggml-cpu`` next to ``server``), addresses and offsets left out: two
    builds whose lists are equal run the same kernels, so their speed can only differ by noise."""
    [library] = sorted(Path(server).resolve().parent.glob("libggml-cpu.so.*.*"))
    listing = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(library)], capture_output=True, text=True,
                             check=True).stdout
    strip = re.compile(r"^\s*[0-9a-f]+:|0x[0-9a-f]+|#.*$|\b[0-9a-f]{4,}\b")
    return [strip.sub("", line) for line in listing.splitlines() if "file format" not in line]


def main(argv: list[str]) -> None:
    if argv[:1] == ["--same-code"] and len(argv) == 3:
        native, portable = kernel_code(argv[1]), kernel_code(argv[2])
        same = native == portable
        print(json.dumps({"same_kernel_code": same, "instructions": [len(native), len(portable)]}))
        return
    if len(argv) < 2:
        raise SystemExit(__doc__)
    results = measure({"native": argv[0], "portable": argv[1]}, int(argv[2]) if len(argv) > 2 else 2)
    medians = {name: {k: round(statistics.median(v), 1) for k, v in r.items()} for name, r in results.items()}
    print(json.dumps({"median_tokens_per_s": medians, "samples": results}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
