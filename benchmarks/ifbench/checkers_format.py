"""IFBench ``format:*`` checkers: layout, markup and punctuation shape of the response."""

from __future__ import annotations

import re

from benchmarks.ifbench.registry import Args, Verdict, checker, verdict
from benchmarks.ifbench.text import (
    EMOJI_MODIFIERS,
    is_emoji,
    nonempty_lines,
    plain_words,
    split_sentences,
)

_SENTENCE_TRAIL = ".!?,;:\"'”’)]} \t\n"


def _attach_leading_emojis(sentences: list[str]) -> list[str]:
    """Move emojis that open a sentence onto the end of the previous one: in "done. 🚀 Next" the
    rocket belongs to the first sentence."""
    out: list[str] = []
    for sentence in sentences:
        i = 0
        while i < len(sentence) and (is_emoji(sentence[i]) or sentence[i].isspace()):
            i += 1
        if out and i:
            out[-1] = out[-1] + " " + sentence[:i].strip()
            sentence = sentence[i:]
        if sentence.strip():
            out.append(sentence.strip())
    return out


def _ends_with_emoji(sentence: str) -> bool:
    tail = sentence.rstrip(_SENTENCE_TRAIL)
    while tail and tail[-1] in EMOJI_MODIFIERS:
        tail = tail[:-1]
    return bool(tail) and is_emoji(tail[-1])


@checker("format:emoji", "end every sentence with an emoji")
def emoji(response: str, args: Args, prompt: str) -> Verdict:
    sentences = _attach_leading_emojis(split_sentences(response))
    bad = [s for s in sentences if not _ends_with_emoji(s)]
    if bad:
        return verdict(False, f"{len(bad)} of {len(sentences)} sentences do not end with an emoji, e.g. {bad[0][-60:]!r}")
    return verdict(True, f"all {len(sentences)} sentences end with an emoji")


@checker("format:line_indent", "indent each new line further than the previous one (stairs)")
def line_indent(response: str, args: Args, prompt: str) -> Verdict:
    lines = nonempty_lines(response)
    indents = [len(line) - len(line.lstrip()) for line in lines]
    for n, (before, after) in enumerate(zip(indents, indents[1:]), start=2):
        if after <= before:
            return verdict(False, f"line {n} is indented {after} spaces, not more than the previous line's {before}")
    return verdict(True, f"{len(lines)} lines, each indented further than the last")


@checker("format:list", "a list whose items are introduced by the separator sep")
def separator_list(response: str, args: Args, prompt: str) -> Verdict:
    sep = args.str("sep")
    items = [part for part in response.split(sep) if part.strip()]
    ok = sep in response and len(items) >= 2
    return verdict(ok, f"separator {sep!r} found {response.count(sep)} times, giving {len(items)} items")


@checker("format:newline", "write each word on its own line")
def newline(response: str, args: Args, prompt: str) -> Verdict:
    crowded = [line.strip() for line in nonempty_lines(response) if len(line.split()) > 1]
    if crowded:
        return verdict(False, f"{len(crowded)} lines hold more than one word, e.g. {crowded[0][:60]!r}")
    return verdict(True, "every line holds one word")


_BULLET_STAR = re.compile(r"^\s*\*\s")
_ANY_BULLET = re.compile(r"^\s*[*-]\s")


@checker("format:no_bullets_bullets", "at least two sentences ending in a period, then at least two * bullet points")
def no_bullets_bullets(response: str, args: Args, prompt: str) -> Verdict:
    # The reference wants the bullets to close the response as one unbroken block of lines.
    lines = response.strip().split("\n")
    n_bullets = 0
    while n_bullets < len(lines) and _BULLET_STAR.match(lines[len(lines) - 1 - n_bullets]):
        n_bullets += 1
    intro = "\n".join(lines[: len(lines) - n_bullets])
    period_sentences = [s for s in split_sentences(intro) if s.endswith(".")]
    if n_bullets < 2:
        return verdict(False, f"needed at least 2 * bullet points closing the response as one block, found {n_bullets}")
    if len(period_sentences) < 2:
        return verdict(False, f"needed 2 sentences ending in a period before the bullets, found {len(period_sentences)}")
    early = [line for line in lines[: len(lines) - n_bullets] if _ANY_BULLET.match(line)]
    if early:
        return verdict(False, f"bullet points appear before the closing bullet block, e.g. {early[0].strip()[:50]!r}")
    return verdict(True, f"{len(period_sentences)} sentences, then {n_bullets} bullets")


