"""Record rejections (spec §2.2): the file is sound, one record is kept out with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciliation.parsing import parse_file
from reconciliation.privacy import mask_collector
from tests.unit.parsing.parsing_helpers import KEY, d_line, standard_file, write

P, Q = "PLATFORM", "PARTNER"
REVERSE = {"txn_type": "REVERSE", "original_confirmation_number": "CONF0000"}

CASES: list[tuple[str, dict[str, str], str]] = [
    (P, {"txn_type": "VOID"}, "txn_type 'VOID' is not REDEEM or REVERSE"),
    (P, {"txn_type": "redeem"}, "txn_type 'redeem' is not REDEEM or REVERSE"),
    (Q, {"txn_type": ""}, "txn_type is empty"),
    (P, {"confirmation_number": ""}, "confirmation_number is empty"),
    (
        P,
        {"confirmation_number": "ABCDEFGHIJ1234567"},
        "confirmation_number 'ABCDEFGHIJ1234567' is not 1-16 letters or digits",
    ),
    (Q, {"confirmation_number": "AB-1"}, "confirmation_number 'AB-1' is not 1-16 letters or digits"),
    (P, {"txn_type": "REVERSE"}, "original_confirmation_number is empty on a REVERSE"),
    (
        Q,
        {"original_confirmation_number": "CONF0000"},
        "original_confirmation_number must be empty on a REDEEM",
    ),
    (
        P,
        REVERSE | {"original_confirmation_number": "C 1"},
        "original_confirmation_number 'C 1' is not 1-16 letters or digits",
    ),
    (
        P,
        {"platform_datetime": "2026-02-30T10:00:00"},
        "platform_datetime '2026-02-30T10:00:00' is not a valid datetime",
    ),
    (
        P,
        {"platform_datetime": "2026-11-20 10:00:00"},
        "platform_datetime '2026-11-20 10:00:00' is not a valid datetime",
    ),
    (P, {"platform_datetime": ""}, "platform_datetime is empty"),
    (
        P,
        {"partner_datetime": "2026-11-20T24:00:00"},
        "partner_datetime '2026-11-20T24:00:00' is not a valid datetime",
    ),
    (
        Q,
        {"partner_datetime": "2026-11-20T23:59:60"},
        "partner_datetime '2026-11-20T23:59:60' is not a valid datetime",
    ),
    (
        Q,
        {"partner_datetime": "2026-11-20T10:00:00+05"},
        "partner_datetime '2026-11-20T10:00:00+05' is not a valid datetime",
    ),
    (
        Q,
        {"partner_datetime": "2026-11-20T10:00:00.1234567Z"},
        "partner_datetime '2026-11-20T10:00:00.1234567Z' is not a valid datetime",
    ),
    (
        Q,
        {"partner_datetime": "2026-1-20T10:00:00"},
        "partner_datetime '2026-1-20T10:00:00' is not a valid datetime",
    ),
    (P, {"store_id": "12A4"}, "store_id '12A4' is not 4 digits"),
    (P, {"store_id": "123"}, "store_id '123' is not 4 digits"),
    (Q, {"store_id": ""}, "store_id is empty"),
    (P, {"device_id": "0001"}, "device_id '0001' is not 3 digits"),
    (P, {"card_terminal_id": "T-1"}, "card_terminal_id 'T-1' is not 1-16 letters or digits"),
    (P, {"trace_id": "12345678901"}, "trace_id '12345678901' is not 12 digits"),
    (Q, {"trace_id": "ABC"}, "trace_id 'ABC' is not 12 digits"),
    (Q, {"pos_transaction_id": "R" * 33}, f"pos_transaction_id '{'R' * 33}' is not 1-32 letters or digits"),
    (P, {"collector_number": ""}, "collector_number is empty"),
    (
        P,
        {"collector_number": "60123456789012345678"},
        "collector_number is not 1-19 digits or a masked number",
    ),
    (
        Q,
        {"collector_number": "6012-3456-7890-1234"},
        "collector_number is not 1-19 digits or a masked number",
    ),
    (Q, {"collector_number": "***123"}, "collector_number is not 1-19 digits or a masked number"),
    (P, {"units": "1000"}, "units '1000' is not 1-3 digits"),
    (P, {"units": "2.0"}, "units '2.0' is not 1-3 digits"),
    (Q, {"units": ""}, "units is empty"),
    (P, {"miles": "+190"}, "miles '+190' is not 1-4 digits"),
    (P, {"dollars": "20"}, "dollars '20' is not a decimal with 2 places"),
    (P, {"dollars": "20.000"}, "dollars '20.000' is not a decimal with 2 places"),
    (P, {"dollars": "-20.00"}, "dollars '-20.00' is not a decimal with 2 places"),
    (P, {"dollars": "12345678901.00"}, "dollars '12345678901.00' is not at most 9999999999.99"),
    (P, {"response_code": "0051"}, "response_code '0051' is not 0000 or 0001"),
    (P, {"response_code": ""}, "response_code is empty"),
    (Q, {"response_code": "51"}, "response_code '51' is not 4 digits"),
    (P, {"origin": "pos"}, "origin 'pos' is not POS or SYSTEM"),
    (P, {"origin": ""}, "origin is empty"),
    # the first failing field in file order is named
    (P, {"store_id": "X", "txn_type": "VOID"}, "txn_type 'VOID' is not REDEEM or REVERSE"),
    (Q, {"units": "X", "trace_id": "Y"}, "trace_id 'Y' is not 12 digits"),
    # validation applies whatever the response code
    (Q, {"response_code": "0051", "store_id": "X"}, "store_id 'X' is not 4 digits"),
    (Q, {"response_code": "", "device_id": "X"}, "device_id 'X' is not 3 digits"),
]


@pytest.mark.parametrize(("side", "values", "reason"), CASES, ids=[c[2][:40] for c in CASES])
def test_record_rejection_reason(tmp_path: Path, side: str, values: dict[str, str], reason: str) -> None:
    bad = d_line(side, **values)
    collector = values.get("collector_number", "6012345678901234")
    raw = d_line(side, **(values | {"collector_number": mask_collector(collector)}))
    path = write(tmp_path, side, standard_file(side, [d_line(side), bad, d_line(side)]))
    parsed = parse_file(path, side, hash_key=KEY)
    assert parsed.records["line_number"].to_list() == [3, 5]
    rejected = parsed.rejected.to_dicts()
    assert rejected == [
        {"side": side, "file_name": path.name, "line_number": 4, "reason": reason, "raw_line": raw},
    ]
    assert parsed.detail_count == 3


@pytest.mark.parametrize("number", ["6012345678901234", "***********1234", "12345", "1"])
def test_valid_collector_forms(tmp_path: Path, number: str) -> None:
    path = write(tmp_path, Q, standard_file(Q, [d_line(Q, collector_number=number)]))
    parsed = parse_file(path, Q, hash_key=KEY)
    assert parsed.records["collector_last4"].to_list() == [number[-4:]]
    assert (parsed.records["collector_hash"][0] is None) == number.startswith("*")


def test_collector_never_leaks_from_rejected_records(tmp_path: Path) -> None:
    number = "6012345678909876"
    details = [
        d_line(P, collector_number=number, store_id="X"),
        d_line(P, collector_number=number + "99999"),  # too long: the whole field is masked
        d_line(P, collector_number="*" * 12 + "9876", txn_type="VOID"),
        d_line(P, trace_id=number),  # a number in the wrong field
    ]
    parsed = parse_file(write(tmp_path, P, standard_file(P, details)), P, hash_key=KEY)
    text = str(parsed.rejected.to_dicts()) + str(parsed.records.to_dicts())
    for fragment in (number, number[:12], "601234567890"):
        assert fragment not in text
    assert parsed.rejected["raw_line"].to_list()[1].count("*") == 17
    assert parsed.rejected["reason"].to_list()[3] == "trace_id '************9876' is not 12 digits"
