"""The files of one run folder (``<out>/<benchmark>/<optimizer>/seed<k>/``), named in one place.

Free of DSPy imports, so the report and ``--status`` can read run folders without loading the runner.
"""

RECORD = "record.json"  # written last and atomically: its presence means the run finished
ERROR = "error.json"  # the last failed attempt's error and traceback
PROGRAM = "program.json"  # the optimized program (``program.save``)
ATTEMPTS = "attempts.json"  # one entry per attempt
OPTIMIZER_LOG = "optimizer_log"  # the optimizer's own checkpoints (GEPA variants)
PROGRESS = "progress.json"  # how far the attempt in progress has got (removed when the record is written)
