"""Validate one parsed file with Great Expectations and judge it.

:class:`QualityGate` runs each side's suite through GX's SqlAlchemy
execution engine on an in-process DuckDB view of the file's records
(:mod:`.sql_source`): every expectation on every record, in SQL, reading
the records where they are (Arrow in memory, or the spilled Parquet file)
without a pandas copy. It turns the suite's outcome into a
:class:`QualityReport`: one row per expectation for ``recon_validation``,
and for each failed critical expectation a sentence a finance analyst can
act on. The pipeline rejects the file when ``report.error`` is set, and
stores the rows either way. :func:`validate_file` is the one-file entry.

The pandas engine stays available (``QualityGate(engine="pandas")``) so the
tests can show both engines give the same verdicts, counts and samples. Its
frame is chosen for GX's fast paths (docs/data-quality.md): strings stay
Arrow-backed, numbers and times NumPy-backed, money integer cents.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from reconciliation.config import CsvProfile, Settings
from reconciliation.inbox import classify
from reconciliation.quality import results as res
from reconciliation.quality.policy import QualityPolicy, policy_from
from reconciliation.quality.sql_source import STRING_COLUMNS
from reconciliation.quality.suites import CRITICAL, WARNING
from reconciliation.records import PARTNER

log = logging.getLogger(__name__)

#: The GX execution engines a gate can use (see :class:`QualityGate`).
ENGINES = ("sql", "pandas")
#: Columns GX sees NumPy-backed: its range checks are vectorized only for NumPy dtypes.
NUMERIC_COLUMNS = ("ts", "units", "miles", "dollars_cents", "expected_miles", "expected_cents")
#: How ``validated_at`` travels in :meth:`QualityReport.to_json`.
ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%z"
#: How many unexpected values GX collects per expectation (distinct ones are kept).
PARTIAL_COUNT = 20


@dataclass
class QualityReport:
    """The gate's verdict on one file.

    Attributes:
        side: PLATFORM or PARTNER.
        file_name: The file's base name.
        results: One row per expectation, the columns of ``recon_validation``
            except ``run_id`` (see :data:`reconciliation.quality.results.RESULT_SCHEMA`).
        suite_name: The GX suite the file was validated against.
        seconds: Wall time of the validation (conversion included).
        run_name: Label of the validation in Data Docs (``run-<id>`` when known).
        findings: (severity, success, sentence) per expectation, in suite order.
        gx_result: GX's ``ExpectationSuiteValidationResult`` (or its JSON dict
            after :meth:`from_json`), for Data Docs.
        gx_suite: The GX suite (or its JSON dict), for Data Docs.
    """

    side: str
    file_name: str
    results: pl.DataFrame
    suite_name: str = ""
    seconds: float = 0.0
    run_name: str = ""
    findings: list[tuple[str, bool, str]] = field(default_factory=list)
    gx_result: Any = field(default=None, repr=False, compare=False)
    gx_suite: Any = field(default=None, repr=False, compare=False)

    @property
    def critical_failures(self) -> list[str]:
        """One sentence fragment per failed critical expectation, with counts."""
        return [text for severity, ok, text in self.findings if severity == CRITICAL and not ok]

    @property
    def warnings(self) -> list[str]:
        """One sentence fragment per failed warning expectation, with counts."""
        return [text for severity, ok, text in self.findings if severity == WARNING and not ok]

    @property
    def error(self) -> str | None:
        """One sentence naming the file and its failed critical expectations, or None."""
        failures = self.critical_failures
        if not failures:
            return None
        return f"{self.file_name} failed data-quality checks: {'; '.join(failures)}."

    def to_json(self) -> str:
        """The whole report as JSON, to hand it from one Airflow task to the next.

        The GX objects travel as their JSON dicts (about 20 kB per file), so
        the receiving task can render Data Docs without validating again.
        """
        rows = self.results.with_columns(pl.col("validated_at").dt.to_string(ISO_FORMAT))
        return json.dumps({
            "side": self.side, "file_name": self.file_name, "suite_name": self.suite_name,
            "seconds": self.seconds, "run_name": self.run_name, "findings": self.findings,
            "results": rows.to_dicts(),
            "gx_result": _json_dict(self.gx_result), "gx_suite": _json_dict(self.gx_suite),
        }, default=str)

    @classmethod
    def from_json(cls, text: str) -> QualityReport:
        """A report from :meth:`to_json`, without importing GX."""
        data = json.loads(text)
        rows = pl.DataFrame(data["results"], schema={**res.RESULT_SCHEMA, "validated_at": pl.String()})
        results = rows.with_columns(
            pl.col("validated_at").str.to_datetime(ISO_FORMAT, time_unit="us", time_zone="UTC"))
        return cls(side=data["side"], file_name=data["file_name"], results=results,
                   suite_name=data["suite_name"], seconds=data["seconds"], run_name=data["run_name"],
                   findings=[(str(s), bool(ok), str(t)) for s, ok, t in data["findings"]],
                   gx_result=data["gx_result"], gx_suite=data["gx_suite"])


def _json_dict(value: Any) -> Any:
    return value.to_json_dict() if hasattr(value, "to_json_dict") else value


class QualityGate:
    """The gate of a run: one GX session reused for every file validated through it.

    Building the GX context, the DuckDB connection and the suites costs
    tens of milliseconds; a run validates its two files through one gate
    instead of paying that per file. Use it as a context manager, or call
    :meth:`close`.

    Args:
        engine: ``"sql"`` (GX's SqlAlchemy engine on the in-process DuckDB,
            the default) or ``"pandas"`` (GX's pandas engine on a pandas copy
            of the records, kept to show both agree).
    """

    def __init__(self, *, engine: str = "sql") -> None:
        from reconciliation.quality.context import GxSession

        if engine not in ENGINES:
            raise ValueError(f"unknown GX engine {engine!r}; one of {', '.join(ENGINES)}")
        self.engine = engine
        self.session = GxSession()

    def __enter__(self) -> QualityGate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the session's DuckDB connection."""
        self.session.close()

    def validate(self, parsed: Any, settings: Settings, *, run_id: int | None = None,
                 docs_dir: Path | None = None) -> QualityReport:
        """Validate one parsed file (see :func:`validate_file`)."""
        policy = policy_from(settings.validation)
        started = time.perf_counter()
        side = str(parsed.side)
        profile = _profile(parsed, settings) if side == PARTNER else None
        suite, checks = self.session.suite(side, profile, policy)
        params = _parameters(parsed, settings, policy)
        outcome = self._run(parsed, settings, suite, params)
        res.scrub(outcome)
        height = int(parsed.usable_count)
        rows, findings = res.interpret(outcome, checks, side=side, file_name=parsed.file_name,
                                       params=params, policy=policy, height=height)
        report = QualityReport(
            side=side, file_name=parsed.file_name, results=rows, suite_name=suite.name,
            seconds=time.perf_counter() - started, findings=findings, gx_result=outcome, gx_suite=suite,
            run_name=f"run-{run_id}" if run_id is not None
            else f"{parsed.business_date:%Y%m%d}-{side.lower()}",
        )
        log.info("validated %s (%s engine): %d records, %d critical and %d warning failures in %.2f s",
                 parsed.file_name, self.engine, height, len(report.critical_failures), len(report.warnings),
                 report.seconds)
        if docs_dir is not None:
            from reconciliation.quality.docs import render_data_docs

            render_data_docs([report], docs_dir)
        return report

    def _run(self, parsed: Any, settings: Settings, suite: Any, params: dict[str, Any]) -> Any:
        """GX's validation result of the suite on every record of the file."""
        result_format = {"result_format": "BASIC", "partial_unexpected_count": PARTIAL_COUNT}
        if self.engine == "pandas":
            batch = self.session.pandas_batch(gx_frame(parsed.frame(), settings))
            with self.session.current():
                return batch.validate(suite, expectation_parameters=params, result_format=result_format)
        table = self.session.duck.view(parsed, settings)
        try:
            batch = self.session.sql_batch(table)
            with self.session.current():
                return batch.validate(suite, expectation_parameters=params, result_format=result_format)
        finally:
            self.session.drop_sql(table)


