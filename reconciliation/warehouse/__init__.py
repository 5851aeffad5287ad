"""The SQL warehouse: table definitions, connections and bulk I/O.

Any SQLAlchemy URL works; DuckDB is the embedded default and PostgreSQL the
production target. Tables are created with explicit DDL so that money is
NUMERIC on every backend.
"""
