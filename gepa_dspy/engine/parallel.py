"""Opt-in parallel proposals (``num_parallel_proposals`` = k > 1): k iterations per round, run concurrently.

Used only when the user asks for it; the default loop (search.py) runs one ``Iteration`` at a time and never
comes here. A round has three phases:

1. *Plan*, on this thread, in order: draw k iterations from the seeded RNG and sampler (``Iteration.draw``),
   as many as the budget can pay for in the worst case; an iteration that does not fit has its draws undone.
2. *Run*, one worker thread per iteration (``Iteration.run``). The only order-sensitive step, the component
   choice (round-robin pointers), is taken in iteration order: each ``RoundTurn`` waits for the one before.
3. *Commit*, on this thread, in order (``Iteration.commit``).

``parallel_proposal_mode`` says how the iterations of a round relate:

- ``"independent"``: all are drawn from the pool as it was at the start of the round, and every winner joins it;
- ``"prefetch"``: iteration j is drawn assuming iterations 1..j-1 lose. It runs its parent minibatch and its
  reflection ahead, but its child runs wait until 1..j-1 know their minibatch verdicts, and it is discarded
  (its draws undone, to be drawn again next round) when one of them won. The search therefore takes exactly
  the sequential loop's decisions; a discarded iteration has paid for its parent minibatch only.

Every decision depends only on the pool at the start of the round and on the iterations' own results, never on
thread timing, so the same seed gives the same search. (A third mode, ``"speculative"``, was removed: see
docs/orchestration.md, "Which parallel modes are kept".)
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Callable, Iterator

from .budgeted_evaluator import AbortEvaluation, PeerRunFailed
from .iteration import NOT_REFLECTED, Iteration, Proposal, Turn
from .records import IterationRecord
from .state import SearchState

logger = logging.getLogger("gepa_dspy")


class RoundTurn(Turn):
    """An iteration's place in its round: it chooses its components after the one before it, and in a prefetch
    round waits for every earlier iteration's minibatch verdict before paying for its child."""

    def __init__(self, proposal: Proposal, earlier: list["RoundTurn"], mode: str, runs: Any) -> None:
        self.proposal = proposal
        self.earlier = earlier
        self.mode = mode
        self.runs = runs
        #: The draws (RNG, sampler, iteration number, merge schedule) from just before this iteration was drawn.
        self.draws_before: dict[str, Any] = {}
        #: Set once this iteration has chosen its components (or will not), and once it knows its minibatch verdict.
        self.chosen = threading.Event()
        self.resolved = threading.Event()
        #: The round-robin pointers after this iteration's choice: what the next iteration chooses against.
        self.pointers_after: list[int] | None = None

    @contextlib.contextmanager
    def choosing(self, state: SearchState) -> Iterator[list[int]]:
        before = self.earlier[-1] if self.earlier else None
        if before is not None:
            before.chosen.wait()
        pointers = before.pointers_after if before is not None and before.pointers_after is not None \
            else list(state.pool.next_component)
        try:
            yield pointers
        finally:
            chosen = self.proposal.next_component
            self.pointers_after = chosen if chosen is not None else pointers
            self.chosen.set()

    def same_reflection_earlier_in_round(self, matches: Callable[[IterationRecord], bool]) -> int | None:
        """As the sequential loop would find it in the history: an earlier iteration of this round with the same
        parent, components and minibatch that reflected (waited for until its minibatch verdict is known). In a
        prefetch round an iteration after a winner is dropped at commit whatever it did."""
        for other in self.earlier:
            if other.proposal.merge is None and matches(other.proposal.record):
                other.resolved.wait()
                # won_minibatch is fixed before resolved is set; the status of a winner may still change
                # (to "discarded" by an even earlier winner), so it is not read for one.
                if other.proposal.won_minibatch or other.proposal.status not in NOT_REFLECTED:
                    return other.proposal.record.iteration
        return None

    def child_runs_may_start(self, proposal: Proposal) -> bool:
        if self.mode != "prefetch" or not self.earlier:
            return True
        return not self._discarded_for_earlier_win()

    def full_val_may_start(self, proposal: Proposal) -> bool:
        self.resolved.set()
        if self.mode != "prefetch":
            return True
        return not self._discarded_for_earlier_win()

    def _discarded_for_earlier_win(self) -> bool:
        """Wait until every earlier iteration knows its minibatch verdict; discard this one if one of them won
        (it was drawn assuming they would all lose)."""
        for other in self.earlier:
            other.resolved.wait()
        self.runs.check_abort()
        if any(other.proposal.won_minibatch for other in self.earlier):
            self.proposal.set("discarded", f"an earlier proposal of this {self.mode} round was accepted")
            return True
        return False


