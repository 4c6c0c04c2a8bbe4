"""Reports of a finished run: the console table, and summary.csv / .md / .png and report.html.

Every exporter takes the summary rows (one dict per cell, the columns of
``schemas.tables.SUMMARY``), the run directory and an optional baseline framework, writes one
file into the run directory atomically and returns its path. A kind may also have companions
(:data:`COMPANIONS`): same arguments, but each writes its file only when the rows call for it
and returns its path, or None when it wrote nothing -- the png kind adds sweep.png when the
run sweeps batch sizes or thread counts, load.png when it has LoadGen server figures at two
offered rates or more, precision.png when it has a precision other than fp32, and roofline.png
when a cell has a point under the machine's roofs.
:func:`write_reports` runs both and lists every file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from orchestrator.report.csv_file import write_csv
from orchestrator.report.html.page import write_html
from orchestrator.report.labels import Row
from orchestrator.report.markdown import write_markdown
from orchestrator.report.png import (
    write_load_png,
    write_png,
    write_precision_png,
    write_roofline_png,
    write_sweep_png,
)

Exporter = Callable[[list[Row], Path, str | None], Path]
Companion = Callable[[list[Row], Path, str | None], Path | None]


EXPORTERS: dict[str, Exporter] = {
    "csv": write_csv,
    "md": write_markdown,
    "png": write_png,
    "html": write_html,
}


COMPANIONS: dict[str, tuple[Companion, ...]] = {
    "png": (write_sweep_png, write_load_png, write_precision_png, write_roofline_png)
}


def write_reports(
    rows: list[Row], run_dir: Path, kinds: Iterable[str], baseline: str | None = None
) -> list[Path]:
    """Write the report files of each kind (``csv``, ``md``, ``png``, ``html``) into ``run_dir``.

    Returns the path of every file written, in order: each kind's exporter's, then any of its
    companions' (``png`` adds sweep.png on a batch-size or threads sweep, load.png on a peak search,
    precision.png on a precision other than fp32, roofline.png where a cell's FLOPs are known).
    Raises ValueError naming an unknown kind before anything is written.
    """
    wanted = list(dict.fromkeys(kinds))
    unknown = [kind for kind in wanted if kind not in EXPORTERS]
    if unknown:
        raise ValueError(f"unknown report kind {unknown[0]!r}; expected one of {', '.join(EXPORTERS)}")
    run_dir = Path(run_dir)
    paths: list[Path] = []
    for kind in wanted:
        paths.append(EXPORTERS[kind](rows, run_dir, baseline))
        for companion in COMPANIONS.get(kind, ()):
            path = companion(rows, run_dir, baseline)
            if path is not None:
                paths.append(path)
    return paths
