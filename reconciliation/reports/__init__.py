"""Finance reports from the warehouse: per run, per night, per range, and the partner's result file.

``write_run_reports`` is what the pipeline calls after each successful run;
``recon report`` regenerates the same files for any past date from the
warehouse alone.
"""

from reconciliation.reports.runner import write_run_reports

__all__ = ["write_run_reports"]
