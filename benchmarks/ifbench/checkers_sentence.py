"""IFBench ``sentence:*`` checkers: properties of individual sentences."""

from __future__ import annotations

import re

from benchmarks.ifbench.registry import Args, Verdict, checker, verdict
from benchmarks.ifbench.text import english_stopwords, plain_words, split_sentences


def longest_alliteration(sentence: str) -> int:
    """Length of the longest run of consecutive words that start with the same letter. Stop words
    ("a", "the", "have", ...) are skipped: they neither extend nor break a run (this reproduces
    the reference's verdicts)."""
    stops = english_stopwords()
    best = run = 0
    previous = ""
    for word in plain_words(sentence):
        if word.lower() in stops:
            continue
        first = word[0].lower()
        run = run + 1 if first.isalpha() and first == previous else 1
        previous = first if first.isalpha() else ""
        best = max(best, run)
    return best


@checker("sentence:alliteration_increment", "each sentence has a longer alliterative run than the previous one")
def alliteration_increment(response: str, args: Args, prompt: str) -> Verdict:
    runs = [longest_alliteration(s) for s in split_sentences(response)]
    ok = bool(runs) and all(b > a for a, b in zip(runs, runs[1:]))
    return verdict(ok, f"alliterative run lengths per sentence: {runs[:10]}")


@checker("sentence:increment", "each sentence has exactly small_n more words than the previous one")
def increment(response: str, args: Args, prompt: str) -> Verdict:
    step = args.int("small_n")
    counts = [len(s.split()) for s in split_sentences(response)]
    ok = bool(counts) and all(b - a == step for a, b in zip(counts, counts[1:]))
    return verdict(ok, f"needed +{step} words per sentence, found word counts {counts[:10]}")


@checker("sentence:keyword", "include the keyword word in the N-th sentence")
def keyword(response: str, args: Args, prompt: str) -> Verdict:
    n, word = args.int("N"), args.str("word")
    sentences = split_sentences(response)
    if len(sentences) < n:
        return verdict(False, f"needed {word!r} in sentence {n}, but there are only {len(sentences)} sentences")
    found = re.search(r"\b" + re.escape(word) + r"\b", sentences[n - 1], flags=re.IGNORECASE)
    return verdict(bool(found), f"{word!r} {'is' if found else 'is not'} in sentence {n}")
