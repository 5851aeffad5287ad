"""Field rules of a detail record, checked and converted a whole column at a time.

Both layouts (the standard ``%%`` one and every CSV profile) end here with
the same String columns named after the canonical fields, so a field is
validated the same way whatever file it came from (spec §2.1, §2.2). Every
check is a vectorized Polars expression: a file holds millions of records and
a per-row Python loop would dominate the run. Reasons are built only for the
rows that fail, in field order, so that a rejected record names its first
invalid field and a valid file pays nothing for them.

Reasons echo the offending value (an operator needs to see ``'12A4'``), but
never a collector number: the collector field is described without its value,
and every echoed value goes through ``privacy.mask_value_expr``, the masking
of the stored raw line, so a value is masked in both or in neither.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import polars as pl

from reconciliation import records
from reconciliation.parsing.datetimes import by_runs, standard_datetimes
from reconciliation.privacy import ID_FIELDS, show_expr

#: The fields of a D record after its type, in file order (spec §2.1).
# fmt: off
PLATFORM_FIELDS = (
    "txn_type", "confirmation_number", "original_confirmation_number", "platform_datetime",
    "partner_datetime", "store_id", "device_id", "card_terminal_id", "trace_id", "collector_number",
    "units", "miles", "dollars", "response_code", "origin",
)
PARTNER_FIELDS = (
    "txn_type", "confirmation_number", "original_confirmation_number", "partner_datetime", "store_id",
    "device_id", "trace_id", "pos_transaction_id", "collector_number", "units", "miles", "dollars",
    "response_code",
)
# fmt: on
STANDARD_TXN_TYPES = {records.REDEEM: records.REDEEM, records.REVERSE: records.REVERSE}

INTEGER_RE = r"^[+-]?[0-9]+$"
DECIMAL_RE = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"
DOLLARS_RE = r"^[0-9]+\.[0-9]{2}$"
_MAX_DOLLAR_DIGITS = 10  # records.MONEY is Decimal(12, 2)
_MAX_CENT_DIGITS = 12
_CENT = Decimal("0.01")


#: The longest valid value of each D record field, in bytes (spec §2.1): the
#: longest datetime is ``YYYY-MM-DDTHH:MM:SS.ffffff+HH:MM``, the longest
#: amount ``9999999999.99``.
FIELD_BYTES = {
    "txn_type": 7, "confirmation_number": 16, "original_confirmation_number": 16,
    "platform_datetime": 32, "partner_datetime": 32, "store_id": 4, "device_id": 3,
    "card_terminal_id": 16, "trace_id": 12, "pos_transaction_id": 32, "collector_number": 19,
    "units": 3, "miles": 4, "dollars": 13, "response_code": 4, "origin": 6,
}  # fmt: skip
#: A line may be this many times the longest valid record before the file is
#: rejected for it: a record with a few overlong fields is still a rejected
#: record with a reason (spec §2.2), while a line that cannot be a record at
#: all (a lost line feed, a binary blob) is refused before it is read whole.
LINE_SLACK = 4


def collector_position(side: str) -> int:
    """0-based position of the collector number in a standard ``D`` line (type included)."""
    fields = PLATFORM_FIELDS if side == records.PLATFORM else PARTNER_FIELDS
    return 1 + fields.index("collector_number")


def first_bad_amount(frame: pl.DataFrame, amount_re: str) -> tuple[int, str, str | None] | None:
    """(row, field, value) of the first row whose miles is not an integer or dollars not
    ``amount_re``: the file-level amount problem (spec §2.2); None when there is none.

    Rows whose ``ok_miles``/``ok_dollars`` flags are set (when present) are known good.
    """
    checks = []
    for name, pattern in (("miles", INTEGER_RE), ("dollars", amount_re)):
        bad = ~pl.col(name).str.contains(pattern).fill_null(False)
        checks.append((bad & ~pl.col(f"ok_{name}") if f"ok_{name}" in frame.columns else bad).alias(name))
    flags = frame.select(checks)
    index = flags.select(pl.any_horizontal("miles", "dollars").arg_true().first()).item()
    if index is None:
        return None
    name = "miles" if flags["miles"][index] else "dollars"
    return index, name, frame[name][index]


@dataclass(frozen=True)
class RecordRules:
    """How the detail records of one side and layout are validated and converted.

    Attributes:
        side: ``PARTNER`` or ``PLATFORM``.
        fields: The canonical fields present, in file order (first failure wins).
        txn_types: File value -> REDEEM/REVERSE.
        amount_unit: ``dollars`` (a decimal with 2 places) or ``cents``.
        parse_datetime: Text -> UTC datetimes (null where unparseable) for this
            layout; the standard grammar when None.
    """

    side: str
    fields: tuple[str, ...]
    txn_types: dict[str, str] = field(default_factory=lambda: dict(STANDARD_TXN_TYPES))
    amount_unit: str = "dollars"
    parse_datetime: Callable[[pl.Series], pl.Series] | None = None

    def parse_datetimes(self, values: pl.Series) -> pl.Series:
        """Text -> UTC datetimes under this layout's grammar."""
        return by_runs(values, self.parse_datetime or standard_datetimes)


