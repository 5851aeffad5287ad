"""One small function per injected case: the records it writes and the breaks it implies.

Every case builds its records so that the engine finds exactly the listed
breaks and nothing else: amounts convert exactly unless the case is about
conversion, times stay inside the business day (00:30-23:30 local) unless
the case is about the cut-off, pairs are seconds apart unless the case is
about drift, and every id comes from the plan's counters so nothing collides
by accident. Each function takes the day's context and a count, and returns
how many instances it injected (0 when the case does not apply to that day).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from reconciliation.generate.batch import HOUR, MINUTE, RESOLVED, DayContext
from reconciliation.records import BOTH, PARTNER, PLATFORM

LO = 30 * MINUTE  # 00:30 local
HI = 23 * HOUR + 30 * MINUTE  # 23:30 local


def _none(n: int) -> np.ndarray:
    return np.full(n, -1, dtype=np.int64)


def missing_on_platform(ctx: DayContext, n: int) -> int:
    """A successful partner REDEEM the platform never recorded."""
    _, part = ctx.pairs(ctx.times(n, LO, HI))
    ctx.emit(PARTNER, part)
    ctx.expect("MISSING_ON_PLATFORM", PARTNER, part, ctx.missing_status())
    return n


def missing_at_partner(ctx: DayContext, n: int) -> int:
    """A platform POS REDEEM the partner's log does not have."""
    plat, _ = ctx.pairs(ctx.times(n, LO, HI))
    ctx.emit(PLATFORM, plat)
    ctx.expect("MISSING_AT_PARTNER", PLATFORM, plat, ctx.missing_status())
    return n


def _unknown_outcome(ctx: DayContext, n: int, latest: int) -> dict[str, np.ndarray]:
    """A platform REDEEM whose POS got no answer: partner line without code or confirmation."""
    plat, part = ctx.pairs(ctx.times(n, LO, latest))
    part["conf"] = _none(n)
    part["resp"] = np.full(n, -1, dtype=np.int16)
    ctx.emit(PLATFORM, plat)
    ctx.emit(PARTNER, part)
    return plat


def unknown_not_refunded(ctx: DayContext, n: int) -> int:
    """Unknown outcome and no refund: the collector lost miles without the discount."""
    plat = _unknown_outcome(ctx, n, HI)
    ctx.expect("MISSING_AT_PARTNER", PLATFORM, plat, ctx.missing_status())
    return n


def _refund_delays(ctx: DayContext, n: int) -> np.ndarray:
    return ctx.rng.integers(15 * MINUTE, 20 * MINUTE + 1, n, dtype=np.int64)


def unknown_refunded(ctx: DayContext, n: int) -> int:
    """Unknown outcome settled by the platform's automatic refund 15-20 minutes later: no break."""
    plat = _unknown_outcome(ctx, n, HI - 25 * MINUTE)
    ctx.emit(PLATFORM, ctx.refund(plat, _refund_delays(ctx, n)))
    return n


def refund_without_partner(ctx: DayContext, n: int) -> int:
    """A platform REDEEM and its SYSTEM refund, no partner line at all: no break."""
    plat, _ = ctx.pairs(ctx.times(n, LO, HI - 25 * MINUTE))
    ctx.emit(PLATFORM, plat)
    ctx.emit(PLATFORM, ctx.refund(plat, _refund_delays(ctx, n)))
    return n


def amount_mismatch(ctx: DayContext, n: int) -> int:
    """A key pair whose sides disagree on units (each side converts its own units exactly)."""
    plat, part = ctx.pairs(ctx.times(n, LO, HI))
    units = plat["units"].astype(np.int64)
    delta = ctx.rng.choice(np.array([-2, -1, 1, 2]), n)
    other = units + delta
    other = np.where((other < 1) | (other > 5), units - delta, other).astype(np.int16)
    part["units"] = other
    part["miles"], part["cents"] = ctx.amounts(other)
    ctx.emit(PLATFORM, plat)
    ctx.emit(PARTNER, part)
    ctx.expect("AMOUNT_MISMATCH", BOTH, plat)
    return n


def timestamp_drift(ctx: DayContext, n: int) -> int:
    """A key pair whose POS clock is 15-30 minutes beyond the match tolerance off."""
    tol = ctx.rules.tolerance_s
    margin = tol + 30 * MINUTE
    plat, part = ctx.pairs(ctx.times(n, LO + margin, HI - margin))
    drift = ctx.rng.integers(tol + 15 * MINUTE, tol + 30 * MINUTE + 1, n, dtype=np.int64)
    pos_time = plat["ts"] + drift * ctx.rng.choice(np.array([-1, 1]), n)
    part["ts"] = part["pts"] = plat["pts"] = pos_time
    ctx.emit(PLATFORM, plat)
    ctx.emit(PARTNER, part)
    ctx.expect("TIMESTAMP_DRIFT", BOTH, plat)
    return n


