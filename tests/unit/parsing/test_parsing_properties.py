"""Property tests: any valid record survives write -> parse unchanged; parsers agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciliation.parsing import parse_file
from reconciliation.parsing.datetimes import parse_datetime_text, standard_datetimes
from reconciliation.privacy import collector_hash
from tests.unit.parsing.parsing_helpers import KEY, d_line, standard_file, write

AN16 = st.from_regex(r"\A[A-Za-z0-9]{1,16}\Z")
DIGITS = st.from_regex(r"\A[0-9]{1,19}\Z")
OFFSETS = st.sampled_from(["", "Z", "+00:00", "-05:00", "+0530", "-0330", "+14:00"])
INSTANTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))


@st.composite
def stamps(draw: st.DrawFn) -> tuple[str, datetime]:
    """A datetime text and the UTC instant it means."""
    local = draw(INSTANTS)
    digits = draw(st.integers(0, 6))
    fraction = f"{local.microsecond:06d}"[:digits]
    offset = draw(OFFSETS)
    text = local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if digits else "") + offset
    minutes = (
        -300
        if offset == ""
        else 0
        if offset == "Z"
        else ((1 if offset[0] == "+" else -1) * (int(offset[1:3]) * 60 + int(offset[-2:])))
    )
    micros = int(fraction.ljust(6, "0")) if digits else 0
    instant = local.replace(microsecond=micros) - timedelta(minutes=minutes)
    return text, instant.replace(tzinfo=UTC)


@st.composite
def records(draw: st.DrawFn, side: str) -> dict[str, object]:
    reverse = draw(st.booleans())
    platform_text, platform_at = draw(stamps())
    partner_text, partner_at = draw(stamps())
    cents = draw(st.integers(0, 10**12 - 1))
    collector = draw(st.one_of(DIGITS, st.from_regex(r"\A\*{1,15}[0-9]{4}\Z")))
    values = {
        "txn_type": "REVERSE" if reverse else "REDEEM",
        "confirmation_number": draw(AN16) if side == "PLATFORM" else draw(st.one_of(st.just(""), AN16)),
        "original_confirmation_number": draw(AN16) if reverse else "",
        "partner_datetime": partner_text,
        "store_id": draw(st.from_regex(r"\A[0-9]{4}\Z")),
        "device_id": draw(st.from_regex(r"\A[0-9]{3}\Z")),
        "trace_id": draw(st.from_regex(r"\A[0-9]{12}\Z")),
        "collector_number": collector,
        "units": str(draw(st.integers(0, 999))),
        "miles": str(draw(st.integers(0, 9999))),
        "dollars": f"{cents // 100}.{cents % 100:02d}",
    }
    if side == "PLATFORM":
        values |= {
            "platform_datetime": platform_text,
            "card_terminal_id": draw(st.one_of(st.just(""), AN16)),
            "response_code": draw(st.sampled_from(["0000", "0001"])),
            "origin": draw(st.sampled_from(["POS", "SYSTEM"])),
        }
    else:
        values |= {
            "pos_transaction_id": draw(st.one_of(st.just(""), st.from_regex(r"\A[A-Za-z0-9]{1,32}\Z"))),
            "response_code": draw(st.one_of(st.just(""), st.from_regex(r"\A[0-9]{4}\Z"))),
        }
    values["_ts"] = platform_at if side == "PLATFORM" else partner_at
    values["_partner_ts"] = partner_at
    return values


def expected_row(values: dict[str, object]) -> dict[str, object]:
    def text(name: str) -> object:
        value = values.get(name, "")
        return value or None

    collector = str(values["collector_number"])
    return {
        "txn_type": values["txn_type"],
        "confirmation_number": text("confirmation_number"),
        "original_confirmation_number": text("original_confirmation_number"),
        "ts": values["_ts"],
        "partner_ts": values["_partner_ts"],
        "store_id": values["store_id"],
        "device_id": values["device_id"],
        "card_terminal_id": text("card_terminal_id"),
        "trace_id": values["trace_id"],
        "pos_transaction_id": text("pos_transaction_id"),
        "collector_last4": collector[-4:],
        "collector_hash": collector_hash(pl.Series([collector]), KEY)[0],
        "units": int(str(values["units"])),
        "miles": int(str(values["miles"])),
        "dollars": Decimal(str(values["dollars"])),
        "response_code": text("response_code"),
        "origin": text("origin"),
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["PLATFORM", "PARTNER"]).flatmap(
        lambda side: st.tuples(st.just(side), st.lists(records(side), min_size=1, max_size=12))
    )
)
def test_valid_records_round_trip(case: tuple[str, list[dict[str, object]]]) -> None:
    side, rows = case
    lines = [d_line(side, **{k: str(v) for k, v in row.items() if not k.startswith("_")}) for row in rows]
    with TemporaryDirectory() as folder:
        parsed = parse_file(write(Path(folder), side, standard_file(side, lines)), side, hash_key=KEY)
    assert parsed.rejected.height == 0, parsed.rejected["reason"].to_list()
    got = parsed.records.drop("side", "sponsor_code", "business_date", "line_number").to_dicts()
    assert got == [expected_row(row) for row in rows]
    assert parsed.records["line_number"].to_list() == list(range(3, 3 + len(rows)))


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        stamps().map(lambda s: s[0]),
        st.text(max_size=40),
        st.from_regex(
            r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{0,8})?[Z+-]?[0-9:]{0,6}\Z"
        ),
    )
)
def test_vectorized_and_scalar_datetime_parsers_agree(text: str) -> None:
    vectorized = standard_datetimes(pl.Series("t", [text, "2026-11-20T10:00:00Z"]))[0]
    assert vectorized == parse_datetime_text(text)


def test_many_distinct_fractions_take_the_split_path() -> None:
    texts = [
        f"2026-11-20T10:{i % 60:02d}:{i % 59:02d}.{i:06d}{['Z', '-05:00', '+0130', ''][i % 4]}"
        for i in range(1500)
    ]
    texts += ["2026-11-20T10:00:00.1234567Z", "2026-11-20T10:00:00.12+25:00", None]  # type: ignore[list-item]
    got = standard_datetimes(pl.Series("t", texts)).to_list()
    assert got == [None if t is None else parse_datetime_text(t) for t in texts]
    assert got[-3:] == [None, None, None] and None not in got[:-3]
