"""Whole-file rejections of the standard layout (spec §2.2), one golden reason per case."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciliation.errors import FileRejected
from reconciliation.parsing import parse_file, standard
from tests.unit.parsing.parsing_helpers import KEY, PARTNER_NAME, PLATFORM_NAME, d_line, standard_file, write

P, Q = "PLATFORM", "PARTNER"
H1 = "H1%%RECON%%2026-11-21T01:00:00-05:00%%AMCASH%%PROD%%001"
H2 = "H2%%ABCD%%2026-11-20%%2026-11-20T00:00:00-05:00%%2026-11-21T00:00:00-05:00"
T2_ONE = "T2%%1%%5%%190%%20.00"
D = d_line(P)
THREE = [d_line(P, confirmation_number=f"C{i}") for i in range(3)]


def lines(*items: str) -> str:
    return "\n".join(items) + "\n"


CASES: dict[str, tuple[str, str | bytes, int | None, str]] = {
    # name: (side, content, line, problem)
    "empty": (P, b"", None, "the file is empty"),
    "only_newlines": (P, "\n\n", 1, "the file has no records, only empty lines"),
    "not_ascii_body": (
        P,
        standard_file(P, [D, D.replace("TERM01", "TÉRM")]),
        4,
        "the file is not ASCII (byte 0xC3 at column 90)",
    ),
    "not_ascii_header": (
        P,
        standard_file(P, h1=H1.replace("AMCASH", "AMCAŠH")),
        1,
        "the file is not ASCII (byte 0xC5 at column 43)",
    ),
    "empty_line_in_body": (P, standard_file(P, [D, "", D]), 4, "the line is empty"),
    "two_empty_lines_at_end": (P, standard_file(P) + "\n\n", 7, "the line is empty"),
    "three_empty_lines_at_end": (P, standard_file(P, eol="\r\n") + "\r\n\r\n\r\n", 7, "the line is empty"),
    "missing_h1": (
        P,
        lines(H2, D, "T1%%1%%190%%0%%0", T2_ONE),
        1,
        "expected the H1 record, found a H2 record",
    ),
    "missing_h2": (
        P,
        lines(H1, D, "T1%%1%%190%%0%%0", T2_ONE),
        2,
        "expected the H2 record, found a D record",
    ),
    "missing_t1": (P, lines(H1, H2, D, D, T2_ONE), 4, "expected the T1 record, found a D record"),
    "missing_t2": (
        P,
        lines(H1, H2, D, "T1%%1%%190%%0%%0"),
        None,
        "the file ends after line 4: the T2 record is missing",
    ),
    "missing_trailers": (
        P,
        lines(H1, H2, D, D, D),
        None,
        "the file ends after line 5 without the T1 and T2 records",
    ),
    "short_file": (P, lines(H1, H2), None, "the file ends after line 2: the T1 and T2 records are missing"),
    "only_h1": (P, lines(H1), None, "the file ends after line 1: the H2, T1 and T2 records are missing"),
    "t1_in_body": (
        P,
        lines(H1, H2, D, "T1%%1%%190%%0%%0", D, "T1%%2%%380%%0%%0", "T2%%2%%6%%380%%40.00"),
        4,
        "expected a D record or the T1 record, found a T1 record",
    ),
    "extra_h1_in_body": (
        P,
        standard_file(P, [D, H1]),
        4,
        "expected a D record or the T1 record, found a H1 record",
    ),
    "unknown_record_type": (
        P,
        standard_file(P, [D, "X%%" + D[3:]]),
        4,
        "expected a D record or the T1 record, found a record of type 'X'",
    ),
    "d_too_many_fields": (
        P,
        standard_file(P, [D, D + "%%EXTRA"]),
        4,
        "the D record has 17 fields, expected 16",
    ),
    "d_too_few_fields": (
        Q,
        standard_file(Q, [d_line(Q), d_line(Q).rsplit("%%", 1)[0]]),
        4,
        "the D record has 13 fields, expected 14",
    ),
    "h1_field_count": (P, standard_file(P, h1=H1 + "%%X"), 1, "the H1 record has 7 fields, expected 6"),
    "h2_field_count": (
        P,
        standard_file(P, h2="H2%%ABCD%%2026-11-20"),
        2,
        "the H2 record has 3 fields, expected 5",
    ),
    "t1_field_count": (P, standard_file(P, t1="T1%%1%%190%%0"), 4, "the T1 record has 4 fields, expected 5"),
    "t2_field_count": (P, standard_file(P, t2="T2%%1%%5%%190"), 5, "the T2 record has 4 fields, expected 5"),
    "file_type": (Q, standard_file(Q, h1=H1), 1, "H1 file_type 'RECON' is not POS (a partner file)"),
    "created_at": (
        P,
        standard_file(P, h1=H1.replace("2026-11-21T01", "2026-11-31T01")),
        1,
        "H1 created_at '2026-11-31T01:00:00-05:00' is not a valid datetime",
    ),
    "originator": (
        P,
        standard_file(P, h1=H1.replace("AMCASH", "AM CASH")),
        1,
        "H1 originator 'AM CASH' is not 1-20 letters or digits",
    ),
    "environment": (
        P,
        standard_file(P, h1=H1.replace("PROD", "TEST")),
        1,
        "H1 environment 'TEST' is not PROD or CERT",
    ),
    "sequence_format": (
        P,
        standard_file(P, h1=H1.replace("%%001", "%%1")),
        1,
        "H1 sequence '1' is not 3 digits",
    ),
    "sequence_differs": (
        P,
        standard_file(P, h1=H1.replace("%%001", "%%002")),
        1,
        "H1 sequence 002 differs from the file name's 001",
    ),
    "sponsor_differs": (
        P,
        standard_file(P, h2=H2.replace("ABCD", "WXYZ")),
        2,
        "H2 sponsor_code 'WXYZ' differs from ABCD",
    ),
    "date_differs": (
        P,
        standard_file(P, h2=H2.replace("%%2026-11-20%%", "%%2026-11-19%%")),
        2,
        "H2 business_date 2026-11-19 differs from 2026-11-20",
    ),
    "date_invalid": (
        P,
        standard_file(P, h2=H2.replace("%%2026-11-20%%", "%%2026-11-31%%")),
        2,
        "H2 business_date '2026-11-31' is not a date",
    ),
    "period_invalid": (
        P,
        standard_file(P, h2=H2.replace("2026-11-21T00:00:00", "tomorrow")),
        2,
        "H2 period_end 'tomorrow-05:00' is not a valid datetime",
    ),
    "redeem_count": (
        P,
        standard_file(P, t1="T1%%2%%190%%0%%0"),
        4,
        "T1 redeem_count 2 differs from 1 counted in the D records",
    ),
    "redeem_miles": (
        P,
        standard_file(P, t1="T1%%1%%9500%%0%%0"),
        4,
        "T1 redeem_miles 9500 differs from 190 counted in the D records",
    ),
    "reverse_count": (
        P,
        standard_file(P, t1="T1%%1%%190%%1%%0"),
        4,
        "T1 reverse_count 1 differs from 0 counted in the D records",
    ),
    "reverse_miles": (
        P,
        standard_file(P, t1="T1%%1%%190%%0%%95"),
        4,
        "T1 reverse_miles 95 differs from 0 counted in the D records",
    ),
    "detail_count": (
        P,
        standard_file(P, t2="T2%%2%%5%%190%%20.00"),
        5,
        "T2 detail_count 2 differs from 1 counted in the D records",
    ),
    "record_count": (
        P,
        standard_file(P, t2="T2%%1%%4%%190%%20.00"),
        5,
        "T2 record_count 4 differs from 5 counted in the D records",
    ),
    "net_miles": (
        P,
        standard_file(P, t2="T2%%1%%5%%100%%20.00"),
        5,
        "T2 net_miles 100 differs from 190 counted in the D records",
    ),
    "net_dollars": (
        P,
        standard_file(P, t2="T2%%1%%5%%190%%-20.00"),
        5,
        "T2 net_dollars -20.00 differs from 20.00 counted in the D records",
    ),
    "trailer_not_integer": (
        P,
        standard_file(P, t1="T1%%1%%1.5e2%%0%%0"),
        4,
        "T1 redeem_miles '1.5e2' is not an integer",
    ),
    "net_dollars_not_decimal": (
        P,
        standard_file(P, t2="T2%%1%%5%%190%%20,00"),
        5,
        "T2 net_dollars '20,00' is not a decimal",
    ),
    "miles_not_integer": (
        P,
        standard_file(P, [D, d_line(P, miles="19O")]),
        4,
        "D record miles '19O' is not an integer, so the control totals cannot be verified",
    ),
    "miles_empty": (
        Q,
        standard_file(Q, [d_line(Q, miles="")]),
        3,
        "D record miles is empty, so the control totals cannot be verified",
    ),
    "dollars_not_decimal": (
        P,
        standard_file(P, [d_line(P, dollars="20.OO")]),
        3,
        "D record dollars '20.OO' is not a decimal number, so the control totals cannot be verified",
    ),
    "first_problem_wins": (
        P,
        standard_file(P, [D, d_line(P, miles="x"), D + "%%X", "é"]),
        4,
        "D record miles 'x' is not an integer, so the control totals cannot be verified",
    ),
    "first_problem_before_non_ascii": (
        P,
        standard_file(P, [D, D + "%%X", "é"]),
        4,
        "the D record has 17 fields, expected 16",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("chunk", [64 << 20, 300])
def test_file_rejection_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, chunk: int
) -> None:
    monkeypatch.setattr(standard, "CHUNK_BYTES", chunk)
    side, content, line, problem = CASES[case]
    path = write(tmp_path, side, content)
    with pytest.raises(FileRejected) as caught:
        parse_file(path, side, hash_key=KEY)
    error = caught.value
    assert (error.file_name, error.line, error.problem) == (path.name, line, problem)
    where = f"{path.name}, line {line}" if line is not None else path.name
    assert str(error) == f"{where}: {problem}"


def test_totals_count_rejected_records_too(tmp_path: Path) -> None:
    details = [d_line(P), d_line(P, store_id="12A4", miles="95", dollars="10.00"), d_line(P, txn_type="VOID")]
    parsed = parse_file(write(tmp_path, P, standard_file(P, details)), P, hash_key=KEY)
    assert parsed.detail_count == 3 and parsed.records.height == 1 and parsed.rejected.height == 2


def test_signed_and_long_amounts_reject_the_record_not_the_file(tmp_path: Path) -> None:
    details = [
        d_line(P, miles="-190"),
        d_line(P, miles="19000"),
        d_line(P, dollars="20.5"),
        d_line(P, dollars="+20.00"),
    ]
    parsed = parse_file(write(tmp_path, P, standard_file(P, details)), P, hash_key=KEY)
    assert parsed.rejected["reason"].to_list() == [
        "miles '-190' is not 1-4 digits",
        "miles '19000' is not 1-4 digits",
        "dollars '20.5' is not a decimal with 2 places",
        "dollars '+20.00' is not a decimal with 2 places",
    ]


@pytest.mark.parametrize(
    ("name", "kwargs", "problem"),
    [
        (
            "recon_ABCD.txt",
            {},
            "the file name does not follow the pattern AMCASH_RECON_{sponsor}_{date}_{seq}.txt",
        ),
        (PLATFORM_NAME, {"sponsor_code": "WXYZ"}, "the file name's sponsor ABCD is not WXYZ"),
        (
            PLATFORM_NAME.replace("20261120", "20261131"),
            {},
            "the file name does not follow the pattern AMCASH_RECON_{sponsor}_{date}_{seq}.txt",
        ),
    ],
)
def test_file_name_problems(tmp_path: Path, name: str, kwargs: dict[str, str], problem: str) -> None:
    path = write(tmp_path, P, standard_file(P), name=name)
    with pytest.raises(FileRejected) as caught:
        parse_file(path, P, hash_key=KEY, **kwargs)  # type: ignore[arg-type]
    assert caught.value.problem == problem and caught.value.line is None


def test_unpatterned_name_is_accepted_when_the_caller_says_whose_file(tmp_path: Path) -> None:
    from datetime import date

    path = write(
        tmp_path, Q, standard_file(Q, [d_line(Q)]).replace("RECON", "POS"), name="partner-upload.dat"
    )
    parsed = parse_file(path, Q, hash_key=KEY, sponsor_code="ABCD", business_date=date(2026, 11, 20))
    assert parsed.sequence == 1 and parsed.records.height == 1
    assert PARTNER_NAME not in parsed.file_name


def test_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        parse_file(tmp_path / PLATFORM_NAME, P, hash_key=KEY)
