"""One iteration of GEPA, top to bottom: the paper's Algorithm 1 (reflective mutation), or Algorithm 4 (merge)
when a merge is due.

    draw     select a parent (Pareto sampling) and a training minibatch; or a merge of two candidates
    run      parent on the minibatch -> choose components -> reflect (propose instructions) -> child on the
             minibatch -> accept? -> child on the full valset (or raced, see racing.py)
    commit   record the component choice; an accepted child joins the pool; the iteration joins the history

``GEPASearch`` (search.py) runs these three steps one iteration at a time. The opt-in parallel rounds
(parallel.py) run several iterations' ``run`` steps at once; the only places where such an iteration waits for
the earlier ones of its round are the three ``Turn`` methods below, which never wait in the sequential loop.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from . import events as ev
from .budgeted_evaluator import BudgetedEvaluator
from .candidate import Candidate, candidate_key, repaired_text
from .config import SearchConfig
from .merge import MergePlan
from .protocols import Proposer
from .racing import race
from .records import IterationRecord, Outcome
from .state import JournaledProposals, SearchState
from .strategies import AcceptanceCriterion, ComponentSelector, ParentSelector, SelectionContext, choose_components

logger = logging.getLogger("gepa_dspy")


@dataclass
class Proposal:
    """One iteration's proposal (a reflection, or a merge when ``merge`` is set) and what became of it."""

    record: IterationRecord
    merge: MergePlan | None = None
    #: For a merge: the validation positions of its subsample (``record.example_ids``).
    positions: Sequence[int] = ()
    child: Candidate | None = None
    val_scores: list[float] | None = None
    status: str = ""
    note: str = ""
    #: Round-robin pointers to record at commit (``ComponentChoice.next_component``); None: the iteration chose none.
    next_component: list[int] | None = None
    #: Whether the child beat its parent(s) on the minibatch and so asked for a validation run.
    won_minibatch: bool = False

    def set(self, status: str, note: str) -> None:
        self.status, self.note = status, note


@dataclass(frozen=True)
class WorstCaseCost:
    """The most metric calls a drawn proposal can pay for: on its minibatch (parent and child), then on the
    validation examples outside the minibatch (if its child wins)."""

    minibatch: int
    full_val: int


class Turn:
    """Where an iteration would wait for the earlier iterations of a parallel round (see parallel.py).

    In the sequential loop there are none: this class waits for nothing and lets every step go ahead.
    """

    @contextlib.contextmanager
    def choosing(self, state: SearchState) -> Iterator[list[int]]:
        """Held while the iteration chooses its components; yields the round-robin pointers to choose against."""
        yield state.pool.next_component

    def same_reflection_earlier_in_round(self, matches: Callable[[IterationRecord], bool]) -> int | None:
        """An earlier iteration of this round that ``matches`` and reflected (so this one would repeat it)."""
        return None

    def child_runs_may_start(self, proposal: Proposal) -> bool:
        return True

    def full_val_may_start(self, proposal: Proposal) -> bool:
        return True


SEQUENTIAL = Turn()

#: Statuses of reflection iterations that do not make a later identical reflection a repeat: those that ended
#: before a proposal was scored (skipped, repeated, discarded by a parallel round), and "no_proposal", whose
#: failure may have been the LM's (an outage, a timeout) and may not happen again.
NOT_REFLECTED = ("skipped_perfect", "repeat", "discarded", "no_proposal")


