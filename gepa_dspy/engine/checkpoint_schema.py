"""The schema of ``gepa_state.json`` and of journal records, checked with pydantic before anything is loaded.

A checkpoint is data a user (or a damaged disk) can edit. Every value the search would trust is checked here:
types, finite numbers, scores in ``[0, perfect_score]`` (the range live metric values must pass), indices that
point at earlier candidates (no parent cycles), component pointers, and a sampler order that is a real epoch of
the training ids (a short one made the sampler loop forever). A violation raises ``CheckpointError`` naming the
file and the field; nothing is half-loaded.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError, ValidationInfo, model_validator

from .checkpoint import CheckpointError, FORMAT_VERSION
from .records import FAILURE_KINDS

Count = Annotated[StrictInt, Field(ge=0)]
Number = Annotated[StrictFloat, Field(allow_inf_nan=False)]
Index = Annotated[StrictInt, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _context(info: ValidationInfo) -> dict[str, Any]:
    return info.context or {}


def _check_score(where: str, score: float, perfect_score: float | None) -> None:
    if perfect_score is not None and not 0.0 <= score <= perfect_score:
        raise ValueError(f"{where}: score {score!r} is outside [0, perfect_score={perfect_score}]")


def _check_rng_state(where: str, state: list[Any]) -> None:
    try:
        version, internal, gauss = state
        random.Random().setstate((version, tuple(internal), gauss))
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{where}: not a state of Python's random generator ({exc})") from None


class PoolState(_Strict):
    component_names: list[StrictStr]
    candidates: list[dict[StrictStr, StrictStr]] = Field(min_length=1)
    parents: list[list[Index]]
    origins: list[Literal["seed", "reflection", "merge"]]
    val_scores: list[list[Number]]
    discovery_metric_calls: list[Count]
    next_component: list[Index]

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> "PoolState":
        ctx = _context(info)
        n = len(self.candidates)
        for name in ("parents", "origins", "val_scores", "discovery_metric_calls", "next_component"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"pool.{name}: {len(getattr(self, name))} entries for {n} candidates")
        seed = ctx.get("seed_candidate")
        if seed is not None:
            if self.component_names != list(seed):
                raise ValueError(f"pool.component_names: {self.component_names} is not the program's {list(seed)}")
            if self.candidates[0] != seed:
                raise ValueError("pool.candidates[0]: is not the seed program's instructions")
        for i, candidate in enumerate(self.candidates):
            if sorted(candidate) != sorted(self.component_names):
                raise ValueError(f"pool.candidates[{i}]: components {sorted(candidate)} are not {sorted(self.component_names)}")
            if (self.origins[i] == "seed") != (i == 0):
                raise ValueError(f"pool.origins[{i}]: {self.origins[i]!r} (only candidate 0 is the seed)")
            if (i == 0) != (not self.parents[i]) or any(p >= i for p in self.parents[i]):
                raise ValueError(f"pool.parents[{i}]: {self.parents[i]} (every candidate but the seed descends from earlier ones)")
            if self.next_component[i] >= len(self.component_names):
                raise ValueError(f"pool.next_component[{i}]: {self.next_component[i]} but there are {len(self.component_names)} components")
            n_val = ctx.get("n_val")
            if n_val is not None and len(self.val_scores[i]) != n_val:
                raise ValueError(f"pool.val_scores[{i}]: {len(self.val_scores[i])} scores for {n_val} validation examples")
            for j, score in enumerate(self.val_scores[i]):
                _check_score(f"pool.val_scores[{i}][{j}]", score, ctx.get("perfect_score"))
        return self


class SamplerState(_Strict):
    order: list[StrictStr]
    position: Count
    epoch: Annotated[StrictInt, Field(ge=-1)]
    rng: list[Any]

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> "SamplerState":
        _check_rng_state("sampler.rng", self.rng)
        train_ids = _context(info).get("train_ids")
        if train_ids is None:
            return self
        if self.epoch < 0 and self.order:
            raise ValueError("sampler.order: not empty before the first epoch")
        if self.epoch >= 0 and sorted(self.order[: len(train_ids)]) != sorted(train_ids):
            raise ValueError("sampler.order: its epoch is not a shuffle of the training example ids")
        stray = sorted(set(self.order) - set(train_ids))
        if stray:
            raise ValueError(f"sampler.order: ids {stray[:5]} are not training examples")
        if self.position > len(self.order):
            raise ValueError(f"sampler.position: {self.position} is past the end of the order ({len(self.order)})")
        return self


class MergeState(_Strict):
    due: Count
    attempts: Count
    tried: list[Annotated[list[Index], Field(min_length=3, max_length=3)]]


class HistoryRecord(_Strict):
    iteration: Count
    kind: Literal["reflection", "merge"]
    status: StrictStr
    parent_ids: list[Index]
    components: list[StrictStr]
    example_ids: list[StrictStr]
    parent_scores: list[Number]
    child_scores: list[Number]
    new_candidate_id: Optional[Index]
    metric_calls_after: Count
    note: StrictStr


class CheckpointState(BaseModel):
    # Unknown top-level keys are kept (later versions may save more); every known one is checked strictly.
    model_config = ConfigDict(extra="allow", strict=True)

    format_version: Literal[FORMAT_VERSION]  # type: ignore[valid-type]
    fingerprint: dict[str, Any]
    saved_at: Number
    iteration: Count
    pool: PoolState
    sampler: SamplerState
    rng: list[Any]
    merge: MergeState
    history: list[HistoryRecord]
    counters: dict[StrictStr, StrictInt]
    curve: list[Annotated[list[Number], Field(min_length=2, max_length=2)]]
    num_full_val_evals: Count
    metric_calls: Count
    cache_hits: Count = 0
    stalled: Count = 0

    @model_validator(mode="after")
    def _consistent(self) -> "CheckpointState":
        _check_rng_state("rng", self.rng)
        n = len(self.pool.candidates)
        for i, triple in enumerate(self.merge.tried):
            if any(k >= n for k in triple):
                raise ValueError(f"merge.tried[{i}]: {triple} names a candidate that does not exist ({n} candidates)")
        for i, record in enumerate(self.history):
            ids = [*record.parent_ids, *([] if record.new_candidate_id is None else [record.new_candidate_id])]
            if any(k >= n for k in ids):
                raise ValueError(f"history[{i}]: names candidate(s) {ids} of {n}")
        for i, (calls, _) in enumerate(self.curve):
            if calls != int(calls) or calls < 0:
                raise ValueError(f"curve[{i}]: metric calls {calls!r} is not a count")
        return self


class OutcomeRecord(_Strict):
    score: Number
    feedback: StrictStr
    failure: Optional[Literal[FAILURE_KINDS]] = None  # type: ignore[valid-type]
    trace: list[dict[StrictStr, Any]] = []
    output: dict[StrictStr, Any] = {}
    objectives: dict[StrictStr, Number] = {}


class EvaluationRecord(_Strict):
    c: StrictStr
    e: StrictStr
    o: OutcomeRecord

    @model_validator(mode="after")
    def _in_range(self, info: ValidationInfo) -> "EvaluationRecord":
        _check_score("o.score", self.o.score, _context(info).get("perfect_score"))
        return self


class ProposalRecord(_Strict):
    k: StrictStr
    text: Optional[StrictStr]


def _raise(path: Path, prefix: str, error: ValidationError) -> None:
    first = error.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in first["loc"])
    message = str(first.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    field = f"{prefix}{loc}" if loc else prefix.rstrip(": ") or "(top level)"
    if loc and message.startswith(loc):  # a cross-field check names the exact field itself
        field, message = f"{prefix}{message.split(': ', 1)[0]}", message.split(": ", 1)[-1]
    raise CheckpointError(
        f"{path}: field {field}: {message} ({error.error_count()} problem(s) in all). The file was edited or damaged; "
        "delete the log_dir (or use a fresh one) to start over."
    ) from None


def validate_checkpoint(path: Path, data: Any, *, seed_candidate: dict[str, str], train_ids: list[str], n_val: int,
                        perfect_score: float) -> None:
    """Raise ``CheckpointError`` naming ``path`` and the field unless ``data`` is a checkpoint this search can load."""
    context = {"seed_candidate": seed_candidate, "train_ids": train_ids, "n_val": n_val, "perfect_score": perfect_score}
    try:
        CheckpointState.model_validate(data, context=context)
    except ValidationError as error:
        _raise(path, "", error)
    except RecursionError:
        raise CheckpointError(f"{path}: nested too deeply to be a checkpoint; delete the log_dir to start over") from None


def evaluation_record_checker(path: Path, perfect_score: float):
    """A function checking one evaluation-journal record (``record``, its number) against the schema."""
    def check(record: Any, number: int) -> None:
        try:
            EvaluationRecord.model_validate(record, context={"perfect_score": perfect_score})
        except ValidationError as error:
            _raise(path, f"record {number}: ", error)
    return check


def proposal_record_checker(path: Path):
    def check(record: Any, number: int) -> None:
        try:
            ProposalRecord.model_validate(record)
        except ValidationError as error:
            _raise(path, f"record {number}: ", error)
    return check
