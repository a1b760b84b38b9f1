"""Tokens per second of two llama-server builds (e.g. -march=native against the portable default), interleaved.

    python -m benchmarks.server_build_throughput NATIVE_LLAMA_SERVER PORTABLE_LLAMA_SERVER [ROUNDS]

Each round starts each build in turn on the fast model (one slot), sends three fixed /completion requests
(96 generated tokens, temperature 0, no prompt cache) and reads llama-server's own timings; the medians per
build are printed as JSON. Run it on an idle machine: under other CPU load llama.cpp slows down far more than
proportionally, and the comparison means nothing.
"""

from __future__ import annotations

import json
import statistics
import sys
import urllib.request

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


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    results = measure({"native": argv[0], "portable": argv[1]}, int(argv[2]) if len(argv) > 2 else 2)
    medians = {name: {k: round(statistics.median(v), 1) for k, v in r.items()} for name, r in results.items()}
    print(json.dumps({"median_tokens_per_s": medians, "samples": results}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