#: Fields of letters and digits: the longest value allowed.
_ALNUM = {name: ID_FIELDS[name] for name in ("confirmation_number", "card_terminal_id", "pos_transaction_id")}
#: Fields of digits: the shortest and longest value allowed (``Nn`` or ``N..n``).
_DIGITS = {"store_id": (4, 4), "device_id": (3, 3), "trace_id": (12, 12), "units": (1, 3), "miles": (1, 4)}
_OPTIONAL = {"card_terminal_id", "pos_transaction_id"}
COLLECTOR_RE = r"^(?:[0-9]{1,19}|\*{1,15}[0-9]{4})$"


def digits(column: pl.Expr, low: int, high: int) -> pl.Expr:
    """``low``-``high`` ASCII digits; false for null.

    Cheaper than a regex: the integer cast refuses everything but digits and
    a leading ``+``, which is refused separately.
    """
    length = column.str.len_bytes()
    return (
        length.is_between(low, high)
        & column.cast(pl.UInt64, strict=False).is_not_null()
        & ~column.str.starts_with("+")
    ).fill_null(False)


def _checks(rules: RecordRules, *, masked: bool = True) -> list[tuple[pl.Expr, pl.Expr]]:
    """(ok, reason) per field, in file order; ok is never null.

    ``masked`` False: no collector number starts with ``*``, so the cheaper
    digits test alone decides the collector field.
    """
    platform = rules.side == records.PLATFORM
    out: list[tuple[pl.Expr, pl.Expr]] = []
    for name in rules.fields:
        c = pl.col(name)
        empty = pl.lit(f"{name} is empty")

        def bad(what: str, c: pl.Expr = c, empty: pl.Expr = empty, name: str = name) -> pl.Expr:
            return (
                pl.when(c.is_null())
                .then(empty)
                .otherwise(pl.format(f"{name} '{{}}' is not {what}", show_expr(c, name)))
            )

        if name in _ALNUM:
            optional = name in _OPTIONAL or (name == "confirmation_number" and not platform)
            ok = c.str.contains(f"^[A-Za-z0-9]{{1,{_ALNUM[name]}}}$").fill_null(optional)
            out.append((ok, bad(f"1-{_ALNUM[name]} letters or digits")))
        elif name in _DIGITS:
            low, high = _DIGITS[name]
            what = f"{high} digits" if low == high else f"{low}-{high} digits"
            out.append((digits(c, low, high), bad(what)))
        elif name == "txn_type":
            out.append((pl.col("_txn").is_not_null(), bad(" or ".join(rules.txn_types))))
        elif name == "original_confirmation_number":
            txn = pl.col("_txn")
            form = c.str.contains("^[A-Za-z0-9]{1,16}$").fill_null(True)
            needs = (txn == records.REVERSE).fill_null(False) & c.is_null()
            forbids = (txn == records.REDEEM).fill_null(False) & c.is_not_null()
            reason = (
                pl.when(~form)
                .then(bad("1-16 letters or digits"))
                .when(needs)
                .then(pl.lit(f"{name} is empty on a REVERSE"))
                .otherwise(pl.lit(f"{name} must be empty on a REDEEM"))
            )
            out.append((form & ~needs & ~forbids, reason))
        elif name.endswith("_datetime"):
            out.append((pl.col(f"_{name}").is_not_null(), bad("a valid datetime")))
        elif name == "collector_number":
            ok = c.str.contains(COLLECTOR_RE).fill_null(False) if masked else digits(c, 1, 19)
            message = pl.lit("collector_number is not 1-19 digits or a masked number")
            out.append((ok, pl.when(c.is_null()).then(empty).otherwise(message)))
        elif name == "dollars" and rules.amount_unit == "cents":
            ok = c.str.contains(f"^[0-9]{{1,{_MAX_CENT_DIGITS}}}$").fill_null(False)
            out.append((ok, bad("a whole number of cents up to 12 digits")))
        elif name == "dollars":
            ok = c.str.contains(f"^[0-9]{{1,{_MAX_DOLLAR_DIGITS}}}\\.[0-9]{{2}}$").fill_null(False)
            too_big = c.str.contains(DOLLARS_RE).fill_null(False)
            out.append(
                (
                    ok,
                    pl.when(too_big)
                    .then(bad("at most 9999999999.99"))
                    .otherwise(bad("a decimal with 2 places")),
                )
            )
        elif name == "response_code" and platform:
            ok = ((c == records.SUCCESS_CODES[0]) | (c == records.SUCCESS_CODES[1])).fill_null(False)
            out.append((ok, bad("0000 or 0001")))
        elif name == "response_code":
            out.append((c.is_null() | digits(c, 4, 4), bad("4 digits")))
        elif name == "origin":
            ok = ((c == records.ORIGIN_POS) | (c == records.ORIGIN_SYSTEM)).fill_null(False)
            out.append((ok, bad("POS or SYSTEM")))
        else:  # pragma: no cover - a programming error, not an input error
            raise ValueError(f"no rule for field {name}")
    return out


