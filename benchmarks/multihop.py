"""Pieces the two multi-hop retrieval benchmarks (HotpotQA, HoVer) share.

Gold documents travel inside each ``dspy.Example`` as ``gold_docs``: a list of plain dicts
``{"title": str, "text": str, "key_sentences": [str, ...]}`` (JSON-friendly, so examples can be saved),
where ``key_sentences`` are the annotated supporting sentences of that document.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from dspy.evaluate.metrics import normalize_text

import os

from benchmarks.common import require_files, resolve_data_dir
from benchmarks.retrieval import BM25Retriever, Document, get_retriever

logger = logging.getLogger(__name__)

EXCERPT_CHARS = 240

# A sentence ends at . ! or ? followed by whitespace and an upper-case letter, digit, quote or bracket.
# Approximate (abbreviations such as "U.S. Army" split too): used only to show supporting sentences.
_SENTENCE_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


def normalize_title(title: str) -> str:
    """A title compared the way the paper's HoVer metric compares them (DSPy's ``normalize_text``),
    after decoding HTML entities so ``"Ant &amp; Dec"`` and ``"Ant & Dec"`` agree."""
    return normalize_text(html.unescape(title))


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences (heuristic; see ``_SENTENCE_BOUNDARY``)."""
    return [s.strip() for s in _SENTENCE_BOUNDARY.split(text.strip()) if s.strip()]


def excerpt(text: str, max_chars: int = EXCERPT_CHARS) -> str:
    """The start of ``text``, cut at a word boundary, with an ellipsis when shortened."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars].rsplit(" ", 1)[0]
    return cut + " ..."


class FallbackCounter:
    """Counts (and logs once per kind) the places where a loader had to approximate the data."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, kind: str, detail: str) -> None:
        if kind not in self.counts:
            logger.warning("%s (first case: %s); further cases are counted silently", kind, detail)
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def summary(self, what: str) -> None:
        for kind, n in self.counts.items():
            logger.warning("%s: %d case(s) of: %s", what, n, kind)


def key_sentences(doc: Document, sent_ids: Sequence[int], fallbacks: FallbackCounter) -> list[str]:
    """The supporting sentences ``sent_ids`` of ``doc``, from its own sentence list when the corpus has one,
    else from a heuristic split. When an id falls beyond the split (the split merged sentences), the
    paragraph's opening stands in for all of them (counted)."""
    sentences = list(doc.sentences) or split_sentences(doc.text)
    if all(0 <= i < len(sentences) for i in sent_ids):
        return [sentences[i] for i in sent_ids]
    fallbacks.add("supporting sentence id beyond the paragraph's sentences; using the paragraph opening instead",
                  f"{doc.title!r} sentences {list(sent_ids)}")
    return [excerpt(doc.text, 2 * EXCERPT_CHARS)]


def make_gold_docs(titles: Sequence[str], supporting_facts: Iterable[Sequence[Any]],
                   documents: dict[str, Document], fallbacks: FallbackCounter) -> list[dict[str, Any]]:
    """Gold-document records for an example. A title absent from ``documents`` gets an empty text
    (counted); the metric then says the document text is unavailable instead of quoting it."""
    facts: dict[str, list[int]] = {}
    for title, sent_id in supporting_facts:
        facts.setdefault(html.unescape(title), []).append(int(sent_id))
    out = []
    for title in titles:
        doc = documents.get(title)
        if doc is None:
            fallbacks.add("gold document missing from the corpus; its text is left empty", repr(title))
            out.append({"title": title, "text": "", "key_sentences": []})
            continue
        sentences = key_sentences(doc, sorted(set(facts.get(title, []))), fallbacks)
        out.append({"title": title, "text": doc.text, "key_sentences": sentences})
    return out


def distinct(items: Iterable[str]) -> list[str]:
    """Items in first-seen order without repeats."""
    return list(dict.fromkeys(items))


def titles_of_passages(passages: Iterable[Any]) -> list[str]:
    """Titles of passages given as ``Passage`` objects or as ``"title | text"`` strings."""
    titles = []
    for p in passages:
        titles.append(p.split(" | ", 1)[0] if isinstance(p, str) else p.title)
    return titles


