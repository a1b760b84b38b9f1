"""Tests for benchmarks.retrieval: corpus reading, BM25 ranking, the on-disk index cache and thread safety."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import copy  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

pytest.importorskip("bm25s")

from benchmarks.common import DataNotFoundError, resolve_data_dir  # noqa: E402
from benchmarks.retrieval import (  # noqa: E402
    MANIFEST_NAME,
    BM25Retriever,
    Document,
    default_cache_root,
    documents_with_titles,
    file_sha256,
    get_retriever,
    read_corpus,
)

DOCS = [
    {"title": "Eiffel Tower", "text": "The Eiffel Tower is a wrought-iron lattice tower in Paris, France."},
    {"title": "Gustave Eiffel", "text": "Gustave Eiffel was a French civil engineer born in Dijon."},
    {"title": "Dijon", "text": "Dijon is a city in eastern France, famous for its mustard."},
    {"title": "Statue of Liberty", "text": "A colossal sculpture in New York Harbor; its framework was built by Eiffel."},
    {"title": "Ant &amp; Dec", "text": "A British presenting duo from Newcastle upon Tyne."},
    {"title": "Life Goes On (Fergie song)", "text": "A song recorded by Fergie and produced by Polow da Don."},
    {"title": "Marathon", "text": "A long-distance running race of about 42 kilometres."},
    {"title": "London", "text": "London is the capital city of England and the United Kingdom."},
]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
    return path


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "corpus.jsonl.gz", DOCS)


@pytest.fixture
def retriever(corpus_file: Path) -> BM25Retriever:
    return BM25Retriever.from_corpus_file(corpus_file, use_cache=False)


# -- corpus files ---------------------------------------------------------------------------------
def test_read_corpus_accepts_text_and_sentence_lists_and_decodes_entities(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [
        {"title": "A &amp; B", "text": "Plain text &amp; more."},
        {"title": "C", "sentences": ["First one.", " Second one."]},
        {"title": "D", "text": ["Listed.", " Sentences."]},
    ])
    docs = read_corpus(path)
    assert docs[0] == Document("A & B", "Plain text & more.")
    assert docs[1].text == "First one. Second one." and docs[1].sentences == ("First one.", "Second one.")
    assert docs[2].formatted == "D | Listed. Sentences."


def test_read_corpus_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="missing file"):
        read_corpus(tmp_path / "absent.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "ok", "text": "fine"}\nnot json\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: invalid JSON"):
        read_corpus(bad)
    no_text = write_jsonl(tmp_path / "no_text.jsonl", [{"title": "x"}])
    with pytest.raises(ValueError, match="no_text.jsonl:1"):
        read_corpus(no_text)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="no documents"):
        read_corpus(empty)


def test_documents_with_titles_streams_only_the_wanted_ones(corpus_file: Path) -> None:
    found = documents_with_titles(corpus_file, {"Dijon", "Ant & Dec", "Nowhere"})
    assert sorted(found) == ["Ant & Dec", "Dijon"]


# -- ranking ------------------------------------------------------------------------------------------
def test_search_ranks_the_matching_document_first(retriever: BM25Retriever) -> None:
    hits = retriever.search("Which engineer was born in Dijon?", k=3)
    assert hits[0].title == "Gustave Eiffel"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].formatted == f"Gustave Eiffel | {DOCS[1]['text']}"
    assert str(hits[0]) == hits[0].formatted


def test_titles_are_searchable_and_entities_decoded(retriever: BM25Retriever) -> None:
    assert retriever.search("Fergie song", k=1)[0].title == "Life Goes On (Fergie song)"
    assert retriever.search("Ant Dec presenting", k=1)[0].title == "Ant & Dec"


def test_stemming_matches_word_forms(retriever: BM25Retriever) -> None:
    pytest.importorskip("Stemmer")
    assert retriever.stemming
    assert retriever.search("runner runs", k=1)[0].title == "Marathon"  # "running" in the text


def test_search_returns_only_matching_documents_and_counts_empty_queries(retriever: BM25Retriever) -> None:
    assert len(retriever.search("Eiffel", k=50)) == 3  # k above the corpus size is clamped; only matches
    assert retriever.search("the of and", k=3) == []
    assert retriever.search("zzzqqq xyzzy", k=3) == []
    assert retriever.stats.empty_queries == 1 and retriever.stats.unmatched_queries == 1
    assert retriever.stats.queries == 3


def test_search_rejects_bad_arguments(retriever: BM25Retriever) -> None:
    with pytest.raises(ValueError, match="k must be a positive int"):
        retriever.search("Paris", k=0)
    with pytest.raises(TypeError, match="query must be a string"):
        retriever.search(None, k=1)  # type: ignore[arg-type]


def test_concurrent_queries_equal_sequential_ones(retriever: BM25Retriever) -> None:
    queries = [f"{w} {v}" for w in ("Paris tower", "engineer Dijon", "song Fergie", "capital England")
               for v in ("France", "city", "built", "")] * 5
    sequential = [[p.doc_id for p in retriever.search(q, 3)] for q in queries]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda q: [p.doc_id for p in retriever.search(q, 3)], queries))
    assert concurrent == sequential


def test_deepcopy_shares_the_index(retriever: BM25Retriever) -> None:
    assert copy.deepcopy(retriever) is retriever


# -- cache -----------------------------------------------------------------------------------------------
def test_index_is_cached_by_corpus_hash_and_reused(corpus_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = BM25Retriever.from_corpus_file(corpus_file, cache_dir=cache)
    assert not first.loaded_from_cache
    assert first.index_dir is not None and first.index_dir.parent.name == file_sha256(corpus_file)
    assert (first.index_dir / MANIFEST_NAME).exists()
    second = BM25Retriever.from_corpus_file(corpus_file, cache_dir=cache)
    assert second.loaded_from_cache and second.index_dir == first.index_dir
    for query in ("Dijon engineer", "New York sculpture", "capital"):
        assert [(p.doc_id, round(p.score, 5)) for p in first.search(query, 3)] == \
               [(p.doc_id, round(p.score, 5)) for p in second.search(query, 3)]

    changed = write_jsonl(tmp_path / "changed.jsonl.gz", DOCS + [{"title": "Extra", "text": "More text."}])
    third = BM25Retriever.from_corpus_file(changed, cache_dir=cache)
    assert not third.loaded_from_cache and third.index_dir != first.index_dir


def test_damaged_cache_is_rebuilt_with_a_warning(corpus_file: Path, tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    cache = tmp_path / "cache"
    first = BM25Retriever.from_corpus_file(corpus_file, cache_dir=cache)
    assert first.index_dir is not None
    (first.index_dir / MANIFEST_NAME).write_text("{broken")
    with caplog.at_level(logging.WARNING, logger="benchmarks.retrieval"):
        again = BM25Retriever.from_corpus_file(corpus_file, cache_dir=cache)
    assert not again.loaded_from_cache
    assert "ignoring unusable BM25 cache" in caplog.text
    assert BM25Retriever.from_corpus_file(corpus_file, cache_dir=cache).loaded_from_cache  # repaired


def test_default_cache_root_respects_xdg_cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_root() == tmp_path / "gepa-dspy" / "bm25"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_root() == Path("~/.cache").expanduser() / "gepa-dspy" / "bm25"


def test_get_retriever_shares_one_instance_per_corpus(corpus_file: Path, tmp_path: Path) -> None:
    a = get_retriever(corpus_file, cache_dir=tmp_path / "cache")
    b = get_retriever(str(corpus_file), cache_dir=tmp_path / "cache")
    assert a is b


# -- the real corpus (skipped without the shared data folder) --------------------------------------------
REAL_HOVER_CORPUS = resolve_data_dir() / "hover" / "corpus.jsonl.gz"


@pytest.mark.skipif(not REAL_HOVER_CORPUS.exists(), reason="shared benchmark data not available")
def test_real_corpus_query_is_fast_and_finds_the_article() -> None:
    import time

    retriever = get_retriever(REAL_HOVER_CORPUS)  # the user cache, as the benchmarks use it
    assert len(retriever) == 17_859
    start = time.perf_counter()
    hits = retriever.search("song recorded by Fergie produced by Polow da Don", 10)
    elapsed = time.perf_counter() - start
    assert "Life Goes On (Fergie song)" in [h.title for h in hits]
    assert elapsed < 0.1
