"""``generate()``: seeded synthetic input files with known breaks, and their ground truth.

The work is split in two passes so that memory stays proportional to one
file: first every injected case of every sponsor and day is planned (small,
because cases are a fraction of the records), then each (sponsor, day) gets
its bulk and both files are written before the next one is built.

Most of a real file is uneventful: successful REDEEMs both sides recorded
seconds apart, and a few same-day voids. That bulk is generated with NumPy
only and sized so each platform file holds exactly the requested number of
records (the partner file differs by what the cases add on that side).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from reconciliation.config import CsvProfile, Settings
from reconciliation.errors import ConfigError
from reconciliation.generate import truth as truth_mod
from reconciliation.generate.batch import HOUR, MINUTE, Batch, DayContext, Plan, to_frame
from reconciliation.generate.ids import MAX_DAYS, MAX_SPONSORS
from reconciliation.generate.scenarios import CASES, HI, LO
from reconciliation.generate.writers import FileMeta, file_name, write_profile, write_standard
from reconciliation.records import PARTNER, PLATFORM

TRUTH_FILE = "ground_truth.csv"
REJECTED_FILE = "rejected.csv"
MAX_RECORDS = 50_000_000
_CODE = re.compile(r"[A-Z0-9]{4}")
_NAMED = ("ABCD", "EFGH", "IJKL", "MNOP", "QRST", "UVWX")


@dataclass
class GenerationResult:
    """What ``generate`` wrote.

    Attributes:
        out: The output directory.
        files: One row per input file: path, side, sponsor_code, business_date, layout, records.
        truth: The injected breaks (the content of ``ground_truth.csv``).
        rejected: The records that must be rejected (the content of ``rejected.csv``).
        cases: Instances injected per case name, over all sponsors and days.
    """

    out: Path
    files: pl.DataFrame
    truth: pl.DataFrame
    rejected: pl.DataFrame
    cases: dict[str, int] = field(default_factory=dict)

    @property
    def paths(self) -> list[Path]:
        """Every input file written, in the order written."""
        return [Path(p) for p in self.files["path"]]

    @property
    def truth_path(self) -> Path:
        """Where the ground truth was written."""
        return self.out / TRUTH_FILE

    @property
    def rejected_path(self) -> Path:
        """Where the expected rejected records were written."""
        return self.out / REJECTED_FILE

    def summary(self) -> str:
        """One paragraph for the operator: files, records, breaks by type."""
        by_side = dict(self.files.group_by("side").agg(pl.col("records").sum()).iter_rows())
        counts = Counter(self.truth["break_type"].to_list())
        breaks = ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "none"
        return (
            f"Wrote {self.files.height} files to {self.out} "
            f"({by_side.get(PLATFORM, 0):,} platform and {by_side.get(PARTNER, 0):,} partner "
            f"detail records); injected {self.truth.height:,} breaks ({breaks}) and "
            f"{self.rejected.height:,} records to be rejected; ground truth in {TRUTH_FILE}, "
            f"expected rejections in {REJECTED_FILE}."
        )


#: Share of bulk records that are same-day voids of an earlier bulk REDEEM.
REVERSAL_SHARE = 0.01


def take(batch: Batch, index: np.ndarray) -> Batch:
    """The records of ``batch`` at positions ``index``."""
    return {name: array[index] for name, array in batch.items()}


def bulk_size(plan: Plan, s: int, d: int, records: int) -> int:
    """How many bulk records (per side) fill the platform file of (s, d) up to ``records``."""
    injected = sum(len(b["tag"]) for b in plan.emitted.get((s, d, PLATFORM), []))
    return max(0, records - injected)


def bulk_day(plan: Plan, s: int, d: int, total: int) -> tuple[list[Batch], list[Batch]]:
    """``total`` ordinary records per side for sponsor ``s`` and day ``d``.

    Returns the platform and partner batches: REDEEM pairs at uniformly
    random times between 00:30 and 23:29 local, and, for about 1 % of them,
    a full same-day REVERSE pair 1 minute to 3 hours later (never past
    23:30, so never across the cut-off or the reversal deadline).

    Random collectors are 16-digit numbers and bulk amounts at most five
    units, so no bulk collector comes near the daily limit.
    """
    rng = np.random.default_rng([plan.seed, s, d, 1])
    ctx = DayContext(plan, s, d, rng)
    n_reverse = int(total * REVERSAL_SHARE)
    n_redeem = total - n_reverse
    pts = np.sort(ctx.times(n_redeem, LO, HI - MINUTE))
    plat, part = ctx.pairs(pts, tagged=False)
    # Sorting the platform times keeps each within 0-5 s after its POS time
    # (order statistics of pts + delay lie between those of pts and pts + 5)
    # and puts the platform bulk in file order without a permutation.
    plat["ts"] = np.sort(plat["ts"])
    if n_reverse == 0 or n_redeem == 0:
        return [plat], [part]
    chosen = np.sort(rng.choice(n_redeem, size=min(n_reverse, n_redeem), replace=False))
    redeem = take(plat, chosen)
    later = redeem["ts"] + rng.integers(MINUTE, 3 * HOUR, len(chosen), dtype=np.int64)
    later = np.minimum(later, ctx.start() + HI)
    rev_plat, rev_part = ctx.reversals(redeem, later, tagged=False)
    return [plat, rev_plat], [part, rev_part]


def sponsor_codes(count: int) -> list[str]:
    """``count`` distinct sponsor codes: six lettered ones, then S007, S008, ..."""
    if not 1 <= count <= min(MAX_SPONSORS, 999):
        raise ConfigError(f"sponsor count must be between 1 and {min(MAX_SPONSORS, 999)}")
    return [_NAMED[i] if i < len(_NAMED) else f"S{i + 1:03d}" for i in range(count)]


def case_count(rate: float, records: int) -> int:
    """Instances of one case per sponsor and day: rate x records, at least 1 from 200 records."""
    if rate <= 0 or records <= 0:
        return 0
    n = round(rate * records)
    return max(1, n) if records >= 200 else n


def _validate(
    sponsors: list[str], days: int, records: int, rates: tuple[float, float], csv: set[str]
) -> None:
    bad = [code for code in sponsors if not _CODE.fullmatch(code)]
    if bad:
        raise ConfigError(f"sponsor code {bad[0]!r} must be 4 characters, A-Z or 0-9")
    if not sponsors or len(set(sponsors)) != len(sponsors) or len(sponsors) > MAX_SPONSORS:
        raise ConfigError(f"sponsors must be 1 to {MAX_SPONSORS} distinct codes")
    if not 1 <= days <= MAX_DAYS:
        raise ConfigError(f"days must be between 1 and {MAX_DAYS}")
    if not 0 <= records <= MAX_RECORDS:
        raise ConfigError(f"records must be between 0 and {MAX_RECORDS:,}")
    if any(not 0 <= rate <= 1 for rate in rates):
        raise ConfigError("break and clean rates must be between 0 and 1")
    unknown = sorted(csv - set(sponsors))
    if unknown:
        raise ConfigError(f"CSV sponsor {unknown[0]} is not among the generated sponsors")


def _profile(code: str, csv: set[str], settings: Settings) -> CsvProfile | None:
    configured = settings.profile_for(code)
    if configured is not None:
        return configured
    return settings.profiles["csv_cents"] if code in csv else None


def _write_file(
    out: Path, bulk: list[Batch], injected: list[Batch], side: str, meta: FileMeta,
    profile: CsvProfile | None,
) -> tuple[Path, pl.DataFrame, int]:
    frame = to_frame(bulk, injected)
    path = out / file_name(side, meta.sponsor, meta.day, profile)
    if side == PARTNER and profile is not None:
        lines = write_profile(path, frame, profile, meta)
    else:
        lines = write_standard(path, frame, side, meta)
    return path, lines, frame.height


def generate(
    out: Path,
    *,
    sponsors: list[str],
    start: date,
    days: int,
    records: int,
    break_rate: float,
    seed: int,
    csv_sponsors: set[str] | frozenset[str] = frozenset(),
    settings: Settings | None = None,
    clean_rate: float | None = None,
) -> GenerationResult:
    """Write platform and partner files for every sponsor and day, plus the ground truth.

    Args:
        out: Directory to write into (created; files are written flat).
        sponsors: Sponsor codes.
        start: First business date.
        days: Number of consecutive business dates.
        records: Detail records per platform file (the bulk fills up to it).
        break_rate: Instances of each break case per sponsor and day, as a share of ``records``.
        seed: Same seed and arguments, same bytes.
        csv_sponsors: Sponsors whose partner file uses the shipped CSV profile
            (a sponsor configured with a profile in ``settings`` always uses it).
        settings: Rates, tolerance, grace days, limit and zones to honour (defaults otherwise).
        clean_rate: Same for the cases that must not raise a break (auto-refunds,
            declines, fallback matches, rejected records); defaults to ``break_rate``.

    Raises:
        ConfigError: an argument is out of range.
    """
    settings = settings or Settings()
    clean = break_rate if clean_rate is None else clean_rate
    csv = set(csv_sponsors)
    _validate(sponsors, days, records, (break_rate, clean), csv)
    dates = [start + timedelta(days=i) for i in range(days)]
    plan = Plan(list(sponsors), dates, seed, settings)
    counts = {"break": case_count(break_rate, records), "clean": case_count(clean, records)}
    injected: Counter[str] = Counter()
    for s in range(len(sponsors)):
        for d in range(days):
            ctx = DayContext(plan, s, d, np.random.default_rng([seed, s, d, 0]))
            for case in CASES:
                if counts[case.rate]:
                    injected[case.name] += case.build(ctx, counts[case.rate])
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    lines: list[pl.DataFrame] = []
    for s, code in enumerate(sponsors):
        profile = _profile(code, csv, settings)
        for d, day in enumerate(dates):
            meta = FileMeta(code, day, plan.starts[s][d], plan.starts[s][d + 1], plan.salt)
            bulk = bulk_day(plan, s, d, bulk_size(plan, s, d, records))
            for side, own in zip((PLATFORM, PARTNER), bulk, strict=True):
                layout = profile if side == PARTNER else None
                path, where, n = _write_file(
                    out, own, plan.emitted.get((s, d, side), []), side, meta, layout
                )
                lines.append(where.with_columns(s=pl.lit(s, pl.Int32), d=pl.lit(d, pl.Int32),
                                                side=pl.lit(side)))
                rows.append({"path": str(path), "side": side, "sponsor_code": code,
                             "business_date": day, "layout": layout.name if layout else "standard",
                             "records": n})
            del bulk
    located = (pl.concat(lines).select(truth_mod.LINES_SCHEMA.names())
               if lines else pl.DataFrame(schema=truth_mod.LINES_SCHEMA))
    truth = truth_mod.build_truth(plan.truth, located, plan.sponsors, dates, plan.salt)
    rejected = truth_mod.build_rejected(plan.rejected, located, plan.sponsors, dates)
    truth_mod.write_csv(truth, out / TRUTH_FILE)
    truth_mod.write_csv(rejected, out / REJECTED_FILE)
    return GenerationResult(out, pl.DataFrame(rows), truth, rejected, dict(injected))
