"""HoVer: three-hop retrieval of the Wikipedia articles needed to verify a claim.

The program follows the GEPA paper's HoVer setup (our own signatures and wording): the claim is the
first query (k=7); a summary of those passages leads to a second query (k=7); a second summary leads to a
third query (k=10). Four ``dspy.ChainOfThought`` predictors: ``summarize1``, ``create_query_hop2``,
``summarize2``, ``create_query_hop3``.

The metric is 1 when every gold title is among all retrieved titles (compared after DSPy's
``normalize_text``), else 0 (not fractional recall), with textual feedback for GEPA.

Data: ``<data_dir>/hover/claims.jsonl.gz`` and ``corpus.jsonl.gz`` (see shared/data/README.md); only claims
with exactly 3 distinct gold titles are used. The public path :func:`load_public_splits` reads
``datasets.load_dataset("hover")`` and a user-supplied ``wiki.abstracts.2017.jsonl``.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from typing import Any

import dspy

from benchmarks.common import Scale, Splits, paper_split, require_files, resolve_data_dir, split_sizes
from benchmarks.multihop import (
    FallbackCounter,
    corpus_retriever,
    describe_gold,
    distinct,
    field_of,
    found_and_missed,
    gold_docs_by_title,
    import_datasets,
    last_call,
    make_gold_docs,
    passages_feedback,
    query_feedback,
    quote_list,
    resolve_predictor,
    titles_of_passages,
)
from benchmarks.retrieval import BM25Retriever, Document, documents_with_titles, iter_jsonl, read_corpus

NAME = "hover"
DATA_SUBDIR = "hover"
CLAIMS_FILE = "claims.jsonl.gz"
CORPUS_FILE = "corpus.jsonl.gz"
PASSAGES_PER_HOP = (7, 7, 10)
GOLD_TITLES_PER_CLAIM = 3
PREDICTORS = ("summarize1", "create_query_hop2", "summarize2", "create_query_hop3")
INPUT_FIELDS = ("claim",)


# ---------------------------------------------------------------------------------------------
# Program
# ---------------------------------------------------------------------------------------------
class SummarizeEvidence(dspy.Signature):
    """Read the Wikipedia passages retrieved for a claim and note, briefly, what they say about the people,
    places, works or events the claim mentions. Say which entities of the claim they do not cover yet."""

    claim: str = dspy.InputField()
    passages: list[str] = dspy.InputField(desc='retrieved paragraphs, each as "title | text"')
    summary: str = dspy.OutputField(desc="at most 3 short sentences")


class WriteSecondHopQuery(dspy.Signature):
    """To verify the claim we need every Wikipedia article it relies on. Given what a first search found,
    write a search query for an article the claim relies on that was not found yet."""

    claim: str = dspy.InputField()
    summary_1: str = dspy.InputField(desc="what the first search found")
    query: str = dspy.OutputField(desc="a short keyword query, under 15 words")


class SummarizeMoreEvidence(dspy.Signature):
    """Combine earlier findings with newly retrieved Wikipedia passages into a brief note of the evidence
    about the claim's entities, and say which entities are still not covered."""

    claim: str = dspy.InputField()
    context: str = dspy.InputField(desc="what the first search found")
    passages: list[str] = dspy.InputField(desc='newly retrieved paragraphs, each as "title | text"')
    summary: str = dspy.OutputField(desc="at most 3 short sentences")


class WriteThirdHopQuery(dspy.Signature):
    """To verify the claim we need every Wikipedia article it relies on. Given what two searches found,
    write a search query for the article the claim relies on that is still missing."""

    claim: str = dspy.InputField()
    summary_1: str = dspy.InputField(desc="what the first search found")
    summary_2: str = dspy.InputField(desc="what the second search added")
    query: str = dspy.OutputField(desc="a short keyword query, under 15 words")


class HoVerProgram(dspy.Module):
    """Three-hop retrieve-summarize-query program (see the module docstring)."""

    def __init__(self, retriever: BM25Retriever, ks: Sequence[int] = PASSAGES_PER_HOP, **predictor_config: Any) -> None:
        super().__init__()
        if len(ks) != 3 or any(k < 1 for k in ks):
            raise ValueError(f"ks must be three positive passage counts (one per hop), got {ks!r}")
        self.retriever = retriever
        self.ks = tuple(ks)
        self.summarize1 = dspy.ChainOfThought(SummarizeEvidence, **predictor_config)
        self.create_query_hop2 = dspy.ChainOfThought(WriteSecondHopQuery, **predictor_config)
        self.summarize2 = dspy.ChainOfThought(SummarizeMoreEvidence, **predictor_config)
        self.create_query_hop3 = dspy.ChainOfThought(WriteThirdHopQuery, **predictor_config)

    def forward(self, claim: str) -> dspy.Prediction:
        k1, k2, k3 = self.ks
        hop1 = self.retriever.search(claim, k1)
        summary_1 = self.summarize1(claim=claim, passages=[p.formatted for p in hop1]).summary
        hop2_query = self.create_query_hop2(claim=claim, summary_1=summary_1).query
        hop2 = self.retriever.search(str(hop2_query), k2)
        summary_2 = self.summarize2(claim=claim, context=summary_1, passages=[p.formatted for p in hop2]).summary
        hop3_query = self.create_query_hop3(claim=claim, summary_1=summary_1, summary_2=summary_2).query
        hop3 = self.retriever.search(str(hop3_query), k3)
        hop_titles = [[p.title for p in hop] for hop in (hop1, hop2, hop3)]
        return dspy.Prediction(
            retrieved_titles=distinct(t for hop in hop_titles for t in hop),
            hop_titles=hop_titles,
            summary_1=summary_1,
            hop2_query=hop2_query,
            summary_2=summary_2,
            hop3_query=hop3_query,
        )


