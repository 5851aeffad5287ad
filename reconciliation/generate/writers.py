"""Writers for the standard ``%%`` layout and for CSV partner profiles.

Records arrive as a numeric frame (see ``batch.COLUMNS``) and leave as text
streamed to disk in chunks, so writing ten million lines needs neither a
Python loop nor the whole file in memory. Speed comes from letting Polars'
CSV writer do the formatting: numbers are written natively and text fields
are single gathers from small lookup tables (every second of the file's days
is one precomputed datetime string). The two-character ``%%`` separator is
the writer's one-character separator ``%`` plus a second ``%`` glued to a
neighbouring text field's lookup values (an empty spacer column only where
two numbers meet), so no line is ever concatenated per record.

Datetimes in the standard layout are EST (UTC-05:00) as the integration
guide says: with an explicit offset on the platform side, naive on the
partner side. A CSV profile writes its own zone and format.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl

from reconciliation.config import CsvProfile
from reconciliation.generate.ids import conf_mix, conf_text
from reconciliation.records import PARTNER, PLATFORM

EST = timezone(timedelta(hours=-5))
EST_SECONDS = 5 * 3600
DAY = 86400
CHUNK_ROWS = 500_000
TXN_TEXT = {0: "REDEEM", 1: "REVERSE", 2: "REFUND"}
BAD_TIME = "25:61:00"  # the shape of a time, but no such time: unparseable, not malformed
_TXNS = pl.Series(list(TXN_TEXT.values()))
_ORIGINS = pl.Series(["POS", "SYSTEM"])


@dataclass(frozen=True)
class FileMeta:
    """What a file's header needs besides its records."""

    sponsor: str
    day: date
    period_start: int  # epoch seconds
    period_end: int
    salt: int


def est_text(epoch: int, with_offset: bool) -> str:
    """One instant as an EST datetime string of the standard layout."""
    text = datetime.fromtimestamp(epoch, EST).strftime("%Y-%m-%dT%H:%M:%S")
    return text + "-05:00" if with_offset else text


@cache
def _padded(width: int, size: int) -> pl.Series:
    """``"0".."size-1"`` zero-padded to ``width``, preceded by "" (index = value + 1)."""
    return pl.Series(["", *(str(i).zfill(width) for i in range(size))])


def _clock(first_day: int, n_days: int, fmt: str) -> pl.Series:
    """Every second of ``n_days`` local days from epoch day ``first_day``, formatted once."""
    start = datetime(1970, 1, 1) + timedelta(days=first_day)
    seconds = pl.datetime_range(start, start + timedelta(days=n_days), "1s", closed="left",
                                eager=True, time_unit="us")
    return seconds.dt.strftime(fmt)


def _day_span(local: pl.Series, fallback: int) -> tuple[int, int]:
    if local.len() == 0:
        return fallback // DAY, 1
    lo, hi = local.min(), local.max()
    assert isinstance(lo, int) and isinstance(hi, int)
    return lo // DAY, hi // DAY - lo // DAY + 1


def _money_table(cents: pl.Series) -> dict[int, str]:
    return {int(c): f"{c // 100}.{c % 100:02d}" for c in cents.unique().to_list()}


def _trailers(frame: pl.DataFrame) -> tuple[str, str]:
    """T1 and T2 over all D records, counting types by the exact txn_type field."""
    def total(column: str, txn: int) -> pl.Expr:
        return pl.col(column).filter(pl.col("txn") == txn).cast(pl.Int64).sum()

    sums = frame.select(
        rc=(pl.col("txn") == 0).sum(), rm=total("miles", 0), rd=total("cents", 0),
        vc=(pl.col("txn") == 1).sum(), vm=total("miles", 1), vd=total("cents", 1),
    ).row(0, named=True)
    rc, rm, rd, vc, vm, vd = (int(sums[k] or 0) for k in ("rc", "rm", "rd", "vc", "vm", "vd"))
    net = rd - vd
    dollars = f"{'-' if net < 0 else ''}{abs(net) // 100}.{abs(net) % 100:02d}"
    n = frame.height
    return f"T1%%{rc}%%{rm}%%{vc}%%{vm}", f"T2%%{n}%%{n + 4}%%{rm - vm}%%{dollars}"


