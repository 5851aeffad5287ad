"""Spec §4 rules, one test each, on the pure engine (no files, no warehouse)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import polars as pl
import pytest

from reconciliation.config import parse_zone
from reconciliation.matching.engine import MatchParams, MatchResult, reconcile
from tests.unit.matching.builders import DAY, P, Q, frame, pending

PARAMS = MatchParams("ABCD", DAY, parse_zone("EST"))


def run(*rows, pend=None, history=None, params=PARAMS) -> MatchResult:
    partner = frame(*(r for r in rows if r["side"] == "PARTNER"))
    platform = frame(*(r for r in rows if r["side"] == "PLATFORM"))
    return reconcile(partner, platform, pend if pend is not None else pending(),
                     history if history is not None else pl.DataFrame(), params)


def breaks(result: MatchResult) -> set[tuple[str, str, str | None]]:
    return {(r["break_type"], r["side"], r["confirmation_number"])
            for r in result.breaks.iter_rows(named=True)}


def test_key_match_is_a_clean_pair():
    result = run(P(3, "REDEEM", "C1"), Q(3, "REDEEM", "C1"))
    assert breaks(result) == set()
    assert result.matches.select("rule", "outcome").row(0) == ("KEY", "MATCHED")


def test_unmatched_records_are_missing_breaks_raised_pending():
    result = run(P(3, "REDEEM", "C1"), Q(3, "REDEEM", "C2"))
    assert breaks(result) == {("MISSING_ON_PLATFORM", "PARTNER", "C1"),
                              ("MISSING_AT_PARTNER", "PLATFORM", "C2")}
    assert set(result.breaks["status"]) == {"PENDING"}
    assert set(result.breaks["severity"]) == {"HIGH"}


def test_declined_partner_records_are_counted_never_breaks():
    result = run(P(3, "REDEEM", None, code="0051"), P(4, "REDEEM", None, code="0065"))
    assert breaks(result) == set()
    assert result.dispositions["disposition"].to_list() == ["DECLINED", "DECLINED"]


def test_duplicates_on_each_side():
    result = run(P(3, "REDEEM", "C1"), P(4, "REDEEM", "C1"), Q(3, "REDEEM", "C1"),
                 Q(4, "REDEEM", "C1"))
    assert breaks(result) == {("DUPLICATE", "PARTNER", "C1"), ("DUPLICATE", "PLATFORM", "C1")}
    assert result.matches.height == 1
    lines = result.breaks.select("partner_line", "platform_line").rows()
    assert set(lines) == {(4, None), (None, 4)}


def test_each_later_duplicate_has_its_own_ordinal_in_key_and_text():
    result = run(P(3, "REDEEM", "C1"), P(4, "REDEEM", "C1"), P(5, "REDEEM", "C1"), Q(3, "REDEEM", "C1"))
    dups = result.breaks.filter(pl.col("break_type") == "DUPLICATE").sort("partner_line")
    assert dups["break_key"].to_list() == [f"ABCD|{DAY}|DUPLICATE|PARTNER|REDEEM|C1#2",
                                           f"ABCD|{DAY}|DUPLICATE|PARTNER|REDEEM|C1#3"]
    assert ["occurrence 2" in d for d in dups["detail"]] == [True, False]


def test_a_declined_record_does_not_make_a_later_success_a_duplicate():
    result = run(P(3, "REDEEM", "C1", code="0051"), P(4, "REDEEM", "C1"), Q(3, "REDEEM", "C1"))
    assert breaks(result) == set()


def test_fallback_takes_nearest_free_platform_record_in_partner_order():
    trace = "000000000777"
    result = run(
        P(3, "REDEEM", None, trace=trace, at="12:00:00"),
        P(4, "REDEEM", None, trace=trace, at="12:04:00"),
        Q(3, "REDEEM", "A", trace=trace, at="12:03:00"),
        Q(4, "REDEEM", "B", trace=trace, at="12:08:00"),
    )
    pairs = set(result.matches.select("partner_line", "platform_line").rows())
    # Partner line 3 takes the nearest (line 3, 3 min); line 4 takes what is left.
    assert pairs == {(3, 3), (4, 4)}
    assert set(result.matches["rule"]) == {"FALLBACK"}


def test_fallback_respects_the_tolerance():
    trace = "000000000777"
    result = run(P(3, "REDEEM", None, trace=trace, at="12:00:00"),
                 Q(3, "REDEEM", "A", trace=trace, at="12:11:00"))
    assert breaks(result) == {("MISSING_ON_PLATFORM", "PARTNER", None),
                              ("MISSING_AT_PARTNER", "PLATFORM", "A")}


def test_unknown_outcome_not_refunded_is_missing_at_partner():
    t = "000000000005"
    result = run(P(3, "REDEEM", None, code=None, trace=t), Q(3, "REDEEM", "C5", trace=t))
    assert breaks(result) == {("MISSING_AT_PARTNER", "PLATFORM", "C5")}
    assert result.matches.select("rule", "outcome").row(0) == ("FALLBACK", "NOT_REFUNDED")


def test_unknown_outcome_refunded_is_settled():
    t = "000000000006"
    result = run(P(3, "REDEEM", None, code=None, trace=t), Q(3, "REDEEM", "C6", trace=t),
                 Q(4, "REVERSE", "S6", orig="C6", origin="SYSTEM", at="12:20:00"))
    assert breaks(result) == set()
    assert result.matches.select("outcome").to_series().to_list() == ["AUTO_REFUNDED"]
    assert set(result.dispositions["disposition"]) == {"SETTLED"}


def test_auto_refund_without_partner_record_is_settled():
    result = run(Q(3, "REDEEM", "C8"), Q(4, "REVERSE", "S8", orig="C8", origin="SYSTEM"))
    assert breaks(result) == set()
    assert result.matches.select("rule", "outcome").row(0) == ("REFUND", "AUTO_REFUNDED")


def test_system_refund_of_a_paired_redeem_is_missing_at_partner():
    result = run(P(3, "REDEEM", "C8"), Q(3, "REDEEM", "C8"),
                 Q(4, "REVERSE", "S8", orig="C8", origin="SYSTEM"))
    assert breaks(result) == {("MISSING_AT_PARTNER", "PLATFORM", "S8")}


def test_unknown_outcome_left_unpaired_is_declined():
    result = run(P(3, "REDEEM", None, code=None))
    assert breaks(result) == set()
    assert result.dispositions["disposition"].to_list() == ["DECLINED"]


def test_amount_mismatch_and_timestamp_drift():
    result = run(P(3, "REDEEM", "C1", units=3), Q(3, "REDEEM", "C1", units=2),
                 P(4, "REDEEM", "C2", at="12:30:00"), Q(4, "REDEEM", "C2"))
    assert breaks(result) == {("AMOUNT_MISMATCH", "BOTH", "C1"), ("TIMESTAMP_DRIFT", "BOTH", "C2")}
    amount = result.breaks.filter(pl.col("break_type") == "AMOUNT_MISMATCH").row(0, named=True)
    assert str(amount["delta_dollars"]) == "-10.00"
    assert result.breaks.filter(pl.col("break_type") == "TIMESTAMP_DRIFT")["severity"].item() == "LOW"


def test_a_cent_of_difference_is_an_amount_mismatch():
    result = run(P(3, "REDEEM", "C1", dollars="10.00"), Q(3, "REDEEM", "C1", dollars="10.01"))
    assert ("AMOUNT_MISMATCH", "BOTH", "C1") in breaks(result)
    amount = result.breaks.filter(pl.col("break_type") == "AMOUNT_MISMATCH").row(0, named=True)
    assert (amount["partner_dollars"], amount["platform_dollars"], amount["delta_dollars"]) == (
        Decimal("10.00"), Decimal("10.01"), Decimal("0.01"))


def test_fallback_pairs_are_not_checked_for_drift():
    t = "000000000009"
    result = run(P(3, "REDEEM", None, trace=t, at="12:00:00"),
                 Q(3, "REDEEM", "C9", trace=t, at="12:09:00"))
    assert breaks(result) == set()


def test_reversal_checks():
    result = run(
        P(3, "REVERSE", "R1", orig="NOPE"), Q(3, "REVERSE", "R1", orig="NOPE"),
        P(4, "REDEEM", "C2", units=3), Q(4, "REDEEM", "C2", units=3),
        P(5, "REVERSE", "R3", orig="C2", units=1), Q(5, "REVERSE", "R3", orig="C2", units=1),
        P(6, "REVERSE", "R4", orig="C2", units=3, at="13:00:00"),
        Q(6, "REVERSE", "R4", orig="C2", units=3, at="13:00:00"),
    )
    assert breaks(result) == {
        ("ORPHAN_REVERSAL", "PLATFORM", "R1"),
        ("REVERSAL_MISMATCH", "PLATFORM", "R3"),
        ("DOUBLE_REVERSAL", "PLATFORM", "R4"),
    }


def test_late_reversal_uses_history_and_exempts_system_refunds():
    history = frame(Q(3, "REDEEM", "C1"), Q(4, "REDEEM", "C2")).with_columns(
        business_date=pl.lit(DAY - timedelta(days=1)), disposition=pl.lit("MATCHED"),
        side=pl.col("side").cast(pl.String), txn_type=pl.col("txn_type").cast(pl.String))
    result = run(P(3, "REVERSE", "R1", orig="C1", at="09:00:00"),
                 Q(3, "REVERSE", "R1", orig="C1", at="09:00:00"),
                 Q(4, "REVERSE", "S2", orig="C2", origin="SYSTEM", at="09:00:00"),
                 history=history)
    assert ("LATE_REVERSAL", "PLATFORM", "R1") in breaks(result)
    assert not any(b[0] == "LATE_REVERSAL" and b[2] == "S2" for b in breaks(result))


def test_reversal_before_the_deadline_is_not_late():
    history = frame(Q(3, "REDEEM", "C1")).with_columns(
        business_date=pl.lit(DAY - timedelta(days=1)), disposition=pl.lit("MATCHED"),
        side=pl.col("side").cast(pl.String), txn_type=pl.col("txn_type").cast(pl.String))
    result = run(P(3, "REVERSE", "R1", orig="C1", at="02:59:00"),
                 Q(3, "REVERSE", "R1", orig="C1", at="02:59:00"), history=history)
    assert breaks(result) == set()


def test_conversion_error_on_platform_record_of_a_pair():
    result = run(P(3, "REDEEM", "C1", units=2, miles=200), Q(3, "REDEEM", "C1", units=2, miles=200))
    assert breaks(result) == {("CONVERSION_ERROR", "PLATFORM", "C1")}


def test_a_cent_off_the_dollar_rate_is_a_conversion_error_with_its_delta():
    result = run(P(3, "REDEEM", "C1", units=2, dollars="19.99"),
                 Q(3, "REDEEM", "C1", units=2, dollars="19.99"))
    assert breaks(result) == {("CONVERSION_ERROR", "PLATFORM", "C1")}
    row = result.breaks.row(0, named=True)
    assert row["delta_dollars"] == Decimal("-0.01") and row["platform_units"] == 2
    assert "should be 190 miles and $20.00" in row["detail"]


def test_conversion_checked_on_partner_record_when_platform_has_none():
    result = run(P(3, "REDEEM", "C1", units=2, dollars="25.00"))
    assert breaks(result) == {("MISSING_ON_PLATFORM", "PARTNER", "C1"),
                              ("CONVERSION_ERROR", "PARTNER", "C1")}


def test_pending_record_matched_later_resolves_and_is_not_checked_again():
    earlier = DAY - timedelta(days=1)
    pend = pending((P(3, "REDEEM", "C1", units=2, miles=200, day=earlier, at="23:58:00"), 41))
    result = run(Q(3, "REDEEM", "C1", units=2, miles=200, at="00:03:00"), pend=pend)
    assert breaks(result) == set()  # conversion was checked in the first run
    assert result.pending_updates.rows() == [(41, "RESOLVED", "MATCHED_LATER")]
    assert result.matches.select("partner_business_date", "platform_business_date").row(0) == (
        earlier, DAY)


def test_pending_record_unmatched_after_grace_opens():
    earlier = DAY - timedelta(days=1)
    pend = pending((P(3, "REDEEM", "C1", day=earlier), 41))
    result = run(pend=pend)
    assert result.pending_updates.rows() == [(41, "OPEN", None)]


def test_pending_record_within_grace_stays_pending():
    params = MatchParams("ABCD", DAY, parse_zone("EST"), grace_days=2)
    pend = pending((P(3, "REDEEM", "C1", day=DAY - timedelta(days=1)), 41))
    result = run(pend=pend, params=params)
    assert result.pending_updates.height == 0


def test_pending_platform_redeem_settled_by_a_later_refund():
    earlier = DAY - timedelta(days=1)
    pend = pending((Q(3, "REDEEM", "C1", day=earlier, at="23:55:00"), 7))
    result = run(Q(3, "REVERSE", "S1", orig="C1", origin="SYSTEM", at="00:10:00"), pend=pend)
    assert breaks(result) == set()
    assert result.pending_updates.rows() == [(7, "RESOLVED", "MATCHED_LATER")]


def test_pair_level_break_carries_the_earlier_business_date():
    earlier = DAY - timedelta(days=1)
    pend = pending((P(3, "REDEEM", "C1", units=3, day=earlier, at="23:58:00"), 41))
    result = run(Q(3, "REDEEM", "C1", units=2, at="00:03:00"), pend=pend)
    assert result.breaks.select("break_type", "business_date").rows() == [
        ("AMOUNT_MISMATCH", earlier)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_record_ends_in_exactly_one_place(seed):
    import random

    rng = random.Random(seed)
    rows = []
    for i in range(60):
        conf = f"C{rng.randint(1, 40)}"
        side = rng.choice([P, Q])
        rows.append(side(3 + i, rng.choice(["REDEEM", "REVERSE"]), conf,
                         orig=f"C{rng.randint(1, 40)}" if rng.random() < 0.5 else None,
                         code=rng.choice(["0000", "0001", None, "0051"])))
    result = run(*rows)
    assert result.dispositions.height == 60
    assert "UNPLACED" not in set(result.dispositions["disposition"])


def test_results_do_not_depend_on_input_order():
    rows = [P(3, "REDEEM", "C1"), Q(3, "REDEEM", "C1"), P(4, "REDEEM", "C2"),
            Q(5, "REVERSE", "R9", orig="C1"), P(6, "REDEEM", None, code=None)]
    a = run(*rows)
    b = run(*reversed(rows))
    assert a.breaks.drop("record_rid").equals(b.breaks.drop("record_rid"))
    assert a.matches.sort("partner_line", "platform_line").equals(
        b.matches.sort("partner_line", "platform_line"))


def test_dates_and_deadlines_follow_the_configured_zone():
    zone = parse_zone("America/Toronto")
    assert zone.reversal_deadline(date(2026, 7, 1)).hour == 7  # 03:00 EDT
    assert zone.reversal_deadline(date(2026, 12, 1)).hour == 8  # 03:00 EST