def _duplicate(ctx: DayContext, n: int, side: str) -> int:
    plat, part = ctx.pairs(ctx.times(n, LO, HI - 30 * MINUTE))
    original = part if side == PARTNER else plat
    later = original["ts"] + ctx.rng.integers(MINUTE, 30 * MINUTE + 1, n, dtype=np.int64)
    dup = ctx.copy(original, later, side)
    ctx.emit(PLATFORM, plat)
    ctx.emit(PARTNER, part)
    ctx.emit(side, dup)
    ctx.expect("DUPLICATE", side, dup)
    return n


def duplicate_partner(ctx: DayContext, n: int) -> int:
    """A matched pair whose partner line is repeated later in the partner file."""
    return _duplicate(ctx, n, PARTNER)


def duplicate_platform(ctx: DayContext, n: int) -> int:
    """A matched pair whose platform line is repeated later in the platform file."""
    return _duplicate(ctx, n, PLATFORM)


def _emit_pairs(ctx: DayContext, pair: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]) -> None:
    ctx.emit(PLATFORM, pair[0])
    ctx.emit(PARTNER, pair[1])


def orphan_reversal(ctx: DayContext, n: int) -> int:
    """A matched REVERSE pair of a REDEEM that exists nowhere (its key is never written)."""
    ghost, _ = ctx.pairs(ctx.times(n, LO, HI - HOUR))
    rev = ctx.reversals(ghost, ghost["ts"] + ctx.rng.integers(MINUTE, HOUR, n, dtype=np.int64))
    _emit_pairs(ctx, rev)
    ctx.expect("ORPHAN_REVERSAL", PLATFORM, rev[0])
    return n


def late_reversal(ctx: DayContext, n: int) -> int:
    """A REVERSE at 09:00-20:00 of a REDEEM of the previous business day (deadline 03:00)."""
    if ctx.d == 0:
        return 0
    plat, part = ctx.pairs(ctx.times(n, LO, HI, offset=-1))
    ctx.emit(PLATFORM, plat, offset=-1)
    ctx.emit(PARTNER, part, offset=-1)
    rev = ctx.reversals(plat, ctx.times(n, 9 * HOUR, 20 * HOUR))
    _emit_pairs(ctx, rev)
    ctx.expect("LATE_REVERSAL", PLATFORM, rev[0])
    return n


def double_reversal(ctx: DayContext, n: int) -> int:
    """A REDEEM reversed in full twice; the later REVERSE is the break."""
    plat, part = ctx.pairs(ctx.times(n, LO, 20 * HOUR))
    _emit_pairs(ctx, (plat, part))
    first = plat["ts"] + ctx.rng.integers(10 * MINUTE, HOUR, n, dtype=np.int64)
    second = first + ctx.rng.integers(10 * MINUTE, HOUR, n, dtype=np.int64)
    _emit_pairs(ctx, ctx.reversals(plat, first))
    rev = ctx.reversals(plat, second)
    _emit_pairs(ctx, rev)
    ctx.expect("DOUBLE_REVERSAL", PLATFORM, rev[0])
    return n


def reversal_mismatch(ctx: DayContext, n: int) -> int:
    """A REDEEM of 2-5 units reversed for fewer units (each side converts exactly)."""
    units = ctx.rng.integers(2, 6, n, dtype=np.int64)
    plat, part = ctx.pairs(ctx.times(n, LO, 22 * HOUR), units)
    _emit_pairs(ctx, (plat, part))
    back = ctx.rng.integers(1, units, dtype=np.int64)
    later = plat["ts"] + ctx.rng.integers(5 * MINUTE, HOUR, n, dtype=np.int64)
    rev = ctx.reversals(plat, later, back)
    _emit_pairs(ctx, rev)
    ctx.expect("REVERSAL_MISMATCH", PLATFORM, rev[0])
    return n


def conversion_error(ctx: DayContext, n: int) -> int:
    """A matched pair whose miles are 1-10 off units x rate, identically on both sides."""
    plat, part = ctx.pairs(ctx.times(n, LO, HI))
    delta = ctx.rng.integers(1, 11, n) * ctx.rng.choice(np.array([-1, 1]), n)
    miles = plat["miles"].astype(np.int64) + delta
    miles = np.where(miles > 0, miles, plat["miles"] + np.abs(delta)).astype(np.int32)
    plat["miles"] = part["miles"] = miles
    _emit_pairs(ctx, (plat, part))
    ctx.expect("CONVERSION_ERROR", PLATFORM, plat)
    return n


