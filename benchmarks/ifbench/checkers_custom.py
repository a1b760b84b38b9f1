"""IFBench ``custom:*`` checkers: one-off tasks whose expected answer is fixed by the prompt.

Each of these ids belongs to exactly one IFBench prompt and has no kwargs; the constants below
(column names, row counts, the expected facts) come from those prompts.
"""

from __future__ import annotations

import csv
import re
from datetime import date

from benchmarks.ifbench.lexicon_geo import (
    AFRICAN_COUNTRIES,
    AFRICAN_COUNTRY_ALIASES,
    EUROPEAN_CAPITAL_ALIASES,
    EUROPEAN_CAPITALS,
    fold,
)
from benchmarks.ifbench.registry import Args, Verdict, checker, verdict
from benchmarks.ifbench.text import split_sentences


def _csv_rows(response: str, delimiter: str) -> list[list[str]]:
    """Every line of the response parsed as CSV; blank lines are kept (as empty rows) so that
    stray blank lines count against the row total, as in the reference."""
    lines = response.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]  # a single final newline ends the last row, it is not a row itself
    return [next(csv.reader([line], delimiter=delimiter), []) for line in lines]


def _check_table(response: str, columns: tuple[str, ...], n_rows: int, delimiter: str) -> Verdict | None:
    """None when the response is a header with ``columns`` plus exactly ``n_rows`` full rows."""
    rows = _csv_rows(response, delimiter)
    if not rows:
        return verdict(False, "no CSV rows")
    header = [field.strip() for field in rows[0]]
    if header != list(columns):
        return verdict(False, f"header is {header}, needed {list(columns)} ({delimiter!r}-delimited)")
    data = rows[1:]
    if len(data) != n_rows:
        return verdict(False, f"needed {n_rows} data rows, found {len(data)} (blank lines count)")
    bad = [i for i, row in enumerate(data, start=1) if len(row) != len(columns)]
    if bad:
        return verdict(False, f"rows {bad[:5]} do not have {len(columns)} fields")
    return None


CSV_CITY_COLUMNS = ("ID", "Country", "City", "Year", "Count")
CSV_QUOTES_COLUMNS = ("StudentID", "Subject", "Grade", "Semester", "Score")
CSV_SPECIAL_COLUMNS = ("ProductID", "Category", "Brand", "Price", "Stock")


@checker("custom:csv_city", "CSV with columns ID,Country,City,Year,Count, comma-delimited, 7 rows")
def csv_city(response: str, args: Args, prompt: str) -> Verdict:
    problem = _check_table(response, CSV_CITY_COLUMNS, 7, ",")
    return problem or verdict(True, "header and 7 comma-delimited rows")


@checker("custom:csv_quotes", "tab-delimited CSV, 3 rows, every field in double quotes")
def csv_quotes(response: str, args: Args, prompt: str) -> Verdict:
    problem = _check_table(response, CSV_QUOTES_COLUMNS, 3, "\t")
    if problem:
        return problem
    raw_fields = [field for line in response.strip().split("\n") for field in line.split("\t")]
    unquoted = [f for f in raw_fields if not (len(f) >= 2 and f.startswith('"') and f.endswith('"'))]
    if unquoted:
        return verdict(False, f"{len(unquoted)} fields are not in double quotes, e.g. {unquoted[0]!r}")
    return verdict(True, "header and 3 tab-delimited rows, all fields quoted")


@checker("custom:csv_special_character", "comma-delimited CSV, 14 rows, one quoted field with a special character")
def csv_special_character(response: str, args: Args, prompt: str) -> Verdict:
    problem = _check_table(response, CSV_SPECIAL_COLUMNS, 14, ",")
    if problem:
        return problem
    quoted = re.findall(r'(?:^|,)"((?:[^"]|"")*)"(?=,|$)', response, flags=re.MULTILINE)
    special = [q for q in quoted if re.search(r"[^\w\s]", q)]
    if not special:
        return verdict(False, "no double-quoted field contains a special character")
    return verdict(True, f"header and 14 rows; quoted field with a special character: {special[0]!r}")


@checker("custom:date_format_list", "comma-separated dates in YYYY-MM-DD format, nothing else")
def date_format_list(response: str, args: Args, prompt: str) -> Verdict:
    items = [item.strip() for item in response.strip().split(",")]
    for item in items:
        match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", item)
        if not match:
            return verdict(False, f"{item[:40]!r} is not a YYYY-MM-DD date")
        try:
            date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            return verdict(False, f"{item!r} is not a valid date")
    return verdict(True, f"{len(items)} comma-separated YYYY-MM-DD dates")


#: European capitals north of 45 degrees, from highest latitude to lowest.
CAPITALS_NORTH_OF_45 = [name for name, (lat, _) in sorted(EUROPEAN_CAPITALS.items(), key=lambda kv: -kv[1][0]) if lat > 45]


