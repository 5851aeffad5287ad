"""``recon generate``: files per the contract, exact ground truth, determinism, speed."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from reconciliation.cli import main
from reconciliation.errors import ConfigError
from reconciliation.generate import CASES, GenerationResult, generate, read_truth, sponsor_codes

from .oracle import Oracle
from .reader import EST, read_any, read_csv_cents, read_standard

START = date(2026, 11, 20)
DAYS = [START + timedelta(days=i) for i in range(3)]
SPONSORS = ["ABCD", "EFGH", "IJKL"]
RECORDS = 1000


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> GenerationResult:
    out = tmp_path_factory.mktemp("night")
    return generate(out, sponsors=SPONSORS, start=START, days=3, records=RECORDS,
                    break_rate=0.02, seed=7, csv_sponsors={"IJKL"})


def test_file_names(night: GenerationResult) -> None:
    names = {p.name for p in night.out.iterdir()}
    expected = {"ground_truth.csv", "rejected.csv"}
    for day in DAYS:
        stamp = day.strftime("%Y%m%d")
        for code in SPONSORS:
            expected.add(f"AMCASH_RECON_{code}_{stamp}_001.txt")
        expected |= {f"AMCASH_POS_ABCD_{stamp}_001.txt", f"AMCASH_POS_EFGH_{stamp}_001.txt",
                     f"POSLOG_IJKL_{stamp}_001.csv"}
    assert names == expected
    assert {p.name for p in night.paths} == expected - {"ground_truth.csv", "rejected.csv"}


def test_headers_and_trailers_recomputed(night: GenerationResult) -> None:
    for path in night.paths:
        if path.suffix == ".csv":
            continue
        lines, _ = read_standard(path)
        _, kind, code, stamp, seq = path.stem.split("_")
        h1, h2 = lines[0].split("%%"), lines[1].split("%%")
        assert h1[0] == "H1" and h1[1] == ("RECON" if kind == "RECON" else "POS") and h1[5] == seq
        assert h2[:3] == ["H2", code, stamp]
        details = [line.split("%%") for line in lines[2:-2]]
        assert all(d[0] == "D" for d in details)
        miles = {"REDEEM": 0, "REVERSE": 0}
        cents = {"REDEEM": 0, "REVERSE": 0}
        count = {"REDEEM": 0, "REVERSE": 0}
        m_at, d_at = (12, 13) if kind == "RECON" else (11, 12)
        for d in details:
            if d[1] in count:
                count[d[1]] += 1
                miles[d[1]] += int(d[m_at])
                whole, frac = d[d_at].split(".")
                cents[d[1]] += int(whole) * 100 + int(frac)
        net = cents["REDEEM"] - cents["REVERSE"]
        assert lines[-2] == (f"T1%%{count['REDEEM']}%%{miles['REDEEM']}%%{count['REVERSE']}"
                             f"%%{miles['REVERSE']}")
        assert lines[-1] == (f"T2%%{len(details)}%%{len(lines)}%%"
                             f"{miles['REDEEM'] - miles['REVERSE']}%%{net // 100}.{net % 100:02d}")


def test_record_counts(night: GenerationResult) -> None:
    for row in night.files.iter_rows(named=True):
        records = read_any(Path(row["path"]))
        assert len(records) == row["records"]
        if row["side"] == "PLATFORM":
            assert row["records"] == RECORDS
        times = [r.ts for r in records if not r.reject]
        assert times == sorted(times), row["path"]


def test_every_case_is_injected(night: GenerationResult) -> None:
    assert set(night.cases) == {case.name for case in CASES}
    assert all(n > 0 for n in night.cases.values())
    assert set(night.truth["break_type"]) == {
        "MISSING_ON_PLATFORM", "MISSING_AT_PARTNER", "AMOUNT_MISMATCH", "TIMESTAMP_DRIFT",
        "DUPLICATE", "ORPHAN_REVERSAL", "LATE_REVERSAL", "DOUBLE_REVERSAL", "REVERSAL_MISMATCH",
        "CONVERSION_ERROR", "DAILY_LIMIT_EXCEEDED"}
    assert set(night.truth["expected_status"]) == {"OPEN", "PENDING", "RESOLVED"}
    assert set(night.rejected["reason_contains"]) == {
        "partner_datetime", "store_id", "txn_type", "original_confirmation_number"}
    assert read_truth(night.truth_path).equals(night.truth)


def test_truth_equals_a_reference_reconciliation(night: GenerationResult) -> None:
    records = [r for path in night.paths for r in read_any(path)]
    oracle = Oracle(records, DAYS)
    expected = sorted(tuple(row.values()) for row in night.truth.iter_rows(named=True))
    found = sorted(tuple(row.values()) for row in oracle.breaks.values())
    assert found == expected
    assert sorted(oracle.rejected) == sorted(night.rejected.iter_rows())


def test_truth_lines_point_at_their_records(night: GenerationResult) -> None:
    files = {(r["sponsor_code"], r["business_date"], r["side"]): Path(r["path"])
             for r in night.files.iter_rows(named=True)}
    by_line = {key: {r.line: r for r in read_any(path)} for key, path in files.items()}
    for row in night.truth.iter_rows(named=True):
        side = "PARTNER" if row["side"] == "PARTNER" else "PLATFORM"
        record = by_line[(row["sponsor_code"], row["business_date"], side)][row["line_number"]]
        assert record.txn == row["txn_type"]
        assert record.conf == (row["confirmation_number"] or "")


def test_csv_profile_layout(night: GenerationResult) -> None:
    path = night.out / "POSLOG_IJKL_20261121_001.csv"
    header, records = read_csv_cents(path)
    assert header == ["type,confirmation,original_confirmation,local_time,store,lane,trace,"
                      "receipt,card,units,miles,amount_cents,response"]
    rows = path.read_text().splitlines()[1:]
    assert {row.split(",")[0] for row in rows} == {"SALE", "VOID", "REFUND"}
    assert all(r.cents == r.units * 1000 for r in records)
    good = [r for r in records if not r.reject]
    day_start = int(datetime(2026, 11, 21, tzinfo=EST).timestamp())
    assert all(day_start <= r.pts < day_start + 86400 for r in good)
    local = rows[0].split(",")[3]
    assert datetime.strptime(local, "%Y-%m-%d %H:%M:%S").date() == date(2026, 11, 21)


def test_no_collector_crosses_the_limit_unless_injected(night: GenerationResult) -> None:
    platform = [r for p in night.paths if "RECON" in p.name for r in read_any(p)]
    redeems = {r.conf: r for r in platform if r.txn == "REDEEM"}
    totals: dict[tuple[str, date], int] = defaultdict(int)
    for r in platform:
        base = redeems.get(r.orig) if r.txn == "REVERSE" else r
        if base is None:
            continue
        limit_day = (datetime.fromtimestamp(base.ts, EST) - timedelta(hours=3)).date()
        totals[(r.collector, limit_day)] += r.cents if r.txn == "REDEEM" else -r.cents
    over = {key for key, cents in totals.items() if cents > 75_000}
    crossing = night.truth.filter(night.truth["break_type"] == "DAILY_LIMIT_EXCEEDED")
    injected = {(redeems[c].collector, d) for c, d in
                zip(crossing["confirmation_number"], crossing["business_date"], strict=True)}
    assert over == injected
    assert len(injected) == crossing.height > 0


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    def run(name: str, seed: int) -> dict[str, bytes]:
        result = generate(tmp_path / name, sponsors=["ABCD", "WXYZ"], start=START, days=2,
                          records=300, break_rate=0.01, seed=seed, csv_sponsors={"WXYZ"})
        return {p.name: p.read_bytes() for p in result.out.iterdir()}

    first, again, other = run("a", 1), run("b", 1), run("c", 2)
    assert first == again
    assert all(other[name] != first[name] for name in first if name != "rejected.csv")


def test_ten_thousand_records_are_quick(tmp_path: Path) -> None:
    began = time.perf_counter()
    result = generate(tmp_path, sponsors=["ABCD"], start=START, days=1, records=10_000,
                      break_rate=0.001, seed=3)
    assert time.perf_counter() - began < 5
    assert result.files["records"].to_list()[0] == 10_000


def test_without_rates_everything_matches(tmp_path: Path) -> None:
    result = generate(tmp_path, sponsors=["ABCD"], start=START, days=2, records=500,
                      break_rate=0, clean_rate=0, seed=3)
    assert result.truth.is_empty() and result.rejected.is_empty()
    empty = generate(tmp_path / "empty", sponsors=["ABCD"], start=START, days=1, records=0,
                     break_rate=0.5, seed=3)
    assert empty.files["records"].to_list() == [0, 0]
    assert (empty.out / "AMCASH_RECON_ABCD_20261120_001.txt").read_text().endswith(
        "T1%%0%%0%%0%%0\nT2%%0%%4%%0%%0.00\n")


def test_invalid_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sponsor code"):
        generate(tmp_path, sponsors=["abc"], start=START, days=1, records=1, break_rate=0, seed=1)
    with pytest.raises(ConfigError, match="CSV sponsor"):
        generate(tmp_path, sponsors=["ABCD"], start=START, days=1, records=1, break_rate=0,
                 seed=1, csv_sponsors={"EFGH"})
    assert sponsor_codes(8)[:3] == ["ABCD", "EFGH", "IJKL"] and sponsor_codes(8)[7] == "S008"


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["generate", "--out", str(tmp_path), "--sponsor-count", "2", "--days", "2",
                   "--records", "200", "--csv-sponsors", "EFGH", "--seed", "5"])
    assert status == 0
    printed = capsys.readouterr().out
    assert printed.startswith("Wrote 8 files") and "DAILY_LIMIT_EXCEEDED 8" in printed
    assert (tmp_path / "POSLOG_EFGH_20261121_001.csv").exists()
    with pytest.raises(SystemExit) as usage:
        main(["generate", "--out", str(tmp_path), "--break-rate", "2"])
    assert usage.value.code == 2
