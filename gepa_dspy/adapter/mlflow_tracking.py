"""MLflow tracking of a GEPA run (``use_mlflow=True``), with what ``dspy.GEPA`` logs there.

- params: the run's settings (budget, seed, minibatch size, strategies, frontier type, merge, data sizes, the
  predictors);
- metrics, one step per iteration: ``total_metric_calls``, ``best_score_on_valset``, ``valset_pareto_front_agg``
  (mean over validation examples of the best score any candidate reached), ``num_candidates``, and for an
  iteration that added a candidate ``new_program_idx`` and ``val_program_average`` (its validation mean);
- at the end: the candidates table (``candidates.json``: index, origin, parents, validation mean, metric calls at
  discovery, instructions), ``detailed_results.json``, the best program (``best_program/program.json``, saved with
  ``dspy.Module.save``) and summary metrics.

The run is started when no MLflow run is active and ended when the search ends; with an active run (or
``mlflow_attach_existing=True``) everything is logged into it and it is left open. ``mlflow_tracking_uri`` and
``mlflow_experiment_name`` (gepa_kwargs, as in dspy.GEPA) choose where. MLflow is an optional extra:
``pip install gepa-dspy[mlflow]``. A failure to log is logged and counted, never fatal to the search.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any, Callable

logger = logging.getLogger("gepa_dspy")


def import_mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise ImportError("use_mlflow=True needs MLflow: pip install 'gepa-dspy[mlflow]' (or pip install mlflow)") from None
    return mlflow


class MlflowTracker:
    """Logs one GEPA run to MLflow (see the module docstring)."""

    def __init__(self, *, tracking_uri: str | None = None, experiment_name: str | None = None,
                 attach_existing: bool = False, key_prefix: str = "") -> None:
        self.mlflow = import_mlflow()
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.attach_existing = attach_existing
        self.prefix = key_prefix or ""
        self.started_run = False
        self.run_id: str | None = None
        self.failures = 0
        self._known = 0  # candidates the pool held at the last logged step
        self._done = 0  # history records logged

    def _key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def _safely(self, what: str, action: Callable[[], Any]) -> None:
        try:
            action()
        except Exception:  # noqa: BLE001 - tracking must never stop the search
            self.failures += 1
            logger.warning("GEPA: MLflow could not log %s", what, exc_info=True)

    # ----------------------------------------------------------- lifecycle
    def start(self, params: dict[str, Any]) -> None:
        mlflow = self.mlflow
        if self.tracking_uri:
            mlflow.set_tracking_uri(self.tracking_uri)
        if self.experiment_name:
            mlflow.set_experiment(self.experiment_name)
        active = mlflow.active_run()
        if active is None and not self.attach_existing:
            active = mlflow.start_run()
            self.started_run = True
        if active is None:
            raise RuntimeError("mlflow_attach_existing=True but no MLflow run is active; start one with mlflow.start_run()")
        self.run_id = active.info.run_id
        logger.info("GEPA: logging to MLflow run %s (%s)", self.run_id, mlflow.get_tracking_uri())
        flat = {self._key(k): (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in params.items()}
        self._safely("params", lambda: mlflow.log_params(flat))

    def end(self, failed: bool = False) -> None:
        if self.started_run and self.mlflow.active_run() is not None:
            self.mlflow.end_run(status="FAILED" if failed else "FINISHED")

    # ----------------------------------------------------------- progress
    def log_progress(self, search: Any) -> None:
        """Metrics for the seed and every iteration finished since the last call (``search``: a ``GEPASearch``)."""
        pool = search.pool
        if not pool.candidates:
            return
        aggregate = pool.aggregate_scores()
        if self._known == 0:
            self._known = 1
            self._log_step(0, pool.discovery_metric_calls[0], pool, aggregate, new_idx=0)
        for record in search.history[self._done:]:
            if record.new_candidate_id is not None:
                self._known = record.new_candidate_id + 1
            self._log_step(record.iteration, record.metric_calls_after, pool, aggregate, new_idx=record.new_candidate_id)
        self._done = len(search.history)

    def _log_step(self, step: int, metric_calls: int, pool: Any, aggregate: list[float], new_idx: int | None) -> None:
        """One step's metrics, over the candidates the pool held then (the first ``self._known``)."""
        rows = pool.val_scores[:self._known]
        metrics = {
            "total_metric_calls": metric_calls,
            "best_score_on_valset": max(aggregate[:self._known]),
            "valset_pareto_front_agg": sum(max(col) for col in zip(*rows)) / len(rows[0]),
            "num_candidates": self._known,
        }
        if new_idx is not None:
            metrics["new_program_idx"] = new_idx
            metrics["val_program_average"] = aggregate[new_idx]
        keyed = {self._key(k): float(v) for k, v in metrics.items()}
        self._safely(f"metrics of iteration {step}", lambda: self.mlflow.log_metrics(keyed, step=step))

    # ----------------------------------------------------------- the outcome
    def log_outcome(self, results: Any, best_program: Any) -> None:
        """The candidates table, the detailed results, the best program and summary metrics."""
        mlflow = self.mlflow
        table = {
            "candidate": list(range(len(results.candidate_instructions))),
            "origin": list(results.origins),
            "parents": [json.dumps(p) for p in results.parents],
            "val_score": list(results.val_aggregate_scores),
            "discovered_at_metric_calls": list(results.discovery_eval_counts),
            "instructions": [json.dumps(c, ensure_ascii=False) for c in results.candidate_instructions],
        }
        self._safely("the candidates table", lambda: mlflow.log_table(data=table, artifact_file=self._key("candidates.json")))
        self._safely("detailed_results", lambda: mlflow.log_dict(_jsonable(results.to_dict()), self._key("detailed_results.json")))

        def save_program() -> None:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "program.json"
                best_program.save(str(path))
                mlflow.log_artifact(str(path), artifact_path=self._key("best_program"))

        self._safely("the best program", save_program)
        summary = {"best_valset_score": max(results.val_aggregate_scores), "best_candidate_idx": results.best_idx,
                   "total_candidates": len(results.candidate_instructions),
                   "final_total_metric_calls": results.total_metric_calls or 0}
        self._safely("the summary", lambda: mlflow.log_metrics({self._key(k): float(v) for k, v in summary.items()}))
        best = results.candidate_instructions[results.best_idx]
        self._safely("the best instructions", lambda: mlflow.log_params(
            {self._key(f"best/{name}")[:250]: text[:6000] for name, text in best.items()}))


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
