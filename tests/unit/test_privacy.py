"""Collector numbers: keyed hash, last 4 and masking (spec §7)."""

from __future__ import annotations

import hashlib
import hmac

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation.config import default_profiles
from reconciliation.privacy import (
    CollectorHasher,
    collector_hash,
    last4,
    mask_collector,
    mask_digit_runs,
    mask_raw_line,
)


def reference(key: bytes, number: str) -> int:
    return int.from_bytes(hmac.new(key, number.encode(), hashlib.sha256).digest()[:8], "big", signed=True)


def test_hash_is_hmac_sha256_first_8_bytes_signed() -> None:
    numbers = pl.Series("n", ["6012345678901234", "0123", "123", "9" * 19, "0"])
    assert collector_hash(numbers, b"k").to_list() == [reference(b"k", n) for n in numbers]
    assert collector_hash(numbers, b"k").dtype == pl.Int64


@pytest.mark.parametrize("key", [b"k", b"x" * 64, b"long key " * 10])
def test_many_numbers_hash_in_bulk_to_the_same_values(key: bytes) -> None:
    numbers = [str(7 * i) for i in range(6_000)] + ["0007", "9" * 19]  # past the bulk threshold
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
    assert len(hasher._cache[0]) <= 5


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
    assert mask_digit_runs("card 6012345678901234 store 1234") == "card ************1234 store 1234"


def test_mask_raw_line_standard_and_csv() -> None:
    platform = (
        "D%%REDEEM%%C1%%%%2026-11-20T10:00:00%%2026-11-20T10:00:00%%1234%%001%%T1%%000000123456%%"
        "6012345678901234%%2%%190%%20.00%%0000%%POS"
    )
    assert mask_raw_line(platform, "PLATFORM", None) == platform.replace(
        "6012345678901234", "************1234"
    )
    partner = (
        "D%%REDEEM%%C1%%%%2026-11-20T10:00:00%%1234%%001%%000000123456%%R1%%60123456789%%2%%190%%20.00%%"
    )
    assert mask_raw_line(partner, "PARTNER", None) == partner.replace("60123456789", "*******6789")
    broken = "D%%REDEEM%%6012345678901234%%1234"
    assert mask_raw_line(broken, "PARTNER", None) == "D%%REDEEM%%************1234%%1234"
    wrong_field = platform.replace("000000123456", "6012345678905555")
    assert "6012345678905555" not in mask_raw_line(wrong_field, "PLATFORM", None)
    profile = default_profiles()["csv_cents"]
    line = "SALE,ABC,,2026-11-20 10:00:00,1234,001,000000123456,R1,6012345678901234,2,190,2000,0000"
    assert mask_raw_line(line, "PARTNER", profile, collector_index=8) == line.replace(
        "6012345678901234", "************1234"
    )
    assert "6012345678901234" not in mask_raw_line(line, "PARTNER", profile)
