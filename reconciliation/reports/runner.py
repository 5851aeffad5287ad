"""Writing a run's reports: the call the pipeline makes at the end of every successful run.

Reports go to ``<reports_dir>/<sponsor>/<date>/v<version>/`` (the HTML
report, the workbook, the CSV of breaks and the partner's result file), and
the night view of the run's date is refreshed so the morning's landing page
is always current. Everything is read back from the warehouse, so the same
function regenerates any past run's reports (``recon report``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.engine import Engine

from reconciliation.config import Settings
from reconciliation.reports.excel import write_breaks_csv, write_workbook
from reconciliation.reports.html import render_run
from reconciliation.reports.model import build_run_report
from reconciliation.reports.night import report_dir, write_night
from reconciliation.reports.partner_file import write_result

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
    html = target / "report.html"
    html.write_text(render_run(report, engine.dialect.name), encoding="utf-8")
    paths = {
        "html": html,
        "xlsx": write_workbook(report, target / "breaks.xlsx"),
        "csv": write_breaks_csv(report.breaks, target / "breaks.csv"),
        "result": write_result(report, target, str(settings.reports.get("environment", "PROD"))),
    }
    if night:
        paths["night"] = write_night(engine, settings, report.business_date, root)
    log.info("reports for run %s written to %s", run_id, target)
    return paths