def validate_file(parsed: Any, settings: Settings, *, run_id: int | None = None,
                  docs_dir: Path | None = None, gate: QualityGate | None = None) -> QualityReport:
    """Validate one parsed file's normalized records against its side's suite.

    Args:
        parsed: A ``ParsedFile`` (or anything with its fields: side, file_name,
            sponsor_code, business_date, period_start, period_end, detail_count,
            records or records_path, rejected, usable_count; optionally ``profile``).
        settings: Thresholds come from ``settings.validation``; rates and zones
            from the rest of the settings.
        run_id: Labels the validation in Data Docs, when already known.
        docs_dir: When given, Data Docs for this one file are rendered there.
        gate: The run's gate, to validate both files of a run in one GX
            session; without it a gate is built for this one file.

    Returns:
        The report; ``report.error`` is set when a critical expectation failed.

    Raises:
        ConfigError: ``settings.validation`` holds an unknown or invalid key.
    """
    if gate is not None:
        return gate.validate(parsed, settings, run_id=run_id, docs_dir=docs_dir)
    policy_from(settings.validation)  # a bad setting fails before GX is loaded
    with QualityGate() as own:
        return own.validate(parsed, settings, run_id=run_id, docs_dir=docs_dir)


def gx_view(records: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """The columns GX validates, engine-neutral: strings, numbers, times, cents.

    ``expected_miles`` and ``expected_cents`` are what the conversion rule
    (spec §4 step 9) says a record should carry, so GX can compare pairs.
    """
    cents_per_unit = int((settings.dollars_per_unit * 100).to_integral_value())
    return records.select(
        *(pl.col(c).cast(pl.String) for c in STRING_COLUMNS),
        "business_date", "ts", "units", "miles",
        dollars_cents=(pl.col("dollars") * 100).cast(pl.Int64),
        expected_miles=pl.col("units") * settings.miles_per_unit,
        expected_cents=pl.col("units") * cents_per_unit,
    )


def gx_frame(records: pl.DataFrame, settings: Settings) -> Any:
    """The pandas frame GX validates: Arrow-backed strings, NumPy-backed numbers and times."""
    view = gx_view(records, settings)
    frame = view.select(*STRING_COLUMNS, "business_date").to_pandas(use_pyarrow_extension_array=True)
    for name in NUMERIC_COLUMNS:
        frame[name] = view.get_column(name).to_pandas()
    return frame


def _parameters(parsed: Any, settings: Settings, policy: QualityPolicy) -> dict[str, Any]:
    """The file's own values its records are held to (GX suite parameters)."""
    start, end = parsed.period_start, parsed.period_end
    if start is None or end is None:  # CSV layouts have no header period: the business day
        start, end = settings.zone_for(parsed.sponsor_code).business_day(parsed.business_date)
    detail = parsed.detail_count
    rejected = parsed.rejected.height if parsed.rejected is not None else 0
    return {
        "sponsor_codes": [parsed.sponsor_code],
        "business_dates": [parsed.business_date],
        "period_min": _utc(start) - policy.period_allowance,
        "period_max": _utc(end) + policy.period_allowance,
        "usable_records": (detail - rejected) if detail is not None else parsed.usable_count,
        "detail_count": detail,
        "rejected_records": rejected,
    }


def _utc(value: datetime | date) -> datetime:
    if not isinstance(value, datetime):
        value = datetime.combine(value, datetime.min.time())
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _profile(parsed: Any, settings: Settings) -> CsvProfile | None:
    """The partner layout of a file, decided exactly as discovery decides it.

    A profile the parsed file reports wins; otherwise the file name is
    classified like the inbox does (the sponsor's configured profile, else the
    first pattern the name matches), so the gate never picks another suite
    than the parser's layout.
    """
    given = getattr(parsed, "profile", None)
    if isinstance(given, CsvProfile):
        return given
    if isinstance(given, str):
        return settings.profiles.get(given)
    found = classify(parsed.file_name, settings)
    if found is not None and found[0] == PARTNER:
        return settings.profiles.get(found[4])
    return settings.profile_for(parsed.sponsor_code)
