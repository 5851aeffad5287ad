"""The candidates' compact form: fewer bytes a record, the records' own values read back."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from reconciliation.config import parse_zone
from reconciliation.matching.breaks import FIELDS
from reconciliation.matching.candidates import Candidates
from reconciliation.matching.engine import MatchParams
from reconciliation.records import MONEY, RECORD_SCHEMA
from tests.unit.matching.builders import DAY, P, Q, frame, pending

PARAMS = MatchParams("ABCD", DAY, parse_zone("EST"))


def build(*rows: dict) -> Candidates:
    partner = frame(*(r for r in rows if r["side"] == "PARTNER"))
    platform = frame(*(r for r in rows if r["side"] == "PLATFORM"))
    return Candidates.build(partner, platform, pending(), pl.DataFrame(), PARAMS)


def test_the_candidates_hold_compact_columns_and_no_rid_or_original_number() -> None:
    c = build(P(3, "REDEEM", "C1", units=3), Q(4, "REVERSE", "C2", orig="C1", dollars="-12.34"))
    schema = c.frame.schema
    assert (schema["line_number"], schema["units"], schema["miles"], schema["cents"]) == (
        pl.Int32, pl.Int16, pl.Int16, pl.Int64)
    assert {"rid", "dollars", "original_confirmation_number", "dup_ordinal"}.isdisjoint(schema)
    assert c.originals.rows() == [(1, "C1")]  # only the record that names one
    assert c.frame["cents"].to_list() == [3000, -1234]


def test_fields_give_back_the_records_own_values_and_types() -> None:
    rows = (P(3, "REDEEM", "C1", units=3, dollars="30.00"),
            Q(9, "REVERSE", "C2", orig="C1", units=2, miles=190, dollars="-19.99"))
    c = build(*rows)
    wide = pl.DataFrame(c.fields(pl.Series([1, None, 0], dtype=pl.Int64), FIELDS))
    for name in FIELDS:
        if name != "rid":
            assert wide.schema[name] == RECORD_SCHEMA[name], name
    assert wide["rid"].to_list() == [1, None, 0]
    assert wide["original_confirmation_number"].to_list() == ["C1", None, None]
    assert wide["dollars"].to_list() == [Decimal("-19.99"), None, Decimal("30.00")]
    assert wide["line_number"].to_list() == [9, None, 3]
    assert wide["miles"].to_list() == [190, None, 285]
    assert wide["dollars"].dtype == MONEY


def test_a_value_that_does_not_fit_the_compact_type_fails_rather_than_wraps() -> None:
    with pytest.raises(pl.exceptions.InvalidOperationError):
        build(P(3, "REDEEM", "C1", units=40_000))
