"""Finance reports from the warehouse: per run, per night, per range, and the partner's result file.

``write_run_reports`` is what the pipeline calls after each successful run;
``recon report`` regenerates the same files for any past date from the
warehouse alone. The writers (the workbook's, the templates') are imported
when reports are written, not when a command only formats a break.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from reconciliation.config import Settings


def write_run_reports(engine: Engine, run_id: int, settings: Settings,
                      out_dir: Path | None = None, night: bool = True) -> dict[str, Path]:
    """Write every report of one successful run; see ``reports.runner.write_run_reports``."""
    from reconciliation.reports.runner import write_run_reports as write

    return write(engine, run_id, settings, out_dir, night)


__all__ = ["write_run_reports"]
