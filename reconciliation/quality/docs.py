"""GX Data Docs for one run's validations, written next to the run's reports.

Each call renders into its own directory from a throwaway ephemeral context
that holds only the given reports' suites and results, so a run's site
shows that run's files and nothing another run validated in the same
process. Creating that context costs milliseconds once GX is imported.

GX copies about 4 MB of static assets (animated help GIFs, fonts) into every
site, none of which its pages reference. Kept per run and sponsor that would
dwarf the reports themselves, so unreferenced assets are removed after the
build. The pages still load GX's styling from public CDNs when opened in a
browser; offline they are unstyled but complete.
"""

from __future__ import annotations

import copy
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

SITE = "amcash"


def render_data_docs(reports: list[Any], out_dir: Path) -> Path:
    """Render a Data Docs site for the given reports and return its ``index.html``.

    Args:
        reports: ``QualityReport`` objects (each keeps its GX suite and result).
        out_dir: The site's directory, e.g. ``<run reports>/data_docs``; created
            if needed. Files of an earlier render there are replaced.

    Returns:
        The path of the site's ``index.html``.
    """
    from reconciliation.quality.context import GX_LOCK, import_gx

    import_gx()  # a report that travelled as JSON may be rendered before anything imported GX
    from great_expectations.data_context.data_context.context_factory import project_manager
    from great_expectations.exceptions import DataContextRequiredError

    out_dir = Path(out_dir).resolve()
    with GX_LOCK:
        try:
            current = project_manager.get_current_project()
        except DataContextRequiredError:
            current = None
        try:
            _build_site(reports, out_dir)
        finally:  # gx.get_context() made the throwaway context GX's current one: a gate's comes back
            project_manager.set_project(current)
    _prune_static(out_dir)
    return out_dir / "index.html"


def _build_site(reports: list[Any], out_dir: Path) -> None:
    """Build the site from a throwaway context holding only these reports."""
    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResultSchema,
    )
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    _clear(out_dir)
    context = gx.get_context(mode="ephemeral")
    site: dict[str, Any] = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,  # no "how to" tutorial links in a finance report
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(out_dir)},
    }
    context.add_data_docs_site(SITE, cast(Any, site))
    added: set[str] = set()
    now = datetime.now(UTC)
    for report in reports:
        if report.gx_result is None or report.gx_suite is None:
            continue
        suite = _suite_dict(report.gx_suite)
        if suite["name"] not in added:
            context.suites.add(gx.ExpectationSuite(**suite))
            added.add(suite["name"])
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite["name"]),
            run_id=RunIdentifier(run_name=report.run_name or "validation", run_time=now),
            batch_identifier=report.file_name,
        )
        result = report.gx_result
        if isinstance(result, dict):  # a report that travelled as JSON
            result = ExpectationSuiteValidationResultSchema().load(result)
        context.validation_results_store.set(key, result)
    context.build_data_docs(site_names=[SITE])


def _clear(site: Path) -> None:
    """Remove an earlier render's pages, so the site shows exactly these reports."""
    site.mkdir(parents=True, exist_ok=True)
    for name in ("validations", "expectations", "static"):
        if (site / name).is_dir():
            shutil.rmtree(site / name)
    (site / "index.html").unlink(missing_ok=True)


def _suite_dict(suite: Any) -> dict[str, Any]:
    """A suite's definition without its identity, so a fresh context can own a copy."""
    data: dict[str, Any] = copy.deepcopy(suite if isinstance(suite, dict) else suite.to_json_dict())
    data.pop("id", None)
    for expectation in data.get("expectations", []):
        expectation.pop("id", None)
    return data


def _prune_static(site: Path) -> None:
    """Delete static assets that no page or stylesheet of the site refers to."""
    static = site / "static"
    if not static.is_dir():
        return
    text = "\n".join(p.read_text(errors="ignore") for p in site.rglob("*")
                     if p.suffix in (".html", ".css") and p.is_file())
    names = set(re.findall(r"[\w.-]+\.(?:gif|png|svg|ico|otf|ttf|woff2?|jpe?g)", text))
    for path in static.rglob("*"):
        if path.is_file() and path.suffix != ".css" and path.name not in names:
            path.unlink()
    for folder in sorted((p for p in static.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
