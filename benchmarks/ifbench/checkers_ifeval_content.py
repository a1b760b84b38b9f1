"""IFEval content checkers: ``combination:*``, ``detectable_content:*``, ``keywords:*``,
``punctuation:*`` and ``startend:*``."""

from __future__ import annotations

import re

from benchmarks.ifbench.checkers_ifeval_case import RELATIONS, compare
from benchmarks.ifbench.registry import Args, Verdict, checker, verdict

#: The separator ``combination:two_responses`` asks for between the two answers.
TWO_RESPONSES_SEPARATOR = "******"


@checker("combination:repeat_prompt", "first repeat the request word for word, then answer")
def repeat_prompt(response: str, args: Args, prompt: str) -> Verdict:
    request = args.str("prompt_to_repeat").strip()
    ok = response.strip().lower().startswith(request.lower())
    return verdict(ok, "the response starts with the request" if ok else f"the response does not start with the request {request[:60]!r}")


@checker("combination:two_responses", "two different responses separated by ******")
def two_responses(response: str, args: Args, prompt: str) -> Verdict:
    parts = response.split(TWO_RESPONSES_SEPARATOR)
    answers = [p.strip() for p in parts]
    if len(parts) != 2 or not all(answers):
        return verdict(False, f"needed exactly 2 non-empty responses separated by {TWO_RESPONSES_SEPARATOR}, found {len([a for a in answers if a])} in {len(parts)} parts")
    if answers[0] == answers[1]:
        return verdict(False, "the two responses are identical")
    return verdict(True, "two different responses")


@checker("detectable_content:number_placeholders", "at least num_placeholders placeholders in square brackets")
def number_placeholders(response: str, args: Args, prompt: str) -> Verdict:
    needed = args.int("num_placeholders")
    found = re.findall(r"\[[^\[\]\n]*\]", response)
    return verdict(len(found) >= needed, f"needed at least {needed} [placeholders], found {len(found)}")


def _postscript_pattern(marker: str) -> re.Pattern[str]:
    # the marker's letters and dots as given ("P.S.", "P.P.S"), case-insensitive, at the start of a
    # line, allowing one space after each dot ("P. S.")
    body = "".join(re.escape(c) + (r"\s?" if c == "." else "") for c in marker.lower() if not c.isspace())
    return re.compile(r"^\s*" + body, flags=re.MULTILINE)


@checker("detectable_content:postscript", "end with a postscript starting with postscript_marker")
def postscript(response: str, args: Args, prompt: str) -> Verdict:
    marker = args.str("postscript_marker")
    found = _postscript_pattern(marker).search(response.lower())
    return verdict(bool(found), f"a line starting with {marker!r} {'was' if found else 'was not'} found")


@checker("keywords:existence", "include every keyword in keywords")
def existence(response: str, args: Args, prompt: str) -> Verdict:
    keywords = args.str_list("keywords")
    missing = [k for k in keywords if not re.search(re.escape(k), response, flags=re.IGNORECASE)]
    return verdict(not missing, f"missing keywords: {missing}" if missing else "all keywords present")


@checker("keywords:forbidden_words", "use none of forbidden_words")
def forbidden_words(response: str, args: Args, prompt: str) -> Verdict:
    words = args.str_list("forbidden_words")
    used = [w for w in words if re.search(r"\b" + re.escape(w) + r"\b", response, flags=re.IGNORECASE)]
    return verdict(not used, f"used forbidden words: {used}" if used else "no forbidden word used")


@checker("keywords:frequency", "keyword appears less than / at least frequency times")
def frequency(response: str, args: Args, prompt: str) -> Verdict:
    keyword = args.str("keyword")
    target = args.int("frequency")
    relation = args.choice("relation", RELATIONS)
    count = len(re.findall(re.escape(keyword), response, flags=re.IGNORECASE))
    return verdict(compare(count, relation, target), f"needed {keyword!r} {relation} {target} times, found {count}")


@checker("keywords:letter_frequency", "letter appears less than / at least let_frequency times")
def letter_frequency(response: str, args: Args, prompt: str) -> Verdict:
    letter = args.str("letter").lower()
    target = args.int("let_frequency")
    relation = args.choice("let_relation", RELATIONS)
    count = response.lower().count(letter)
    return verdict(compare(count, relation, target), f"needed {letter!r} {relation} {target} times, found {count}")


@checker("punctuation:no_comma", "use no commas")
def no_comma(response: str, args: Args, prompt: str) -> Verdict:
    count = response.count(",")
    return verdict(count == 0, f"found {count} commas" if count else "no commas")


@checker("startend:end_checker", "end with the exact phrase end_phrase")
def end_checker(response: str, args: Args, prompt: str) -> Verdict:
    phrase = args.str("end_phrase").strip()
    ok = response.strip().lower().endswith(phrase.lower())
    tail = response.strip()[-len(phrase) - 10 :]
    return verdict(ok, f"ends with {phrase!r}" if ok else f"needed to end with {phrase!r}, ends with {tail!r}")


@checker("startend:quotation", "wrap the whole response in double quotes")
def quotation(response: str, args: Args, prompt: str) -> Verdict:
    text = response.strip()
    ok = len(text) > 1 and text[0] == '"' and text[-1] == '"'
    return verdict(ok, "wrapped in double quotes" if ok else "not wrapped in double quotes")