def make_program(*, data_dir: str | os.PathLike[str] | None = None, corpus_path: str | os.PathLike[str] | None = None,
                 retriever: BM25Retriever | None = None, ks: Sequence[int] = PASSAGES_PER_HOP,
                 cache_dir: str | os.PathLike[str] | None = None, max_tokens: int | None = None) -> HoVerProgram:
    """A fresh, unoptimized HoVer program; ``max_tokens`` caps each predictor's LM output. The retriever comes
    from ``multihop.corpus_retriever`` (default: a BM25 index over the data directory's ``hover/corpus.jsonl.gz``)."""
    retriever = corpus_retriever(DATA_SUBDIR, CORPUS_FILE, retriever=retriever, corpus_path=corpus_path,
                                 data_dir=data_dir, cache_dir=cache_dir)
    config: dict[str, Any] = {} if max_tokens is None else {"max_tokens": max_tokens}
    return HoVerProgram(retriever, ks=ks, **config)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
def _gold_titles(record: dict[str, Any]) -> list[str]:
    titles = record.get("titles") or [t for t, _ in record.get("supporting_facts", [])]
    return distinct(html.unescape(t) for t in titles)


def _example(record: dict[str, Any], documents: dict[str, Document], fallbacks: FallbackCounter,
             where: str) -> dspy.Example:
    for key in ("claim", "supporting_facts"):
        if key not in record:
            raise ValueError(f"{where}: HoVer record lacks {key!r}")
    titles = _gold_titles(record)
    facts = [(html.unescape(t), int(i)) for t, i in record["supporting_facts"]]
    return dspy.Example(
        uid=record.get("uid", where),
        claim=record["claim"],
        label=record.get("label"),
        gold_titles=titles,
        gold_docs=make_gold_docs(titles, facts, documents, fallbacks),
    ).with_inputs(*INPUT_FIELDS)


