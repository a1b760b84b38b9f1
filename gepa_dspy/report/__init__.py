"""``gepa-dspy report LOG_DIR``: a self-contained HTML report (and static PNGs) of a running or finished run."""

from .html_report import render_html, write_html_report
from .png_report import PNG_NAMES, write_pngs
from .run_data import NotARunDirectory, RunData, load_run

__all__ = ["NotARunDirectory", "PNG_NAMES", "RunData", "load_run", "render_html", "write_html_report", "write_pngs"]
