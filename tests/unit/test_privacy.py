"""Collector numbers: keyed hash, last 4 and masking (spec §7)."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation.privacy import (
    CollectorHasher,
    HashMemory,
    collector_hash,
    last4,
    mask_collector,
    mask_value,
    raw_line_expr,
    show_text,
)


def reference(key: bytes, number: str) -> int:
    return int.from_bytes(hmac.new(key, number.encode(), hashlib.sha256).digest()[:8], "big", signed=True)


def test_hash_is_hmac_sha256_first_8_bytes_signed() -> None:
    numbers = pl.Series("n", ["6012345678901234", "0123", "123", "9" * 19, "0"])
    assert collector_hash(numbers, b"k").to_list() == [reference(b"k", n) for n in numbers]
    assert collector_hash(numbers, b"k").dtype == pl.Int64


@pytest.mark.parametrize("key", [b"k", b"x" * 64, b"long key " * 10])
def test_many_numbers_hash_in_bulk_to_the_same_values(key: bytes) -> None:
    numbers = [str(7 * i) for i in range(6_000)] + ["0007", "9" * 19]  # many distinct numbers, a few repeated
    got = CollectorHasher(key).hash(pl.Series(numbers)).to_list()
    assert got == [reference(key, n) for n in numbers]


def test_hash_is_deterministic_and_keyed() -> None:
    numbers = pl.Series(["6012345678901234", "6012345678901234", "6012345678909999"])
    first, again = collector_hash(numbers, b"key-1"), collector_hash(numbers, b"key-1")
    other = collector_hash(numbers, b"key-2")
    assert first.to_list() == again.to_list()
    assert first[0] == first[1] != first[2]
    assert all(a != b for a, b in zip(first, other, strict=True))


def test_null_for_null_masked_or_malformed() -> None:
    numbers = pl.Series(
        ["***1234", None, "12a4", "", "+123", " 123", "12345678901234567890"], dtype=pl.String
    )
    assert collector_hash(numbers, b"k").to_list() == [None] * 7


def test_hasher_memory_gives_the_same_hashes_and_stays_bounded() -> None:
    hasher = CollectorHasher(b"k", cache_limit=5)
    batches = [[str(6012000000000000 + i) for i in range(start, start + 4)] for start in (0, 2, 4, 0)]
    for batch in batches:
        assert hasher.hash(pl.Series(batch)).to_list() == [reference(b"k", n) for n in batch]
    assert len(hasher._memory) <= 5


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.from_regex(r"\A[0-9]{1,19}\Z"), st.from_regex(r"\A\*{1,15}[0-9]{4}\Z")),
        max_size=30,
    )
)
def test_hash_matches_reference_for_any_numbers(numbers: list[str | None]) -> None:
    hasher = CollectorHasher(b"prop")
    expected = [None if n is None or n.startswith("*") else reference(b"prop", n) for n in numbers]
    series = pl.Series("n", numbers, dtype=pl.String)
    assert hasher.hash(series).to_list() == expected
    assert hasher.hash(series, validated=True).to_list() == expected


def test_empty_key_refused() -> None:
    with pytest.raises(ValueError):
        CollectorHasher(b"")


def test_last4_and_mask() -> None:
    assert last4(pl.Series(["6012345678901234", "***9876", "12"])).to_list() == ["1234", "9876", "12"]
    assert mask_collector("6012345678901234") == "************1234"
    assert mask_collector("1234") == "1234"


@pytest.mark.parametrize(
    ("value", "field", "shown"),
    [
        # the collector field: all but the last 4 characters, whatever it holds
        ("6012345678901234", "collector_number", "************1234"),
        ("12a4xyz", "collector_number", "***4xyz"),
        # elsewhere, a value that could be a collector number keeps its last 4 digits
        ("6012345678901234", "miles", "************1234"),
        ("6012 3456 7890 1234", "dollars", "**** **** **** 1234"),
        ("6012-3456-7890-1234", "dollars", "****-****-****-1234"),
        ("6012345678901234.00", "dollars", "************1234.00"),
        ("-6012345678901234", "net_miles", "-************1234"),
        ("6012345678901", None, "*********8901"),
        ("6012345678901234567", "trace_id", "***************4567"),
        ("6012-3456-7890-1234", "confirmation_number", "****-****-****-1234"),
        ("12345678901234567", "confirmation_number", "*************4567"),  # too long for an id
        # what cannot be a collector number is shown as it is
        ("123456789012345678901234567890", "miles", "123456789012345678901234567890"),
        ("X12345678901234567", "confirmation_number", "X12345678901234567"),
        ("1234567890123456", "confirmation_number", "1234567890123456"),  # a valid id is an id
        ("12345678901", "trace_id", "12345678901"),
        ("12345678901.00", "dollars", "12345678901.00"),
        ("2026-11-20T10:00:00", "partner_datetime", "2026-11-20T10:00:00"),
    ],
)
def test_one_masking_of_field_values(value: str, field: str | None, shown: str) -> None:
    assert mask_value(value, field) == shown
    assert show_text(value, field) == f"'{shown}'"


def test_raw_lines_mask_the_collector_by_position_and_values_as_reasons_quote_them() -> None:
    columns = ["rt", "confirmation_number", "miles", "trace_id", "collector_number", "extra"]
    rows = {
        "rt": ["D", "D"],
        "confirmation_number": ["X12345678901234567", "1234567890123456"],
        "miles": ["1" * 30, "6012345678905555"],
        "trace_id": ["000000123456", None],
        "collector_number": ["6012345678901234", "123"],
        "extra": ["6012 3456 7890 1234", "note"],
    }
    fields = [None if c == "extra" else c for c in columns]
    lines = pl.DataFrame(rows).select(raw_line_expr(columns, fields, "%%").alias("l"))["l"].to_list()
    assert lines == [
        f"D%%X12345678901234567%%{'1' * 30}%%000000123456%%************1234%%**** **** **** 1234",
        "D%%1234567890123456%%************5555%%%%123%%note",
    ]
    for row, line in enumerate(lines):
        for column, field in zip(columns, fields, strict=True):
            value = rows[column][row]
            if value is not None and field != "collector_number":
                assert show_text(value, field).strip("'") in line.split("%%")


def test_hash_memory_finds_every_number_across_merged_runs() -> None:
    """Batches of new numbers of every size: the runs merge, and every key is found with its hash."""
    rng = np.random.default_rng(5)
    pool = rng.permutation(np.arange(1, 200_000, dtype=np.uint64))
    memory, added = HashMemory(limit=1_000_000), 0
    for size in (1, 7, 300, 5000, 2, 40_000, 999, 11, 60_000):
        keys = np.sort(pool[added : added + size])
        memory.add(keys, keys.astype(np.int64) * 3)
        added += size
    assert len(memory) == added and len(memory.runs) < 6
    for run_keys, _ in memory.runs:
        assert (np.diff(run_keys.astype(np.int64)) > 0).all()
    known = np.sort(pool[:added])
    hashes, found = memory.find(known)
    assert found.all() and (hashes == known.astype(np.int64) * 3).all()
    _, found = memory.find(np.sort(pool[added : added + 1000]))
    assert not found.any()
