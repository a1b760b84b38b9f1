"""BM25 retrieval over a corpus of Wikipedia paragraphs, with the index cached on disk.

The retriever follows the GEPA paper's retrieval setting: BM25 (``bm25s``, k1=0.9, b=0.4, English
stopwords, Snowball English stemming through ``PyStemmer`` when it is installed) over documents
formatted as ``"{title} | {text}"``.

The index is built once per corpus file and cached under
``$XDG_CACHE_HOME/gepa-dspy/bm25/<sha256 of the corpus file>/<settings>/`` (``~/.cache`` when
``XDG_CACHE_HOME`` is unset), so later processes only load it. The documents themselves are always
re-read from the corpus file; the file's hash guarantees the cached index matches them.

A corpus file is JSON lines (optionally gzip-compressed), one document per line with a ``title`` and
either ``text`` (a string or a list of sentences) or ``sentences`` (a list of strings). HTML
entities in titles and texts (``&amp;`` in the 2017 Wikipedia dump) are decoded.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import Counters, DataNotFoundError

logger = logging.getLogger(__name__)

BM25_K1 = 0.9
BM25_B = 0.4
STOPWORDS = "en"
STEMMER_LANGUAGE = "english"
#: Bump when the on-disk layout or the tokenisation changes, so old caches are not reused.
INDEX_FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
CACHE_ENV_VAR = "XDG_CACHE_HOME"


@dataclass(frozen=True)
class Passage:
    """A search hit: a document with its position in the corpus and its BM25 score."""

    title: str
    text: str
    score: float
    doc_id: int

    @property
    def formatted(self) -> str:
        """``"{title} | {text}"``, the form programs hand to the LM."""
        return f"{self.title} | {self.text}"

    def __str__(self) -> str:
        return self.formatted


@dataclass(frozen=True)
class Document:
    """One corpus entry. ``sentences`` is empty when the source gave the text as a single string."""

    title: str
    text: str
    sentences: tuple[str, ...] = ()

    @property
    def formatted(self) -> str:
        """The text BM25 indexes and the LM reads: ``"{title} | {text}"``."""
        return f"{self.title} | {self.text}"


@dataclass
class SearchStats(Counters):
    """Counters for queries that could not be answered normally (reported, never silent)."""

    queries: int = 0
    #: Queries with no indexable term (empty, or only stopwords/punctuation): no passages returned.
    empty_queries: int = 0
    #: Queries whose terms occur in no document: no passages returned.
    unmatched_queries: int = 0


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _document_from_record(record: Any, where: str) -> Document:
    if not isinstance(record, dict) or not isinstance(record.get("title"), str):
        raise ValueError(f"{where}: expected a JSON object with a string 'title'")
    raw = record.get("text", record.get("sentences"))
    if isinstance(raw, str):
        sentences: tuple[str, ...] = ()
        text = raw
    elif isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        # Wikipedia-dump sentences carry their own leading spaces, so they join without a separator.
        text = "".join(raw)
        sentences = tuple(html.unescape(s).strip() for s in raw)
    else:
        raise ValueError(f"{where}: expected 'text' (string or list of strings) or 'sentences' (list of strings)")
    return Document(title=html.unescape(record["title"]).strip(), text=html.unescape(text).strip(), sentences=sentences)


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, parsed_object)`` for each non-blank line of a (gzipped) JSON-lines file."""
    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(f"missing file: {path}")
    with _open_text(path) as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{line_no}: invalid JSON ({exc.msg})") from None


def read_corpus(path: str | os.PathLike[str]) -> list[Document]:
    """Read every document of a corpus file (see the module docstring for the format)."""
    docs = [_document_from_record(rec, f"{path}:{line_no}") for line_no, rec in iter_jsonl(path)]
    if not docs:
        raise ValueError(f"{path}: the corpus holds no documents")
    return docs


def documents_with_titles(path: str | os.PathLike[str], titles: set[str]) -> dict[str, Document]:
    """The documents of a corpus file whose (decoded) titles are in ``titles``, streamed so that a
    multi-million-document file is never held in memory."""
    found: dict[str, Document] = {}
    for line_no, rec in iter_jsonl(path):
        if isinstance(rec, dict) and html.unescape(str(rec.get("title", ""))).strip() in titles:
            doc = _document_from_record(rec, f"{path}:{line_no}")
            found[doc.title] = doc
    return found


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes (the cache key of its index)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_cache_root() -> Path:
    """``$XDG_CACHE_HOME/gepa-dspy/bm25``, or ``~/.cache/gepa-dspy/bm25`` when the variable is unset."""
    base = os.environ.get(CACHE_ENV_VAR) or "~/.cache"
    return Path(base).expanduser() / "gepa-dspy" / "bm25"


