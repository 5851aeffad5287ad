"""The columns of a break as reviewers see it, shared by HTML, Excel, CSV and the CLI.

One list decides which fields a reviewer gets and in what order, so the
break list on the page, the workbook's sheets, the CSV and ``recon breaks
list`` can be compared column by column. The collector appears as its last
four digits only (spec §7); times are converted to the sponsor's zone.

Reports shape whole frames of breaks with Polars (``breaks_table``); ``recon
breaks list`` only prints a screenful, so it reads the rows already in the
same order from the warehouse (``urgency_order``) and shapes each one with
``review_row``. Polars and SQLAlchemy are therefore imported by the
functions that use them, and this module costs a command nothing to import.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from reconciliation.zones import Zone

if TYPE_CHECKING:
    import polars as pl
    import sqlalchemy as sa

ZERO = Decimal("0.00")
SEVERITY_RANK = {"HIGH": 0, "MEDIUM": 1, "LOW": 2}
STATUS_RANK = {"OPEN": 0, "PENDING": 1, "RESOLVED": 2}


@dataclass(frozen=True)
class Field:
    """One reviewer-facing column: its frame name, header, and kind (int, money, date, datetime, text)."""

    name: str
    header: str
    kind: str
    width: int = 12


BREAK_FIELDS: tuple[Field, ...] = (
    Field("break_id", "Break ID", "int", 9),
    Field("business_date", "Business date", "date", 12),
    Field("sponsor_code", "Sponsor", "text", 8),
    Field("break_type", "Type", "text", 22),
    Field("severity", "Severity", "text", 9),
    Field("status", "Status", "text", 10),
    Field("side", "Side", "text", 10),
    Field("txn_type", "Txn", "text", 9),
    Field("confirmation_number", "Confirmation #", "text", 17),
    Field("original_confirmation_number", "Original conf. #", "text", 17),
    Field("store_id", "Store", "text", 7),
    Field("device_id", "Device", "text", 7),
    Field("trace_id", "Trace ID", "text", 14),
    Field("pos_transaction_id", "POS receipt", "text", 16),
    Field("collector", "Collector", "text", 10),
    Field("partner_time", "Partner time", "datetime", 19),
    Field("platform_time", "Platform time", "datetime", 19),
    Field("partner_units", "Partner units", "int", 8),
    Field("platform_units", "Platform units", "int", 8),
    Field("partner_miles", "Partner miles", "int", 9),
    Field("platform_miles", "Platform miles", "int", 9),
    Field("partner_dollars", "Partner $", "money", 11),
    Field("platform_dollars", "Platform $", "money", 11),
    Field("delta_dollars", "Delta $ (platform − partner)", "money", 13),
    Field("money_at_stake", "At stake $", "money", 11),
    Field("age_days", "Age (days)", "int", 8),
    Field("detail", "Detail", "text", 48),
    Field("resolution", "Resolution", "text", 18),
    Field("resolved_by", "Resolved by", "text", 16),
    Field("resolved_date", "Resolved on", "date", 12),
    Field("note", "Note", "text", 40),
    Field("partner_line", "Partner line", "int", 8),
    Field("platform_line", "Platform line", "int", 8),
    Field("run_id", "Raised by run", "int", 8),
    Field("break_key", "Break key", "text", 40),
)
FIELD_NAMES = tuple(f.name for f in BREAK_FIELDS)


def money_sum(series: pl.Series) -> Decimal:
    """Exact sum of a money column (nulls count as zero), always two places.

    Money columns are Polars ``Decimal``, which sums exactly in Rust (a
    Python-level loop costs seconds on a million values). Anything else
    (an all-null or untyped column, more than two places) is summed with
    ``Decimal`` in Python, exactly as before.
    """
    import polars as pl

    if isinstance(series.dtype, pl.Decimal) and (series.dtype.scale or 0) <= 2:
        total = series.cast(pl.Decimal(38, 2)).sum()
        return Decimal(total if total is not None else 0).quantize(ZERO)
    return money_total(series.to_list())


def money_total(values: Iterable[Decimal | int | None]) -> Decimal:
    """Exact sum of money values in Python (nulls count as zero), always two places."""
    exact = Decimal(0)
    for value in values:
        if value is not None:
            exact += Decimal(value)
    return exact.quantize(ZERO)


def money(value: Decimal | int | None, signed: bool = False) -> str:
    """``$1,234.50``; negatives with a minus sign, optionally ``+`` for positives."""
    if value is None:
        return ""
    amount = Decimal(value).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ("+" if signed and amount > 0 else "")
    return f"{sign}${abs(amount):,.2f}"


def group_totals(frame: pl.DataFrame, *keys: str) -> dict[Any, tuple[int, int, Decimal]]:
    """Breaks, unresolved breaks and money at stake (exact) per value of ``keys``.

    ``frame`` needs ``status`` and ``money_at_stake``. Keys are scalars for
    one key column, tuples for several; groups without rows are absent.
    """
    import polars as pl

    rows = frame.group_by(*keys).agg(
        _count=pl.len(), _unresolved=(pl.col("status") != "RESOLVED").sum(),
        _money=pl.col("money_at_stake").cast(pl.Decimal(38, 2)).sum())
    out: dict[Any, tuple[int, int, Decimal]] = {}
    for *key, count, unresolved, money in rows.iter_rows():
        out[key[0] if len(keys) == 1 else tuple(key)] = (
            int(count), int(unresolved or 0), Decimal(money or 0).quantize(ZERO))
    return out


def mask_collector(last4: str | None) -> str | None:
    """How a collector is shown anywhere a person reads it: the last four digits only."""
    return f"****{last4}" if last4 else None


def _local(column: str, zone: Zone) -> pl.Expr:
    import polars as pl

    return pl.col(column).dt.convert_time_zone(zone.polars_name).dt.replace_time_zone(None)


def breaks_table(raw: pl.DataFrame, zone: Zone, as_of: date, keep: tuple[str, ...] = ()) -> pl.DataFrame:
    """Warehouse break rows -> reviewer columns, most urgent first.

    Args:
        raw: ``recon_break`` rows.
        zone: The sponsor's zone for partner and platform times.
        as_of: The date ages are counted to (the report's business date, or today).
        keep: Extra columns of ``raw`` to carry along after the reviewer columns
            (``partner_ts`` and ``platform_ts``, the UTC instants, always are).
    """
    import polars as pl

    frame = raw.with_columns(
        collector=pl.when(pl.col("collector_last4").is_not_null())
        .then(pl.lit("****") + pl.col("collector_last4")).otherwise(pl.lit(None, dtype=pl.String)),
        partner_time=_local("partner_ts", zone),
        platform_time=_local("platform_ts", zone),
        money_at_stake=pl.col("delta_dollars").abs(),
        age_days=(pl.lit(as_of) - pl.col("business_date")).dt.total_days().cast(pl.Int64),
        _sev=pl.col("severity").replace_strict(SEVERITY_RANK, default=9, return_dtype=pl.Int64),
        _st=pl.col("status").replace_strict(STATUS_RANK, default=9, return_dtype=pl.Int64),
    )
    frame = frame.sort(["_st", "_sev", "money_at_stake", "break_id"],
                       descending=[False, False, True, False], nulls_last=True)
    return frame.select(*FIELD_NAMES, "partner_ts", "platform_ts", *keep)


def urgency_order(breaks: sa.Table) -> list[Any]:
    """``breaks_table``'s order as ``ORDER BY`` terms on ``recon_break``, to read only the first rows."""
    import sqlalchemy as sa

    c = breaks.c
    return [sa.case(STATUS_RANK, value=c.status, else_=9), sa.case(SEVERITY_RANK, value=c.severity, else_=9),
            sa.func.abs(c.delta_dollars).desc().nulls_last(), c.break_id]


def _local_time(instant: datetime | None, zone: Zone) -> datetime | None:
    return instant.astimezone(zone.tz).replace(tzinfo=None) if instant is not None else None


def review_row(raw: dict[str, Any], zone: Zone, as_of: date) -> dict[str, Any]:
    """One ``recon_break`` row -> the reviewer columns of ``breaks_table``, the same values one by one."""
    last4, delta = raw["collector_last4"], raw["delta_dollars"]
    derived = {
        "collector": "****" + last4 if last4 is not None else None,
        "partner_time": _local_time(raw["partner_ts"], zone),
        "platform_time": _local_time(raw["platform_ts"], zone),
        "money_at_stake": abs(delta) if delta is not None else None,
        "age_days": (as_of - raw["business_date"]).days,
    }
    row = {name: derived[name] if name in derived else raw[name] for name in FIELD_NAMES}
    row.update(partner_ts=raw["partner_ts"], platform_ts=raw["platform_ts"])
    return row


#: What a spreadsheet reads as the start of a formula (``= + - @``), and tab and
#: carriage return, which some tools strip before doing the same (OWASP's CSV
#: injection guidance). A text cell starting with one of them gets ``'`` first.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
TEXT_GUARD = "'"


def spreadsheet_text(text: str) -> str:
    """Text as it may go into a CSV or workbook cell: never read as a formula.

    Only text is guarded: money and counts are written as numbers (a
    negative amount stays ``-12.50``), so they go through ``cell_text``'s
    other kinds, never through this.
    """
    return TEXT_GUARD + text if text.startswith(FORMULA_LEADS) else text


def spreadsheet_text_expr(column: pl.Expr) -> pl.Expr:
    """``spreadsheet_text`` over a column of strings (the bulk writers' form of the same rule)."""
    leads = "".join("\\-" if c == "-" else c for c in FORMULA_LEADS)  # a class: only - needs escaping
    return column.str.replace(f"^([{leads}])", TEXT_GUARD + "$1")


def cell_text(value: Any, kind: str) -> str:
    """A value as plain text for CSV: exact money, ISO dates, text guarded against formulas."""
    if value is None:
        return ""
    if kind == "money":
        return f"{Decimal(value):.2f}"
    if kind == "datetime":
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if kind == "date":
        return value.isoformat()
    if kind == "text":
        return spreadsheet_text(str(value))
    return str(value)
