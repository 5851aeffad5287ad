"""Expectation suites in code: one per side, and per partner CSV profile.

Every check is declared once here as a :class:`Check` (plain data, no Great
Expectations import), so the gate, the tests and the documentation agree on
the stable name stored in ``recon_validation.expectation``, the severity, and
the sentence a finance analyst reads. :func:`build_suite` turns the checks into
a GX ``ExpectationSuite``; the gate's session builds each once per run.

File-specific values (the file's sponsor, business date, period and record
count) are GX suite parameters (``$PARAMETER``), so one suite serves every
file of its side and profile, and Data Docs show the values each file was
held to.

Severity follows the spec's division of labour: what makes a file unusable
as a whole is CRITICAL and stops it before matching; what the engine already
reports record by record as a break (``DUPLICATE``, ``CONVERSION_ERROR``) is
at most a WARNING that fires on a *rate*, so one bad record is one break,
never also a warning, while a file that is wrong throughout is flagged once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from reconciliation.config import CsvProfile
from reconciliation.quality.policy import QualityPolicy
from reconciliation.records import ORIGIN_POS, ORIGIN_SYSTEM, PLATFORM, SUCCESS_CODES, TXN_TYPES

CRITICAL: Final = "CRITICAL"
WARNING: Final = "WARNING"
STANDARD: Final = "standard"

#: Keys every partner record has whatever its layout (the engine needs them).
REQUIRED: Final = ("txn_type", "ts", "store_id", "device_id", "trace_id", "units", "miles", "dollars",
                   "sponsor_code", "business_date")
#: The platform always knows its own confirmation number and always succeeded.
PLATFORM_REQUIRED: Final = ("confirmation_number", "response_code")

#: Record column -> the column GX sees, where they differ. Money is validated
#: in integer cents: exact, and on GX's vectorized numeric path.
GX_COLUMN: Final = {"dollars": "dollars_cents"}


@dataclass(frozen=True)
class Check:
    """One expectation of a suite, as the gate and the analyst see it.

    Attributes:
        name: Stable identifier, stored in ``recon_validation.expectation``.
        column: The record column checked (None for a check of the whole file).
        severity: CRITICAL (rejects the file) or WARNING (stored, run goes on).
        rule: What must hold, as a sentence fragment an analyst understands.
        gx_type: The GX expectation class (``great_expectations.expectations``).
        kwargs: Arguments of the GX expectation (parameters as ``$PARAMETER``).
    """

    name: str
    column: str | None
    severity: str
    rule: str
    gx_type: str
    kwargs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


def param(name: str) -> dict[str, str]:
    """A GX suite parameter reference, filled per file at validation time."""
    return {"$PARAMETER": name}


def _gx_col(column: str) -> str:
    return GX_COLUMN.get(column, column)


def _required(column: str) -> Check:
    return Check(f"{column}_required", column, CRITICAL, f"{column} must be present",
                 "ExpectColumnValuesToNotBeNull", {"column": _gx_col(column)})


def _digits(column: str, n: int, *, optional: bool = False) -> Check:
    rule = f"{column} must be {n} digits" + (" or empty" if optional else "")
    return Check(f"{column}_format", column, CRITICAL, rule, "ExpectColumnValuesToMatchRegex",
                 {"column": column, "regex": rf"^[0-9]{{{n}}}$"})


def _between(column: str, low: int | None, high: int | None, rule: str) -> Check:
    kwargs: dict[str, Any] = {"column": _gx_col(column)}
    if low is not None:
        kwargs["min_value"] = low
    if high is not None:
        kwargs["max_value"] = high
    return Check(f"{column}_range", column, CRITICAL, rule, "ExpectColumnValuesToBeBetween", kwargs)


def _in_set(name: str, column: str, values: Any, rule: str) -> Check:
    return Check(name, column, CRITICAL, rule, "ExpectColumnValuesToBeInSet",
                 {"column": column, "value_set": values})


def _mostly(max_fraction: float) -> float:
    return round(1.0 - max_fraction, 12)


def checks_for(side: str, profile: CsvProfile | None, policy: QualityPolicy) -> tuple[Check, ...]:
    """The checks of one side's suite (and partner profile).

    A CSV profile that does not map a column (a POS log without confirmation
    numbers or response codes) gets no check of that column: its records
    legitimately have none.
    """
    mapped = set(profile.columns) if profile is not None else None

    def has(column: str) -> bool:
        return mapped is None or column in mapped

    required = REQUIRED + (PLATFORM_REQUIRED if side == PLATFORM else ())
    checks = [_required(c) for c in required]
    checks += [
        _in_set("txn_type_values", "txn_type", list(TXN_TYPES), "txn_type must be REDEEM or REVERSE"),
        _digits("store_id", 4),
        _digits("device_id", 3),
        _digits("trace_id", 12),
        _between("units", 1, 999, "units must be 1 to 999"),
        _between("miles", 0, 9999, "miles must be 0 to 9999"),
        _between("dollars", 0, None, "dollars must not be negative"),
    ]
    if side == PLATFORM:
        checks += [
            _in_set("response_code_values", "response_code", list(SUCCESS_CODES),
                    "response_code must be 0000 or 0001 on the platform side"),
            _in_set("origin_values", "origin", [ORIGIN_POS, ORIGIN_SYSTEM], "origin must be POS or SYSTEM"),
        ]
    elif has("response_code"):
        checks.append(_digits("response_code", 4, optional=True))
    hours = policy.period_allowance.total_seconds() / 3600
    checks += [
        _in_set("sponsor_matches_file", "sponsor_code", param("sponsor_codes"),
                "every record's sponsor must be the file's sponsor"),
        _in_set("business_date_matches_file", "business_date", param("business_dates"),
                "every record's business date must be the file's business date"),
        Check("ts_within_period", "ts", CRITICAL,
              f"record times must be within the file's period ± {hours:g} h",
              "ExpectColumnValuesToBeBetween",
              {"column": "ts", "min_value": param("period_min"), "max_value": param("period_max"),
               "mostly": _mostly(policy.period_max_outside_fraction)}),
        Check("records_accounted", None, CRITICAL,
              "every detail record must be either usable or rejected",
              "ExpectTableRowCountToEqual", {"value": param("usable_records")}),
    ]
    if has("confirmation_number"):
        checks.append(Check(
            "confirmation_unique", "confirmation_number", WARNING,
            "confirmation numbers should be unique per txn_type",
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": ["txn_type", "confirmation_number"], "ignore_row_if": "any_value_is_missing",
             "mostly": _mostly(policy.duplicate_warn_fraction)}))
    checks += [
        Check("miles_conversion", "miles", WARNING, "miles should equal units × the miles rate",
              "ExpectColumnPairValuesToBeEqual",
              {"column_A": "miles", "column_B": "expected_miles", "ignore_row_if": "either_value_is_missing",
               "mostly": _mostly(policy.conversion_warn_fraction)}),
        Check("dollars_conversion", "dollars", WARNING, "dollars should equal units × the dollar rate",
              "ExpectColumnPairValuesToBeEqual",
              {"column_A": "dollars_cents", "column_B": "expected_cents",
               "ignore_row_if": "either_value_is_missing",
               "mostly": _mostly(policy.conversion_warn_fraction)}),
    ]
    return tuple(checks)


def suite_name(side: str, profile: CsvProfile | None) -> str:
    """``amcash_platform_standard``, ``amcash_partner_standard``, ``amcash_partner_<profile>``."""
    return f"amcash_{side.lower()}_{profile.name if profile is not None else STANDARD}"


def build_suite(side: str, profile: CsvProfile | None,
                policy: QualityPolicy) -> tuple[Any, tuple[Check, ...]]:
    """A new GX suite of a side and profile, with its checks in the same order.

    GX must be imported and a context must exist (suites register with GX's
    current context); :class:`reconciliation.quality.context.GxSession`
    builds each suite once and keeps it for the files of a run.
    """
    import great_expectations as gx
    import great_expectations.expectations as gxe

    checks = checks_for(side, profile, policy)
    suite = gx.ExpectationSuite(name=suite_name(side, profile))
    for check in checks:
        expectation = getattr(gxe, check.gx_type)(
            **check.kwargs,
            severity=check.severity.lower(),
            description=f"{check.rule} [{check.severity}]",
            meta={"check": check.name, "severity": check.severity, "record_column": check.column},
        )
        suite.add_expectation(expectation)
    return suite, checks
