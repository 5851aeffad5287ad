"""A day's records load from the parse's Parquet file exactly as from memory, on both warehouses.

``bulk.insert_rows`` takes the records where the parse left them (DuckDB
reads the Parquet file itself; PostgreSQL gets it in ``COPY`` slices) and
joins them by position with the columns the run decided. The rows in the
warehouse must be the rows an in-memory insert writes, in the same order,
and a decided column of the wrong length must refuse to load anything.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from reconciliation.warehouse import bulk
from reconciliation.warehouse.bulk import Rows, insert_rows
from reconciliation.warehouse.db import engine_for, ensure_schema, read_frame, write_transaction
from reconciliation.warehouse.schema import recon_record
from tests.unit.matching.builders import P, frame


def records(n: int) -> pl.DataFrame:
    return frame(*(P(line, "REDEEM", f"C{line}", units=line % 7 + 1, store=f"{line % 10:04d}")
                   for line in range(3, n + 3)))


def loaded(url: str, run_id: int) -> pl.DataFrame:
    with engine_for(url).connect() as conn:
        return read_frame(conn, sa.select(recon_record).where(recon_record.c.run_id == run_id)
                          .order_by(recon_record.c.line_number))


def test_records_load_from_parquet_as_from_memory(warehouse_url: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "SLICE", 7)  # several slices where the file is read in slices
    monkeypatch.setattr(bulk, "DUCKDB_SLICE", 11)  # and where DuckDB joins it by row number
    ensure_schema(engine_for(warehouse_url))
    day = records(40)
    day.write_parquet(tmp_path / "partner.parquet", row_group_size=9)
    decided = pl.DataFrame({"disposition": ["MATCHED", "BREAK", "DUPLICATE", "DECLINED"] * 10})
    with write_transaction(engine_for(warehouse_url)) as conn:
        assert insert_rows(conn, recon_record, Rows(day, decided, {"run_id": 1})) == 40
        assert insert_rows(conn, recon_record, Rows(tmp_path / "partner.parquet", decided,
                                                    {"run_id": 2})) == 40
    from_memory, from_parquet = loaded(warehouse_url, 1), loaded(warehouse_url, 2)
    assert from_parquet["line_number"].to_list() == list(range(3, 43))
    assert from_parquet["disposition"].to_list() == decided["disposition"].to_list()
    assert_frame_equal(from_parquet.drop("run_id"), from_memory.drop("run_id"))


def test_a_decided_column_of_another_length_loads_nothing(warehouse_url: str, tmp_path: Path) -> None:
    ensure_schema(engine_for(warehouse_url))
    records(5).write_parquet(tmp_path / "partner.parquet")
    with pytest.raises(ValueError, match="holds 5 records, not 4"), \
            write_transaction(engine_for(warehouse_url)) as conn:
        insert_rows(conn, recon_record, Rows(tmp_path / "partner.parquet",
                                             pl.DataFrame({"disposition": ["MATCHED"] * 4}), {"run_id": 3}))
    assert loaded(warehouse_url, 3).height == 0
