"""Where every candidate ends: match rows, dispositions and the carry-forward (spec §4-§5).

The break rules say what is wrong; these functions record what pairing
decided (one ``recon_match`` row per pair or settlement), the place of each
of this day's records, and the new status of re-entering pending breaks.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from reconciliation.matching.candidates import Candidates
from reconciliation.matching.pairing import RULE, mask
from reconciliation.matching.params import MatchParams

MATCH_COLUMNS = ("txn_type", "confirmation_number", "rule", "outcome", "partner_line", "platform_line",
                 "partner_business_date", "platform_business_date")

#: A match row's outcome: one byte a row, not a string (a night has millions of matches).
OUTCOME = pl.Enum(["MATCHED", "AUTO_REFUNDED", "NOT_REFUNDED"])


def _match_rows(cands: pl.DataFrame, pairs: pl.DataFrame, outcome: str, rule: str | None = None
                ) -> pl.DataFrame:
    """Match rows of ``pairs`` (``p_rid``, ``q_rid``; ``rule`` unless given)."""

    def take(column: str, which: str) -> pl.Series:
        return cands.get_column(column).gather(pairs[which])

    def either(column: str) -> pl.Series:
        """The platform record's value, else the partner record's (gathered only if needed)."""
        values = take(column, "q_rid")
        return values.fill_null(take(column, "p_rid")) if values.null_count() else values

    rows = pl.DataFrame({
        "txn_type": either("txn_type"),
        "confirmation_number": either("confirmation_number"),
        "partner_line": take("line_number", "p_rid"),
        "platform_line": take("line_number", "q_rid"),
        "partner_business_date": take("business_date", "p_rid"),
        "platform_business_date": take("business_date", "q_rid"),
    })
    return rows.with_columns(
        rule=pairs["rule"] if rule is None else pl.lit(rule, dtype=RULE),
        outcome=pl.lit(outcome, dtype=OUTCOME),
    ).select(MATCH_COLUMNS)


def matches(c: Candidates) -> pl.DataFrame:
    """One row per pair (MATCHED or, for unknown outcomes, AUTO_/NOT_REFUNDED) and per lone refund."""
    lone = c.lone_refunds.select("q_rid", p_rid=pl.lit(None, dtype=pl.Int64))
    return pl.concat([
        _match_rows(c.frame, c.successful, "MATCHED"),
        _match_rows(c.frame, c.auto_refunded, "AUTO_REFUNDED"),
        _match_rows(c.frame, c.not_refunded, "NOT_REFUNDED"),
        _match_rows(c.frame, lone, "AUTO_REFUNDED", rule="REFUND"),
    ])


def dispositions(c: Candidates) -> pl.Series:
    """Each candidate's place: DUPLICATE, BREAK, SETTLED, MATCHED or DECLINED (null when pending).

    UNPLACED marks a record no step accounted for; the pipeline refuses to
    write a run that has one (conservation). The first test that holds
    decides; the choice is made on small integer codes and the names are
    looked up once at the end, three times cheaper than choosing among strings.
    """
    matched = mask(c.n, pl.concat([c.successful["p_rid"], c.successful["q_rid"], c.not_refunded["p_rid"]]))
    tests = {
        "DUPLICATE": pl.col("dup"),
        "BREAK": pl.lit(c.unpaired_partner | c.unpaired_platform),
        "SETTLED": pl.lit(c.settled),
        "MATCHED": pl.lit(matched),
        "DECLINED": pl.col("declined") | pl.col("unknown"),
    }
    names = [*tests, "UNPLACED"]
    places = pl.Series("disposition", names, dtype=pl.Enum(names))  # one byte a record, not a string
    code: Any = pl.when(pl.col("is_pending")).then(pl.lit(None, dtype=pl.UInt8))
    for number, test in enumerate(tests.values()):
        code = code.when(test).then(pl.lit(number, dtype=pl.UInt8))
    return places.gather(c.frame.select(code.otherwise(pl.lit(len(tests), dtype=pl.UInt8))).to_series())


def pending_updates(c: Candidates, params: MatchParams) -> pl.DataFrame:
    """Spec §5 carry-forward: pending breaks whose record matched (RESOLVED) or whose grace ran out (OPEN)."""
    resolved = mask(c.n, pl.concat([c.successful["p_rid"], c.successful["q_rid"]])) | c.settled
    last_day = pl.col("business_date") + pl.duration(days=params.grace_days)
    return c.frame.select(
        "is_pending", "business_date",
        resolved=resolved,
    ).filter(pl.col("is_pending")).with_columns(c.source.pending_break_ids()).select(
        "break_id",
        new_status=pl.when(pl.col("resolved")).then(pl.lit("RESOLVED"))
        .when(last_day <= pl.lit(params.business_date)).then(pl.lit("OPEN"))
        .otherwise(pl.lit(None, dtype=pl.String)),
    ).filter(pl.col("new_status").is_not_null()).with_columns(
        resolution=pl.when(pl.col("new_status") == "RESOLVED").then(pl.lit("MATCHED_LATER"))
        .otherwise(pl.lit(None, dtype=pl.String)),
    )
