"""Turn a GX validation result into warehouse rows and analyst-readable sentences.

GX reports per expectation in its own vocabulary (partial unexpected lists,
metric exceptions, percentages of non-missing values). Finance reads
``recon_run.error`` and the ``recon_validation`` table, so this module says
it their way: "store_id must be 4 digits: 3 of 1000 records".

Samples of unexpected values are personal-data safe: any run of nine or more
digits is shown masked but for its last four, the spec's §7 convention, so a
collector number that strayed into another field never reaches the
warehouse, the log or Data Docs' summary in full.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

import polars as pl

from reconciliation.quality.policy import QualityPolicy
from reconciliation.quality.suites import Check

#: Columns of a report's ``results`` (``recon_validation`` without run_id).
_RESULT_COLUMNS: dict[str, pl.DataType] = {
    "side": pl.String(),
    "file_name": pl.String(),
    "expectation": pl.String(),
    "column_name": pl.String(),
    "severity": pl.String(),
    "success": pl.Boolean(),
    "element_count": pl.Int64(),
    "unexpected_count": pl.Int64(),
    "unexpected_percent": pl.Float64(),
    "observed_value": pl.String(),
    "unexpected_sample": pl.String(),
    "validated_at": pl.Datetime("us", "UTC"),
}
RESULT_SCHEMA: Final = pl.Schema(_RESULT_COLUMNS)

_LONG_DIGITS = re.compile(r"\d{9,}")
#: Checks whose GX column holds cents; their samples are shown in dollars.
_CENTS = {"dollars_range", "dollars_conversion"}


def mask(text: str) -> str:
    """Mask every run of 9+ digits but its last 4 (``1234567890123`` -> ``*********0123``)."""
    return _LONG_DIGITS.sub(lambda m: "*" * (len(m.group()) - 4) + m.group()[-4:], text)


def _dollars(cents: Any) -> str:
    return str((Decimal(int(cents)) / 100).quantize(Decimal("0.01")))


def _missing(value: Any) -> bool:
    """None, NaN, NaT or pandas' NA: what GX lists for a missing value."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(value, float) and value != value


def _scalar(value: Any, cents: bool) -> str:
    if _missing(value):
        return "empty"
    if cents and isinstance(value, numbers.Real):
        return _dollars(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def sample(check: Check, values: Sequence[Any], size: int) -> str:
    """A few distinct unexpected values, masked, as one string."""
    cents = check.name in _CENTS
    seen: list[str] = []
    for value in values:
        if isinstance(value, dict):
            text = "/".join(_scalar(v, cents) for v in value.values())
        elif isinstance(value, (tuple, list)):
            text = " vs ".join(_scalar(v, cents) for v in value)
        else:
            text = _scalar(value, cents)
        text = mask(text)
        if text not in seen:
            seen.append(text)
        if len(seen) >= size:
            break
    return ", ".join(seen)


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_scrubbed(v) for v in value)
    return value


def scrub(outcome: Any) -> None:
    """Mask long digit runs in a GX result in place, before Data Docs render it.

    Data Docs show GX's own unexpected-value lists and exception messages, so
    they get the same masking as the warehouse rows.
    """
    for result in outcome.results:
        result.result = _scrubbed(dict(result.result or {}))
        result.exception_info = _scrubbed(result.exception_info)


def _exception(info: Any) -> str | None:
    """The first exception message in GX's exception info (flat or per metric), if any."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        message = str(info.get("exception_message") or "error").strip().splitlines()
        return mask(message[0] if message else "error")
    for value in info.values():
        found = _exception(value)
        if found:
            return found
    return None


def _fmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _sentence(check: Check, ok: bool, error: str | None, counts: tuple[int, int],
              result: dict[str, Any], params: dict[str, Any]) -> str:
    """What failed, in the analyst's words, with the counts that matter."""
    if error is not None:
        return f"{check.rule}: could not be checked ({error})"
    unexpected, element = counts
    if check.name == "records_accounted":
        return (f"{check.rule}: {result.get('observed_value')} usable and {params['rejected_records']} "
                f"rejected of {params['detail_count']} in the trailer")
    text = check.rule
    if check.name == "ts_within_period":
        text += f" ({_fmt(params['period_min'])} to {_fmt(params['period_max'])} UTC)"
    text += f": {unexpected} of {element} records"
    mostly = check.kwargs.get("mostly")
    if mostly is not None and mostly < 1:
        text += f", more than the {round((1 - mostly) * 100, 6):g}% allowed"
    return text


def interpret(outcome: Any, checks: Sequence[Check], *, side: str, file_name: str,
              params: dict[str, Any], policy: QualityPolicy, height: int
              ) -> tuple[pl.DataFrame, list[tuple[str, bool, str]]]:
    """Rows for ``recon_validation`` and (severity, success, sentence) per check.

    A check GX could not evaluate (an exception while computing a metric, or
    no result at all) counts as failed: the gate never lets a file through
    unchecked.
    """
    by_name = {r.expectation_config.meta.get("check"): r for r in outcome.results}
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    findings: list[tuple[str, bool, str]] = []
    for check in checks:
        found = by_name.get(check.name)
        result: dict[str, Any] = dict(found.result or {}) if found is not None else {}
        error = _exception(found.exception_info) if found is not None else "no result"
        ok = bool(found is not None and found.success) and error is None
        element = int(result.get("element_count", height))
        unexpected = result.get("unexpected_count")
        observed = result.get("observed_value")
        if observed is None and unexpected is not None:
            observed = f"{unexpected} of {element} unexpected"
        rows.append({
            "side": side, "file_name": file_name, "expectation": check.name,
            "column_name": check.column, "severity": check.severity, "success": ok,
            "element_count": element,
            "unexpected_count": None if unexpected is None else int(unexpected),
            "unexpected_percent": _percent(result.get("unexpected_percent")),
            "observed_value": mask(str(observed)) if observed is not None else error,
            "unexpected_sample": sample(check, result.get("partial_unexpected_list") or [],
                                        policy.sample_size) or None,
            "validated_at": now,
        })
        findings.append((check.severity, ok, _sentence(
            check, ok, error, (int(unexpected or 0), element), result, params)))
    return pl.DataFrame(rows, schema=RESULT_SCHEMA), findings


def _percent(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if number != number else number  # NaN (no non-missing values) -> null
