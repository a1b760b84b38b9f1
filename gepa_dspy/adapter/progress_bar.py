"""A tqdm bar over the metric-call budget while ``compile`` runs: calls paid, ETA, best validation score.

It is a search callback (``gepa_dspy.engine.events``), so it moves with every paid batch of runs. Shown by
default when DSPy's logging is on, hidden by ``display_progress=False`` or ``dspy.disable_logging()``, as
``dspy.Evaluate`` shows its own bar (see ``progress_log.progress_display_enabled``).
"""

from __future__ import annotations

from typing import Any

import tqdm

from ..engine import events as ev


class BudgetProgressBar:
    """Callback that draws one tqdm bar per run; ``close()`` is safe to call any time (and twice)."""

    def __init__(self, **tqdm_kwargs: Any) -> None:
        self.tqdm_kwargs = {"desc": "GEPA", "unit": " metric calls", "dynamic_ncols": True, "leave": True,
                            **tqdm_kwargs}
        self.bar: tqdm.tqdm | None = None

    def __call__(self, event: ev.SearchEvent) -> None:
        if isinstance(event, ev.RunStarted):
            self.close()
            self.bar = tqdm.tqdm(total=event.budget, initial=event.metric_calls, **self.tqdm_kwargs)
        elif self.bar is None:
            return
        elif isinstance(event, ev.BudgetUpdate):
            self._advance_to(event.metric_calls)
        elif isinstance(event, ev.CandidateAdded):
            self.bar.set_postfix(best=f"{event.best_score:.3f}", candidates=event.index + 1, refresh=False)
            self._advance_to(event.metric_calls)
        elif isinstance(event, ev.RunEnded):
            self.bar.set_postfix(best=f"{event.best_score:.3f}", candidates=event.num_candidates, refresh=False)
            self._advance_to(event.metric_calls)
            self.close()

    def _advance_to(self, metric_calls: int) -> None:
        assert self.bar is not None
        if metric_calls > self.bar.n:
            self.bar.update(metric_calls - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
