"""IFBench ``ratio:*`` checkers: proportions within the response or against a reference text."""

from __future__ import annotations

from collections import Counter

from benchmarks.ifbench.registry import Args, Verdict, checker, verdict
from benchmarks.ifbench.text import (
    counted_words,
    english_stopwords,
    plain_words,
    split_sentences,
)

#: ``ratio:overlap`` accepts the requested percentage plus or minus this many points.
OVERLAP_TOLERANCE = 2.0


def _char_trigrams(text: str) -> set[str]:
    return {text[i : i + 3] for i in range(len(text) - 2)}


@checker("ratio:overlap", "trigram overlap with reference_text within percentage +-2 points")
def overlap(response: str, args: Args, prompt: str) -> Verdict:
    # Reproduces the reference's measure: the share of the response's distinct character trigrams
    # that also occur in the reference text.
    target = args.float("percentage")
    reference = args.str("reference_text")
    ours = _char_trigrams(response)
    shared = ours & _char_trigrams(reference)
    ratio = 100.0 * len(shared) / len(ours) if ours else 0.0
    ok = abs(ratio - target) <= OVERLAP_TOLERANCE
    return verdict(ok, f"needed {target:g}% (+-{OVERLAP_TOLERANCE:g}) trigram overlap, found {ratio:.1f}%")


def sentence_kind(sentence: str) -> str:
    """"declarative", "interrogative" or "exclamatory" by the sentence's final mark; "other" if none."""
    tail = sentence.rstrip("\"'”’)]}*_ \t\n")
    if tail.endswith("?"):
        return "interrogative"
    if tail.endswith("!"):
        return "exclamatory"
    if tail.endswith("."):
        return "declarative"
    return "other"


def _kind_counts(response: str) -> Counter[str]:
    return Counter(sentence_kind(s) for s in split_sentences(response))


@checker("ratio:sentence_balance", "equal numbers of declarative, interrogative and exclamatory sentences")
def sentence_balance(response: str, args: Args, prompt: str) -> Verdict:
    counts = _kind_counts(response)
    d, q, e = counts["declarative"], counts["interrogative"], counts["exclamatory"]
    return verdict(d == q == e and d > 0, f"found {d} declarative, {q} interrogative, {e} exclamatory sentences")


@checker("ratio:sentence_type", "a 2:1 ratio of declarative to interrogative sentences")
def sentence_type(response: str, args: Args, prompt: str) -> Verdict:
    counts = _kind_counts(response)
    d, q = counts["declarative"], counts["interrogative"]
    return verdict(q > 0 and d == 2 * q, f"needed declarative = 2 x interrogative, found {d} declarative and {q} interrogative")


@checker("ratio:sentence_words", "three sentences of equal character length with no word in common")
def sentence_words(response: str, args: Args, prompt: str) -> Verdict:
    sentences = split_sentences(response)
    if len(sentences) != 3:
        return verdict(False, f"needed 3 sentences, found {len(sentences)}")
    lengths = [len(s) for s in sentences]
    if len(set(lengths)) != 1:
        return verdict(False, f"sentence lengths differ: {lengths} characters")
    words = [{w.lower() for w in plain_words(s)} for s in sentences]
    shared = (words[0] & words[1]) | (words[0] & words[2]) | (words[1] & words[2])
    if shared:
        return verdict(False, f"sentences share words: {sorted(shared)[:5]}")
    return verdict(True, f"3 sentences of {lengths[0]} characters with no shared word")


@checker("ratio:stop_words", "stop words are at most percentage% of all words")
def stop_words(response: str, args: Args, prompt: str) -> Verdict:
    limit = args.float("percentage")
    words = [w.lower() for w in counted_words(response)]
    if not words:
        return verdict(False, "the response has no words")
    stops = english_stopwords()
    ratio = 100.0 * sum(1 for w in words if w in stops) / len(words)
    return verdict(ratio <= limit, f"needed at most {limit:g}% stop words, found {ratio:.1f}%")
