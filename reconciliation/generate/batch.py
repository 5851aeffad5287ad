"""Records under construction: column arrays, the per-day context and the plan.

A *batch* is a dict of equally long NumPy arrays in one internal numeric
layout shared by both sides (ids as integers, times as epoch seconds, money in
cents). Keeping records numeric until the very end is what lets ten million
of them be generated and written without a Python object per record; the
writers turn them into text in vectorized chunks.

The *plan* collects, for every (sponsor, day, side) file, the injected
records and the ground truth they imply, before any bulk record exists: the
bulk is then sized so each platform file holds the requested number of
records.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from reconciliation.config import Settings
from reconciliation.generate.ids import IdAllocator, salt_for, terminal_ids
from reconciliation.records import PARTNER, PLATFORM

Batch = dict[str, np.ndarray]

MINUTE = 60
HOUR = 3600

#: Internal columns and their dtypes. ``txn``: 0 REDEEM, 1 REVERSE, 2 REFUND (an
#: unknown type, for rejected records). ``conf``/``orig``: confirmation keys, -1
#: for none. ``ts``: the record's own side's time; ``pts``: the POS's time.
#: ``resp``: response code as a number, -1 for empty. ``origin``: 0 POS, 1 SYSTEM.
#: ``bad``: 0, or 1 unparseable datetime / 2 store id with a letter (rejected
#: records). ``tag``: 0 for bulk, else a unique id the ground truth refers to.
COLUMNS: dict[str, type] = {
    "txn": np.int8,
    "conf": np.int64,
    "orig": np.int64,
    "ts": np.int64,
    "pts": np.int64,
    "store": np.int16,
    "device": np.int16,
    "terminal": np.int64,
    "trace": np.int64,
    "receipt": np.int64,
    "collector": np.int64,
    "units": np.int16,
    "miles": np.int32,
    "cents": np.int64,
    "resp": np.int16,
    "origin": np.int8,
    "bad": np.int8,
    "tag": np.int32,
}

OPEN, PENDING, RESOLVED = "OPEN", "PENDING", "RESOLVED"

TRUTH_PARTS_SCHEMA = pl.Schema(
    {
        "s": pl.Int32,
        "d": pl.Int32,
        "break_type": pl.String,
        "side": pl.String,
        "txn": pl.Int8,
        "conf": pl.Int64,
        "line_side": pl.String,
        "tag": pl.Int32,
        "status": pl.String,
    }
)


def blank(n: int) -> Batch:
    """``n`` empty records: no confirmation numbers, everything else zero."""
    batch: Batch = {name: np.zeros(n, dtype=dtype) for name, dtype in COLUMNS.items()}
    batch["conf"][:] = -1
    batch["orig"][:] = -1
    return batch


def concat(batches: list[Batch]) -> Batch:
    """One batch of all records of ``batches``, in order."""
    if not batches:
        return blank(0)
    if len(batches) == 1:
        return batches[0]
    return {name: np.concatenate([b[name] for b in batches]) for name in COLUMNS}


def _sorted_frame(batch: Batch) -> pl.DataFrame:
    times = batch["ts"]
    if len(times) < 2 or bool(np.all(times[1:] >= times[:-1])):
        return pl.DataFrame({name: batch[name] for name in COLUMNS})
    order = np.argsort(times, kind="stable")
    return pl.DataFrame({name: batch[name][order] for name in COLUMNS})


def to_frame(bulk: list[Batch], injected: list[Batch]) -> pl.DataFrame:
    """All records of a file as one Polars frame in time order (``ts``).

    The bulk REDEEMs are generated already in time order, so only the small
    rest is sorted; a sequential merge then avoids gathering every column of
    ten million rows through a permutation.
    """
    big = [b for b in bulk if len(b["ts"]) > 0]
    frame = _sorted_frame(big[0]) if big else _sorted_frame(blank(0))
    rest = concat(big[1:] + injected)
    if len(rest["ts"]):
        frame = frame.merge_sorted(_sorted_frame(rest), key="ts")
    return frame


@dataclass(frozen=True)
class Rules:
    """The business figures generation must respect, taken from ``Settings``."""

    miles_per_unit: int
    cents_per_unit: int
    tolerance_s: int
    limit_cents: int
    grace_days: int

    @classmethod
    def of(cls, settings: Settings) -> Rules:
        """Read the rules from the settings the engine will use."""
        return cls(
            miles_per_unit=settings.miles_per_unit,
            cents_per_unit=int(settings.dollars_per_unit * 100),
            tolerance_s=int(settings.match_tolerance.total_seconds()),
            limit_cents=int(settings.daily_limit * 100),
            grace_days=settings.grace_days,
        )


class Plan:
    """Everything injected, per file, plus the ground truth, for one generation."""

    def __init__(
        self, sponsors: list[str], days: list[date], seed: int, settings: Settings
    ) -> None:
        """Lay out business-day boundaries, id counters and store lists per sponsor."""
        self.sponsors = sponsors
        self.days = days
        self.seed = seed
        self.salt = salt_for(seed)
        self.rules = Rules.of(settings)
        extended = [*days, days[-1] + timedelta(days=1)]
        self.starts = [
            [int(settings.zone_for(code).at(d).timestamp()) for d in extended] for code in sponsors
        ]
        self.ids = {
            (s, d): IdAllocator(s, d, day.toordinal())
            for s in range(len(sponsors))
            for d, day in enumerate(days)
        }
        self.stores = [self._stores(s) for s in range(len(sponsors))]
        self.emitted: dict[tuple[int, int, str], list[Batch]] = defaultdict(list)
        self.truth: list[pl.DataFrame] = []
        self.rejected: list[pl.DataFrame] = []
        self._next_tag = 1

    def _stores(self, s: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, s, 0x570E])
        return rng.choice(np.arange(1000, 10000, dtype=np.int16), size=200, replace=False)

    def new_tags(self, n: int) -> np.ndarray:
        """``n`` fresh record tags (ids the ground truth uses to find a record's line)."""
        start = self._next_tag
        self._next_tag += n
        return np.arange(start, start + n, dtype=np.int32)

    def injected(self, s: int, d: int, side: str) -> Batch:
        """All records injected into one file so far."""
        return concat(self.emitted.get((s, d, side), []))


class DayContext:
    """Builds records for one sponsor and business day of a plan, with one random stream."""

    def __init__(self, plan: Plan, s: int, d: int, rng: np.random.Generator) -> None:
        """Bind the context to a plan, a sponsor index, a day index and a generator."""
        self.plan, self.s, self.d, self.rng = plan, s, d, rng
        self.rules = plan.rules

    @property
    def n_days(self) -> int:
        """How many business days are generated."""
        return len(self.plan.days)

    @property
    def has_next(self) -> bool:
        """Whether D+1 is generated too."""
        return self.d + 1 < self.n_days

    def sibling(self, s: int) -> DayContext:
        """The context of another sponsor on the same day, sharing this random stream."""
        return DayContext(self.plan, s, self.d, self.rng)

    def start(self, offset: int = 0) -> int:
        """Epoch seconds of the start of business day D+offset (local midnight)."""
        return self.plan.starts[self.s][self.d + offset]

    def times(self, n: int, lo: int, hi: int, offset: int = 0) -> np.ndarray:
        """``n`` instants between ``lo`` and ``hi`` seconds after the start of day D+offset."""
        return self.start(offset) + self.rng.integers(lo, hi + 1, n, dtype=np.int64)

    def amounts(self, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Miles and cents that convert ``units`` exactly."""
        units64 = units.astype(np.int64)
        miles = (units64 * self.rules.miles_per_unit).astype(np.int32)
        return miles, units64 * self.rules.cents_per_unit

    def pairs(
        self, pts: np.ndarray, units: np.ndarray | None = None, *, tagged: bool = True
    ) -> tuple[Batch, Batch]:
        """Matched, successful REDEEM pairs whose POS time is ``pts`` (platform, partner).

        Columns the two sides share are the same arrays, which halves the
        memory of the bulk; callers that change one side replace an array,
        never write into it.
        """
        n = len(pts)
        rng, ids = self.rng, self.plan.ids[(self.s, self.d)]
        stores = self.plan.stores[self.s]
        store = stores[rng.integers(0, len(stores), n)]
        device = rng.integers(1, 13, n, dtype=np.int16)
        units = rng.integers(1, 6, n, dtype=np.int16) if units is None else units.astype(np.int16)
        miles, cents = self.amounts(units)
        shared = {
            "conf": ids.confs(n),
            "pts": pts,
            "store": store,
            "device": device,
            "trace": ids.traces(n),
            "collector": rng.integers(10**15, 10**16, n, dtype=np.int64),
            "units": units,
            "miles": miles,
            "cents": cents,
            "resp": (rng.random(n) < 0.05).astype(np.int16),
        }
        plat, part = blank(n), blank(n)
        plat.update(shared)
        part.update(shared)
        plat["ts"] = pts + rng.integers(0, 6, n, dtype=np.int64)
        plat["terminal"] = terminal_ids(store, device, self.plan.salt)
        part["ts"] = pts
        part["receipt"] = rng.integers(10**15, 10**16, n, dtype=np.int64)
        if tagged:
            plat["tag"] = self.plan.new_tags(n)
            part["tag"] = self.plan.new_tags(n)
        return plat, part

    def reversals(
        self, redeem: Batch, pts: np.ndarray, units: np.ndarray | None = None, *, tagged: bool = True
    ) -> tuple[Batch, Batch]:
        """Matched POS REVERSE pairs of the platform REDEEMs ``redeem``, at POS time ``pts``.

        Without ``units`` each REVERSE gives back exactly its REDEEM's miles.
        """
        plat, part = self.pairs(pts, redeem["units"] if units is None else units, tagged=tagged)
        if units is None:
            for batch in (plat, part):
                batch["miles"], batch["cents"] = redeem["miles"], redeem["cents"]
        for batch in (plat, part):
            batch["txn"] = np.ones(len(pts), dtype=np.int8)
            batch["orig"] = redeem["conf"]
            batch["store"] = redeem["store"]
            batch["collector"] = redeem["collector"]
        plat["terminal"] = terminal_ids(plat["store"], plat["device"], self.plan.salt)
        return plat, part

    def refund(self, redeem: Batch, delay: np.ndarray) -> Batch:
        """The platform's automatic (``SYSTEM``) refund of each REDEEM, ``delay`` seconds later."""
        n = len(delay)
        refund = {name: array.copy() for name, array in redeem.items()}
        refund["txn"] = np.ones(n, dtype=np.int8)
        refund["conf"] = self.plan.ids[(self.s, self.d)].confs(n)
        refund["orig"] = redeem["conf"]
        refund["ts"] = redeem["ts"] + delay
        refund["resp"] = np.zeros(n, dtype=np.int16)
        refund["origin"] = np.ones(n, dtype=np.int8)
        refund["tag"] = self.plan.new_tags(n)
        return refund

    def copy(self, batch: Batch, ts: np.ndarray, side: str) -> Batch:
        """A repeat of ``batch`` at later times ``ts`` (a duplicate record of ``side``).

        On the partner side the record's own time is the POS time, so both move.
        """
        dup = {name: array.copy() for name, array in batch.items()}
        dup["ts"] = ts
        if side == PARTNER:
            dup["pts"] = ts
        dup["tag"] = self.plan.new_tags(len(ts))
        return dup

    def emit(self, side: str, batch: Batch, offset: int = 0) -> None:
        """Put records into the file of this sponsor, day D+offset and ``side``."""
        self.plan.emitted[(self.s, self.d + offset, side)].append(batch)

    def missing_status(self, offset: int = 0) -> str:
        """Status of a MISSING_* break of day D+offset after every generated day has run.

        Raised PENDING; it turns OPEN at the end of the run of D+grace_days,
        which exists only if that day is generated too.
        """
        if self.d + offset + self.rules.grace_days < self.n_days:
            return OPEN
        return PENDING

    def expect(
        self, break_type: str, side: str, batch: Batch, status: str = OPEN, offset: int = 0
    ) -> None:
        """Record that each record of ``batch`` carries one break (or, for BOTH, its pair does).

        ``batch`` is the record the break's line number points at: the
        platform record for side BOTH.
        """
        self.plan.truth.append(
            pl.DataFrame({"txn": batch["txn"], "conf": batch["conf"], "tag": batch["tag"]})
            .with_columns(
                s=pl.lit(self.s, pl.Int32),
                d=pl.lit(self.d + offset, pl.Int32),
                break_type=pl.lit(break_type),
                side=pl.lit(side),
                line_side=pl.lit(PARTNER if side == PARTNER else PLATFORM),
                status=pl.lit(status),
            )
            .select(TRUTH_PARTS_SCHEMA.names())
        )

    def reject(self, batch: Batch, reason: str) -> None:
        """Record that each partner record of ``batch`` must be rejected with ``reason``."""
        self.plan.rejected.append(
            pl.DataFrame({"tag": batch["tag"]}).select(
                s=pl.lit(self.s, pl.Int32), d=pl.lit(self.d, pl.Int32), tag="tag",
                reason=pl.lit(reason),
            )
        )