def _lines(frame: pl.DataFrame, first: int) -> pl.DataFrame:
    """Tag -> line number of the tagged (injected) records of a written, sorted frame."""
    return (
        frame.select("tag")
        .with_row_index("i")
        .filter(pl.col("tag") > 0)
        .select("tag", line=(pl.col("i") + first).cast(pl.Int64))
    )


Text = Callable[[str, str], pl.Expr]  # (prefix, suffix) -> the field's text with them
Field = pl.Expr | Text  # an Expr is a number, written natively


def _decorated(table: pl.Series, prefix: str, suffix: str) -> pl.Series:
    if not prefix and not suffix:
        return table
    return pl.select(pl.concat_str([pl.lit(prefix), pl.lit(table), pl.lit(suffix)])).to_series()


def _lookup(table: pl.Series, index: pl.Expr) -> Text:
    return lambda prefix, suffix: pl.lit(_decorated(table, prefix, suffix)).gather(index)


def _fields(money: dict[int, str], clock: pl.Series, clock_first: int) -> dict[str, Field]:
    """Every field by canonical name (``_local``: the POS time in local epoch seconds)."""
    money_table = pl.Series(list(money.values()))
    money_index = pl.col("cents").replace_strict(
        {cents: i for i, cents in enumerate(money)}, return_dtype=pl.Int64
    )
    return {
        "txn_type": _lookup(_TXNS, pl.col("txn")),
        "confirmation_number": lambda pre, suf: conf_text("conf", "_conf", pre, suf),
        "original_confirmation_number": lambda pre, suf: conf_text("orig", "_orig", pre, suf),
        "platform_datetime": _lookup(clock, pl.col("ts") - EST_SECONDS - clock_first),
        "partner_datetime": _lookup(clock, pl.col("_local") - clock_first),
        "store_id": pl.col("store"),
        "device_id": _lookup(_padded(3, 1000), pl.col("device").cast(pl.Int32) + 1),
        "card_terminal_id": pl.col("terminal"),
        "trace_id": pl.col("trace"),
        "pos_transaction_id": pl.col("receipt"),
        "collector_number": pl.col("collector"),
        "units": pl.col("units"),
        "miles": pl.col("miles"),
        "dollars": _lookup(money_table, money_index),
        "response_code": _lookup(_padded(4, 10000), pl.col("resp").cast(pl.Int32) + 1),
        "origin": _lookup(_ORIGINS, pl.col("origin")),
    }


NULLABLE = ("confirmation_number", "original_confirmation_number")
#: Present on REVERSEs only (about 1 % of records): rendered for those rows alone.
SPARSE = "original_confirmation_number"


@dataclass(frozen=True)
class Layout:
    """Output columns for one file: expressions, decorations, and how nulls are written."""

    columns: list[pl.Expr]
    glue: dict[str, tuple[str, str]]
    null_value: str


def _layout(order: list[str], fields: dict[str, Field], separator: str, glue: str,
            names: dict[str, str]) -> Layout:
    """Columns joined by ``separator`` that read as fields joined by ``separator + glue``.

    Each boundary between two fields gets ``glue`` appended to the text
    field before it, else prepended to the text field after it, else (two
    numbers) an empty spacer column in between. Absent confirmation numbers
    are nulls, written as their decoration (``null_value``).
    """
    decor = {name: ["", ""] for name in order}
    spacer_after: set[str] = set()
    if glue:
        for left, right in itertools.pairwise(order):
            if not isinstance(fields[left], pl.Expr):
                decor[left][1] += glue
            elif not isinstance(fields[right], pl.Expr):
                decor[right][0] += glue
            else:
                spacer_after.add(left)
    columns: list[pl.Expr] = []
    for name in order:
        field = fields[name]
        if name == SPARSE:  # filled by _fill_sparse
            expr = pl.lit(None, pl.String)
        else:
            expr = field if isinstance(field, pl.Expr) else field(*decor[name])
        columns.append(expr.alias(names[name]))
        if name in spacer_after:
            columns.append(pl.lit("").alias(f"_after_{name}"))
    nulls = {"".join(decor[name]) for name in order if name in NULLABLE}
    if len(nulls) > 1 or any(decor[n][0] for n in order if n in NULLABLE):
        raise ValueError("absent confirmation numbers would be written inconsistently")
    glued = {name: (pre, suf) for name, (pre, suf) in decor.items()}
    return Layout(columns, glued, nulls.pop() if nulls else "")


