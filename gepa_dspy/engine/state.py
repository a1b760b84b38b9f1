"""What a search saves and restores: ``SearchState`` (everything a checkpoint holds) and ``LogDirFiles`` (the
files in ``log_dir``: the checkpoint, the run identity and the two crash-safe journals).

With a ``log_dir`` the state is checkpointed atomically at the start of every iteration (or parallel round),
and every paid run and every proposal is journaled the moment it completes. A killed search therefore resumes
from its last checkpoint and replays what was journaled since, paying for nothing twice. The checkpoint's
JSON form is checked by ``checkpoint_schema``; its fields are those of ``SearchState.state_dict``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .candidate import Candidate
from .checkpoint import FORMAT_VERSION, check_identity, load_checkpoint, save_json_atomic
from .checkpoint_schema import evaluation_record_checker, proposal_record_checker, validate_checkpoint
from .evaluation_cache import EvaluationCache
from .journal import JsonlJournal
from .merge_scheduler import MergeScheduler
from .pool import CandidatePool
from .records import IterationRecord
from .sampler import EpochMinibatchSampler, rng_state_from_json, rng_state_to_json

logger = logging.getLogger("gepa_dspy")

CHECKPOINT_FILE = "gepa_state.json"
EVAL_JOURNAL_FILE = "evaluations.jsonl"
PROPOSAL_JOURNAL_FILE = "proposals.jsonl"


@dataclass
class SearchState:
    """The search's mutable state: the pool, the seeded draws (RNG, minibatch sampler, merge schedule) and the
    record of what happened (history, counters, score curve). The paid runs live in the evaluation cache."""

    pool: CandidatePool
    sampler: EpochMinibatchSampler
    rng: random.Random
    merges: MergeScheduler
    iteration: int = 0
    history: list[IterationRecord] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    #: (metric calls paid, best validation mean) each time a candidate joined the pool.
    curve: list[tuple[int, float]] = field(default_factory=list)
    num_full_val_evals: int = 0
    #: Iterations in a row that added no candidate and paid for no run (the stall check).
    stalled: int = 0
    _count_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, name: str, by: int = 1) -> None:
        """Add ``by`` to the counter ``name`` (proposals of a parallel round count concurrently)."""
        with self._count_lock:
            self.counters[name] = self.counters.get(name, 0) + by

    def state_dict(self, fingerprint: dict[str, Any], metric_calls: int, cache_hits: int) -> dict[str, Any]:
        """The checkpoint: this state, plus the run's fingerprint and the paid-run figures at this point."""
        return {
            "format_version": FORMAT_VERSION,
            "fingerprint": fingerprint,
            "saved_at": time.time(),
            "iteration": self.iteration,
            "pool": self.pool.state_dict(),
            "sampler": self.sampler.state_dict(),
            "rng": rng_state_to_json(self.rng),
            "merge": self.merges.state_dict(),
            "history": [asdict(r) for r in self.history],
            "counters": self.counters,
            "curve": self.curve,
            "num_full_val_evals": self.num_full_val_evals,
            "metric_calls": metric_calls,
            "cache_hits": cache_hits,
            "stalled": self.stalled,
        }

    def load_state_dict(self, data: dict[str, Any]) -> None:
        """Restore from a checkpoint already checked by ``checkpoint_schema.validate_checkpoint``."""
        self.iteration = int(data["iteration"])
        self.pool = CandidatePool.from_state_dict(data["pool"])
        self.sampler.load_state_dict(data["sampler"])
        self.rng.setstate(rng_state_from_json(data["rng"]))
        self.merges.load_state_dict(data["merge"])
        self.history = [IterationRecord(**r) for r in data["history"]]
        self.counters = {str(k): int(v) for k, v in data["counters"].items()}
        # Checkpoints written before the speculative mode was removed name the prefetch discards after it.
        if "speculative_proposals_discarded" in self.counters:
            self.count("prefetched_proposals_discarded", self.counters.pop("speculative_proposals_discarded"))
        self.curve = [(int(a), float(b)) for a, b in data["curve"]]
        self.num_full_val_evals = int(data["num_full_val_evals"])
        self.stalled = int(data.get("stalled", 0))


class LogDirFiles:
    """The files a search keeps in ``log_dir``: checkpoint, run identity, evaluation and proposal journals.

    The evaluation journal is written by the ``EvaluationCache`` (one record per paid run); the proposal journal
    here (one record per proposed instruction, so a resumed iteration replays it instead of asking the LM again).
    """

    def __init__(self, log_dir: Path, fingerprint: dict[str, Any]) -> None:
        self.log_dir = log_dir
        self.fingerprint = fingerprint
        self.checkpoint_path = log_dir / CHECKPOINT_FILE
        self.eval_journal = JsonlJournal(log_dir / EVAL_JOURNAL_FILE)
        self.proposal_journal = JsonlJournal(log_dir / PROPOSAL_JOURNAL_FILE)

    def save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        save_json_atomic(self.checkpoint_path, checkpoint)

    def load(self, cache: EvaluationCache, proposals: "JournaledProposals", seed_candidate: Candidate,
             train_ids: list[str], n_val: int, perfect_score: float) -> dict[str, Any] | None:
        """Check the files belong to this run, load both journals (into ``cache`` and ``proposals``), and
        return the checked checkpoint, or None when there is none (the search starts from the seed)."""
        data = load_checkpoint(self.checkpoint_path, self.fingerprint)
        if data is not None:
            validate_checkpoint(self.checkpoint_path, data, seed_candidate=seed_candidate, train_ids=train_ids,
                                n_val=n_val, perfect_score=perfect_score)
        check_identity(self.log_dir, self.fingerprint, [self.eval_journal.path, self.proposal_journal.path],
                       has_checkpoint=data is not None)
        loaded = cache.load_journal(evaluation_record_checker(self.eval_journal.path, perfect_score))
        check_proposal = proposal_record_checker(self.proposal_journal.path)
        for number, rec in enumerate(self.proposal_journal.read()):
            check_proposal(rec, number)
            proposals.texts[str(rec["k"])] = rec.get("text")
        if data is None and loaded:
            logger.info("GEPA: reusing %d journaled evaluations from %s", loaded, self.log_dir)
        return data

    @property
    def torn_lines(self) -> int:
        """Journal lines torn by a kill, skipped and cut while loading."""
        return self.eval_journal.torn_lines + self.proposal_journal.torn_lines

    def close(self) -> None:
        self.eval_journal.close()
        self.proposal_journal.close()


class JournaledProposals:
    """Every instruction proposed so far, by (iteration, parent, component): an iteration that a kill
    interrupted is replayed with the proposals it had already paid the reflection LM for."""

    def __init__(self, journal: JsonlJournal | None) -> None:
        self.journal = journal
        self.texts: dict[str, str | None] = {}

    @staticmethod
    def key(iteration: int, parent_key: str, component: str) -> str:
        return f"{iteration}:{parent_key}:{component}"

    def record(self, key: str, text: str | None) -> None:
        if self.journal is not None:
            self.journal.append({"k": key, "text": text})
        self.texts[key] = text