@checker("format:no_whitespace", "the response contains no whitespace")
def no_whitespace(response: str, args: Args, prompt: str) -> Verdict:
    found = sum(1 for c in response.strip() if c.isspace())
    return verdict(found == 0, f"found {found} whitespace characters" if found else "no whitespace")


def _parse_options(text: str) -> list[str]:
    for pattern in (r"\s*/\s*", r"\s*,\s*", r"\s+or\s+"):
        parts = [p.strip() for p in re.split(pattern, text) if p.strip()]
        if len(parts) > 1:
            return parts
    return [text.strip()]


@checker("format:options", "answer with exactly one of the given options")
def options(response: str, args: Args, prompt: str) -> Verdict:
    choices = _parse_options(args.str("options"))
    answer = response.strip()
    return verdict(answer in choices, f"answered {answer[:60]!r}; options are {choices}")


TEMPLATE_FIELDS = ("My Answer:", "My Conclusion:", "Future Outlook:")


@checker("format:output_template", "use the template My Answer: / My Conclusion: / Future Outlook:")
def output_template(response: str, args: Args, prompt: str) -> Verdict:
    missing = [field for field in TEMPLATE_FIELDS if field not in response]
    return verdict(not missing, f"missing {missing}" if missing else "all template fields present")


_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}


@checker("format:parentheses", "nest parentheses, brackets and braces at least 5 levels deep")
def parentheses(response: str, args: Args, prompt: str) -> Verdict:
    depth = deepest = 0
    for char in response:
        if char in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif char in _CLOSERS and depth > 0:
            depth -= 1
    return verdict(deepest >= 5, f"needed nesting depth 5, found {deepest}")


@checker("format:quote_unquote", "every quoted phrase is followed by an unquoted explanation")
def quote_unquote(response: str, args: Args, prompt: str) -> Verdict:
    parts = response.split('"')
    # parts[1], parts[3], ... are quoted; the part after each must hold some unquoted text
    for i in range(1, len(parts), 2):
        after = parts[i + 1] if i + 1 < len(parts) else ""
        if not any(c.isalnum() for c in after):
            return verdict(False, f"quoted phrase {parts[i][:50]!r} is not followed by an explanation")
    return verdict(True, f"{len(parts) // 2} quoted phrases, each followed by unquoted text")


@checker("format:quotes", "quotes within quotes at least 3 levels deep, alternating double and single")
def quotes(response: str, args: Args, prompt: str) -> Verdict:
    # A quote mark equal to the innermost open one closes it, any other opens a level. Like the
    # reference, apostrophes count as single quotes and the marks must balance in the end.
    stack: list[str] = []
    deepest = 0
    for char in response:
        if char in "\"'":
            if stack and stack[-1] == char:
                stack.pop()
            else:
                stack.append(char)
                deepest = max(deepest, len(stack))
    if stack:
        return verdict(False, f"quote marks do not balance ({len(stack)} left open); deepest nesting {deepest}")
    return verdict(deepest >= 3, f"needed 3 levels of nested quotes, found {deepest}")


def _bullet_segments(response: str) -> list[str]:
    return response.split("*")[1:]


@checker("format:sub-bullets", "* bullet points, each with at least one - sub-bullet")
def sub_bullets(response: str, args: Args, prompt: str) -> Verdict:
    # Like the reference, every stretch of text after a "*" must hold a "-" sub-bullet, so "**bold**"
    # fails and a response without any "*" passes vacuously.
    segments = _bullet_segments(response)
    for segment in segments:
        if not re.search(r"(?m)^\s*-", segment):
            return verdict(False, f"the text after a '*' has no '-' sub-bullet: {segment.strip()[:50]!r}")
    return verdict(True, f"{len(segments)} '*' items, each with a '-' sub-bullet")


@checker("format:thesis", "each section begins with a thesis statement in HTML italics")
def thesis(response: str, args: Args, prompt: str) -> Verdict:
    sections = [s.strip() for s in re.split(r"\n\s*\n", response) if s.strip()]
    bad = [s for s in sections if not re.match(r"(?is)^<(i|em)>.+?</\1>", s)]
    if bad:
        return verdict(False, f"{len(bad)} of {len(sections)} sections do not begin with <i>/<em> italics, e.g. {bad[0][:50]!r}")
    return verdict(True, f"all {len(sections)} sections begin with an italic thesis")


@checker("format:title_case", "write the entire response in title case")
def title_case(response: str, args: Args, prompt: str) -> Verdict:
    lower = [w for w in plain_words(response) if w[0].isalpha() and not w[0].isupper()]
    if lower:
        return verdict(False, f"{len(lower)} words are not capitalised, e.g. {lower[:3]}")
    return verdict(True, "every word is capitalised")