def _spoil(chunk: pl.DataFrame, out: pl.DataFrame, layout: Layout, names: dict[str, str],
           day: date, stamp_sep: str) -> pl.DataFrame:
    """Put the invalid values of rejected records in place (few rows: a scatter, not a when)."""
    bad = chunk["bad"].to_numpy()
    if not bad.any():
        return out
    columns = []
    spoiled_time = np.flatnonzero(bad == 1)
    if len(spoiled_time) and "partner_datetime" in names:
        pre, suf = layout.glue["partner_datetime"]
        column = out[names["partner_datetime"]].clone()
        column.scatter(spoiled_time, f"{pre}{day.isoformat()}{stamp_sep}{BAD_TIME}{suf}")
        columns.append(column)
    spoiled_store = np.flatnonzero(bad == 2)
    if len(spoiled_store) and "store_id" in names:  # a number: never decorated
        column = out[names["store_id"]].cast(pl.String)
        texts = column.gather(spoiled_store).str.slice(0, 2) + "A" + column.gather(
            spoiled_store).str.slice(3)
        column.scatter(spoiled_store, texts)
        columns.append(column)
    return out.with_columns(columns)


PLATFORM_FIELDS = [
    "txn_type", "confirmation_number", "original_confirmation_number", "platform_datetime",
    "partner_datetime", "store_id", "device_id", "card_terminal_id", "trace_id",
    "collector_number", "units", "miles", "dollars", "response_code", "origin",
]
PARTNER_FIELDS = [
    "txn_type", "confirmation_number", "original_confirmation_number", "partner_datetime",
    "store_id", "device_id", "trace_id", "pos_transaction_id", "collector_number", "units",
    "miles", "dollars", "response_code",
]


def _with_keys(chunk: pl.DataFrame, salt: int, local: pl.Expr) -> pl.DataFrame:
    return chunk.with_columns(conf_mix("conf", salt).alias("_conf"), local)


def _fill_sparse(chunk: pl.DataFrame, out: pl.DataFrame, layout: Layout, names: dict[str, str],
                 salt: int) -> pl.DataFrame:
    """Render original confirmation numbers only where there is one, and scatter them in."""
    if SPARSE not in names:
        return out
    present = np.flatnonzero(chunk["orig"].to_numpy() >= 0)
    if not len(present):
        return out
    pre, suf = layout.glue[SPARSE]
    texts = (
        chunk[present].with_columns(conf_mix("orig", salt).alias("_orig"))
        .select(conf_text("orig", "_orig", pre, suf)).to_series()
    )
    column = out[names[SPARSE]].clone()
    column.scatter(present, texts)
    return out.with_columns(column)