@checker("custom:european_capitals_sort", "European capitals north of 45 degrees, comma-separated, by latitude descending")
def european_capitals_sort(response: str, args: Args, prompt: str) -> Verdict:
    items = [item.strip().rstrip(".") for item in response.strip().split(",") if item.strip()]
    named = []
    for item in items:
        canonical = EUROPEAN_CAPITAL_ALIASES.get(fold(item))
        if canonical is None:
            return verdict(False, f"{item[:40]!r} is not a European capital (or has extra text)")
        named.append(canonical)
    wrong = [c for c in named if c not in CAPITALS_NORTH_OF_45]
    if wrong:
        return verdict(False, f"south of 45 degrees: {wrong[:5]}")
    missing = [c for c in CAPITALS_NORTH_OF_45 if c not in named]
    if missing:
        return verdict(False, f"missing capitals: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    if named != CAPITALS_NORTH_OF_45:
        return verdict(False, "the capitals are not sorted by latitude from highest to lowest")
    return verdict(True, f"all {len(named)} capitals, sorted by latitude")


_QUESTION_START = re.compile(r"(?m)^\W*Question\b")
_OPTION_LINE = re.compile(r"(?m)^\s*\(?[A-Ea-e][).:]\s")


@checker("custom:mcq_count_length", "4 questions labelled 'Question', 5 options each, progressively longer")
def mcq_count_length(response: str, args: Args, prompt: str) -> Verdict:
    starts = [m.start() for m in _QUESTION_START.finditer(response)]
    blocks = [response[a:b] for a, b in zip(starts, starts[1:] + [len(response)])]
    if len(blocks) != 4:
        return verdict(False, f"needed 4 questions starting with 'Question', found {len(blocks)}")
    lengths = []
    for i, block in enumerate(blocks, start=1):
        options = _OPTION_LINE.findall(block)
        if len(options) != 5:
            return verdict(False, f"question {i} has {len(options)} options, needed 5")
        first_option = _OPTION_LINE.search(block)
        lengths.append(len(block[: first_option.start()].strip()) if first_option else len(block))
    if not all(b > a for a, b in zip(lengths, lengths[1:])):
        return verdict(False, f"question lengths {lengths} are not increasing")
    return verdict(True, f"4 questions with 5 options each, lengths {lengths}")


MULTIPLES_OF_7 = [14, 21, 28, 35, 42, 49]


@checker("custom:multiples", "print only the multiples of 7 between 10 and 50")
def multiples(response: str, args: Args, prompt: str) -> Verdict:
    numbers = [int(n) for n in re.findall(r"\d+", response)]
    if re.search(r"[A-Za-z]", response):
        return verdict(False, f"the response has text besides the numbers; numbers found: {numbers[:10]}")
    return verdict(numbers == MULTIPLES_OF_7, f"printed {numbers[:10]}, needed {MULTIPLES_OF_7}")


@checker("custom:reverse_newline", "Africa's countries in reverse alphabetical order, one per line")
def reverse_newline(response: str, args: Args, prompt: str) -> Verdict:
    lines = [line.strip() for line in response.split("\n") if line.strip()]
    named = []
    for line in lines:
        canonical = AFRICAN_COUNTRY_ALIASES.get(fold(line))
        if canonical is None:
            return verdict(False, f"{line[:40]!r} is not an African country name")
        named.append(canonical)
    if len(set(named)) != len(named):
        return verdict(False, "some countries are listed twice")
    folded = [fold(line) for line in lines]
    if folded != sorted(folded, reverse=True):
        return verdict(False, "the countries are not in reverse alphabetical order")
    missing = sorted(set(AFRICAN_COUNTRIES) - set(named))
    if missing:
        return verdict(False, f"{len(missing)} countries missing, e.g. {missing[:3]}")
    return verdict(True, f"all {len(named)} countries in reverse alphabetical order")


@checker("custom:sentence_alphabet", "26 sentences whose first words start with A, B, ..., Z in order")
def sentence_alphabet(response: str, args: Args, prompt: str) -> Verdict:
    sentences = split_sentences(response)
    if len(sentences) != 26:
        return verdict(False, f"needed 26 sentences, found {len(sentences)}")
    for i, sentence in enumerate(sentences):
        first = next((c for c in sentence if c.isalpha()), "")
        expected = chr(ord("a") + i)
        if first.lower() != expected:
            return verdict(False, f"sentence {i + 1} starts with {first!r}, needed {expected.upper()!r}")
    return verdict(True, "26 sentences from A to Z")


@checker("custom:word_reverse", "answer (the bald eagle) with the words in reverse order")
def word_reverse(response: str, args: Args, prompt: str) -> Verdict:
    words = [w.lower() for w in re.findall(r"[A-Za-z]+", response)]
    backwards = " ".join(reversed(words))
    ok = "bald eagle" in backwards and "bald eagle" not in " ".join(words)
    return verdict(ok, "the reversed words read '... bald eagle ...'" if ok else "reading the words backwards does not give 'bald eagle'")