def _three_title_pool(records: Sequence[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    return [(where, rec) for where, rec in records if len(_gold_titles(rec)) == GOLD_TITLES_PER_CLAIM]


def load_splits(scale: Scale | str = "small", seed: int = 0, data_dir: str | os.PathLike[str] | None = None,
                sizes: tuple[int, int, int] | None = None) -> Splits:
    """Train/val/test examples from the local data directory, split with the paper's recipe.

    The pool is every claim of ``claims.jsonl.gz`` with exactly 3 distinct gold titles, in file order.
    Each example has input ``claim`` and labels ``gold_titles``, ``gold_docs`` (titles, texts and
    supporting sentences of the gold articles, used for feedback) and ``label``.
    """
    folder = resolve_data_dir(data_dir) / DATA_SUBDIR
    claims_path, corpus_path = require_files(folder, [CLAIMS_FILE, CORPUS_FILE], NAME)
    pool = _three_title_pool([(f"{claims_path.name}:{n}", rec) for n, rec in iter_jsonl(claims_path)])
    parts = paper_split(pool, seed, split_sizes(scale, sizes))
    documents = {d.title: d for d in read_corpus(corpus_path)}
    fallbacks = FallbackCounter()
    train, val, test = ([_example(rec, documents, fallbacks, where) for where, rec in part] for part in parts)
    fallbacks.summary(NAME)
    return Splits(train=train, val=val, test=test)


def _hub_record(row: dict[str, Any]) -> dict[str, Any]:
    """A Hub row (``supporting_facts`` as ``[{"key": title, "value": sent_id}, ...]``) as a local-style record."""
    facts = [(f["key"], f["value"]) for f in row.get("supporting_facts") or []]
    return {"uid": row.get("uid"), "claim": row.get("claim"), "label": row.get("label"), "supporting_facts": facts}


def load_public_splits(scale: Scale | str = "small", seed: int = 0, sizes: tuple[int, int, int] | None = None, *,
                       split: str = "train", dataset_name: str = "hover",
                       corpus_path: str | os.PathLike[str] | None = None, **load_kwargs: Any) -> Splits:
    """Splits from the public Hugging Face dataset (needs ``datasets`` and network access).

    HoVer rows carry no article text: pass ``corpus_path`` (the ``wiki.abstracts.2017.jsonl`` used for
    retrieval) to give feedback the gold articles' texts; without it feedback names titles only.
    Pass the same ``corpus_path`` to :func:`make_program` to retrieve from it.
    """
    datasets = import_datasets()
    rows = datasets.load_dataset(dataset_name, split=split, **load_kwargs)
    where = f"{dataset_name}[{split}]"
    pool = _three_title_pool([(f"{where}:{i}", _hub_record(dict(row))) for i, row in enumerate(rows)])
    parts = paper_split(pool, seed, split_sizes(scale, sizes))
    documents: dict[str, Document] = {}
    if corpus_path is not None:
        wanted = {t for part in parts for _, rec in part for t in _gold_titles(rec)}
        documents = documents_with_titles(corpus_path, wanted)
    fallbacks = FallbackCounter()
    train, val, test = ([_example(rec, documents, fallbacks, w) for w, rec in part] for part in parts)
    fallbacks.summary(f"{NAME} ({dataset_name})")
    return Splits(train=train, val=val, test=test)


# ---------------------------------------------------------------------------------------------
# Metric and feedback
# ---------------------------------------------------------------------------------------------
def _hop_titles(pred: Any) -> list[list[str]]:
    hops = [list(h) for h in field_of(pred, "hop_titles", [])]
    return hops + [[] for _ in range(3 - len(hops))]


def _retrieved_titles(pred: Any) -> list[str] | None:
    titles = field_of(pred, "retrieved_titles")
    if titles is None and field_of(pred, "hop_titles") is not None:
        titles = [t for hop in _hop_titles(pred) for t in hop]
    return None if titles is None else list(titles)


def metric(gold: dspy.Example, pred: Any, trace: Any = None, pred_name: str | None = None,
           pred_trace: Sequence[Any] | None = None) -> dspy.Prediction:
    """1.0 when every gold title was retrieved, else 0.0, with feedback text.

    Without ``pred_name`` the feedback judges the whole program. With ``pred_name`` (a name from
    ``program.named_predictors()``) it addresses that predictor, using its ``pred_trace`` entries
    ``(predictor, inputs, outputs)`` when given, else the program's returned fields.
    """
    gold_titles = list(gold.gold_titles)
    if not gold_titles:
        raise ValueError("gold example has no gold_titles")
    retrieved = _retrieved_titles(pred)
    found, missed = found_and_missed(gold_titles, retrieved or [])
    score = 1.0 if retrieved is not None and not missed else 0.0
    if pred_name is None:
        feedback = _program_feedback(gold, pred, retrieved, found, missed)
    else:
        name = resolve_predictor(pred_name, PREDICTORS)
        call = last_call(pred_trace)
        feedback = _predictor_feedback(name, gold, pred, call)
    return dspy.Prediction(score=score, feedback=feedback)


def _where_found(title: str, hops: list[list[str]]) -> str:
    for i, hop in enumerate(hops, start=1):
        if found_and_missed([title], hop)[0]:
            return f"hop {i}"
    return "not retrieved"


def _program_feedback(gold: Any, pred: Any, retrieved: list[str] | None, found: list[str], missed: list[str]) -> str:
    if retrieved is None:
        return ("The program returned no retrieved titles, so no gold document counts as found. "
                f"Gold documents: {quote_list(gold.gold_titles)}.")
    hops = _hop_titles(pred)
    n = len(gold.gold_titles)
    if not missed:
        head = f"Correct: all {n} gold documents were retrieved."
    else:
        head = f"Incorrect: {len(found)} of the {n} gold documents were retrieved; all {n} are needed."
    lines = [head]
    if found:
        lines.append("Found: " + ", ".join(f'"{t}" ({_where_found(t, hops)})' for t in found) + ".")
    if missed:
        lines.append("Missed (the claim relies on these articles):")
        lines += [describe_gold(d, with_key_sentences=False) for d in gold_docs_by_title(gold.gold_docs, missed)]
    return "\n".join(lines)


def _outcome(gold: Any, pred: Any) -> str:
    _, missed = found_and_missed(gold.gold_titles, _retrieved_titles(pred) or [])
    if not missed:
        return "In the end the program retrieved every gold document."
    return f"In the end the program never retrieved gold document(s) {quote_list(missed)}."


def _predictor_feedback(name: str, gold: Any, pred: Any, call: Any) -> str:
    inputs, outputs = call if call else ({}, None)
    hops = _hop_titles(pred)
    lines = [f"Claim: {gold.claim}", _outcome(gold, pred)]
    if name in ("summarize1", "summarize2"):
        hop_index = 0 if name == "summarize1" else 1
        passages = inputs.get("passages")
        titles = titles_of_passages(passages) if passages is not None else hops[hop_index]
        lines += passages_feedback(
            gold.gold_docs, gold.gold_titles, titles, hops[0] if hop_index else [], missing_key_facts=False,
            earlier_advice="the earlier summary (context) covers them, so the summary need not repeat them at length",
            missing_advice="the summary should name the entities of the claim that lead to them, so the next query "
            "can find them")
    else:
        hop_index = 1 if name == "create_query_hop2" else 2
        query = field_of(outputs, "query") if outputs is not None else field_of(pred, f"hop{hop_index + 1}_query")
        earlier = [t for hop in hops[:hop_index] for t in hop]
        lines += query_feedback(gold.gold_docs, gold.gold_titles, query, earlier, hops[hop_index], hop=hop_index + 1)
    return "\n".join(lines)
