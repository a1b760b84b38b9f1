"""What every fast task is made of: house rules, generated cases, seeded splits and a rule-naming metric.

A task is a :class:`FastTask`: its rules (id -> text), the names of its input and output fields, a generator
that draws one :class:`Case` from a ``random.Random`` and a ``diagnose`` function that names the rules a wrong
answer breaks. From it, :func:`load_splits` draws train/val/test deterministically from a seed and
:func:`make_metric` builds the feedback metric (``dspy.Prediction(score, feedback)``), so each task module
stays a list of rules plus its generator, solver and program.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import dspy

from benchmarks.common import Splits

#: (train, val, test) sizes of the fast suite: test is large so one example moves the mean by 1/3 point.
FAST_SIZES: tuple[int, int, int] = (25, 25, 300)

#: Give up drawing a split when this many draws in a row add no new distinct input.
MAX_DUPLICATE_DRAWS = 5000


@dataclass(frozen=True)
class Rule:
    """One house rule: a short id (used in examples and logs) and the sentence a user would write down."""

    id: str
    text: str


@dataclass(frozen=True)
class Case:
    """One generated example: input field values, the rule-following answer and the rules it depends on."""

    inputs: dict[str, str]
    answer: str
    rules: tuple[str, ...]


#: ``diagnose(example, predicted_answer, prediction) -> rule ids`` that the wrong answer breaks (may be empty).
Diagnose = Callable[[dspy.Example, str, Any], Sequence[str]]


@dataclass(frozen=True)
class FastTask:
    """A fast task: rules, fields, generator and the diagnosis that turns a wrong answer into named rules."""

    name: str
    rules: tuple[Rule, ...]
    input_fields: tuple[str, ...]
    output_field: str
    generate: Callable[[random.Random], Case]
    diagnose: Diagnose
    #: Compare answers ignoring letter case (labels) or exactly (formats whose case is a rule).
    case_sensitive: bool = True

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(f"task {self.name!r} has no rule {rule_id!r}; its rules are {[r.id for r in self.rules]}")

    def to_example(self, case: Case) -> dspy.Example:
        unknown = [r for r in case.rules if r not in {rule.id for rule in self.rules}]
        if unknown:
            raise ValueError(f"task {self.name!r}: a case names unknown rule(s) {unknown}")
        data = dict(case.inputs)
        data[self.output_field] = case.answer
        data["rules"] = ",".join(case.rules)
        return dspy.Example(**data).with_inputs(*self.input_fields)


def clean_answer(text: Any) -> str:
    """A model's answer as compared: outer whitespace, quotes, backticks and one trailing period removed
    (only when the period does not end an abbreviation such as ``(Dr.)``)."""
    value = "" if text is None else str(text)
    value = value.strip().strip("`").strip().strip("'\"").strip()
    if value.endswith(".") and not value.endswith(".)") and len(value) > 1 and not value[-2].isupper():
        value = value[:-1].rstrip()
    return value


def draw_cases(task: FastTask, rng: random.Random, count: int, taken: set[str]) -> list[Case]:
    """``count`` cases with inputs unseen in ``taken`` (which is updated); raises when the generator runs dry."""
    cases: list[Case] = []
    misses = 0
    while len(cases) < count:
        case = task.generate(rng)
        key = "\n".join(case.inputs[f] for f in task.input_fields)
        if key in taken:
            misses += 1
            if misses > MAX_DUPLICATE_DRAWS:
                raise RuntimeError(f"task {task.name!r}: could draw only {len(cases)} of {count} distinct cases")
            continue
        misses = 0
        taken.add(key)
        cases.append(case)
    return cases


def load_task_splits(task: FastTask, seed: int = 0, sizes: tuple[int, int, int] | None = None) -> Splits:
    """Train, val and test for ``seed``, disjoint by input.

    The test split is the same for every seed (drawn from ``random.Random(f"fast-{task}-test")``): every
    optimizer run of a task is scored on the same examples, so the seed-independent baseline program is
    scored once per task and each seed's runs pair with it example by example. Train and val are drawn from
    ``random.Random(f"fast-{task}-{seed}")``, skipping the test inputs. The same (task, seed, sizes) always
    gives the same examples in the same order.
    """
    n_train, n_val, n_test = sizes or FAST_SIZES
    if min(n_train, n_val, n_test) < 0:
        raise ValueError(f"split sizes must be non-negative, got {sizes!r}")
    taken: set[str] = set()
    test = draw_cases(task, random.Random(f"fast-{task.name}-test"), n_test, taken)
    rng = random.Random(f"fast-{task.name}-{seed}")
    train, val = (draw_cases(task, rng, n, taken) for n in (n_train, n_val))
    return Splits(*([task.to_example(c) for c in part] for part in (train, val, test)))


def splits_loader(task: FastTask) -> Callable[..., Splits]:
    """The task module's ``load_splits(scale, seed, data_dir, sizes)``, the benchmark interface's signature;
    ``scale`` and ``data_dir`` are accepted for that interface and unused (the cases are generated)."""

    def load_splits(scale: str = "small", seed: int = 0, data_dir: Any = None,
                    sizes: tuple[int, int, int] | None = None) -> Splits:
        return load_task_splits(task, seed, sizes)

    load_splits.__doc__ = f"Seeded train/val/test of {task.name} (see ``load_task_splits``)."
    return load_splits


def make_metric(task: FastTask, step_fields: Sequence[str] = ()) -> Callable[..., dspy.Prediction]:
    """The task's metric: 1.0 for the rule-following answer, else 0.0 with feedback naming the broken rule(s).

    The feedback gives the expected and the given answer, what the program's intermediate ``step_fields``
    held (multi-step programs), then the rule(s) ``diagnose`` blames, or, when it blames none, every rule
    the example depends on.
    """

    def metric(gold: dspy.Example, pred: Any, trace: Any = None, pred_name: str | None = None,
               pred_trace: Any = None) -> dspy.Prediction:
        expected = gold[task.output_field]
        raw = getattr(pred, task.output_field, None) if pred is not None else None
        given = clean_answer(raw)
        same = given == expected if task.case_sensitive else given.casefold() == expected.casefold()
        if same:
            return dspy.Prediction(score=1.0, feedback=f"Correct: {expected!r}.")
        blamed = [r for r in dict.fromkeys(task.diagnose(gold, given, pred))]
        example_rules = [r for r in str(gold.get("rules", "")).split(",") if r]
        named = blamed or example_rules
        lines = [f"Wrong: expected {expected!r}, got {given!r}."]
        for field in step_fields:
            lines.append(f"The intermediate {field} was {clean_answer(getattr(pred, field, None))!r}.")
        if named:
            lead = "Broken rule" if len(named) == 1 else "Broken rules"
            lines.append(f"{lead}: " + " ".join(f"[{r}] {task.rule(r).text}" for r in named))
        return dspy.Prediction(score=0.0, feedback=" ".join(lines))

    metric.__name__ = f"{task.name}_metric"
    return metric