def write_standard(path: Path, frame: pl.DataFrame, side: str, meta: FileMeta) -> pl.DataFrame:
    """Write one standard-layout file; ``frame`` must be in time order.

    Returns:
        The line number of every tagged record (H1 is line 1, the first D line 3).
    """
    platform = side == PLATFORM
    est = pl.concat([frame["ts"], frame["pts"]]) - EST_SECONDS
    first, n_days = _day_span(est, meta.period_start - EST_SECONDS)
    clock = _clock(first, n_days, "%Y-%m-%dT%H:%M:%S" + ("-05:00" if platform else ""))
    fields = _fields(_money_table(frame["cents"]), clock, first * DAY)
    fields["record_type"] = lambda pre, suf: pl.lit(f"{pre}D{suf}")
    order = ["record_type", *(PLATFORM_FIELDS if platform else PARTNER_FIELDS)]
    names = {name: name for name in order}
    layout = _layout(order, fields, "%", "%", names)
    created = est_text(meta.period_end + 3600, platform)
    h1 = (f"H1%%RECON%%{created}%%AIRMILES%%PROD%%001" if platform
          else f"H1%%POS%%{created}%%{meta.sponsor}POS%%PROD%%001")
    h2 = (f"H2%%{meta.sponsor}%%{meta.day.strftime('%Y%m%d')}"
          f"%%{est_text(meta.period_start, platform)}%%{est_text(meta.period_end, platform)}")
    t1, t2 = _trailers(frame)
    local = (pl.col("pts") - EST_SECONDS).alias("_local")
    with path.open("wb") as handle:
        handle.write(f"{h1}\n{h2}\n".encode("ascii"))
        for chunk in frame.iter_slices(CHUNK_ROWS):
            text = _with_keys(chunk, meta.salt, local).select(layout.columns)
            text = _fill_sparse(chunk, text, layout, names, meta.salt)
            text = _spoil(chunk, text, layout, names, meta.day, "T")
            text.write_csv(handle, include_header=False, separator="%", quote_style="never",
                           null_value=layout.null_value)
        handle.write(f"{t1}\n{t2}\n".encode("ascii"))
    return _lines(frame, 3)


def _profile_value(profile: CsvProfile, canonical: str) -> str:
    for source, target in profile.txn_types.items():
        if target == canonical:
            return source
    raise ValueError(f"profile {profile.name!r} has no value for {canonical}")


def write_profile(
    path: Path, frame: pl.DataFrame, profile: CsvProfile, meta: FileMeta
) -> pl.DataFrame:
    """Write one partner file in a CSV profile's layout; ``frame`` must be in time order.

    Returns:
        The line number of every tagged record (with a header row, the first
        record is line 2).
    """
    local = (
        pl.from_epoch("pts", time_unit="s").dt.replace_time_zone("UTC")
        .dt.convert_time_zone(profile.timezone.polars_name)
        .dt.replace_time_zone(None).dt.epoch("s").alias("_local")
    )
    local_all = frame.select(local).to_series()
    first, n_days = _day_span(local_all, meta.period_start - EST_SECONDS)
    clock = _clock(first, n_days, profile.datetime_format)
    fields = _fields(_money_table(frame["cents"]), clock, first * DAY)
    unknown = "REFUND" if "REFUND" not in profile.txn_types else "REFUND_X"
    txn_values = [_profile_value(profile, "REDEEM"), _profile_value(profile, "REVERSE"), unknown]
    fields["txn_type"] = _lookup(pl.Series(txn_values), pl.col("txn"))
    if profile.amount_unit == "cents":
        fields["dollars"] = pl.col("cents")
    mapping = profile.columns
    order = sorted(mapping, key=lambda f: int(mapping[f])) if not profile.header else list(mapping)
    layout = _layout(order, fields, profile.delimiter, "", mapping)
    with path.open("wb") as handle:
        if profile.header:
            header = profile.delimiter.join(mapping[name] for name in order)
            handle.write(f"{header}\n".encode("ascii"))
        for chunk in frame.iter_slices(CHUNK_ROWS):
            text = _with_keys(chunk, meta.salt, local).select(layout.columns)
            text = _fill_sparse(chunk, text, layout, mapping, meta.salt)
            text = _spoil(chunk, text, layout, mapping, meta.day, " ")
            text.write_csv(handle, include_header=False, separator=profile.delimiter,
                           quote_style="never")
    return _lines(frame, 2 if profile.header else 1)


def file_name(side: str, sponsor: str, day: date, profile: CsvProfile | None) -> str:
    """The default name of a file (sequence 001)."""
    stamp = day.strftime("%Y%m%d")
    if side == PARTNER and profile is not None:
        return profile.file_pattern.format(sponsor=sponsor, date=stamp, seq="001")
    kind = "RECON" if side == PLATFORM else "POS"
    return f"AMCASH_{kind}_{sponsor}_{stamp}_001.txt"
