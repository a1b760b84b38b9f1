"""IFEval ``length_constraints:*`` checkers: paragraphs, sentences and words."""

from __future__ import annotations

import re

from benchmarks.ifbench.checkers_ifeval_case import RELATIONS, compare
from benchmarks.ifbench.registry import Args, Verdict, checker, verdict
from benchmarks.ifbench.text import alnum_words, split_sentences


@checker("length_constraints:nth_paragraph_first_word", "num_paragraphs paragraphs (blank-line separated); paragraph nth_paragraph starts with first_word")
def nth_paragraph_first_word(response: str, args: Args, prompt: str) -> Verdict:
    needed = args.int("num_paragraphs")
    nth = args.int("nth_paragraph")
    first_word = args.str("first_word").lower()
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", response) if p.strip()]
    if len(paragraphs) != needed:
        return verdict(False, f"needed {needed} paragraphs, found {len(paragraphs)}")
    if nth > len(paragraphs):
        return verdict(False, f"there is no paragraph {nth}")
    words = paragraphs[nth - 1].split()
    found = re.sub(r"[^\w'-]", "", words[0]).lower() if words else ""
    return verdict(found == first_word, f"paragraph {nth} starts with {found!r}, needed {first_word!r}")


@checker("length_constraints:number_paragraphs", "exactly num_paragraphs paragraphs separated by the divider ***")
def number_paragraphs(response: str, args: Args, prompt: str) -> Verdict:
    needed = args.int("num_paragraphs")
    parts = re.split(r"\s?\*\*\*\s?", response)
    stripped = [p.strip() for p in parts]
    # a leading or trailing divider is tolerated; an empty paragraph between two dividers is not
    while stripped and not stripped[0]:
        stripped.pop(0)
    while stripped and not stripped[-1]:
        stripped.pop()
    if any(not p for p in stripped):
        return verdict(False, "an empty paragraph sits between two *** dividers")
    return verdict(len(stripped) == needed, f"needed {needed} paragraphs separated by ***, found {len(stripped)}")


@checker("length_constraints:number_sentences", "sentence count less than / at least num_sentences")
def number_sentences(response: str, args: Args, prompt: str) -> Verdict:
    target = args.int("num_sentences")
    relation = args.choice("relation", RELATIONS)
    count = len(split_sentences(response))
    return verdict(compare(count, relation, target), f"needed {relation} {target} sentences, found {count}")


@checker("length_constraints:number_words", "word count less than / at least num_words")
def number_words(response: str, args: Args, prompt: str) -> Verdict:
    target = args.int("num_words")
    relation = args.choice("relation", RELATIONS)
    count = len(alnum_words(response))
    return verdict(compare(count, relation, target), f"needed {relation} {target} words, found {count}")