def annotate(frame: pl.DataFrame, rules: RecordRules) -> pl.DataFrame:
    """Add the parsed values and one ``ok_<field>`` flag per field, plus ``_ok`` for all.

    Args:
        frame: ``line_number`` plus a String column per field of ``rules`` (null = empty).
        rules: The side's and layout's rules.
    """
    dt_fields = [f for f in rules.fields if f.endswith("_datetime")]
    if rules.txn_types == STANDARD_TXN_TYPES:
        txn = pl.col("txn_type").cast(records.TXN_TYPE, strict=False)
    else:
        txn = pl.col("txn_type").replace_strict(rules.txn_types, default=None).cast(records.TXN_TYPE)
    work = frame.with_columns(
        *[rules.parse_datetimes(frame[f]).alias(f"_{f}") for f in dt_fields], txn.alias("_txn")
    )
    checks = _checks(rules, masked=bool(frame["collector_number"].str.starts_with("*").any()))
    return work.with_columns(
        *[ok.alias(f"ok_{name}") for name, (ok, _) in zip(rules.fields, checks, strict=True)],
    ).with_columns(pl.all_horizontal([f"ok_{name}" for name in rules.fields]).alias("_ok"))


def finish(
    work: pl.DataFrame,
    columns: list[str],
    rules: RecordRules,
    *,
    sponsor_code: str,
    business_date: date,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split an annotated frame into canonical records and rejected rows.

    Args:
        work: The output of ``annotate``.
        columns: The input columns to keep on rejected rows (to rebuild their line).
        rules: The side's and layout's rules.
        sponsor_code: The file's sponsor (written on every record).
        business_date: The file's business date.

    Returns:
        The valid records as ``records.RECORD_SCHEMA`` plus the raw
        ``collector_number`` (hashed later, see ``result.CheckedChunk``), and the invalid rows
        (``columns``) with a ``reason`` column, both in line order.
    """
    if work["_ok"].all():
        good = work
        bad = work.select(columns).clear().with_columns(pl.lit(None, pl.String).alias("reason"))
    else:
        good = work.filter(pl.col("_ok"))
        checks = _checks(rules)
        flags = [pl.col(f"ok_{name}") for name in rules.fields]
        reason = pl.coalesce(
            [pl.when(~flag).then(text) for flag, (_, text) in zip(flags, checks, strict=True)]
        )
        bad = work.filter(~pl.col("_ok")).select(*columns, reason.alias("reason"))
    return _canonical(good, rules, sponsor_code, business_date), bad


def _canonical(work: pl.DataFrame, rules: RecordRules, sponsor: str, day: date) -> pl.DataFrame:
    """Convert validated rows to the canonical schema (exact money, UTC times), collector number last."""
    platform = rules.side == records.PLATFORM
    names = set(rules.fields)
    if rules.amount_unit == "cents":
        dollars = pl.col("dollars").cast(pl.Int64).cast(pl.Decimal(14, 0)) * pl.lit(_CENT)
    else:
        dollars = pl.col("dollars")

    def text(name: str) -> pl.Expr:
        return pl.col(name) if name in names else pl.lit(None, pl.String).alias(name)

    ts = "_platform_datetime" if platform else "_partner_datetime"
    out = work.select(
        pl.lit(rules.side).cast(records.SIDE).alias("side"),
        pl.lit(sponsor).alias("sponsor_code"),
        pl.lit(day).alias("business_date"),
        pl.col("line_number").cast(pl.Int64),
        pl.col("_txn").alias("txn_type"),
        text("confirmation_number"),
        text("original_confirmation_number"),
        pl.col(ts).alias("ts"),
        pl.col("_partner_datetime").alias("partner_ts"),
        text("store_id"),
        text("device_id"),
        text("card_terminal_id"),
        text("trace_id"),
        text("pos_transaction_id"),
        pl.col("collector_number").str.slice(-4).alias("collector_last4"),
        pl.lit(None, pl.Int64).alias("collector_hash"),
        pl.col("units").cast(pl.Int64),
        pl.col("miles").cast(pl.Int64),
        dollars.cast(records.MONEY).alias("dollars"),
        text("response_code"),
        (pl.col("origin") if "origin" in names else pl.lit(None)).cast(records.ORIGIN).alias("origin"),
        pl.col("collector_number"),
    )
    return out.cast(dict(records.RECORD_SCHEMA))  # type: ignore[arg-type]
