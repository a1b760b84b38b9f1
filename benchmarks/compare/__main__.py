"""``python -m benchmarks.compare``."""

import os
import sys

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm loads: never fetch the cost map

from benchmarks.compare.cli import main  # noqa: E402

sys.exit(main())
