"""Writing a run's reports: the call the pipeline makes at the end of every successful run.

Reports go to ``<reports_dir>/<sponsor>/<date>/v<version>/`` (the HTML
report, the workbook, the CSV of breaks and the partner's result file), and
the night view of the run's date is refreshed so the morning's landing page
is always current. Everything is read back from the warehouse, so the same
function regenerates any past run's reports (``recon report``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy.engine import Engine

from reconciliation.config import Settings
from reconciliation.errors import ReconError
from reconciliation.reports.excel import write_breaks_csv, write_workbook
from reconciliation.reports.files import write_text
from reconciliation.reports.html import render_run
from reconciliation.reports.model import build_run_report
from reconciliation.reports.night import report_dir, write_night
from reconciliation.reports.partner_file import write_result
from reconciliation.warehouse import reports as queries

log = logging.getLogger(__name__)


def write_run_reports(engine: Engine, run_id: int, settings: Settings,
                      out_dir: Path | None = None, night: bool = True) -> dict[str, Path]:
    """Write every report of one successful run; returns kind -> path.

    Args:
        engine: The warehouse (the run is committed).
        run_id: The run.
        settings: For the sponsor's zone, the default reports directory and
            ``reports.environment`` (PROD or CERT, stamped on the result file).
        out_dir: Root of the reports tree; default ``settings.reports_dir``.
        night: Also refresh the night view of the run's date.

    Returns:
        Paths under the keys ``html``, ``xlsx``, ``csv``, ``result`` (and ``night``).
    """
    root = Path(out_dir) if out_dir is not None else settings.reports_dir
    with engine.connect() as conn:
        report = build_run_report(conn, run_id, settings)
    target = report_dir(root, report.sponsor, report.business_date, report.version)
    target.mkdir(parents=True, exist_ok=True)
    # The workbook is the slowest file (building its XML and compressing it,
    # both mostly outside the GIL): it is written beside the others.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="recon-xlsx") as pool:
        workbook = pool.submit(write_workbook, report, target / "breaks.xlsx")
        html = target / "report.html"
        docs = (target / "data_docs" / "index.html").is_file()
        write_text(html, render_run(report, engine.dialect.name, data_docs=docs))
        csv = write_breaks_csv(report.breaks, target / "breaks.csv")
        result = write_result(report, target, str(settings.reports.get("environment", "PROD")))
        night_path = write_night(engine, settings, report.business_date, root) if night else None
        paths = {"html": html, "xlsx": workbook.result(), "csv": csv, "result": result}
    if night_path is not None:
        paths["night"] = night_path
    log.info("reports for run %s written to %s", run_id, target)
    return paths


@dataclass
class NightReports:
    """What ``write_night_reports`` wrote, and which sponsors had nothing to report."""

    day: date
    night: Path
    runs: dict[str, dict[str, Path]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)


def write_night_reports(engine: Engine, settings: Settings, day: date, out_dir: Path | None = None,
                        sponsors: Sequence[str] | None = None) -> NightReports:
    """Regenerate a night: every (or the named) sponsor's run reports, then the night view.

    The night view always covers every sponsor of the date, so narrowing the
    sponsors only limits which run reports are rewritten. Sponsors whose
    attempts all failed have no run report; they are listed in ``failed`` and
    shown on the night view with the reason.

    Raises:
        ReconError: the warehouse has no attempt at all for the date (and sponsors).
    """
    root = Path(out_dir) if out_dir is not None else settings.reports_dir
    with engine.connect() as conn:
        runs = queries.attempts(conn, day, day, sponsors)
    if runs.height == 0:
        who = f" for {', '.join(sponsors)}" if sponsors else ""
        raise ReconError(f"the warehouse has no run of {day}{who}")
    current = runs.filter(pl.col("is_current"))
    written = {sponsor: write_run_reports(engine, run_id, settings, root, night=False)
               for run_id, sponsor in current.select("run_id", "sponsor_code").iter_rows()}
    failed = sorted(set(runs["sponsor_code"].to_list()) - set(written))
    return NightReports(day, write_night(engine, settings, day, root), written, failed)