def _stemmer_available() -> bool:
    try:
        import Stemmer  # noqa: F401  (PyStemmer)
    except ImportError:
        return False
    return True


_thread_local = threading.local()


def _thread_stemmer() -> Any:
    # PyStemmer's Stemmer objects keep an internal cache and are not safe to share between threads.
    stemmer = getattr(_thread_local, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _thread_local.stemmer = Stemmer.Stemmer(STEMMER_LANGUAGE)
    return stemmer


def _import_bm25s() -> Any:
    try:
        import bm25s
    except ImportError as exc:
        raise ImportError(
            "BM25 retrieval needs the 'bm25s' package: pip install bm25s PyStemmer "
            "(or pip install 'gepa-dspy[bench]')"
        ) from exc
    return bm25s


class BM25Retriever:
    """BM25 search over a fixed list of documents.

    Thread-safe for concurrent ``search`` calls: the index is read-only after construction and each
    thread gets its own stemmer. Deep copies (``dspy.Module.deepcopy``) share the same retriever.
    """

    def __init__(self, documents: list[Document], bm25: Any, *, stemming: bool, index_dir: Path | None = None,
                 loaded_from_cache: bool = False, build_seconds: float = 0.0) -> None:
        self.documents = documents
        self.stemming = stemming
        self.index_dir = index_dir
        self.loaded_from_cache = loaded_from_cache
        #: Seconds spent building (or, when ``loaded_from_cache``, loading) the index.
        self.build_seconds = build_seconds
        self.stats = SearchStats()
        self._bm25 = bm25

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_documents(cls, documents: list[Document], *, stemming: bool | None = None) -> BM25Retriever:
        """Build an in-memory index (no disk cache). ``stemming=None`` stems when PyStemmer is installed."""
        if not documents:
            raise ValueError("cannot index an empty list of documents")
        stemming = _stemmer_available() if stemming is None else stemming
        start = time.perf_counter()
        bm25 = _build_bm25(documents, stemming)
        return cls(documents, bm25, stemming=stemming, build_seconds=time.perf_counter() - start)

    @classmethod
    def from_corpus_file(cls, path: str | os.PathLike[str], *, cache_dir: str | os.PathLike[str] | None = None,
                         use_cache: bool = True, stemming: bool | None = None) -> BM25Retriever:
        """Read a corpus file and load its cached index, building (and caching) it on first use.

        ``cache_dir`` replaces the default cache root (:func:`default_cache_root`).
        """
        path = Path(path)
        documents = read_corpus(path)
        stemming = _stemmer_available() if stemming is None else stemming
        if not use_cache:
            return cls.from_documents(documents, stemming=stemming)
        root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_root()
        index_dir = root / file_sha256(path) / _settings_tag(stemming)
        start = time.perf_counter()
        bm25 = _load_cached_index(index_dir, num_docs=len(documents), stemming=stemming)
        if bm25 is not None:
            return cls(documents, bm25, stemming=stemming, index_dir=index_dir, loaded_from_cache=True,
                       build_seconds=time.perf_counter() - start)
        bm25 = _build_bm25(documents, stemming)
        build_seconds = time.perf_counter() - start
        _save_index(bm25, index_dir, num_docs=len(documents), stemming=stemming, source=path)
        logger.info("built BM25 index for %s (%d docs) in %.1fs, cached at %s", path, len(documents),
                    build_seconds, index_dir)
        return cls(documents, bm25, stemming=stemming, index_dir=index_dir, build_seconds=build_seconds)

    # -- search --------------------------------------------------------------------------------
    def search(self, query: str, k: int) -> list[Passage]:
        """The top-``k`` passages for ``query``, best first.

        Only documents sharing at least one (stemmed, non-stopword) term with the query are returned,
        so the list is shorter than ``k`` when fewer match; such queries are counted in ``stats``.
        """
        if not isinstance(query, str):
            raise TypeError(f"query must be a string, got {type(query).__name__}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        self.stats.add("queries")
        tokens = self._query_tokens(query)
        if not tokens:
            self.stats.add("empty_queries")
            logger.warning("BM25 query has no searchable terms, returning no passages: %r", query[:200])
            return []
        k = min(k, len(self.documents))
        results = self._bm25.retrieve([tokens], k=k, show_progress=False, n_threads=0)
        passages = [
            Passage(title=self.documents[int(i)].title, text=self.documents[int(i)].text, score=float(s), doc_id=int(i))
            for i, s in zip(results.documents[0], results.scores[0])
            if s > 0
        ]
        if not passages:
            self.stats.add("unmatched_queries")
            logger.warning("BM25 query matched no document, returning no passages: %r", query[:200])
        return passages

    def __call__(self, query: str, k: int) -> list[Passage]:
        return self.search(query, k)

    def __len__(self) -> int:
        return len(self.documents)

    def __deepcopy__(self, memo: dict[int, Any]) -> BM25Retriever:
        return self  # immutable after construction; copying the index would only waste memory

    def _query_tokens(self, query: str) -> list[str]:
        bm25s = _import_bm25s()
        stemmer = _thread_stemmer() if self.stemming else None
        tokens = bm25s.tokenize([query], stopwords=STOPWORDS, stemmer=stemmer, return_ids=False, show_progress=False)
        return [t for t in tokens[0] if t]


def _settings_tag(stemming: bool) -> str:
    stem = STEMMER_LANGUAGE if stemming else "none"
    return f"v{INDEX_FORMAT_VERSION}-k1_{BM25_K1}-b_{BM25_B}-stop_{STOPWORDS}-stem_{stem}"


def _build_bm25(documents: list[Document], stemming: bool) -> Any:
    bm25s = _import_bm25s()
    stemmer = _thread_stemmer() if stemming else None
    tokens = bm25s.tokenize([d.formatted for d in documents], stopwords=STOPWORDS, stemmer=stemmer,
                            show_progress=False)
    bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B)
    bm25.index(tokens, show_progress=False)
    return bm25


def _manifest(num_docs: int, stemming: bool) -> dict[str, Any]:
    return {"format": INDEX_FORMAT_VERSION, "num_docs": num_docs, "k1": BM25_K1, "b": BM25_B,
            "stopwords": STOPWORDS, "stemmer": STEMMER_LANGUAGE if stemming else None}


def _load_cached_index(index_dir: Path, *, num_docs: int, stemming: bool) -> Any | None:
    manifest_path = index_dir / MANIFEST_NAME
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        expected = _manifest(num_docs, stemming)
        if {key: manifest.get(key) for key in expected} != expected:
            raise ValueError(f"manifest {manifest} does not match {expected}")
        bm25s = _import_bm25s()
        return bm25s.BM25.load(str(index_dir), show_progress=False)
    except Exception as exc:  # a damaged or foreign cache is rebuilt, loudly
        logger.warning("ignoring unusable BM25 cache at %s (%s); rebuilding it", index_dir, exc)
        return None


def _save_index(bm25: Any, index_dir: Path, *, num_docs: int, stemming: bool, source: Path) -> None:
    """Write the index to a temporary sibling folder, then move it into place (safe across processes)."""
    try:
        index_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp_dir = Path(tempfile.mkdtemp(prefix=".tmp-", dir=index_dir.parent))
        bm25.save(str(tmp_dir), show_progress=False)
        manifest = {**_manifest(num_docs, stemming), "source": str(source)}
        (tmp_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
        if index_dir.exists():
            shutil.rmtree(index_dir, ignore_errors=True)  # a stale or damaged cache
        try:
            os.replace(tmp_dir, index_dir)
        except OSError:
            # Another process finished first; its index is equivalent, so ours is dropped.
            shutil.rmtree(tmp_dir, ignore_errors=True)
    except OSError as exc:
        logger.warning("could not cache the BM25 index at %s (%s); it will be rebuilt next time", index_dir, exc)


_RETRIEVERS: dict[tuple[str, str | None, bool | None], BM25Retriever] = {}
_RETRIEVERS_LOCK = threading.Lock()


def get_retriever(path: str | os.PathLike[str], *, cache_dir: str | os.PathLike[str] | None = None,
                  stemming: bool | None = None) -> BM25Retriever:
    """A process-wide shared retriever for a corpus file (loaded or built once per process)."""
    resolved = Path(path).expanduser().resolve()
    stat = resolved.stat() if resolved.exists() else None
    key = (f"{resolved}:{stat.st_size if stat else 0}:{stat.st_mtime_ns if stat else 0}",
           None if cache_dir is None else str(cache_dir), stemming)
    with _RETRIEVERS_LOCK:
        retriever = _RETRIEVERS.get(key)
        if retriever is None:
            retriever = BM25Retriever.from_corpus_file(resolved, cache_dir=cache_dir, stemming=stemming)
            _RETRIEVERS[key] = retriever
        return retriever