def found_and_missed(gold_titles: Sequence[str], retrieved_titles: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split the gold titles into those among the retrieved titles and those not (normalised match)."""
    retrieved = {normalize_title(t) for t in retrieved_titles}
    found = [t for t in gold_titles if normalize_title(t) in retrieved]
    missed = [t for t in gold_titles if normalize_title(t) not in retrieved]
    return found, missed


def resolve_predictor(pred_name: str, known: Sequence[str]) -> str:
    """Map a name from ``program.named_predictors()`` (e.g. ``"summarize1.predict"``, possibly nested
    as ``"inner.summarize1.predict"``) to one of the program's predictor attributes in ``known``."""
    parts = [p for p in pred_name.split(".") if p and p != "predict"]
    for part in reversed(parts):
        if part in known:
            return part
    raise ValueError(f"unknown predictor name {pred_name!r}; expected one of {list(known)} "
                     "(optionally with a '.predict' suffix)")


def last_call(pred_trace: Sequence[Any] | None) -> tuple[dict[str, Any], Any] | None:
    """``(inputs, outputs)`` of the last trace entry ``(predictor, inputs, outputs)``, if any."""
    if not pred_trace:
        return None
    entry = pred_trace[-1]
    if not isinstance(entry, (tuple, list)) or len(entry) != 3:
        raise ValueError(f"pred_trace entries must be (predictor, inputs, outputs) triples, got {entry!r}")
    return dict(entry[1]), entry[2]


def describe_gold(doc: dict[str, Any], *, with_key_sentences: bool = True) -> str:
    """One bullet describing a gold document: its key sentences, else an excerpt of its text."""
    if with_key_sentences and doc.get("key_sentences"):
        facts = " ".join(doc["key_sentences"])
        return f'- "{doc["title"]}": key facts: {excerpt(facts, 2 * EXCERPT_CHARS)}'
    if doc.get("text"):
        return f'- "{doc["title"]}": {excerpt(doc["text"])}'
    return f'- "{doc["title"]}": (text unavailable)'


def gold_docs_by_title(gold_docs: Sequence[dict[str, Any]], titles: Iterable[str]) -> list[dict[str, Any]]:
    """The gold-document records whose titles are in ``titles`` (normalised), in gold order."""
    wanted = {normalize_title(t) for t in titles}
    return [d for d in gold_docs if normalize_title(d["title"]) in wanted]


def quote_list(titles: Iterable[str]) -> str:
    """``"A", "B"`` or ``(none)``."""
    items = [f'"{t}"' for t in titles]
    return ", ".join(items) if items else "(none)"


def import_datasets() -> Any:
    """The Hugging Face ``datasets`` package, imported on demand with an actionable error."""
    try:
        import datasets
    except ImportError as exc:
        raise ImportError(
            "loading the public dataset needs the 'datasets' package (pip install datasets) and network "
            "access to the Hugging Face Hub; without them use load_splits(data_dir=...) with the local files"
        ) from exc
    return datasets


def field_of(pred: Any, name: str, default: Any = None) -> Any:
    """``pred.name`` (or ``pred[name]`` for a dict), or ``default`` when absent or None."""
    try:
        value = pred[name] if isinstance(pred, dict) else getattr(pred, name)
    except (AttributeError, KeyError):
        return default
    return default if value is None else value


def passages_feedback(gold_docs: Sequence[dict[str, Any]], gold_titles: Sequence[str], passage_titles: Sequence[str],
                      earlier_titles: Sequence[str] = (), *, earlier_advice: str = "", missing_advice: str,
                      missing_key_facts: bool) -> list[str]:
    """Feedback lines for a summarizer: the gold documents its passages held (with the key facts the summary
    should keep), those only an earlier hop found (with ``earlier_advice``), and those not retrieved so far
    (with ``missing_advice`` and their key facts or opening text)."""
    found, not_here = found_and_missed(gold_titles, passage_titles)
    earlier, missed = found_and_missed(not_here, earlier_titles)
    lines = []
    if found:
        lines.append(f"The passages you were given contain gold document(s) {quote_list(found)}; "
                     "the summary should keep their key facts:")
        lines += [describe_gold(d) for d in gold_docs_by_title(gold_docs, found)]
    if earlier:
        lines.append(f"Gold document(s) {quote_list(earlier)} were found by an earlier search; {earlier_advice}:")
        lines += [describe_gold(d) for d in gold_docs_by_title(gold_docs, earlier)]
    if missed:
        lines.append(f"Gold document(s) {quote_list(missed)} have not been retrieved so far; {missing_advice}:")
        lines += [describe_gold(d, with_key_sentences=missing_key_facts) for d in gold_docs_by_title(gold_docs, missed)]
    return lines


def query_feedback(gold_docs: Sequence[dict[str, Any]], gold_titles: Sequence[str], query: Any,
                   earlier_titles: Sequence[str], hop_titles: Sequence[str], *, hop: int) -> list[str]:
    """Feedback lines for a query writer: the gold documents found before its hop, those its query
    retrieved, and those it missed (with their opening text, which a good query would match)."""
    already, needed = found_and_missed(gold_titles, earlier_titles)
    hit, missed = found_and_missed(needed, hop_titles)
    lines = [f'Your hop-{hop} query was: "{query}".']
    if already:
        lines.append(f"Earlier hops already found gold document(s) {quote_list(already)}.")
    if not needed:
        lines.append("Every gold document had already been found, so this query could only add distractors.")
    if hit:
        lines.append(f"Your query retrieved the still-missing gold document(s) {quote_list(hit)}. Good.")
    if missed:
        lines.append(f"Your query failed to retrieve gold document(s) {quote_list(missed)}. A good query names the "
                     "entity such a paragraph is about; the missed paragraphs begin:")
        lines += [describe_gold(d, with_key_sentences=False) for d in gold_docs_by_title(gold_docs, missed)]
    return lines


def corpus_retriever(benchmark: str, corpus_file: str, *, retriever: BM25Retriever | None = None,
                     corpus_path: str | os.PathLike[str] | None = None, data_dir: str | os.PathLike[str] | None = None,
                     cache_dir: str | os.PathLike[str] | None = None) -> BM25Retriever:
    """The retriever a multi-hop program uses: ``retriever`` if given, else a BM25 index over ``corpus_path`` (for
    example a user-supplied ``wiki.abstracts.2017.jsonl``), else over the data directory's
    ``<benchmark>/<corpus_file>``. Indexes are cached on disk (``cache_dir`` overrides the cache root) and shared
    within the process."""
    if retriever is not None:
        return retriever
    if corpus_path is None:
        folder = resolve_data_dir(data_dir) / benchmark
        (corpus_path,) = require_files(folder, [corpus_file], benchmark)
    return get_retriever(corpus_path, cache_dir=cache_dir)
