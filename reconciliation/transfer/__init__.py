"""Fetch a sponsor-day's input files over SFTP, and upload the partner's result file.

The reconciliation itself only ever reads a local directory (``run_day``'s
inbox); this package is what fills it from the partners' SFTP servers, for
both the nightly DAG and ``recon run`` without ``--inbox``. What it promises:

- only names that are exactly an expected input file name are downloaded
  (``reconciliation.inbox.remote_name_ok``); anything else is refused and
  reported, so a crafted name can never write outside the inbox;
- a file appears in the inbox only whole: downloaded under a temporary name,
  size-checked, then renamed; a dropped connection is retried on a new
  connection with exponential backoff and leaves no partial file;
- every accepted file is archived for audit with its size and SHA-256, and
  content already accepted under another name is a duplicate, not used again
  (``ledger``);
- for each side the highest sequence is taken (a resubmission supersedes),
  skipping duplicates; local files of that sponsor-day that are no longer the
  chosen ones are removed, so the inbox mirrors what the server holds now.

Errors: ``SourceError`` is transient (retry later), ``HostKeyError`` and
``AuthError`` are not (someone must act), and a missing file is not an error
here: the result says which sides are missing and ``run_day`` records
``MISSING_INPUT``.
"""

from reconciliation.transfer.fetch import (
    FetchedFile,
    FetchResult,
    fetch_day,
    fetch_sponsor_day,
    inbox_for,
    ledger_for,
)
from reconciliation.transfer.ledger import Ledger
from reconciliation.transfer.listing import Candidate, missing_sides, remote_inputs
from reconciliation.transfer.retry import retrying, upload_file
from reconciliation.transfer.session import (
    AuthError,
    Endpoint,
    HostKeyError,
    Session,
    connect,
    endpoint_from_source,
    fingerprint,
)

__all__ = [
    "AuthError", "Candidate", "Endpoint", "FetchResult", "FetchedFile", "HostKeyError", "Ledger", "Session",
    "connect", "endpoint_from_source", "fetch_day", "fetch_sponsor_day", "fingerprint", "inbox_for",
    "ledger_for", "missing_sides", "remote_inputs", "retrying", "upload_file",
]
