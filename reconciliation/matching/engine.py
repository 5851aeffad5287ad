"""The matching engine: spec §4 steps 1-9 and the §5 carry-forward of one run.

``reconcile`` is a pure function: candidates and history in, matches,
breaks, dispositions and pending-break updates out. It builds the
candidates and their pairs once (``Candidates.build``), runs every break
rule of ``rules.RULES`` over them, and records where each record ended
(``outcomes``). The daily limit (step 10) spans sponsors and lives in
``limit.py``; writing is the pipeline's job.

Every candidate's ``rid`` is its row index, so sets of records are boolean
masks and record fields are gathered by position; only the rows that become
breaks are ever widened to all their fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from reconciliation.breaktypes import INITIAL_STATUS, SEVERITY
from reconciliation.matching import outcomes
from reconciliation.matching.breaks import fmt, with_details
from reconciliation.matching.candidates import Candidates
from reconciliation.matching.params import MatchParams as MatchParams  # re-exported for callers
from reconciliation.matching.rules import RULES
from reconciliation.matching.sources import RecordSource
from reconciliation.records import RECORD_SCHEMA

#: The candidates' columns a result keeps, beside ``disposition`` (a candidate's ``rid`` is its
#: row): whether it is this day's record and what the run's summary totals.
RESULT_COLUMNS = ("side", "txn_type", "miles", "cents", "is_pending")


@dataclass
class MatchResult:
    """Everything one run decided.

    Attributes:
        cands: The candidates' ``RESULT_COLUMNS`` and ``disposition``
            (MATCHED, SETTLED, BREAK, DUPLICATE or DECLINED for this day's
            records; null for re-entering pending ones, which keep their
            earlier place). ``source`` gathers the full records.
        source: The candidates' full records, by ``rid``.
        matches: One row per pair and per settled auto-refund (recon_match columns).
        breaks: New breaks (BREAK_SCHEMA plus break_key, severity, status).
        pending_updates: ``break_id``, ``new_status`` and ``resolution`` for
            re-entering pending records that were matched or ran out of grace.
    """

    cands: pl.DataFrame
    source: RecordSource
    matches: pl.DataFrame
    breaks: pl.DataFrame
    pending_updates: pl.DataFrame

    @property
    def dispositions(self) -> pl.DataFrame:
        """``rid`` and ``disposition`` of this day's records."""
        return self.cands.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("rid"), "disposition",
                                 "is_pending").filter(~pl.col("is_pending")).drop("is_pending")

    def records(self, rids: pl.Series) -> pl.DataFrame:
        """The full records (RECORD_SCHEMA) of the candidates at ``rids``."""
        return self.source.gather(rids, RECORD_SCHEMA.names())


def reconcile(partner: pl.DataFrame | pl.LazyFrame, platform: pl.DataFrame | pl.LazyFrame,
              pending: pl.DataFrame,
              history: pl.DataFrame, params: MatchParams,
              spilled: Mapping[str, Path] | None = None) -> MatchResult:
    """Match and classify one sponsor-day.

    Args:
        partner: Usable records of the day's partner file (RECORD_SCHEMA).
        platform: Usable records of the day's platform file (RECORD_SCHEMA).
        pending: Re-entering records of still-PENDING breaks (RECORD_SCHEMA
            plus ``pending_break_id``).
        history: The sponsor's earlier records within the look-back
            (REFERENCE_COLUMNS plus ``disposition`` and ``response_code``);
            only those whose numbers this run's REVERSEs name are ever read.
        params: Run parameters.
        spilled: Side -> the Parquet file holding that side's full records in
            line order; such a side's frame needs only ``sources.MATCH_COLUMNS``
            and is best passed as a lazy scan (read once, into the candidates).
            A side not named here passes its full records.
    """
    c = Candidates.build(partner, platform, pending, history, params, spilled)
    breaks = pl.concat([rule.check(c, params) for rule in RULES])
    cands = c.frame.select(RESULT_COLUMNS).with_columns(disposition=outcomes.dispositions(c))
    matches, updates, source = outcomes.matches(c), outcomes.pending_updates(c, params), c.source
    # The keys, times, pairs, masks and look-ups are done with: the breaks are finished without
    # them (a gigabyte at ten million records a side).
    del c
    breaks = finish(breaks, params)
    return MatchResult(cands, source, matches, with_details(breaks, source), updates)


def finish(breaks: pl.DataFrame, params: MatchParams) -> pl.DataFrame:
    """Add break_key, severity and initial status; order rows deterministically."""
    key = fmt("{}|{}|{}|{}|{}|{}", pl.lit(params.sponsor_code), pl.col("business_date"),
              pl.col("break_type"), pl.col("side"), pl.col("txn_type").fill_null("-"),
              pl.col("key_suffix"))
    # The order is found on the five keys alone and the rows are moved once (sorting the
    # whole frame copied every column of a million breaks several times over).
    order = breaks.select(pl.arg_sort_by("business_date", "break_type", "side", "platform_line",
                                         "partner_line", nulls_last=True)).to_series()
    return breaks.with_columns(
        break_key=key,
        severity=pl.col("break_type").replace_strict(SEVERITY, return_dtype=pl.String),
        status=pl.col("break_type").replace_strict(INITIAL_STATUS, return_dtype=pl.String),
    ).select(pl.all().gather(order))