def limit_units(ctx: DayContext) -> int | None:
    """Units per REDEEM so that three stay under the daily limit and four go above it."""
    per_unit, limit = ctx.rules.cents_per_unit, ctx.rules.limit_cents
    if per_unit <= 0:
        return None
    units = -(-limit // (4 * per_unit)) + 1
    fits = 3 * units * per_unit < limit < 4 * units * per_unit
    return units if fits and units * ctx.rules.miles_per_unit <= 9999 and units <= 999 else None


def daily_limit(ctx: DayContext, n: int) -> int:
    """One collector redeems four times across two sponsors in one limit day; the 4th crosses.

    Two REDEEMs at each sponsor, alternating, keep each sponsor alone under
    the limit; the crossing (4th) REDEEM is this sponsor's. Needs a second
    sponsor in the same zone and the next day (the limit day runs to D+1 03:00).
    """
    count = len(ctx.plan.sponsors)
    units = limit_units(ctx)
    if count < 2 or not ctx.has_next or units is None:
        return 0
    other = ctx.sibling((ctx.s + 1) % count)
    if other.start() != ctx.start() or other.start(1) != ctx.start(1):
        return 0
    collector = ctx.rng.integers(10**15, 10**16, n, dtype=np.int64)
    when = ctx.times(n, 9 * HOUR, 16 * HOUR)
    amount = np.full(n, units, dtype=np.int64)
    crossing: dict[str, np.ndarray] = {}
    for owner in (other, ctx, other, ctx):
        plat, part = owner.pairs(when, amount)
        plat["collector"] = part["collector"] = collector
        _emit_pairs(owner, (plat, part))
        crossing = plat
        when = when + ctx.rng.integers(20 * MINUTE, HOUR, n, dtype=np.int64)
    ctx.expect("DAILY_LIMIT_EXCEEDED", PLATFORM, crossing)
    return n


def carry_forward(ctx: DayContext, n: int) -> int:
    """A partner REDEEM at 23:55-23:59 whose platform record is in D+1's file at 00:00:30-00:03.

    MISSING_ON_PLATFORM on D, resolved (MATCHED_LATER) by the run of D+1.
    Both offsets stay under half the match tolerance so the late pair does
    not drift.
    """
    if not ctx.has_next:
        return 0
    half = max(2, ctx.rules.tolerance_s * 45 // 100)
    before, after = min(5 * MINUTE, half), min(3 * MINUTE, half)
    midnight = ctx.start(1)
    pos_time = midnight - ctx.rng.integers(max(1, before // 5), before + 1, n, dtype=np.int64)
    plat, part = ctx.pairs(pos_time)
    plat["ts"] = midnight + ctx.rng.integers(max(1, after // 6), after + 1, n, dtype=np.int64)
    ctx.emit(PARTNER, part)
    ctx.emit(PLATFORM, plat, offset=1)
    ctx.expect("MISSING_ON_PLATFORM", PARTNER, part, RESOLVED)
    return n


def declined(ctx: DayContext, n: int) -> int:
    """Partner REDEEMs the platform declined (0051 insufficient miles, 0065 limit): no break."""
    _, part = ctx.pairs(ctx.times(n, LO, HI))
    part["conf"] = _none(n)
    part["resp"] = ctx.rng.choice(np.array([51, 65], dtype=np.int16), n)
    ctx.emit(PARTNER, part)
    return n


def fallback_match(ctx: DayContext, n: int) -> int:
    """A successful partner REDEEM logged without its confirmation; matched by trace: no break."""
    plat, part = ctx.pairs(ctx.times(n, LO, HI))
    gap = min(2 * MINUTE, ctx.rules.tolerance_s // 2)
    plat["ts"] = plat["pts"] + ctx.rng.integers(0, gap + 1, n, dtype=np.int64)
    part["conf"] = _none(n)
    _emit_pairs(ctx, (plat, part))
    return n


#: (reason the parser must give, how to spoil an otherwise declined partner line)
REJECTIONS: tuple[tuple[str, str, int], ...] = (
    ("partner_datetime", "bad", 1),
    ("store_id", "bad", 2),
    ("txn_type", "txn", 2),
    ("original_confirmation_number", "txn", 1),
)


def rejected(ctx: DayContext, n: int) -> int:
    """Declined partner lines with one invalid field each; rejected, never a break."""
    for reason, column, value in REJECTIONS:
        _, part = ctx.pairs(ctx.times(n, LO, HI))
        part["conf"] = _none(n)
        part["resp"] = np.full(n, 51, dtype=np.int16)
        part[column] = np.full(n, value, dtype=part[column].dtype)
        ctx.emit(PARTNER, part)
        ctx.reject(part, reason)
    return n * len(REJECTIONS)


@dataclass(frozen=True)
class Case:
    """An injected case: its name, which rate drives it, and its builder."""

    name: str
    rate: Literal["break", "clean"]
    build: Callable[[DayContext, int], int]


CASES: tuple[Case, ...] = (
    Case("missing_on_platform", "break", missing_on_platform),
    Case("missing_at_partner", "break", missing_at_partner),
    Case("unknown_not_refunded", "break", unknown_not_refunded),
    Case("unknown_refunded", "clean", unknown_refunded),
    Case("refund_without_partner", "clean", refund_without_partner),
    Case("amount_mismatch", "break", amount_mismatch),
    Case("timestamp_drift", "break", timestamp_drift),
    Case("duplicate_partner", "break", duplicate_partner),
    Case("duplicate_platform", "break", duplicate_platform),
    Case("orphan_reversal", "break", orphan_reversal),
    Case("late_reversal", "break", late_reversal),
    Case("double_reversal", "break", double_reversal),
    Case("reversal_mismatch", "break", reversal_mismatch),
    Case("conversion_error", "break", conversion_error),
    Case("daily_limit", "break", daily_limit),
    Case("carry_forward", "break", carry_forward),
    Case("declined", "clean", declined),
    Case("fallback_match", "clean", fallback_match),
    Case("rejected", "clean", rejected),
)
