"""Measure BM25 index build time, cached-index load time and query latency on a corpus file.

Example::

    python -m benchmarks.retrieval_speed --corpus ../shared/data/hover/corpus.jsonl.gz \
        --queries ../shared/data/hover/claims.jsonl.gz --query-field claim

The index is built into a fresh temporary cache folder (so the build is really measured), then loaded
again from it; queries are timed one by one (after a few warm-up queries) and also run from several
threads at once, checking that the concurrent results equal the sequential ones.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import resolve_data_dir
from benchmarks.retrieval import BM25Retriever, iter_jsonl


def load_queries(path: Path, query_field: str, limit: int) -> list[str]:
    """The first ``limit`` values of ``query_field`` in a JSON-lines file."""
    queries = [rec[query_field] for _, rec in iter_jsonl(path) if isinstance(rec, dict) and query_field in rec]
    if not queries:
        raise ValueError(f"{path}: no record has a {query_field!r} field")
    return queries[:limit]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(corpus: Path, queries: list[str], k: int, threads: int, warmup: int = 5) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bm25-speed-") as cache:
        built = BM25Retriever.from_corpus_file(corpus, cache_dir=cache)
        start = time.perf_counter()
        loaded = BM25Retriever.from_corpus_file(corpus, cache_dir=cache)
        load_total = time.perf_counter() - start
    if built.loaded_from_cache or not loaded.loaded_from_cache:
        raise RuntimeError("expected a fresh build followed by a cache load")
    for query in queries[:warmup]:
        loaded.search(query, k)
    latencies = []
    sequential = []
    for query in queries:
        t0 = time.perf_counter()
        sequential.append([p.doc_id for p in loaded.search(query, k)])
        latencies.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        concurrent = list(pool.map(lambda q: [p.doc_id for p in loaded.search(q, k)], queries))
    concurrent_seconds = time.perf_counter() - t0
    ms = [x * 1000 for x in latencies]
    return {
        "corpus": str(corpus),
        "documents": len(loaded),
        "stemming": loaded.stemming,
        "build_seconds": round(built.build_seconds, 2),
        "cached_index_load_seconds": round(loaded.build_seconds, 3),
        "load_with_corpus_read_seconds": round(load_total, 2),
        "queries": len(queries),
        "k": k,
        "query_ms_mean": round(statistics.fmean(ms), 2),
        "query_ms_p50": round(percentile(ms, 0.5), 2),
        "query_ms_p95": round(percentile(ms, 0.95), 2),
        "query_ms_max": round(max(ms), 2),
        "threads": threads,
        "concurrent_queries_per_second": round(len(queries) / concurrent_seconds, 1),
        "concurrent_equals_sequential": concurrent == sequential,
    }


def main(argv: Sequence[str] | None = None) -> int:
    data = resolve_data_dir()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=data / "hover" / "corpus.jsonl.gz")
    parser.add_argument("--queries", type=Path, default=data / "hover" / "claims.jsonl.gz")
    parser.add_argument("--query-field", default="claim")
    parser.add_argument("--num-queries", type=int, default=300)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    queries = load_queries(args.queries, args.query_field, args.num_queries)
    print(json.dumps(measure(args.corpus, queries, args.k, args.threads), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
