"""Fast task ``name_format``: write a person's name as the staff directory's house format.

House format: ``SURNAME, Given M. (Title.)``, e.g. ``dr. anna maria van der berg`` -> ``VAN DER BERG, Anna M.
(Dr.)``. The seed instruction only asks for the directory format; the rules (surname first in capitals,
particles belong to the surname, middle names become initials, titles go last in parentheses and Mr/Ms are
dropped) are the house's.
"""

from __future__ import annotations

import random
from typing import Any, Sequence

import dspy


from .task import Case, FastTask, Rule, make_metric, splits_loader

RULES = (
    Rule("order", "Write the surname first in capital letters, then a comma and a space, then the given name "
                  "with only its first letter capitalised (SMITH, John)."),
    Rule("particle", "Name particles (van, der, de, la, von, da, di, du, le) belong to the surname and are "
                     "written in capitals with it (VAN DER BERG)."),
    Rule("middle", "Middle names are shortened to their initial with a period (Anna Maria -> Anna M.)."),
    Rule("title", "Academic and medical titles go last in parentheses as (Dr.) or (Prof.); Mr, Mrs and Ms are "
                  "dropped."),
)

GIVEN = ("anna", "john", "maria", "lukas", "sofia", "omar", "elena", "pieter", "chloe", "mateo", "ingrid",
         "ravi", "yuki", "fatima", "henrik", "lucia", "noah", "amara")
MIDDLE = ("maria", "james", "louise", "paul", "rose", "karl", "ines", "david")
SURNAMES = ("berg", "smith", "costa", "mueller", "silva", "okafor", "tanaka", "novak", "dubois", "rossi",
            "jensen", "garcia", "kowalski", "haddad", "brandt", "moreau")
PARTICLES = ("van", "van der", "de", "de la", "von", "da", "di", "du", "le")
PARTICLE_WORDS = frozenset(w for p in PARTICLES for w in p.split())
TITLES = {"dr": "Dr.", "prof": "Prof."}
DROPPED_TITLES = ("mr", "mrs", "ms")


def house_name(given: str, middles: Sequence[str], particle: str, surname: str, title: str) -> str:
    """The directory form of the parts (all lowercase words; ``title`` lowercase without its period)."""
    family = f"{particle} {surname}".strip().upper()
    first = given.capitalize() + "".join(f" {m[0].upper()}." for m in middles)
    suffix = f" ({TITLES[title]})" if title in TITLES else ""
    return f"{family}, {first}{suffix}"


def _cased(words: str, style: str) -> str:
    if style == "upper":
        return words.upper()
    if style == "title":
        return " ".join(w if w in PARTICLE_WORDS else w.capitalize() for w in words.split())
    return words


def generate(rng: random.Random) -> Case:
    given = rng.choice(GIVEN)
    middles = rng.sample(MIDDLE, k=rng.choices((0, 1, 2), weights=(5, 4, 1))[0])
    middles = [m for m in middles if m != given]
    particle = rng.choice(PARTICLES) if rng.random() < 0.35 else ""
    surname = rng.choice(SURNAMES)
    title = rng.choices(("", "dr", "prof", "mr", "ms", "mrs"), weights=(6, 2, 1, 1, 1, 1))[0]
    words = " ".join(w for w in (given, *middles, particle, surname) if w)
    style = rng.choice(("lower", "upper", "title"))
    spoken_title = ""
    if title:
        spoken_title = (title.upper() if style == "upper" else title.capitalize() if style == "title" else title)
        spoken_title += rng.choice((". ", " "))
    name = spoken_title + _cased(words, style)
    rules = ["order"] + (["particle"] if particle else []) + (["middle"] if middles else []) + (["title"] if title else [])
    return Case({"name": name}, house_name(given, middles, particle, surname, title), tuple(rules))


def parse_name(name: str) -> tuple[str, list[str], str, str, str]:
    """(given, middles, particle, surname, title) of a name as the generator writes it."""
    words = name.replace(".", " ").lower().split()
    title = ""
    if words and words[0] in (*TITLES, *DROPPED_TITLES):
        title = words.pop(0)
    surname = words.pop()
    particle_words: list[str] = []
    while words and words[-1] in PARTICLE_WORDS and len(words) > 1:
        particle_words.insert(0, words.pop())
    return words[0], words[1:], " ".join(particle_words), surname, title


def solve(name: str) -> str:
    """The house form of ``name``, read from its text alone."""
    return house_name(*parse_name(name))


def naive_format(name: str) -> str:
    """What a model writes without the house rules: the name in title case, title kept in front."""
    given, middles, particle, surname, title = parse_name(name)
    parts = [TITLES.get(title, title.capitalize() + "." if title else ""), given.capitalize(),
             *(m.capitalize() for m in middles), particle, surname.capitalize()]
    return " ".join(p for p in parts if p)


def diagnose(gold: dspy.Example, given_answer: str, pred: Any) -> Sequence[str]:
    """Compare the answer with the house form part by part and name each rule whose part is wrong."""
    given, middles, particle, surname, title = parse_name(gold.name)
    family = f"{particle} {surname}".strip().upper()
    broken: list[str] = []
    head, comma, tail = given_answer.partition(",")
    if not comma or head.strip() != family:
        if comma and particle and head.strip() == surname.upper():
            broken.append("particle")
        elif comma and particle and head.strip().upper() == family and head.strip() != family:
            broken += ["order", "particle"]
        else:
            broken.append("order")
            if particle and particle.upper() not in given_answer.upper().split(",")[0]:
                broken.append("particle")
    tail = tail.strip() if comma else given_answer
    if comma and not tail.startswith(given.capitalize()):
        broken.append("order")
    if middles and any(m in tail.lower().split() for m in middles):
        broken.append("middle")
    if middles and comma and not all(f" {m[0].upper()}." in f" {tail}" for m in middles):
        broken.append("middle")
    expected_suffix = f"({TITLES[title]})" if title in TITLES else ""
    answer_words = given_answer.lower().replace(".", " ").replace("(", " ").replace(")", " ").split()
    if expected_suffix and not tail.rstrip().endswith(expected_suffix):
        broken.append("title")
    if not expected_suffix and (given_answer.rstrip().endswith(")") or (title and title in answer_words)):
        broken.append("title")
    return list(dict.fromkeys(broken))


TASK = FastTask(name="name_format", rules=RULES, input_fields=("name",), output_field="directory_name",
                generate=generate, diagnose=diagnose, case_sensitive=True)


class FormatName(dspy.Signature):
    """Write the person's name in the staff directory's format."""

    name: str = dspy.InputField()
    directory_name: str = dspy.OutputField(desc="the name as the directory lists it")


def make_program() -> dspy.Module:
    """A fresh, unoptimized formatter: one ``dspy.Predict``."""
    return dspy.Predict(FormatName)


load_splits = splits_loader(TASK)


metric = make_metric(TASK)