class Iteration:
    """The steps of one iteration over the search's state, strategies and budgeted evaluator."""

    def __init__(self, state: SearchState, config: SearchConfig, val_ids: list[str], runs: BudgetedEvaluator,
                 proposer: Proposer, parent_selector: ParentSelector, component_selector: ComponentSelector,
                 acceptance: AcceptanceCriterion, merge_acceptance: AcceptanceCriterion, proposals: JournaledProposals,
                 events: ev.EventDispatcher) -> None:
        self.state = state
        self.config = config
        self.val_ids = val_ids
        self.runs = runs
        self.proposer = proposer
        self.parent_selector = parent_selector
        self.component_selector = component_selector
        self.acceptance = acceptance
        self.merge_acceptance = merge_acceptance
        self.proposals = proposals
        self.events = events

    # ------------------------------------------------------------------ draw
    def draw(self) -> tuple[Proposal, WorstCaseCost]:
        """The next iteration: a merge when one is due and possible, else a reflection on a parent chosen by the
        parent selector and the sampler's next minibatch. Takes the seeded draws; pays for nothing."""
        state, pool = self.state, self.state.pool
        merge = state.merges.draw(pool, state.rng)
        if merge is not None:
            plan, positions = merge
            subsample = [self.val_ids[j] for j in positions]
            record = IterationRecord(iteration=0, kind="merge", status="", parent_ids=[plan.left, plan.right],
                                     example_ids=subsample)
            record.components = [n for n in pool.component_names if plan.merged[n] != pool.candidates[plan.ancestor][n]]
            on_subsample = self.runs.cost(plan.merged, subsample)
            cost = WorstCaseCost(on_subsample, self.runs.cost(plan.merged, self.val_ids) - on_subsample)
            return Proposal(record=record, merge=plan, positions=positions, child=dict(plan.merged)), cost
        parent_id = self.parent_selector.select(pool, state.rng)
        batch = state.sampler.next_batch()
        parent = pool.candidates[parent_id]
        outside_batch = [v for v in self.val_ids if v not in set(batch)]
        cost = WorstCaseCost(self.runs.cost(parent, batch) + len(set(batch)), len(outside_batch))
        record = IterationRecord(iteration=0, kind="reflection", status="", parent_ids=[parent_id], example_ids=list(batch))
        return Proposal(record=record), cost

    def start(self, proposal: Proposal) -> None:
        """The drawn proposal becomes the next iteration (it fits the budget)."""
        self.state.iteration += 1
        proposal.record.iteration = self.state.iteration
        if proposal.merge is not None:
            self.state.merges.started(proposal.merge)
        record = proposal.record
        self.events.emit(ev.IterationStarted(record.iteration, record.kind, tuple(record.parent_ids), tuple(record.example_ids)))

    # ------------------------------------------------------------------- run
    def run(self, proposal: Proposal, turn: Turn = SEQUENTIAL) -> None:
        if proposal.merge is not None:
            self._run_merge(proposal, turn)
        else:
            self._run_reflection(proposal, turn)

    def _run_reflection(self, proposal: Proposal, turn: Turn) -> None:
        record = proposal.record
        parent_id = record.parent_ids[0]
        batch = record.example_ids
        parent = self.state.pool.candidates[parent_id]
        # 1. The parent on the minibatch (usually cached from earlier iterations).
        parent_runs = self.runs.evaluate(parent, batch)
        record.parent_scores = [o.score for o in parent_runs]
        runs_on_batch = list(zip(batch, parent_runs))

        # 2. Skip a parent that is already perfect here; else choose the components to rewrite.
        with turn.choosing(self.state) as pointers:
            self.runs.check_abort()
            if self.config.skip_perfect_score and all(s >= self.config.perfect_score for s in record.parent_scores):
                proposal.set("skipped_perfect", "parent is already perfect on this minibatch")
                return
            choice = choose_components(self.component_selector, self.state.pool, parent_id,
                                       SelectionContext(record.iteration, runs_on_batch), pointers)
            proposal.next_component = choice.next_component
            record.components = list(choice.components)

        # 3. Reflect: a new instruction for each chosen component, from the parent's runs and feedback. The
        #    reflection prompt is a function of the parent, the component and the minibatch's (cached) runs, so
        #    a reflection exactly like an earlier one would ask the same question again: it is skipped, for free.
        earlier = self._same_reflection_before(parent_id, record.components, batch)
        if earlier is None:
            earlier = turn.same_reflection_earlier_in_round(lambda other: _same_reflection(other, parent_id,
                                                                                           record.components, batch))
        if earlier is not None:
            proposal.set("repeat", f"iteration {earlier} already reflected on this parent, component and minibatch")
            return
        child = dict(parent)
        for component in choice.components:
            text = self._propose(record.iteration, parent, component, runs_on_batch)
            if text is not None:
                child[component] = text
        if child == parent:
            proposal.set("no_proposal", "no acceptable instruction was proposed")
            return
        existing = self.state.pool.index_of(child)
        if existing is not None:
            proposal.set("duplicate", f"the proposal equals candidate #{existing}")
            return

        # 4. The child on the same minibatch; the acceptance criterion compares it with the parent.
        if not turn.child_runs_may_start(proposal):
            return
        child_runs = self.runs.evaluate(child, batch)
        record.child_scores = [o.score for o in child_runs]
        if not self.acceptance.accept(record.parent_scores, record.child_scores):
            proposal.set("rejected", "child did not beat its parent on the minibatch")
            return
        proposal.child = child
        proposal.won_minibatch = True

        # 5. The accepted child on the valset: every example, or raced against its parent.
        if not turn.full_val_may_start(proposal):
            return
        if self.config.val_policy == "racing":
            raced = race(
                self.state.pool.val_scores, parent_id,
                lambda positions: [o.score for o in self.runs.evaluate(child, [self.val_ids[j] for j in positions])],
                self.config.racing_chunk_size, self.config.racing_significance,
            )
            if raced.scores is None:
                self.state.count("val_runs_saved_by_racing", len(self.val_ids) - raced.examples_seen)
                proposal.set("raced_out", f"lost to its parent on validation ({raced.child_wins} wins, {raced.child_losses} "
                                          f"losses in {raced.examples_seen} examples, sign test p={raced.p_value:.3f}) "
                                          "and led on none")
                return
            proposal.val_scores = raced.scores
        else:
            proposal.val_scores = [o.score for o in self.runs.evaluate(child, self.val_ids)]
        proposal.set("accepted", f"val mean {sum(proposal.val_scores) / len(proposal.val_scores):.4f}")

    def _same_reflection_before(self, parent_id: int, components: list[str], batch: list[str]) -> int | None:
        """The earlier iteration that reflected on this parent and these components over the same minibatch
        examples, if any (read from the history, so a resumed search skips the same ones)."""
        for record in self.state.history:
            if record.status not in NOT_REFLECTED and _same_reflection(record, parent_id, components, batch):
                return record.iteration
        return None

    def _propose(self, iteration: int, parent: Candidate, component: str, runs: list[tuple[str, Outcome]]) -> str | None:
        """A proposal for one component, reusing a journaled one from before a restart if there is one."""
        key = JournaledProposals.key(iteration, candidate_key(parent), component)
        if key in self.proposals.texts:
            self.state.count("proposals_replayed")
            return self.proposals.texts[key]
        self.runs.check_abort()
        result = self.proposer.propose(parent, component, runs)
        if result.text is not None and repaired_text(result.text) != result.text:
            self.state.count("proposals_with_invalid_unicode_repaired")
            logger.warning("GEPA: the proposed instruction for %s holds lone surrogates (not valid Unicode); they are "
                           "replaced by U+FFFD", component)
            result.text = repaired_text(result.text)
        for reason in result.rejections:
            self.state.count(f"reflection_rejected_{reason}")
        self.state.count("reflection_calls", 1 + len(result.rejections) - (result.text is None))
        if result.text is None:
            self.events.emit(ev.ProposalRejected(iteration, component, tuple(result.rejections)))
        else:
            self.events.emit(ev.ProposalMade(iteration, component, result.text, tuple(result.rejections)))
        self.proposals.record(key, result.text)
        return result.text

    def _run_merge(self, proposal: Proposal, turn: Turn) -> None:
        record, plan = proposal.record, proposal.merge
        assert plan is not None
        # A merge takes no round-robin step: it only passes the turn on.
        with turn.choosing(self.state):
            pass
        # 1. The merged candidate on its subsample, against the better of its two parents there.
        if not turn.child_runs_may_start(proposal):
            return
        runs = self.runs.evaluate(plan.merged, record.example_ids)
        record.child_scores = [o.score for o in runs]
        left = [self.state.pool.val_scores[plan.left][j] for j in proposal.positions]
        right = [self.state.pool.val_scores[plan.right][j] for j in proposal.positions]
        record.parent_scores = [sum(left), sum(right)]
        better = left if sum(left) >= sum(right) else right
        what = f"merge of #{plan.left} and #{plan.right} (ancestor #{plan.ancestor})"
        if not self.merge_acceptance.accept(better, record.child_scores):
            proposal.set("rejected", f"{what} lost on the subsample")
            return
        proposal.won_minibatch = True
        # 2. The accepted merge on the valset.
        if not turn.full_val_may_start(proposal):
            return
        proposal.val_scores = [o.score for o in self.runs.evaluate(plan.merged, self.val_ids)]
        proposal.set("accepted", f"{what}; val mean {sum(proposal.val_scores) / len(proposal.val_scores):.4f}")

    # ---------------------------------------------------------------- commit
    def commit(self, proposal: Proposal) -> None:
        """Record the component choice, add an accepted child to the pool (it inherits its parent's advanced
        round-robin pointer), and add the iteration to the history."""
        state, record = self.state, proposal.record
        if proposal.next_component is not None:
            state.pool.next_component[:len(proposal.next_component)] = proposal.next_component
        if proposal.status == "accepted":
            assert proposal.child is not None and proposal.val_scores is not None
            existing = state.pool.index_of(proposal.child)
            if existing is not None:
                # Only possible with parallel proposals: an earlier proposal of this round found the same child.
                proposal.set("duplicate", f"the proposal equals candidate #{existing}, accepted earlier in this round")
            else:
                state.num_full_val_evals += 1
                origin = "merge" if proposal.merge is not None else "reflection"
                record.new_candidate_id = self.add_candidate(proposal.child, list(record.parent_ids), origin,
                                                             proposal.val_scores)
                if proposal.merge is None:
                    state.merges.reflection_child_added()
        record.status, record.note = proposal.status, proposal.note
        record.metric_calls_after = self.runs.metric_calls
        state.history.append(record)
        state.count(f"{record.kind}_{proposal.status}")
        best = state.pool.best_index()
        logger.info(
            "GEPA iter %d [%s] parent(s) %s %s: %s -> %s: %s (%s). pool %d, best #%d val %.4f, metric calls %d/%d",
            record.iteration, record.kind, record.parent_ids, record.components,
            _fmt(record.parent_scores), _fmt(record.child_scores), record.status, record.note,
            len(state.pool), best, state.pool.aggregate_scores()[best], self.runs.metric_calls, self.config.max_metric_calls,
        )
        for event in ev.iteration_outcome_events(record, proposal.merge.ancestor if proposal.merge is not None else None):
            self.events.emit(event)

    def add_candidate(self, candidate: Candidate, parents: list[int], origin: str, val_scores: list[float]) -> int:
        """Add a candidate (the seed, or an accepted child) to the pool; extend the score curve; report it."""
        pool = self.state.pool
        index = pool.add(candidate, parents, origin, val_scores, self.runs.metric_calls)
        scores = pool.aggregate_scores()
        best = pool.best_index()
        self.state.curve.append((self.runs.metric_calls, scores[best]))
        if self.events:
            self.events.emit(ev.CandidateAdded(index, tuple(pool.parents[index]), pool.origins[index], scores[index],
                                               self.runs.metric_calls, best, scores[best]))
        return index


def _same_reflection(record: IterationRecord, parent_id: int, components: list[str], batch: list[str]) -> bool:
    return (record.kind == "reflection" and record.parent_ids == [parent_id] and record.components == components
            and sorted(record.example_ids) == sorted(batch))


def _fmt(scores: Sequence[float]) -> str:
    return "[" + ", ".join(f"{s:.2f}" for s in scores) + "]" if scores else "-"
