"""Partner files in a CSV profile (spec §2): same record rules, the layout from configuration."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from reconciliation import records
from reconciliation.config import CsvProfile, default_profiles, parse_zone
from reconciliation.errors import FileRejected
from reconciliation.parsing import csv_profile, parse_file
from tests.unit.parsing.parsing_helpers import KEY

PROFILE = default_profiles()["csv_cents"]
NAME = "POSLOG_ABCD_20261120_001.csv"
HEADER = (
    "type,confirmation,original_confirmation,local_time,store,lane,trace,receipt,card,"
    "units,miles,amount_cents,response,cashier"
)
ROW = {
    "type": "SALE",
    "confirmation": "ABC123",
    "original_confirmation": "",
    "local_time": "2026-11-20 10:15:30",
    "store": "1234",
    "lane": "001",
    "trace": "000000123456",
    "receipt": "R1",
    "card": "6012345678901234",
    "units": "2",
    "miles": "190",
    "amount_cents": "2000",
    "response": "0000",
    "cashier": "Zoë",
}


def row(**values: str) -> str:
    return ",".join((ROW | values)[k] for k in HEADER.split(","))


def write_csv(
    tmp_path: Path, rows: list[str], header: str = HEADER, eol: str = "\n", name: str = NAME
) -> Path:
    path = tmp_path / name
    path.write_bytes((eol.join([header, *rows]) + eol).encode())
    return path


def parse(path: Path, profile: CsvProfile = PROFILE):  # type: ignore[no-untyped-def]
    return parse_file(path, "PARTNER", hash_key=KEY, profile=profile)


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_valid_csv_file(tmp_path: Path, eol: str) -> None:
    rows = [row(), row(type="VOID", confirmation="ABC124", original_confirmation="ABC123", response="")]
    parsed = parse(write_csv(tmp_path, rows, eol=eol))
    assert (parsed.sponsor_code, parsed.business_date, parsed.sequence) == ("ABCD", date(2026, 11, 20), 1)
    assert parsed.period_start is None and parsed.period_end is None
    assert parsed.detail_count == 2 and parsed.rejected.height == 0
    assert parsed.records.schema == records.RECORD_SCHEMA
    first, second = parsed.records.to_dicts()
    assert first["line_number"] == 2 and second["line_number"] == 3
    assert (first["txn_type"], second["txn_type"]) == ("REDEEM", "REVERSE")
    assert first["dollars"] == Decimal("20.00") and first["miles"] == 190
    assert first["ts"] == first["partner_ts"] == datetime(2026, 11, 20, 15, 15, 30, tzinfo=UTC)
    assert (
        first["pos_transaction_id"] == "R1" and first["card_terminal_id"] is None and first["origin"] is None
    )
    assert second["response_code"] is None and second["original_confirmation_number"] == "ABC123"


@pytest.mark.parametrize(
    ("cents", "dollars"), [("0", "0.00"), ("5", "0.05"), ("199", "1.99"), ("999999999999", "9999999999.99")]
)
def test_cents_are_exact_dollars(tmp_path: Path, cents: str, dollars: str) -> None:
    parsed = parse(write_csv(tmp_path, [row(amount_cents=cents)]))
    assert parsed.records["dollars"].to_list() == [Decimal(dollars)]


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        ("2026-07-01 12:00:00", datetime(2026, 7, 1, 16, tzinfo=UTC)),  # EDT
        ("2026-11-01 01:30:00", datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),  # repeated hour: the earlier
    ],
)
def test_local_time_is_dst_aware(tmp_path: Path, local: str, utc: datetime) -> None:
    parsed = parse(write_csv(tmp_path, [row(local_time=local)]))
    assert parsed.records["ts"].to_list() == [utc]


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (
            {"local_time": "2026-03-08 02:30:00"},
            "partner_datetime '2026-03-08 02:30:00' is not a valid datetime",
        ),
        ({"local_time": "2026-3-8 12:30:00"}, "partner_datetime '2026-3-8 12:30:00' is not a valid datetime"),
        ({"type": "REFUND"}, "txn_type 'REFUND' is not SALE or VOID"),
        ({"type": "REDEEM"}, "txn_type 'REDEEM' is not SALE or VOID"),
        ({"store": "12A4"}, "store_id '12A4' is not 4 digits"),
        ({"amount_cents": "-200"}, "dollars '-200' is not a whole number of cents up to 12 digits"),
        ({"card": "60123456789012345678"}, "collector_number is not 1-19 digits or a masked number"),
        ({"type": "VOID"}, "original_confirmation_number is empty on a REVERSE"),
    ],
)
def test_record_rejections(tmp_path: Path, values: dict[str, str], reason: str) -> None:
    parsed = parse(write_csv(tmp_path, [row(), row(**values)]))
    assert parsed.records["line_number"].to_list() == [2]
    card = values.get("card", ROW["card"])
    masked = "*" * (len(card) - 4) + card[-4:]
    assert parsed.rejected.to_dicts() == [
        {
            "side": "PARTNER",
            "file_name": NAME,
            "line_number": 3,
            "reason": reason,
            "raw_line": row(**values | {"card": masked}),
        },
    ]


@pytest.mark.parametrize(
    ("rows", "header", "line", "problem"),
    [
        (
            [row()],
            HEADER.replace("trace", "trace_no"),
            1,
            "the header row lacks the column 'trace' (trace_id)",
        ),
        ([row(), row() + ",extra"], HEADER, 3, "the row has 15 fields, expected 14"),
        ([row(), row().rsplit(",", 1)[0]], HEADER, 3, "the row has 13 fields, expected 14"),
        ([row(), "", row()], HEADER, 3, "the line is empty"),
        ([row(miles="19.0")], HEADER, 2, "miles (column 'miles') '19.0' is not an integer"),
        ([row(miles="")], HEADER, 2, "miles (column 'miles') is empty"),
        (
            [row(), row(amount_cents="20.00")],
            HEADER,
            3,
            "dollars (column 'amount_cents') '20.00' is not an integer",
        ),
        ([row(), row(store="X", miles="x")], HEADER, 3, "miles (column 'miles') 'x' is not an integer"),
    ],
)
@pytest.mark.parametrize("chunk", [64 << 20, 150])
def test_file_rejections(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rows: list[str],
    header: str,
    line: int,
    problem: str,
    chunk: int,
) -> None:
    monkeypatch.setattr(csv_profile, "CHUNK_BYTES", chunk)
    with pytest.raises(FileRejected) as caught:
        parse(write_csv(tmp_path, rows, header=header))
    assert (caught.value.line, caught.value.problem) == (line, problem)


def test_not_utf8_and_empty(tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_bytes(f"{HEADER}\n{row()}\n".encode() + b"SALE,\xff\xfe\n")
    with pytest.raises(FileRejected, match="line 3: the line is not UTF-8 text"):
        parse(path)
    path.write_bytes(b"")
    with pytest.raises(FileRejected, match="the file is empty"):
        parse(path)


def test_header_only_and_bom(tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_bytes(b"\xef\xbb\xbf" + HEADER.encode() + b"\n")
    parsed = parse(path)
    assert parsed.detail_count == 0 and parsed.records.height == 0


def test_profile_without_header_and_other_delimiter(tmp_path: Path) -> None:
    columns = {
        "txn_type": "0",
        "partner_datetime": "1",
        "store_id": "2",
        "device_id": "3",
        "trace_id": "4",
        "collector_number": "5",
        "units": "6",
        "miles": "7",
        "dollars": "8",
        "response_code": "9",
    }
    profile = CsvProfile(
        name="semi",
        file_pattern="SEMI-{sponsor}-{date}-{seq}.txt",
        delimiter=";",
        header=False,
        columns=columns,
        amount_unit="dollars",
        timezone=parse_zone("-05:00"),
        datetime_format="%d/%m/%Y %H:%M",
        txn_types={"R": "REDEEM", "V": "REVERSE"},
    )
    path = tmp_path / "SEMI-ABCD-20261120-007.txt"
    path.write_text(
        "R;20/11/2026 10:15;1234;001;000000123456;6012345678901234;2;190;20.00;0000\n"
        "R;20/11/2026 10:16;1234;001;000000123457;***1234;1;95;10.5;0000\n"
    )
    parsed = parse_file(path, "PARTNER", hash_key=KEY, profile=profile)
    assert parsed.sequence == 7 and parsed.detail_count == 2
    only = parsed.records.to_dicts()
    assert len(only) == 1 and only[0]["line_number"] == 1
    assert only[0]["ts"] == datetime(2026, 11, 20, 15, 15, tzinfo=UTC)
    assert only[0]["confirmation_number"] is None and only[0]["pos_transaction_id"] is None
    assert parsed.rejected["reason"].to_list() == ["dollars '10.5' is not a decimal with 2 places"]
    assert parsed.rejected["raw_line"].to_list() == [
        "R;20/11/2026 10:16;1234;001;000000123457;***1234;1;95;10.5;0000"
    ]
