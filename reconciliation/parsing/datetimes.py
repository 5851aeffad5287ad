"""Datetimes of the input files, parsed a whole column at a time (spec §2.1, §3).

The standard layout writes ``YYYY-MM-DDTHH:MM:SS``, an optional fraction
and an optional offset (none means EST, a fixed UTC-05:00); a CSV profile
names its own strftime format and time zone. Header fields are parsed one
at a time (``parse_datetime_text``), detail fields a column at a time: a
big file holds millions, and a busy second repeats across many consecutive
records (``by_runs``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import polars as pl

#: The date and time of a standard datetime, range-checked (the calendar is
#: checked by strptime). The rest, fraction and offset, is ``_SUFFIX``.
DATETIME_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
_DATETIME = re.compile(DATETIME_RE)
_SUFFIX = re.compile(r"^(?:\.([0-9]{1,6}))?(Z|([+-])([01][0-9]|2[0-3]):?([0-5][0-9]))?$")
#: A datetime without offset is EST, a fixed UTC-05:00 (spec §2.1).
EST_OFFSET_MINUTES = -300


def parse_datetime_text(text: str, default_offset_minutes: int = EST_OFFSET_MINUTES) -> datetime | None:
    """One standard-layout datetime (header fields) as a UTC datetime, or None."""
    if not _DATETIME.match(text):
        return None
    try:
        base = datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    delta = _suffix_delta(text[19:], default_offset_minutes)
    return None if delta is None else (base + delta).replace(tzinfo=UTC)


def _suffix_delta(suffix: str, default_offset_minutes: int) -> timedelta | None:
    """What to add to the naive part of a datetime to get UTC: fraction minus offset."""
    match = _SUFFIX.match(suffix)
    if match is None:
        return None
    fraction, zone, sign, hours, minutes = match.groups()
    micros = int(fraction.ljust(6, "0")) if fraction else 0
    if zone is None:
        offset = default_offset_minutes
    elif zone == "Z":
        offset = 0
    else:
        offset = (int(hours) * 60 + int(minutes)) * (-1 if sign == "-" else 1)
    return timedelta(microseconds=micros, minutes=-offset)


def parse_date_text(text: str) -> date | None:
    """A business date written ``YYYY-MM-DD`` or ``YYYYMMDD``, or None."""
    for fmt, pattern in (("%Y-%m-%d", r"[0-9]{4}-[0-9]{2}-[0-9]{2}"), ("%Y%m%d", r"[0-9]{8}")):
        if re.fullmatch(pattern, text):
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                return None
    return None


def by_runs(values: pl.Series, parse: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """Parse each run of equal consecutive values once.

    Files are written in time order, so a busy sponsor's file repeats each
    second in many consecutive records; parsing one value per run and
    spreading the result is several times cheaper. Unordered data is parsed
    value by value.
    """
    runs = values.rle_id()
    if not len(values) or (int(runs[-1]) + 1) * 4 > len(values):
        return parse(values)
    heads = values.filter(runs.diff().fill_null(1) != 0)
    return parse(heads).gather(runs).alias(values.name)


def standard_datetimes(values: pl.Series, default_offset_minutes: int = EST_OFFSET_MINUTES) -> pl.Series:
    """Parse a column of standard datetimes to UTC; null where empty or unparseable.

    The date and time are parsed by Polars (which also rejects 2026-02-30);
    the suffix (fraction and offset) takes few distinct values in a real file,
    so it is turned into a time delta once per distinct value in Python.
    """
    text = pl.col("t")
    frame = pl.DataFrame({"t": values}).select(
        pl.when(text.str.contains(DATETIME_RE))
        .then(text.str.slice(0, 19).str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S", strict=False))
        .alias("base"),
        text.str.slice(19).alias("suffix"),
    )
    suffixes = frame["suffix"].unique()
    if suffixes.len() > 1000:  # many distinct fractions: take them apart first
        frame = frame.with_columns(
            pl.col("suffix")
            .str.extract(r"^\.([0-9]{1,6})", 1)
            .str.pad_end(6, "0")
            .cast(pl.Int64)
            .alias("us"),
            pl.col("suffix").str.replace(r"^\.[0-9]{1,6}", ""),
        )
        suffixes = frame["suffix"].unique()
    deltas = {s: _suffix_delta(s, default_offset_minutes) for s in suffixes.drop_nulls().to_list()}
    micros = {s: d // timedelta(microseconds=1) for s, d in deltas.items() if d is not None}
    if len(micros) == 1 and len(deltas) == 1 and suffixes.null_count() == 0:
        delta = pl.lit(next(iter(micros.values())), pl.Int64)
    else:
        delta = pl.col("suffix").replace_strict(micros, default=None, return_dtype=pl.Int64)
    if "us" in frame.columns:
        delta = delta + pl.col("us").fill_null(0)
    out = frame.select(
        (pl.col("base") + pl.duration(microseconds=delta)).dt.replace_time_zone("UTC").alias(values.name)
    )
    return out.to_series()


def local_datetimes(values: pl.Series, fmt: str, zone_name: str) -> pl.Series:
    """Parse a CSV profile's datetimes written in ``fmt``; null where unparseable.

    A naive value is local time in ``zone_name``: a time skipped by a DST
    change is unparseable (null) and a repeated one takes the earlier instant.
    A naive value must print back exactly as written, so ``2026-1-5`` or a
    leap second is rejected rather than silently reinterpreted.
    """
    text = pl.col("t")
    if "%z" in fmt or "%:z" in fmt:
        parsed = text.str.strptime(pl.Datetime("us", "UTC"), fmt, strict=False)
    else:
        naive = text.str.strptime(pl.Datetime("us"), fmt, strict=False)
        naive = pl.when(naive.dt.strftime(fmt) == text).then(naive)
        parsed = naive.dt.replace_time_zone(
            zone_name, ambiguous="earliest", non_existent="null"
        ).dt.convert_time_zone("UTC")
    return pl.DataFrame({"t": values}).select(parsed.alias(values.name)).to_series()
