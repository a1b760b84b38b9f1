"""IFEval ``change_case:*`` and ``language:*`` checkers: letter case and response language."""

from __future__ import annotations

from benchmarks.ifbench.language import detect_language
from benchmarks.ifbench.registry import Args, Verdict, checker, verdict
from benchmarks.ifbench.text import treebank_words

RELATIONS = ("less than", "at least")


def compare(count: int, relation: str, target: int) -> bool:
    """``count < target`` for "less than", ``count >= target`` for "at least"."""
    return count < target if relation == "less than" else count >= target


def _english_note(response: str) -> tuple[bool, str]:
    language = detect_language(response)
    if language is None:
        return True, "language could not be identified (only the case was checked)"
    return language == "en", f"language detected as {language!r}"


@checker("change_case:capital_word_frequency", "words in ALL CAPS appear less than / at least capital_frequency times")
def capital_word_frequency(response: str, args: Args, prompt: str) -> Verdict:
    target = args.int("capital_frequency")
    relation = args.choice("capital_relation", RELATIONS)
    count = sum(1 for w in treebank_words(response) if w.isupper())
    return verdict(compare(count, relation, target), f"needed {relation} {target} all-caps words, found {count}")


@checker("change_case:english_capital", "the whole response is English in capital letters")
def english_capital(response: str, args: Args, prompt: str) -> Verdict:
    if not response.isupper():
        lower = sum(1 for c in response if c.islower())
        return verdict(False, f"found {lower} lower-case letters")
    is_english, note = _english_note(response)
    return verdict(is_english, f"all capitals; {note}")


@checker("change_case:english_lowercase", "the whole response is English in lower-case letters")
def english_lowercase(response: str, args: Args, prompt: str) -> Verdict:
    if not response.islower():
        upper = sum(1 for c in response if c.isupper())
        return verdict(False, f"found {upper} capital letters")
    is_english, note = _english_note(response)
    return verdict(is_english, f"all lower case; {note}")


@checker("language:response_language", "the whole response is in the given language")
def response_language(response: str, args: Args, prompt: str) -> Verdict:
    wanted = args.str("language")
    found = detect_language(response)
    if found is None:
        return verdict(False, f"needed language {wanted!r}, but the response's language could not be identified")
    return verdict(found == wanted, f"needed language {wanted!r}, detected {found!r}")
