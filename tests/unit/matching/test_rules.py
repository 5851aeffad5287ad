"""Every break type is decided by exactly one named rule, and each rule raises only its own type."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import polars as pl

from reconciliation.breaktypes import BREAK_TYPES, DAILY_LIMIT_EXCEEDED
from reconciliation.config import parse_zone
from reconciliation.matching.candidates import Candidates
from reconciliation.matching.limit import daily_limit_exceeded
from reconciliation.matching.params import MatchParams
from reconciliation.matching.rules import RULES
from tests.unit.matching.builders import DAY, P, Q, frame, pending

PARAMS = MatchParams("ABCD", DAY, parse_zone("EST"))

#: One scenario in which every per-run break type occurs.
EVERY_BREAK = (
    P(3, "REDEEM", "D1"), P(4, "REDEEM", "D1"), Q(3, "REDEEM", "D1"),     # DUPLICATE
    P(5, "REDEEM", "A1", units=3), Q(5, "REDEEM", "A1", units=2),         # AMOUNT_MISMATCH
    P(6, "REDEEM", "T1", at="12:30:00"), Q(6, "REDEEM", "T1"),            # TIMESTAMP_DRIFT
    P(7, "REDEEM", "M1"), Q(7, "REDEEM", "M2"),                           # MISSING_* both ways
    Q(8, "REVERSE", "O1", orig="NOPE"),                                   # ORPHAN_REVERSAL
    Q(9, "REVERSE", "L1", orig="H1", at="09:00:00"),                      # LATE_REVERSAL
    Q(10, "REDEEM", "R1", units=3), Q(11, "REVERSE", "R2", orig="R1", units=1),  # REVERSAL_MISMATCH
    Q(12, "REVERSE", "R3", orig="R1", units=3, at="13:00:00"),            # DOUBLE_REVERSAL
    Q(13, "REDEEM", "C1", units=2, miles=200),                            # CONVERSION_ERROR
)


def candidates() -> Candidates:
    partner = frame(*(r for r in EVERY_BREAK if r["side"] == "PARTNER"))
    platform = frame(*(r for r in EVERY_BREAK if r["side"] == "PLATFORM"))
    history = frame(Q(3, "REDEEM", "H1")).with_columns(
        business_date=pl.lit(DAY - timedelta(days=1)), disposition=pl.lit("MATCHED"),
        side=pl.col("side").cast(pl.String), txn_type=pl.col("txn_type").cast(pl.String))
    return Candidates.build(partner, platform, pending(), history, PARAMS)


def test_every_break_type_has_exactly_one_rule():
    declared = [rule.break_type for rule in RULES] + [DAILY_LIMIT_EXCEEDED]
    assert sorted(declared) == sorted(BREAK_TYPES)
    names = [rule.check.__name__ for rule in RULES]
    assert names == [rule.break_type.lower() for rule in RULES]  # the function is named for its type
    assert daily_limit_exceeded.__name__ == DAILY_LIMIT_EXCEEDED.lower()


def test_each_rule_raises_its_own_type_and_no_other():
    c = candidates()
    for rule in RULES:
        raised = set(rule.check(c, PARAMS)["break_type"])
        assert raised == {rule.break_type}, (rule.check.__name__, raised)


def limit_records(*rows: dict) -> pl.DataFrame:
    from reconciliation.warehouse.limit import LIMIT_COLUMNS

    return frame(*rows).select(LIMIT_COLUMNS).with_columns(pl.col("txn_type").cast(pl.String))


def test_daily_limit_is_a_pure_rule_over_records():
    zone = parse_zone("EST")
    records = limit_records(Q(3, "REDEEM", "Y1", units=30), Q(4, "REDEEM", "Y2", units=30),
                            Q(5, "REDEEM", "Y3", units=30, collector=12))
    rows = daily_limit_exceeded(records, DAY, zone, Decimal("500.00"), pl.Series([], dtype=pl.String))
    assert rows.select("break_type", "confirmation_number", "delta_dollars", "status").rows() == [
        (DAILY_LIMIT_EXCEEDED, "Y2", Decimal("100.00"), "OPEN")]
    again = daily_limit_exceeded(records, DAY, zone, Decimal("500.00"), already=rows["break_key"])
    assert again.height == 0


def test_a_reversal_of_a_redeem_within_the_day_lowers_the_running_total():
    records = limit_records(Q(3, "REDEEM", "Y1", units=30, at="10:00:00"),
                            Q(4, "REVERSE", "V1", orig="Y1", units=30, at="11:00:00"),
                            Q(5, "REDEEM", "Y2", units=30, at="12:00:00"))
    assert daily_limit_exceeded(records, DAY, parse_zone("EST"), Decimal("500.00"),
                                pl.Series([], dtype=pl.String)).height == 0
