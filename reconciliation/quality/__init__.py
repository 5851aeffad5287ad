"""The data-quality gate between parsing and matching (Great Expectations).

Each side's normalized records are validated against an expectation suite
defined in code (:mod:`.suites`), every expectation on every record, in SQL
by GX's SqlAlchemy engine on an in-process DuckDB view of the records
(:mod:`.sql_source`, :class:`.gate.QualityGate`). Critical failures reject
the file before any record reaches matching; warnings are stored next to
the run. Results go to the ``recon_validation`` table (:mod:`.table`) and to
GX Data Docs (:mod:`.docs`).

Great Expectations takes seconds to import, so no module of this package
imports it at module level: the DAG can import ``reconciliation`` at parse
time without paying for it, and a run can start the import in the
background while it parses (:func:`.context.preload`).
"""
