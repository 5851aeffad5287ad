"""The configuration's defaults and fixed names, apart from the models that validate a file.

``reconciliation.config`` builds the default ``Settings`` from these alone, so
a command run without a configuration file (``recon breaks list``, ``recon
report``) never imports pydantic or builds the file's models, a quarter of a
second of its start-up. ``reconciliation.config_schema`` validates a file
against the same values.
"""

from __future__ import annotations

from typing import Any

from reconciliation.keys import KEY_ENV

DEFAULT_WAREHOUSE = "duckdb:///var/warehouse.duckdb"
DEFAULT_STATE_DIR = "var"
HASH_KEY_ENV = KEY_ENV

#: Canonical field names a CSV profile may map columns to.
PROFILE_FIELDS = (
    "txn_type",
    "confirmation_number",
    "original_confirmation_number",
    "partner_datetime",
    "store_id",
    "device_id",
    "trace_id",
    "pos_transaction_id",
    "collector_number",
    "units",
    "miles",
    "dollars",
    "response_code",
)

STANDARD_PROFILE = "standard"
#: Columns every CSV profile must map.
REQUIRED_COLUMNS = frozenset({"txn_type", "partner_datetime", "store_id", "device_id", "trace_id",
                              "collector_number", "units", "miles", "dollars"})

#: The shipped CSV profile: a POS vendor that writes CSV with a header row,
#: amounts in cents and Toronto local time without offset. Available without
#: any configuration; a configuration file may add more or override it.
CSV_CENTS_PROFILE: dict[str, Any] = {
    "format": "csv",
    "file_pattern": "POSLOG_{sponsor}_{date}_{seq}.csv",
    "delimiter": ",",
    "header": True,
    "columns": {
        "txn_type": "type",
        "confirmation_number": "confirmation",
        "original_confirmation_number": "original_confirmation",
        "partner_datetime": "local_time",
        "store_id": "store",
        "device_id": "lane",
        "trace_id": "trace",
        "pos_transaction_id": "receipt",
        "collector_number": "card",
        "units": "units",
        "miles": "miles",
        "dollars": "amount_cents",
        "response_code": "response",
    },
    "amount_unit": "cents",
    "timezone": "America/Toronto",
    "datetime_format": "%Y-%m-%d %H:%M:%S",
    "txn_types": {"SALE": "REDEEM", "VOID": "REVERSE"},
}
