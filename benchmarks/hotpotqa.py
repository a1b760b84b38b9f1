"""HotpotQA: two-hop question answering over BM25-retrieved Wikipedia paragraphs.

The program follows the GEPA paper's HotpotQA setup (our own signatures and wording): retrieve
k=7 passages for the question, summarize them, write a second-hop query, retrieve k=7 more,
summarize again with the first summary as context, and answer from both summaries. Four
``dspy.ChainOfThought`` predictors: ``summarize1``, ``create_query_hop2``, ``summarize2``,
``final_answer``.

The metric is exact match after normalisation (DSPy's ``answer_exact_match`` semantics: lower case,
no punctuation, no articles, collapsed whitespace), with textual feedback for GEPA.

Data: ``<data_dir>/hotpotqa/questions.jsonl.gz`` and ``corpus.jsonl.gz`` (see shared/data/README.md),
or the public ``datasets.load_dataset("hotpot_qa", "fullwiki")`` through :func:`load_public_splits`.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from typing import Any

import dspy
from dspy.evaluate.metrics import EM, normalize_text

from benchmarks.common import Scale, Splits, paper_split, require_files, resolve_data_dir, split_sizes
from benchmarks.multihop import (
    FallbackCounter,
    corpus_retriever,
    describe_gold,
    distinct,
    field_of,
    found_and_missed,
    import_datasets,
    last_call,
    make_gold_docs,
    passages_feedback,
    query_feedback,
    resolve_predictor,
    titles_of_passages,
)
from benchmarks.retrieval import BM25Retriever, Document, documents_with_titles, iter_jsonl, read_corpus

NAME = "hotpotqa"
DATA_SUBDIR = "hotpotqa"
QUESTIONS_FILE = "questions.jsonl.gz"
CORPUS_FILE = "corpus.jsonl.gz"
PASSAGES_PER_HOP = 7
PREDICTORS = ("summarize1", "create_query_hop2", "summarize2", "final_answer")
INPUT_FIELDS = ("question",)


# ---------------------------------------------------------------------------------------------
# Program
# ---------------------------------------------------------------------------------------------
class SummarizeFirstHop(dspy.Signature):
    """Read the retrieved Wikipedia passages and note, briefly, the facts in them that help answer the question.
    Name the people, places or works involved, and say what is still unknown."""

    question: str = dspy.InputField()
    passages: list[str] = dspy.InputField(desc='retrieved paragraphs, each as "title | text"')
    summary: str = dspy.OutputField(desc="at most 3 short sentences")


class WriteSecondHopQuery(dspy.Signature):
    """Given a question and what a first search found, write a search query for the missing information
    needed to answer the question."""

    question: str = dspy.InputField()
    summary_1: str = dspy.InputField(desc="facts found by the first search")
    query: str = dspy.OutputField(desc="a short keyword query, under 15 words")


class SummarizeSecondHop(dspy.Signature):
    """Combine the earlier findings with newly retrieved Wikipedia passages into a brief summary of the facts
    that answer the question."""

    question: str = dspy.InputField()
    context: str = dspy.InputField(desc="facts found by the first search")
    passages: list[str] = dspy.InputField(desc='newly retrieved paragraphs, each as "title | text"')
    summary: str = dspy.OutputField(desc="at most 3 short sentences")


class AnswerFromSummaries(dspy.Signature):
    """Answer the question using the two summaries of retrieved facts."""

    question: str = dspy.InputField()
    summary_1: str = dspy.InputField()
    summary_2: str = dspy.InputField()
    answer: str = dspy.OutputField(desc="only the short answer: a name, date, number, phrase, or yes/no; no sentence")


class HotpotQAProgram(dspy.Module):
    """Two-hop retrieve-summarize-answer program (see the module docstring)."""

    def __init__(self, retriever: BM25Retriever, k: int = PASSAGES_PER_HOP, **predictor_config: Any) -> None:
        super().__init__()
        if k < 1:
            raise ValueError(f"k must be positive, got {k}")
        self.retriever = retriever
        self.k = k
        self.summarize1 = dspy.ChainOfThought(SummarizeFirstHop, **predictor_config)
        self.create_query_hop2 = dspy.ChainOfThought(WriteSecondHopQuery, **predictor_config)
        self.summarize2 = dspy.ChainOfThought(SummarizeSecondHop, **predictor_config)
        self.final_answer = dspy.ChainOfThought(AnswerFromSummaries, **predictor_config)

    def forward(self, question: str) -> dspy.Prediction:
        hop1 = self.retriever.search(question, self.k)
        summary_1 = self.summarize1(question=question, passages=[p.formatted for p in hop1]).summary
        hop2_query = self.create_query_hop2(question=question, summary_1=summary_1).query
        hop2 = self.retriever.search(str(hop2_query), self.k)
        summary_2 = self.summarize2(question=question, context=summary_1, passages=[p.formatted for p in hop2]).summary
        answer = self.final_answer(question=question, summary_1=summary_1, summary_2=summary_2).answer
        hop_titles = [[p.title for p in hop1], [p.title for p in hop2]]
        return dspy.Prediction(
            answer=answer,
            summary_1=summary_1,
            hop2_query=hop2_query,
            summary_2=summary_2,
            hop_titles=hop_titles,
            retrieved_titles=distinct(t for hop in hop_titles for t in hop),
        )


def make_program(*, data_dir: str | os.PathLike[str] | None = None, corpus_path: str | os.PathLike[str] | None = None,
                 retriever: BM25Retriever | None = None, k: int = PASSAGES_PER_HOP,
                 cache_dir: str | os.PathLike[str] | None = None, max_tokens: int | None = None) -> HotpotQAProgram:
    """A fresh, unoptimized HotpotQA program; ``max_tokens`` caps each predictor's LM output. The retriever comes
    from ``multihop.corpus_retriever`` (default: a BM25 index over the data directory's ``hotpotqa/corpus.jsonl.gz``)."""
    retriever = corpus_retriever(DATA_SUBDIR, CORPUS_FILE, retriever=retriever, corpus_path=corpus_path,
                                 data_dir=data_dir, cache_dir=cache_dir)
    config: dict[str, Any] = {} if max_tokens is None else {"max_tokens": max_tokens}
    return HotpotQAProgram(retriever, k=k, **config)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
def _example(record: dict[str, Any], documents: dict[str, Document], fallbacks: FallbackCounter,
             where: str) -> dspy.Example:
    for key in ("question", "answer", "supporting_facts"):
        if key not in record:
            raise ValueError(f"{where}: HotpotQA record lacks {key!r}")
    facts = [(html.unescape(t), int(i)) for t, i in record["supporting_facts"]]
    gold_titles = distinct(html.unescape(t) for t in record.get("gold_titles") or [t for t, _ in facts])
    return dspy.Example(
        id=record.get("id", where),
        question=record["question"],
        answer=record["answer"],
        type=record.get("type"),
        level=record.get("level"),
        gold_titles=gold_titles,
        gold_docs=make_gold_docs(gold_titles, facts, documents, fallbacks),
    ).with_inputs(*INPUT_FIELDS)


def load_splits(scale: Scale | str = "small", seed: int = 0, data_dir: str | os.PathLike[str] | None = None,
                sizes: tuple[int, int, int] | None = None) -> Splits:
    """Train/val/test examples from the local data directory, split with the paper's recipe.

    The pool is every question of ``questions.jsonl.gz`` in file order. Each example has input
    ``question`` and labels ``answer``, ``gold_titles`` and ``gold_docs`` (titles, texts and supporting
    sentences of the gold paragraphs, used for feedback).
    """
    folder = resolve_data_dir(data_dir) / DATA_SUBDIR
    questions_path, corpus_path = require_files(folder, [QUESTIONS_FILE, CORPUS_FILE], NAME)
    pool = [(f"{questions_path.name}:{n}", rec) for n, rec in iter_jsonl(questions_path)]
    parts = paper_split(pool, seed, split_sizes(scale, sizes))
    documents = {d.title: d for d in read_corpus(corpus_path)}
    fallbacks = FallbackCounter()
    train, val, test = ([_example(rec, documents, fallbacks, where) for where, rec in part] for part in parts)
    fallbacks.summary(NAME)
    return Splits(train=train, val=val, test=test)


def _hub_record(row: dict[str, Any]) -> tuple[dict[str, Any], list[Document]]:
    """A Hub row (columnar ``supporting_facts`` and ``context``) as a local-style record plus the
    context paragraphs it carries."""
    facts_col = row.get("supporting_facts") or {}
    facts = list(zip(facts_col.get("title", []), facts_col.get("sent_id", [])))
    context = row.get("context") or {}
    docs = [
        Document(title=html.unescape(t), text=html.unescape("".join(s)).strip(),
                 sentences=tuple(html.unescape(x).strip() for x in s))
        for t, s in zip(context.get("title", []), context.get("sentences", []))
    ]
    record = {key: row.get(key) for key in ("id", "question", "answer", "type", "level")}
    record["supporting_facts"] = facts
    return record, docs


def load_public_splits(scale: Scale | str = "small", seed: int = 0, sizes: tuple[int, int, int] | None = None, *,
                       split: str = "train", dataset_name: str = "hotpot_qa", config: str = "fullwiki",
                       corpus_path: str | os.PathLike[str] | None = None, **load_kwargs: Any) -> Splits:
    """Splits from the public Hugging Face dataset (needs ``datasets`` and network access).

    Gold-document texts come from each row's ``context`` paragraphs; with ``corpus_path`` (e.g. the
    ``wiki.abstracts.2017.jsonl`` used for retrieval) the gold titles missing from the context are looked up
    there too. Pass the same ``corpus_path`` to :func:`make_program` to retrieve from it.
    """
    datasets = import_datasets()
    rows = datasets.load_dataset(dataset_name, config, split=split, **load_kwargs)
    pool = [_hub_record(dict(row)) for row in rows]
    parts = paper_split(pool, seed, split_sizes(scale, sizes))
    chosen = [item for part in parts for item in part]
    documents: dict[str, Document] = {d.title: d for _, docs in chosen for d in docs}
    if corpus_path is not None:
        wanted = {html.unescape(t) for rec, _ in chosen for t, _ in rec["supporting_facts"]} - set(documents)
        documents.update(documents_with_titles(corpus_path, wanted))
    fallbacks = FallbackCounter()
    train, val, test = ([_example(rec, documents, fallbacks, f"{dataset_name}[{split}]") for rec, _ in part]
                        for part in parts)
    fallbacks.summary(f"{NAME} ({dataset_name})")
    return Splits(train=train, val=val, test=test)


# ---------------------------------------------------------------------------------------------
# Metric and feedback
# ---------------------------------------------------------------------------------------------
def _gold_answers(gold: Any) -> list[str]:
    answer = gold.answer
    answers = [answer] if isinstance(answer, str) else list(answer)
    if not answers or not all(isinstance(a, str) for a in answers):
        raise ValueError(f"gold answer must be a string or a non-empty list of strings, got {answer!r}")
    return answers


def _mentions(text: Any, answers: Sequence[str]) -> bool:
    """Whether ``text`` contains one of the answers as a whole-word span after normalisation."""
    haystack = f" {normalize_text(str(text or ''))} "
    return any(normalize_text(a) and f" {normalize_text(a)} " in haystack for a in answers)


def metric(gold: dspy.Example, pred: Any, trace: Any = None, pred_name: str | None = None,
           pred_trace: Sequence[Any] | None = None) -> dspy.Prediction:
    """Exact match (1.0 or 0.0) with feedback text.

    Without ``pred_name`` the feedback judges the whole program (answer and retrieval). With ``pred_name``
    (a name from ``program.named_predictors()``) it addresses that predictor, using its ``pred_trace``
    entries ``(predictor, inputs, outputs)`` when given, else the program's returned fields.
    """
    answers = _gold_answers(gold)
    predicted = field_of(pred, "answer")
    score = 1.0 if isinstance(predicted, str) and EM(predicted, answers) else 0.0
    if pred_name is None:
        feedback = _program_feedback(gold, pred, answers, predicted, score)
    else:
        builders = {
            "summarize1": _summarize1_feedback,
            "create_query_hop2": _query_feedback,
            "summarize2": _summarize2_feedback,
            "final_answer": _answer_feedback,
        }
        call = last_call(pred_trace)
        feedback = builders[resolve_predictor(pred_name, PREDICTORS)](gold, pred, answers, score, call)
    return dspy.Prediction(score=score, feedback=feedback)


def _gold_text(answers: Sequence[str]) -> str:
    return " or ".join(f'"{a}"' for a in answers)


def _hop_titles(pred: Any) -> list[list[str]]:
    hops = field_of(pred, "hop_titles", [])
    return [list(h) for h in hops] + [[] for _ in range(2 - len(hops))]


def _retrieval_lines(gold: Any, pred: Any) -> list[str]:
    hop1, hop2 = _hop_titles(pred)
    in_hop1 = set(found_and_missed(gold.gold_titles, hop1)[0])
    in_hop2 = set(found_and_missed(gold.gold_titles, hop2)[0])
    lines = []
    for doc in gold.gold_docs:
        title = doc["title"]
        where = "retrieved by hop 1" if title in in_hop1 else "retrieved by hop 2" if title in in_hop2 else "NOT retrieved"
        lines.append(f"{describe_gold(doc)} ({where})")
    return lines


def _program_feedback(gold: Any, pred: Any, answers: list[str], predicted: Any, score: float) -> str:
    if not isinstance(predicted, str):
        head = f"The program produced no answer. The gold answer is {_gold_text(answers)}."
    elif score == 1.0:
        head = f'Correct: the answer "{predicted}" matches the gold answer {_gold_text(answers)}.'
    else:
        head = (f'Incorrect: the program answered "{predicted}" but the gold answer is {_gold_text(answers)}. '
                "Answers are compared after lower-casing and removing punctuation and articles, so the answer "
                "must be the bare short span.")
    return "\n".join([head, "Gold supporting documents:", *_retrieval_lines(gold, pred)])


def _outcome(score: float) -> str:
    return "The program's final answer was correct." if score == 1.0 else "The program's final answer was wrong."


def _summary_feedback(gold: Any, answers: list[str], score: float, summary: Any, lines: list[str]) -> str:
    head = [f"Question: {gold.question}", f"Gold answer: {_gold_text(answers)}. {_outcome(score)}"]
    verdict = "mentions" if _mentions(summary, answers) else "does not mention"
    return "\n".join([*head, *lines, f"Your summary {verdict} the gold answer."])


def _summarize1_feedback(gold: Any, pred: Any, answers: list[str], score: float, call: Any) -> str:
    inputs, outputs = call if call else ({}, None)
    passages = inputs.get("passages")
    titles = titles_of_passages(passages) if passages is not None else _hop_titles(pred)[0]
    summary = field_of(outputs, "summary") if outputs is not None else field_of(pred, "summary_1")
    lines = passages_feedback(gold.gold_docs, gold.gold_titles, titles, missing_key_facts=False, missing_advice=(
        "the summary should name the entities that lead to them, so the next search query can find them"))
    return _summary_feedback(gold, answers, score, summary, lines)


def _summarize2_feedback(gold: Any, pred: Any, answers: list[str], score: float, call: Any) -> str:
    inputs, outputs = call if call else ({}, None)
    passages = inputs.get("passages")
    hop1, hop2 = _hop_titles(pred)
    titles = titles_of_passages(passages) if passages is not None else hop2
    summary = field_of(outputs, "summary") if outputs is not None else field_of(pred, "summary_2")
    lines = passages_feedback(
        gold.gold_docs, gold.gold_titles, titles, hop1, missing_key_facts=True,
        earlier_advice="the summary should carry their key facts over from the earlier summary (context)",
        missing_advice="the summary has to do without them; the facts they hold are")
    return _summary_feedback(gold, answers, score, summary, lines)


def _query_feedback(gold: Any, pred: Any, answers: list[str], score: float, call: Any) -> str:
    _, outputs = call if call else ({}, None)
    query = field_of(outputs, "query") if outputs is not None else field_of(pred, "hop2_query")
    hop1, hop2 = _hop_titles(pred)
    lines = [f"Question: {gold.question}", f"Gold answer: {_gold_text(answers)}. {_outcome(score)}",
             "The first search used the question itself."]
    lines += query_feedback(gold.gold_docs, gold.gold_titles, query, hop1, hop2, hop=2)
    return "\n".join(lines)


def _answer_feedback(gold: Any, pred: Any, answers: list[str], score: float, call: Any) -> str:
    inputs, outputs = call if call else ({}, None)
    answer = field_of(outputs, "answer") if outputs is not None else field_of(pred, "answer")
    summaries = [inputs.get("summary_1", field_of(pred, "summary_1")), inputs.get("summary_2", field_of(pred, "summary_2"))]
    lines = [f"Question: {gold.question}"]
    if score == 1.0:
        lines.append(f'Correct: your answer "{answer}" matches the gold answer {_gold_text(answers)}.')
    else:
        lines.append(f'Incorrect: you answered "{answer}" but the gold answer is {_gold_text(answers)}. '
                     "The answer is compared after lower-casing and removing punctuation and articles, so give "
                     "only the short answer span, with no extra words.")
        if any(_mentions(s, answers) for s in summaries):
            lines.append("The summaries you were given contain the gold answer: the mistake is in reading them.")
        else:
            lines.append("The summaries you were given do not contain the gold answer; "
                         "its supporting facts are:")
            lines += [describe_gold(d) for d in gold.gold_docs]
    return "\n".join(lines)
