"""The standard ``%%`` layout: valid files of both sides and what is tolerated (spec §2.1)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from reconciliation import records
from reconciliation.parsing import parse_file, standard
from tests.unit.parsing.parsing_helpers import KEY, d_line, standard_file, write


def parse(path: Path, side: str, **kwargs: object) -> object:
    return parse_file(path, side, hash_key=KEY, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("side", ["PLATFORM", "PARTNER"])
def test_valid_file_gives_canonical_records(tmp_path: Path, side: str) -> None:
    details = [
        d_line(side),
        d_line(
            side, txn_type="REVERSE", confirmation_number="CONF0002", original_confirmation_number="CONF0001"
        ),
    ]
    path = write(tmp_path, side, standard_file(side, details))
    parsed = parse_file(path, side, hash_key=KEY)
    assert parsed.side == side
    assert parsed.file_name == path.name
    assert parsed.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (parsed.sponsor_code, parsed.business_date, parsed.sequence) == ("ABCD", date(2026, 11, 20), 1)
    assert parsed.period_start == datetime(2026, 11, 20, 5, tzinfo=UTC)
    assert parsed.period_end == datetime(2026, 11, 21, 5, tzinfo=UTC)
    assert parsed.detail_count == 2
    assert parsed.records.schema == records.RECORD_SCHEMA
    assert parsed.rejected.schema == records.REJECTED_SCHEMA
    assert parsed.rejected.height == 0
    first, second = parsed.records.to_dicts()
    assert first["line_number"] == 3 and second["line_number"] == 4
    assert first["txn_type"] == "REDEEM" and second["txn_type"] == "REVERSE"
    assert first["original_confirmation_number"] is None
    assert second["original_confirmation_number"] == "CONF0001"
    assert first["dollars"] == Decimal("20.00") and first["miles"] == 190 and first["units"] == 2
    assert first["collector_last4"] == "1234" and isinstance(first["collector_hash"], int)
    assert first["store_id"] == "1234" and first["device_id"] == "001"
    assert first["trace_id"] == "000000123456" and first["response_code"] == "0000"
    partner_ts = datetime(2026, 11, 20, 15, 15, 29, tzinfo=UTC)
    assert first["partner_ts"] == partner_ts
    if side == "PLATFORM":
        assert first["ts"] == datetime(2026, 11, 20, 15, 15, 30, tzinfo=UTC)
        assert first["origin"] == "POS" and first["card_terminal_id"] == "TERM01"
        assert first["pos_transaction_id"] is None
    else:
        assert first["ts"] == partner_ts
        assert first["origin"] is None and first["card_terminal_id"] is None
        assert first["pos_transaction_id"] == "RCPT0001"
    assert "6012345678901234" not in str(parsed.records.to_dicts())


@pytest.mark.parametrize(
    ("eol", "final_newline", "extra"),
    [("\r\n", True, ""), ("\n", False, ""), ("\n", True, "\n"), ("\r\n", True, "\r\n")],
)
def test_tolerated_line_endings(tmp_path: Path, eol: str, final_newline: bool, extra: str) -> None:
    text = (
        standard_file(
            "PARTNER",
            [d_line("PARTNER"), d_line("PARTNER", response_code="")],
            eol=eol,
            final_newline=final_newline,
        )
        + extra
    )
    parsed = parse_file(write(tmp_path, "PARTNER", text), "PARTNER", hash_key=KEY)
    assert parsed.records.height == 2
    assert parsed.records["response_code"].to_list() == ["0000", None]
    assert parsed.records["confirmation_number"].to_list() == ["CONF0001"] * 2


def test_file_without_detail_records(tmp_path: Path) -> None:
    parsed = parse_file(write(tmp_path, "PLATFORM", standard_file("PLATFORM", [])), "PLATFORM", hash_key=KEY)
    assert parsed.detail_count == 0
    assert parsed.records.schema == records.RECORD_SCHEMA and parsed.records.height == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20T10:15:30", datetime(2026, 11, 20, 15, 15, 30, tzinfo=UTC)),
        ("2026-11-20T10:15:30Z", datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)),
        ("2026-11-20T10:15:30+01:30", datetime(2026, 11, 20, 8, 45, 30, tzinfo=UTC)),
        ("2026-11-20T10:15:30-0330", datetime(2026, 11, 20, 13, 45, 30, tzinfo=UTC)),
        ("2026-11-20T10:15:30.5-05:00", datetime(2026, 11, 20, 15, 15, 30, 500000, tzinfo=UTC)),
        ("2026-11-20T10:15:30.123456Z", datetime(2026, 11, 20, 10, 15, 30, 123456, tzinfo=UTC)),
        ("2026-12-31T23:30:00-05:00", datetime(2027, 1, 1, 4, 30, tzinfo=UTC)),
    ],
)
def test_datetime_variants(tmp_path: Path, text: str, expected: datetime) -> None:
    path = write(
        tmp_path, "PLATFORM", standard_file("PLATFORM", [d_line("PLATFORM", platform_datetime=text)])
    )
    assert parse_file(path, "PLATFORM", hash_key=KEY).records["ts"].to_list() == [expected]


def test_mixed_offsets_and_fractions_in_one_file(tmp_path: Path) -> None:
    stamps = [f"2026-11-20T10:00:{s:02d}.{s:06d}{'Z' if s % 2 else '-05:00'}" for s in range(40)]
    path = write(
        tmp_path, "PARTNER", standard_file("PARTNER", [d_line("PARTNER", partner_datetime=t) for t in stamps])
    )
    got = parse_file(path, "PARTNER", hash_key=KEY).records["ts"].to_list()
    want = [datetime(2026, 11, 20, 10 if s % 2 else 15, 0, s, s, tzinfo=UTC) for s in range(40)]
    assert got == want


@pytest.mark.parametrize("amount", ["0.00", "0.01", "0.10", "19.99", "1234567.89", "9999999999.99"])
def test_dollars_are_exact(tmp_path: Path, amount: str) -> None:
    path = write(tmp_path, "PLATFORM", standard_file("PLATFORM", [d_line("PLATFORM", dollars=amount)]))
    assert parse_file(path, "PLATFORM", hash_key=KEY).records["dollars"].to_list() == [Decimal(amount)]


@pytest.mark.parametrize("chunk", [700, 50])  # 50: every line is longer than a chunk
def test_many_chunks_keep_line_order_and_totals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(standard, "CHUNK_BYTES", chunk)
    details = [
        d_line(
            "PLATFORM",
            confirmation_number=f"C{i}",
            store_id=f"{i:04d}",
            txn_type="REVERSE" if i % 3 == 0 else "REDEEM",
            original_confirmation_number=f"C{i - 1}" if i % 3 == 0 else "",
            dollars="20.00" if i % 5 else "2.00",
        )
        for i in range(1, 101)
    ]
    details[40] = d_line("PLATFORM", confirmation_number="BAD", store_id="12A4")
    path = write(tmp_path, "PLATFORM", standard_file("PLATFORM", details))
    parsed = parse_file(path, "PLATFORM", hash_key=KEY)
    assert parsed.detail_count == 100
    assert parsed.records["line_number"].to_list() == [n for n in range(3, 103) if n != 43]
    assert parsed.rejected["line_number"].to_list() == [43]
    assert parsed.records["confirmation_number"][0] == "C1"


def test_percent_inside_a_value_is_a_bad_value_not_a_bad_line(tmp_path: Path) -> None:
    details = [
        d_line("PLATFORM"),
        d_line("PLATFORM", card_terminal_id="T%1"),
        d_line("PLATFORM", confirmation_number="C%"),
    ]  # C%%%%%: "C", "", "%<datetime>"
    path = write(tmp_path, "PLATFORM", standard_file("PLATFORM", details))
    parsed = parse_file(path, "PLATFORM", hash_key=KEY)
    assert parsed.records.height == 1
    assert parsed.rejected["reason"].to_list() == [
        "card_terminal_id 'T%1' is not 1-16 letters or digits",
        "platform_datetime '%2026-11-20T10:15:30-05:00' is not a valid datetime",
    ]


def test_partner_last_field_empty_in_some_lines(tmp_path: Path) -> None:
    details = [d_line("PARTNER", response_code="" if i % 2 else "0051") for i in range(10)]
    path = write(tmp_path, "PARTNER", standard_file("PARTNER", details))
    parsed = parse_file(path, "PARTNER", hash_key=KEY)
    assert parsed.records["response_code"].to_list() == ["0051", None] * 5


def test_records_sorted_and_frames_are_polars(tmp_path: Path) -> None:
    details = [d_line("PARTNER", trace_id=f"{i:012d}") for i in range(30)]
    parsed = parse_file(
        write(tmp_path, "PARTNER", standard_file("PARTNER", details)), "PARTNER", hash_key=KEY
    )
    assert isinstance(parsed.records, pl.DataFrame)
    assert parsed.records["line_number"].is_sorted()
    assert parsed.records["trace_id"].to_list() == [f"{i:012d}" for i in range(30)]


def test_time_ordered_runs_parse_like_single_values(tmp_path: Path) -> None:
    stamps = [f"2026-11-20T10:00:{s:02d}-05:00" for s in range(5) for _ in range(6)]
    stamps[12:18] = ["2026-11-31T10:00:02-05:00"] * 6  # an invalid run
    details = [d_line("PARTNER", partner_datetime=t) for t in stamps]
    parsed = parse_file(
        write(tmp_path, "PARTNER", standard_file("PARTNER", details)), "PARTNER", hash_key=KEY
    )
    assert parsed.records["ts"].to_list() == [
        datetime(2026, 11, 20, 15, 0, s, tzinfo=UTC) for s in range(5) for _ in range(6) if s != 2
    ]
    assert parsed.rejected["line_number"].to_list() == list(range(15, 21))
