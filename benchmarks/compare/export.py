"""Copy the small, committable part of a runs folder: each finished run's record and program, and the report.

A comparison's ``--out`` folder also holds the optimizers' checkpoints and journals (``optimizer_log/``),
which can be large and are only needed to resume. ``export_runs`` copies, for every run with a
``record.json``, the files listed in ``EXPORTED_FILES`` (and, for a run whose last attempt failed, its
``error.json`` and ``attempts.json``, so the report lists it), then writes the report next to them, so the
destination can be committed (for example under ``benchmarks/results/compare/``) and read by
``notebooks/reproduce.ipynb``. ``import_finished_runs`` copies them back into a runs folder that lacks
them, so a comparison continued on another machine skips the runs that already finished.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .report import failed_runs, report
from .layout import ATTEMPTS, ERROR, PROGRAM, RECORD
from .runner import RunKey

#: Files copied from each finished run folder (the ones that exist).
EXPORTED_FILES = (RECORD, PROGRAM, ATTEMPTS)


def export_runs(out_dir: str | Path, dest: str | Path) -> list[Path]:
    """Copy every finished run's small files from ``out_dir`` to ``dest`` (same layout) and report there.

    Runs still in progress are left out, failed ones contribute their error; files already in ``dest``
    are overwritten. Returns the run folders written. Raises ``FileNotFoundError`` when ``out_dir`` has no
    finished run.
    """
    source, target = Path(out_dir), Path(dest)
    records = _finished_records(source, target, "export destination")
    written: list[Path] = []
    for record in records:
        run = record.parent
        written.append(_copy_files(run, target / run.relative_to(source), EXPORTED_FILES))
    for failure in failed_runs(source):
        key = RunKey(failure["benchmark"], failure["optimizer"], failure["seed"])
        _copy_files(key.folder(source), key.folder(target), (ERROR, ATTEMPTS))
    report(target)
    return written


def import_finished_runs(source: str | Path, out_dir: str | Path) -> tuple[list[Path], list[Path]]:
    """Copy the finished runs of an export (``source``) into a runs folder that does not have them yet.

    This is ``export_runs`` backwards, for a fresh clone or a new machine: with the committed records in
    ``out_dir``, a comparison started there skips those runs instead of paying for them again. A run whose
    folder already exists in ``out_dir`` (finished, in progress or failed there) is left alone, so nothing
    of ``out_dir`` is overwritten. Returns (run folders written, run folders left alone). Raises
    ``FileNotFoundError`` when ``source`` has no finished run.
    """
    source, target = Path(source), Path(out_dir)
    records = _finished_records(source, target, "import source")
    written: list[Path] = []
    kept: list[Path] = []
    for record in records:
        folder = target / record.parent.relative_to(source)
        if folder.exists():
            kept.append(folder)
            continue
        _copy_files(record.parent, folder, EXPORTED_FILES)
        written.append(folder)
    return written, kept


def _finished_records(source: Path, target: Path, role: str) -> list[Path]:
    """The ``record.json`` files of ``source``'s finished runs; refuses copying a folder onto itself or nothing."""
    if source.resolve() == target.resolve():
        raise ValueError(f"{role} is the runs folder itself ({source})")
    records = sorted(source.glob(f"*/*/seed*/{RECORD}"))
    if not records:
        raise FileNotFoundError(f"no finished run (no */*/seed*/{RECORD}) in {source}")
    return records


def _copy_files(run: Path, folder: Path, names: tuple[str, ...]) -> Path:
    """Copy those of ``names`` that exist in ``run`` into ``folder`` (created); returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (run / name).exists():
            shutil.copy2(run / name, folder / name)
    return folder
