"""Writers for the standard ``%%`` layout and for CSV partner profiles.

Records arrive as a numeric frame (see ``batch.COLUMNS``) and leave as text
built column-wise by Polars and streamed to disk in chunks, so writing ten
million lines needs neither a Python loop nor the whole file in memory.
Datetimes in the standard layout are EST (UTC-05:00) as the integration
guide says: with an explicit offset on the platform side, naive on the
partner side. A CSV profile writes its own zone and format.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import polars as pl

from reconciliation.config import CsvProfile
from reconciliation.generate.ids import conf_expr
from reconciliation.records import PARTNER, PLATFORM

EST = timezone(timedelta(hours=-5))
EST_SECONDS = 5 * 3600
CHUNK_ROWS = 500_000
SEPARATOR = "%%"
TXN_TEXT = {0: "REDEEM", 1: "REVERSE", 2: "REFUND"}
BAD_TIME = "25:61:00"  # the shape of a time, but no such time: unparseable, not malformed


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
def _times_of_day(suffix: str) -> pl.Series:
    """All 86,400 ``HH:MM:SS`` strings (plus ``suffix``): formatting becomes a lookup."""
    return pl.Series(
        [f"{h:02d}:{m:02d}:{s:02d}{suffix}" for h in range(24) for m in range(60) for s in range(60)]
    )


def _est_expr(column: str, first_day: int, n_days: int, with_offset: bool) -> pl.Expr:
    """Vectorized EST datetime text; ``first_day`` is the EST epoch day of the earliest value."""
    est = pl.col(column) - EST_SECONDS
    days = pl.Series(
        [(date(1970, 1, 1) + timedelta(days=first_day + i)).isoformat() + "T" for i in range(n_days)]
    )
    return pl.concat_str(
        [
            pl.lit(days).gather(est // 86400 - first_day),
            pl.lit(_times_of_day("-05:00" if with_offset else "")).gather(est % 86400),
        ]
    )


def _money(cents: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        [(cents // 100).cast(pl.String), pl.lit("."), (cents % 100).cast(pl.String).str.zfill(2)]
    )


def _store() -> pl.Expr:
    text = pl.col("store").cast(pl.String)
    spoiled = pl.concat_str([text.str.slice(0, 2), pl.lit("A"), text.str.slice(3)])
    return pl.when(pl.col("bad") == 2).then(spoiled).otherwise(text)


def _response() -> pl.Expr:
    code = pl.col("resp")
    return pl.when(code < 0).then(pl.lit("")).otherwise(code.cast(pl.String).str.zfill(4))


def _common(meta: FileMeta) -> dict[str, pl.Expr]:
    """Text of the fields both layouts share, by canonical field name."""
    return {
        "confirmation_number": conf_expr("conf", meta.salt),
        "original_confirmation_number": conf_expr("orig", meta.salt),
        "store_id": _store(),
        "device_id": pl.col("device").cast(pl.String).str.zfill(3),
        "trace_id": pl.col("trace").cast(pl.String).str.zfill(12),
        "pos_transaction_id": pl.col("receipt").cast(pl.String),
        "collector_number": pl.col("collector").cast(pl.String),
        "units": pl.col("units").cast(pl.String),
        "miles": pl.col("miles").cast(pl.String),
        "response_code": _response(),
    }


def _trailers(frame: pl.DataFrame) -> tuple[str, str]:
    """T1 and T2 over all D records, counting types by the exact txn_type field."""
    sums = frame.select(
        rc=(pl.col("txn") == 0).sum(),
        rm=pl.col("miles").filter(pl.col("txn") == 0).cast(pl.Int64).sum(),
        rd=pl.col("cents").filter(pl.col("txn") == 0).sum(),
        vc=(pl.col("txn") == 1).sum(),
        vm=pl.col("miles").filter(pl.col("txn") == 1).cast(pl.Int64).sum(),
        vd=pl.col("cents").filter(pl.col("txn") == 1).sum(),
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


def write_standard(path: Path, frame: pl.DataFrame, side: str, meta: FileMeta) -> pl.DataFrame:
    """Write one standard-layout file; ``frame`` must be in time order.

    Returns:
        The line number of every tagged record (H1 is line 1, the first D line 3).
    """
    platform = side == PLATFORM
    epochs = frame.select(lo=pl.min_horizontal(pl.col("ts").min(), pl.col("pts").min()),
                          hi=pl.max_horizontal(pl.col("ts").max(), pl.col("pts").max()))
    lo = epochs["lo"][0] if frame.height else meta.period_start
    hi = epochs["hi"][0] if frame.height else meta.period_start
    first_day = (int(lo) - EST_SECONDS) // 86400
    n_days = (int(hi) - EST_SECONDS) // 86400 - first_day + 1
    common = _common(meta)

    def when(column: str) -> pl.Expr:
        return _est_expr(column, first_day, n_days, platform)

    txn = pl.col("txn").replace_strict(TXN_TEXT, return_dtype=pl.String)
    head = [pl.lit("D"), txn, common["confirmation_number"], common["original_confirmation_number"]]
    amounts = [common["units"], common["miles"], _money(pl.col("cents")), common["response_code"]]
    if platform:
        origin = pl.when(pl.col("origin") == 1).then(pl.lit("SYSTEM")).otherwise(pl.lit("POS"))
        fields = [*head, when("ts"), when("pts"), common["store_id"], common["device_id"],
                  pl.col("terminal").cast(pl.String), common["trace_id"],
                  common["collector_number"], *amounts, origin]
    else:
        stamp = pl.when(pl.col("bad") == 1).then(pl.lit(f"{meta.day.isoformat()}T{BAD_TIME}"))
        fields = [*head, stamp.otherwise(when("pts")), common["store_id"], common["device_id"],
                  common["trace_id"], common["pos_transaction_id"], common["collector_number"],
                  *amounts]
    line = pl.concat_str(fields, separator=SEPARATOR).alias("line")
    created = est_text(meta.period_end + 3600, platform)
    h1 = (f"H1%%RECON%%{created}%%AIRMILES%%PROD%%001" if platform
          else f"H1%%POS%%{created}%%{meta.sponsor}POS%%PROD%%001")
    h2 = (f"H2%%{meta.sponsor}%%{meta.day.strftime('%Y%m%d')}%%{est_text(meta.period_start, platform)}"
          f"%%{est_text(meta.period_end, platform)}")
    t1, t2 = _trailers(frame)
    with path.open("wb") as handle:
        handle.write(f"{h1}\n{h2}\n".encode("ascii"))
        for chunk in frame.iter_slices(CHUNK_ROWS):
            chunk.select(line).write_csv(handle, include_header=False, quote_style="never")
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
    common = _common(meta)
    unknown = "REFUND" if "REFUND" not in profile.txn_types else "REFUND_X"
    common["txn_type"] = pl.col("txn").replace_strict(
        {0: _profile_value(profile, "REDEEM"), 1: _profile_value(profile, "REVERSE"), 2: unknown},
        return_dtype=pl.String,
    )
    local = (
        pl.from_epoch("pts", time_unit="s")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(profile.timezone.polars_name)
        .dt.strftime(profile.datetime_format)
    )
    bad_stamp = pl.lit(f"{meta.day.isoformat()} {BAD_TIME}")
    common["partner_datetime"] = pl.when(pl.col("bad") == 1).then(bad_stamp).otherwise(local)
    cents = pl.col("cents")
    common["dollars"] = cents.cast(pl.String) if profile.amount_unit == "cents" else _money(cents)
    mapping = profile.columns
    order = sorted(mapping, key=lambda f: int(mapping[f])) if not profile.header else list(mapping)
    exprs = [common[field].alias(mapping[field]) for field in order]
    with path.open("wb") as handle:
        if profile.header:
            header = profile.delimiter.join(mapping[field] for field in order)
            handle.write(f"{header}\n".encode("ascii"))
        for chunk in frame.iter_slices(CHUNK_ROWS):
            chunk.select(exprs).write_csv(
                handle, include_header=False, separator=profile.delimiter, quote_style="never"
            )
    return _lines(frame, 2 if profile.header else 1)


def file_name(side: str, sponsor: str, day: date, profile: CsvProfile | None) -> str:
    """The default name of a file (sequence 001)."""
    stamp = day.strftime("%Y%m%d")
    if side == PARTNER and profile is not None:
        return profile.file_pattern.format(sponsor=sponsor, date=stamp, seq="001")
    kind = "RECON" if side == PLATFORM else "POS"
    return f"AMCASH_{kind}_{sponsor}_{stamp}_001.txt"


__all__ = ["FileMeta", "file_name", "write_profile", "write_standard"]