class ParallelRounds:
    """Runs the search's iterations k at a time (see the module docstring)."""

    def __init__(self, state: SearchState, iteration: Iteration, num_proposals: int, mode: str) -> None:
        self.state = state
        self.iteration = iteration
        self.runs = iteration.runs
        self.num_proposals = num_proposals
        self.mode = mode

    def round(self) -> list[Proposal]:
        """Plan, run and commit one round; returns the committed proposals (none: the budget cannot pay for one)."""
        turns = self._plan()
        if turns:
            self._run(turns)
        return self._commit(turns)

    def _plan(self) -> list[RoundTurn]:
        turns: list[RoundTurn] = []
        left = self.runs.remaining
        val_max = 0
        while len(turns) < self.num_proposals:
            saved = self._draws()
            proposal, cost = self.iteration.draw()
            if self.mode == "prefetch":
                # At most one iteration of a prefetch round goes on to a full validation run.
                needed = cost.minibatch + max(val_max, cost.full_val) - val_max
            else:
                needed = cost.minibatch + cost.full_val
            if needed > left:
                if turns:
                    # Undo this iteration's draws: the next round draws it again, against the budget then left.
                    self._restore_draws(saved)
                else:
                    logger.info("GEPA: stopping: the next proposal could need %d metric calls, %d left", needed, left)
                break
            left -= needed
            val_max = max(val_max, cost.full_val)
            turn = RoundTurn(proposal, list(turns), self.mode, self.runs)
            turn.draws_before = saved
            self.iteration.start(proposal)
            turns.append(turn)
        return turns

    def _run(self, turns: list[RoundTurn]) -> None:
        """One worker thread per iteration; a failure aborts the others (they finish what is in flight), and the
        root cause is re-raised."""
        executor = ThreadPoolExecutor(max_workers=len(turns), thread_name_prefix="gepa-proposal")
        futures = []
        try:
            for turn in turns:
                # Each worker runs in a copy of the caller's context, so context-local settings follow it.
                futures.append(executor.submit(contextvars.copy_context().run, self._run_one, turn))
            try:
                wait(futures)
            except KeyboardInterrupt:
                self.runs.abort.set()
                wait(futures)
                raise
        finally:
            executor.shutdown(wait=True)
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            # Prefer the root cause over the knock-on failures of the other iterations.
            errors.sort(key=lambda e: isinstance(e, (AbortEvaluation, PeerRunFailed)))
            raise errors[0]  # type: ignore[misc]

    def _run_one(self, turn: RoundTurn) -> None:
        try:
            self.iteration.run(turn.proposal, turn)
        except BaseException:
            self.runs.abort.set()
            raise
        finally:
            turn.chosen.set()
            turn.resolved.set()

    def _commit(self, turns: list[RoundTurn]) -> list[Proposal]:
        """Commit the round's iterations in order. A prefetch round keeps them up to the first accepted one; the
        rest are undone (draws and iteration numbers) as if never drawn, and the next round draws them again."""
        if self.mode == "prefetch":
            first = next((i for i, t in enumerate(turns) if t.proposal.status == "accepted"), None)
            if first is not None and first + 1 < len(turns):
                dropped, turns = turns[first + 1:], turns[:first + 1]
                self._restore_draws(dropped[0].draws_before)
                self.state.count("prefetched_proposals_discarded", len(dropped))
        if turns and turns[-1].pointers_after is not None:
            # The pointers after the kept iterations' choices, recorded before any child joins the pool, so every
            # child inherits its parent's pointer as it stands after the whole round.
            for turn in turns:
                turn.proposal.next_component = turns[-1].pointers_after
        for turn in turns:
            self.iteration.commit(turn.proposal)
        return [turn.proposal for turn in turns]

    def _draws(self) -> dict[str, Any]:
        state = self.state
        return {"rng": state.rng.getstate(), "sampler": state.sampler.state_dict(), "iteration": state.iteration,
                "merges": state.merges.state_dict()}

    def _restore_draws(self, saved: dict[str, Any]) -> None:
        state = self.state
        state.rng.setstate(saved["rng"])
        state.sampler.load_state_dict(saved["sampler"])
        state.iteration = saved["iteration"]
        state.merges.load_state_dict(saved["merges"])
