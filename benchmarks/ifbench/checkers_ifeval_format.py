"""IFEval ``detectable_format:*`` checkers: JSON, sections, bullets, highlights, titles, fixed answers."""

from __future__ import annotations

import json
import re

from benchmarks.ifbench.registry import Args, Verdict, checker, verdict

#: The fixed answers ``detectable_format:constrained_response`` accepts.
CONSTRAINED_ANSWERS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


@checker("detectable_format:constrained_response", "answer with one of 'My answer is yes./no./maybe.'")
def constrained_response(response: str, args: Args, prompt: str) -> Verdict:
    found = [a for a in CONSTRAINED_ANSWERS if a in response.strip()]
    return verdict(bool(found), f"contains {found[0]!r}" if found else f"contains none of {list(CONSTRAINED_ANSWERS)}")


_FENCE = re.compile(r"^```(?:json|JSON|Json)?\s*\n?(.*?)\n?\s*```$", flags=re.DOTALL)


@checker("detectable_format:json_format", "the entire output is valid JSON (a ``` fence is allowed)")
def json_format(response: str, args: Args, prompt: str) -> Verdict:
    text = response.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        json.loads(text)
    except ValueError as error:
        return verdict(False, f"not valid JSON: {error}")
    return verdict(True, "valid JSON")


@checker("detectable_format:multiple_sections", "num_sections sections, each marked '<section_spliter> N'")
def multiple_sections(response: str, args: Args, prompt: str) -> Verdict:
    needed = args.int("num_sections")
    splitter = args.str("section_spliter").strip()
    markers = re.findall(r"\b" + re.escape(splitter) + r"\s?\d+", response)
    return verdict(len(markers) >= needed, f"needed {needed} sections marked '{splitter} N', found {len(markers)}")


_STAR_BULLET = re.compile(r"^\s*\*[^*].*$", flags=re.MULTILINE)
_DASH_BULLET = re.compile(r"^\s*-.*$", flags=re.MULTILINE)


@checker("detectable_format:number_bullet_lists", "exactly num_bullets markdown bullet points")
def number_bullet_lists(response: str, args: Args, prompt: str) -> Verdict:
    needed = args.int("num_bullets")
    found = len(_STAR_BULLET.findall(response)) + len(_DASH_BULLET.findall(response))
    return verdict(found == needed, f"needed exactly {needed} bullet points, found {found}")


_HIGHLIGHT = re.compile(r"\*\*[^\n*]+\*\*|\*[^\n*]+\*")


@checker("detectable_format:number_highlighted_sections", "at least num_highlights *highlighted* sections")
def number_highlighted_sections(response: str, args: Args, prompt: str) -> Verdict:
    needed = args.int("num_highlights")
    found = [h for h in _HIGHLIGHT.findall(response) if h.strip("*").strip()]
    return verdict(len(found) >= needed, f"needed at least {needed} *highlighted* sections, found {len(found)}")


@checker("detectable_format:title", "include a title wrapped in double angular brackets <<title>>")
def title(response: str, args: Args, prompt: str) -> Verdict:
    titles = [t for t in re.findall(r"<<([^\n]+?)>>", response) if t.strip()]
    return verdict(bool(titles), f"title {titles[0]!r}" if titles else "no <<title>> found")
