"""What rejections show of the values they quote (spec §2.2, §7; issue 10).

One function masks values for both the stored raw line and the reasons: the
collector field by its position in every layout, and elsewhere only a value
that could be a collector number. Nothing else is masked.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from reconciliation.cli import main
from reconciliation.errors import FileRejected
from reconciliation.parsing import parse_file
from reconciliation.warehouse.db import engine_for
from reconciliation.warehouse.schema import recon_run
from tests.unit.parsing.parsing_helpers import KEY, d_line, standard_file, write
from tests.unit.parsing.test_csv_profile import ROW, parse, row, write_csv

P, Q = "PLATFORM", "PARTNER"
CARD = "6012345678901234"
#: 13 or more digits in a row, or 4-digit groups that spell a card number.
LEAK = re.compile(r"[0-9]{13,}|[0-9]{4}[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]{4}")


def rejection(path: Path, side: str = P) -> str:
    with pytest.raises(FileRejected) as caught:
        parse_file(path, side, hash_key=KEY)
    return str(caught.value)


# -- full numbers never reach a file rejection (item: full numbers in rejection reasons) ----------

TRAILER_CASES = [
    ("T1%%6012345678901234%%190%%0%%0", None, "T1 redeem_count ************1234 differs from 1 counted"),
    ("T1%%1%%6012345678901234%%0%%0", None, "T1 redeem_miles ************1234 differs from 190 counted"),
    ("T1%%1%%190%%6012345678901234%%0", None, "T1 reverse_count ************1234 differs from 0 counted"),
    (None, "T2%%1%%5%%6012345678901234%%20.00", "T2 net_miles ************1234 differs from 190 counted"),
    (None, "T2%%6012345678901234%%5%%190%%20.00", "T2 detail_count ************1234 differs from 1 counted"),
    (
        None,
        "T2%%1%%5%%190%%6012345678901234.00",
        "T2 net_dollars ************1234.00 differs from 20.00 counted",
    ),
    (None, "T2%%1%%5%%190%%6012 3456 7890 1234", "T2 net_dollars '**** **** **** 1234' is not a decimal"),
]


@pytest.mark.parametrize(("t1", "t2", "problem"), TRAILER_CASES, ids=[c[2][:24] for c in TRAILER_CASES])
def test_trailer_figures_are_quoted_masked(
    tmp_path: Path, t1: str | None, t2: str | None, problem: str
) -> None:
    path = write(tmp_path, P, standard_file(P, t1=t1, t2=t2))
    message = rejection(path)
    assert problem in message
    assert not LEAK.search(message), message


def test_a_counted_figure_that_could_be_a_number_is_masked_too(tmp_path: Path) -> None:
    """A collector number in a miles field is an integer: it is totalled, and the total is masked."""
    details = [d_line(P), d_line(P, miles="6012345678901234")]
    path = write(tmp_path, P, standard_file(P, details, t1="T1%%2%%380%%0%%0"))
    message = rejection(path)
    assert "T1 redeem_miles 380 differs from ************1424 counted in the D records" in message
    assert not LEAK.search(message)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"dollars": "6012 3456 7890 1234"}, "dollars '**** **** **** 1234' is not a decimal number"),
        ({"dollars": "6012-3456-7890-1234"}, "dollars '****-****-****-1234' is not a decimal number"),
        ({"miles": "6012 3456 7890 1234"}, "D record miles '**** **** **** 1234' is not an integer"),
    ],
)
def test_amounts_that_reject_the_file_are_quoted_masked(
    tmp_path: Path, values: dict[str, str], problem: str
) -> None:
    message = rejection(write(tmp_path, Q, standard_file(Q, [d_line(Q), d_line(Q, **values)])), Q)
    assert problem in message
    assert not LEAK.search(message), message


def test_csv_amounts_are_quoted_masked(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as caught:
        parse(write_csv(tmp_path, [row(miles="6012 3456 7890 1234")]))
    assert caught.value.problem == "miles (column 'miles') '**** **** **** 1234' is not an integer"


# -- rejected records: the collector by position, nothing over-masked (item: over-masking) --------

RECORD_CASES = [
    # (field values, reason, the field as the raw line shows it)
    ({"miles": "1" * 30}, f"miles '{'1' * 30}' is not 1-4 digits", "1" * 30),
    (
        {"confirmation_number": "X12345678901234567"},
        "confirmation_number 'X12345678901234567' is not 1-16 letters or digits",
        "X12345678901234567",
    ),
    ({"trace_id": "12345678901"}, "trace_id '12345678901' is not 12 digits", "12345678901"),
    ({"trace_id": CARD}, "trace_id '************1234' is not 12 digits", "************1234"),
    (
        {"store_id": "6012 3456 7890 1234"},
        "store_id '**** **** **** 1234' is not 4 digits",
        "**** **** **** 1234",
    ),
    (
        {"card_terminal_id": "6012-3456-7890-1234"},
        "card_terminal_id '****-****-****-1234' is not 1-16 letters or digits",
        "****-****-****-1234",
    ),
    (
        {"dollars": "12345678901.00"},
        "dollars '12345678901.00' is not at most 9999999999.99",
        "12345678901.00",
    ),
]


@pytest.mark.parametrize(("values", "reason", "shown"), RECORD_CASES, ids=[c[1][:30] for c in RECORD_CASES])
def test_reason_and_raw_line_show_a_value_alike(
    tmp_path: Path, values: dict[str, str], reason: str, shown: str
) -> None:
    miles = 190 + int(values.get("miles", "190"))  # exact, for a 30-digit value
    dollars = Decimal("20.00") + Decimal(values.get("dollars", "20.00"))
    t1, t2 = f"T1%%2%%{miles}%%0%%0", f"T2%%2%%6%%{miles}%%{dollars}"
    path = write(tmp_path, P, standard_file(P, [d_line(P), d_line(P, **values)], t1=t1, t2=t2))
    parsed = parse_file(path, P, hash_key=KEY)
    (got,) = parsed.rejected.to_dicts()
    assert got["reason"] == reason
    name = next(iter(values))
    expected = d_line(P, **{name: shown, "collector_number": "************1234"})
    assert got["raw_line"] == expected
    assert CARD[:12] not in got["reason"] + got["raw_line"]


def test_a_valid_numeric_confirmation_number_is_not_masked(tmp_path: Path) -> None:
    line = d_line(P, confirmation_number="1234567890123456", store_id="X")
    parsed = parse_file(write(tmp_path, P, standard_file(P, [line])), P, hash_key=KEY)
    assert parsed.rejected["raw_line"].to_list() == [
        d_line(P, confirmation_number="1234567890123456", store_id="X", collector_number="************1234")
    ]


def test_csv_collector_column_masked_by_position_and_unmapped_columns_by_value(tmp_path: Path) -> None:
    values = {"store": "X", "cashier": "6012 3456 7890 9999", "miles": "1" * 20, "card": "12345"}
    parsed = parse(write_csv(tmp_path, [row(**values)]))
    (got,) = parsed.rejected.to_dicts()
    assert got["reason"] == "store_id 'X' is not 4 digits"
    assert got["raw_line"] == row(**values | {"cashier": "**** **** **** 9999", "card": "*2345"})
    assert ROW["card"] not in str(parsed.rejected.to_dicts())


def test_a_run_shows_no_full_number_on_stderr_or_in_the_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's case end to end: a 16-digit T1 count, through ``recon run``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECON_HASH_KEY", "test-key")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write(inbox, Q, standard_file(Q))
    write(inbox, P, standard_file(P, t1=f"T1%%{CARD}%%190%%0%%0"))
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    config = str(Path(__file__).parents[2] / "golden" / "engine-only.yaml")
    args = ["--date", "2026-11-20", "--inbox", str(inbox), "--warehouse", url, "--config", config]
    assert main(["run", *args]) == 3
    err = capsys.readouterr().err
    assert "T1 redeem_count ************1234 differs from 1 counted in the D records" in err
    with engine_for(url).connect() as conn:
        error = conn.execute(sa.select(recon_run.c.error)).scalar_one()
    assert error.endswith("line 4: T1 redeem_count ************1234 differs from 1 counted in the D records")
    assert CARD[:12] not in err + error
