"""IFBench ``count:*`` checkers: how many of something the response contains."""

from __future__ import annotations

import re

from benchmarks.ifbench.registry import Args, Verdict, checker, verdict
from benchmarks.ifbench.text import (
    counted_words,
    is_japanese,
    treebank_words,
    whitespace_words,
)

COORDINATING_CONJUNCTIONS = ("for", "and", "nor", "but", "or", "yet", "so")

#: The exact counts ``count:keywords_multiple`` asks for, keyword1..keyword5, when the prompt does
#: not state them in a form :func:`_stated_times` reads (every IFBench prompt uses these).
KEYWORD_TIMES = (1, 2, 3, 5, 7)
_TIMES_WORDS = {"once": 1, "twice": 2, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10}

#: The fixed list the ``count:person_names`` prompts give.
PERSON_NAMES = ["Emma", "Liam", "Sophia", "Jackson", "Olivia", "Noah", "Ava", "Lucas", "Isabella", "Mason", "Mia", "Ethan", "Charlotte", "Alexander", "Amelia", "Benjamin", "Harper", "Leo", "Zoe", "Daniel", "Chloe", "Samuel", "Lily", "Matthew", "Grace", "Owen", "Abigail", "Gabriel", "Ella", "Jacob", "Scarlett", "Nathan", "Victoria", "Elijah", "Layla", "Nicholas", "Audrey", "David", "Hannah", "Christopher", "Penelope", "Thomas", "Nora", "Andrew", "Aria", "Joseph", "Claire", "Ryan", "Stella", "Jonathan"]

PRONOUNS = frozenset(
    ["i", "me", "my", "mine", "myself", "you", "your", "yours", "yourself", "yourselves", "he", "him", "his", "himself", "she", "her", "hers", "herself", "it", "its", "itself", "we", "us", "our", "ours", "ourselves", "they", "them", "their", "theirs", "themselves"]
)

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _word_count(text: str, word: str) -> int:
    return len(re.findall(r"\b" + re.escape(word) + r"\b", text, flags=re.IGNORECASE))


@checker("count:conjunctions", "use at least small_n different coordinating conjunctions")
def conjunctions(response: str, args: Args, prompt: str) -> Verdict:
    needed = args.int("small_n")
    words = {w.lower() for w in treebank_words(response)}
    used = [c for c in COORDINATING_CONJUNCTIONS if c in words]
    return verdict(len(used) >= needed, f"needed {needed} different coordinating conjunctions, found {len(used)} ({', '.join(used) or 'none'})")


def _stated_times(prompt: str, keyword: str) -> int | None:
    """The count the prompt asks for, from "keyword X once / twice / N times" (N a word or digits)."""
    match = re.search(r"keyword " + re.escape(keyword) + r" (once|twice|(\w+) times)", prompt, flags=re.IGNORECASE)
    if not match:
        return None
    word = (match.group(2) or match.group(1)).lower()
    return int(word) if word.isdigit() else _TIMES_WORDS.get(word)


@checker("count:keywords_multiple", "keyword1..keyword5 appear exactly the stated numbers of times (1, 2, 3, 5, 7)")
def keywords_multiple(response: str, args: Args, prompt: str) -> Verdict:
    wrong = []
    for i, default_times in enumerate(KEYWORD_TIMES, start=1):
        keyword = args.str(f"keyword{i}")
        times = _stated_times(prompt, keyword) or default_times
        found = _word_count(response, keyword)
        if found != times:
            wrong.append(f"{keyword!r} needed {times}x, found {found}x")
    return verdict(not wrong, "; ".join(wrong) or "every keyword appears the required number of times")


@checker("count:numbers", "include exactly N numbers")
def numbers(response: str, args: Args, prompt: str) -> Verdict:
    needed = args.int("N")
    found = _NUMBER.findall(response)
    return verdict(len(found) == needed, f"needed exactly {needed} numbers, found {len(found)}")


@checker("count:person_names", "mention at least N different names from the prompt's list")
def person_names(response: str, args: Args, prompt: str) -> Verdict:
    needed = args.int("N")
    found = [name for name in PERSON_NAMES if re.search(r"\b" + name + r"\b", response)]
    return verdict(len(found) >= needed, f"needed at least {needed} different names from the list, found {len(found)}")


@checker("count:pronouns", "include at least N pronouns")
def pronouns(response: str, args: Args, prompt: str) -> Verdict:
    needed = args.int("N")
    found = sum(1 for w in treebank_words(response) if w.lower() in PRONOUNS)
    return verdict(found >= needed, f"needed at least {needed} pronouns, found {found}")


#: Marks ``count:punctuation`` requires; each entry is satisfied by any of its spellings.
STANDARD_PUNCTUATION: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("period", (".",)),
    ("comma", (",",)),
    ("question mark", ("?",)),
    ("exclamation mark", ("!",)),
    ("semicolon", (";",)),
    ("colon", (":",)),
    ("parentheses", ("(",)),
    ("dash", ("-", "–", "—")),
    ("apostrophe", ("'", "’")),
    ("quotation marks", ('"', "“", "”")),
    ("interrobang", ("?!", "!?", "‽")),
)


@checker("count:punctuation", "use every standard punctuation mark, including the interrobang")
def punctuation(response: str, args: Args, prompt: str) -> Verdict:
    missing = [name for name, spellings in STANDARD_PUNCTUATION if not any(s in response for s in spellings)]
    return verdict(not missing, f"missing: {', '.join(missing)}" if missing else "every standard mark is used")


@checker("count:unique_word_count", "use at least N unique words")
def unique_word_count(response: str, args: Args, prompt: str) -> Verdict:
    needed = args.int("N")
    unique = {w.lower() for w in treebank_words(response) if any(c.isalnum() for c in w)}
    return verdict(len(unique) >= needed, f"needed at least {needed} unique words, found {len(unique)}")


@checker("count:word_count_range", "contain between min_words and max_words words")
def word_count_range(response: str, args: Args, prompt: str) -> Verdict:
    low, high = args.int("min_words"), args.int("max_words")
    count = len(counted_words(response))
    return verdict(low <= count <= high, f"needed {low}-{high} words, found {count}")


@checker("count:words_japanese", "every N-th word is Japanese")
def words_japanese(response: str, args: Args, prompt: str) -> Verdict:
    step = args.int("N")
    words = whitespace_words(response)
    if len(words) < step:
        return verdict(False, f"the response has fewer than {step} words")
    bad = [i + 1 for i in range(step - 1, len(words), step) if not any(is_japanese(c) for c in words[i])]
    return verdict(not bad, f"words {bad[:5]} are not Japanese" if bad else f"every {step}th word is Japanese")
