"""IFBench ``words:*`` checkers: properties of individual words and their order."""

from __future__ import annotations

import re
from collections import Counter

from benchmarks.ifbench.lexicon_verbs import is_verb
from benchmarks.ifbench.registry import Args, Verdict, checker, verdict
from benchmarks.ifbench.text import (
    VOWELS,
    count_syllables,
    plain_words,
    split_sentences,
)

_CONSONANT_CLUSTER = re.compile(r"[bcdfghjklmnpqrstvwxz]{2}")

#: ``words:palindrome`` prompts ask for at least this many palindromes of at least this length.
PALINDROME_COUNT, PALINDROME_MIN_LENGTH = 10, 5


def _letters(word: str) -> str:
    return "".join(c for c in word.lower() if c.isalpha())


@checker("words:alphabet", "each word starts with the next letter of the alphabet, wrapping Z -> A")
def alphabet(response: str, args: Args, prompt: str) -> Verdict:
    words = [w for w in plain_words(response) if w[0].isalpha()]
    for i, (a, b) in enumerate(zip(words, words[1:]), start=2):
        expected = chr((ord(a[0].lower()) - ord("a") + 1) % 26 + ord("a"))
        if b[0].lower() != expected:
            return verdict(False, f"word {i} {b!r} should start with {expected!r}")
    return verdict(bool(words), f"{len(words)} words follow the alphabet")


@checker("words:consonants", "every word has a cluster of two or more consonants")
def consonants(response: str, args: Args, prompt: str) -> Verdict:
    bad = [w for w in plain_words(response) if _letters(w) and not _CONSONANT_CLUSTER.search(_letters(w))]
    return verdict(not bad, f"{len(bad)} words lack a consonant cluster, e.g. {bad[:3]}" if bad else "every word has a consonant cluster")


@checker("words:keywords_specific_position", "keyword is the m-th word of the n-th sentence")
def keywords_specific_position(response: str, args: Args, prompt: str) -> Verdict:
    word, n, m = args.str("keyword"), args.int("n"), args.int("m")
    sentences = split_sentences(response)
    if len(sentences) < n:
        return verdict(False, f"needed {word!r} in sentence {n}, but there are only {len(sentences)} sentences")
    words = plain_words(sentences[n - 1])
    if len(words) < m:
        return verdict(False, f"sentence {n} has only {len(words)} words, needed {word!r} as word {m}")
    found = words[m - 1]
    return verdict(found.lower() == word.lower(), f"word {m} of sentence {n} is {found!r}, needed {word!r}")


@checker("words:last_first", "the last word of each sentence is the first word of the next")
def last_first(response: str, args: Args, prompt: str) -> Verdict:
    sentences = [plain_words(s) for s in split_sentences(response)]
    sentences = [s for s in sentences if s]
    for i, (a, b) in enumerate(zip(sentences, sentences[1:]), start=2):
        if a[-1].lower() != b[0].lower():
            return verdict(False, f"sentence {i} starts with {b[0]!r}, but the previous one ends with {a[-1]!r}")
    return verdict(True, f"{len(sentences)} sentences chained last word -> first word")


@checker("words:no_consecutive", "no two consecutive words share their first letter")
def no_consecutive(response: str, args: Args, prompt: str) -> Verdict:
    words = response.split()
    for a, b in zip(words, words[1:]):
        if a[0].lower() == b[0].lower():
            return verdict(False, f"consecutive words {a!r} and {b!r} share their first letter")
    return verdict(True, "no consecutive words share a first letter")


@checker("words:odd_even_syllables", "words alternate between odd and even syllable counts")
def odd_even_syllables(response: str, args: Args, prompt: str) -> Verdict:
    words = [w for w in plain_words(response) if _letters(w)]
    parities = [count_syllables(w) % 2 for w in words]
    for i, (a, b) in enumerate(zip(parities, parities[1:]), start=1):
        if a == b:
            return verdict(False, f"{words[i - 1]!r} and {words[i]!r} both have {'odd' if a else 'even'} syllable counts")
    return verdict(bool(words), f"{len(words)} words alternate odd/even syllables")


@checker("words:palindrome", "include at least 10 single-word palindromes of 5+ letters")
def palindrome(response: str, args: Args, prompt: str) -> Verdict:
    found = [w for w in (_letters(x) for x in re.findall(r"\w+", response)) if len(w) >= PALINDROME_MIN_LENGTH and w == w[::-1]]
    return verdict(len(found) >= PALINDROME_COUNT, f"needed {PALINDROME_COUNT} palindromes of {PALINDROME_MIN_LENGTH}+ letters, found {len(found)}")


@checker("words:paragraph_last_first", "each paragraph ends with the word it starts with")
def paragraph_last_first(response: str, args: Args, prompt: str) -> Verdict:
    paragraphs = [plain_words(p) for p in response.split("\n")]
    paragraphs = [p for p in paragraphs if p]
    for i, words in enumerate(paragraphs, start=1):
        if words[0].lower() != words[-1].lower():
            return verdict(False, f"paragraph {i} starts with {words[0]!r} but ends with {words[-1]!r}")
    return verdict(bool(paragraphs), f"all {len(paragraphs)} paragraphs end with their first word")


def _is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, int(n**0.5) + 1))


@checker("words:prime_lengths", "use only words whose length is a prime number")
def prime_lengths(response: str, args: Args, prompt: str) -> Verdict:
    bad = [w for w in plain_words(response) if not _is_prime(len(w))]
    return verdict(not bad, f"{len(bad)} words have non-prime lengths, e.g. {bad[:3]}" if bad else "every word length is prime")


@checker("words:repeats", "no word is repeated more than small_n times")
def repeats(response: str, args: Args, prompt: str) -> Verdict:
    limit = args.int("small_n")
    counts = Counter(w.lower() for w in re.findall(r"\w+", response))
    over = [(w, c) for w, c in counts.most_common() if c > limit]
    if over:
        return verdict(False, f"words used more than {limit} times: " + ", ".join(f"{w!r} x{c}" for w, c in over[:3]))
    return verdict(True, f"no word used more than {limit} times")


@checker("words:start_verb", "the response starts with a verb")
def start_verb(response: str, args: Args, prompt: str) -> Verdict:
    words = plain_words(response)
    if not words:
        return verdict(False, "the response has no words")
    return verdict(is_verb(words[0]), f"first word {words[0]!r} {'is' if is_verb(words[0]) else 'is not'} a verb")


@checker("words:vowel", "words use at most three different vowels in total")
def vowel(response: str, args: Args, prompt: str) -> Verdict:
    used = sorted({c for c in response.lower() if c in VOWELS})
    return verdict(len(used) <= 3, f"used {len(used)} different vowels ({''.join(used)})")


@checker("words:words_position", "keyword is the second word and the second-to-last word")
def words_position(response: str, args: Args, prompt: str) -> Verdict:
    word = args.str("keyword").lower()
    words = plain_words(response)
    if len(words) < 2:
        return verdict(False, "the response has fewer than 2 words")
    second, second_last = words[1], words[-2]
    ok = second.lower() == word and second_last.lower() == word
    return verdict(ok, f"second word {second!r}, second-to-last word {second_last!r}, needed {word!r}")
