"""Input file parsers: the standard ``%%`` layout and configured CSV profiles.

``parse_file`` (``files``) is the one entry point: it checks a file as a
whole (spec §2.2: a file-level problem raises ``FileRejected`` and none of
its records is used), validates every detail record, and returns a
``ParsedFile`` (``result``) with the valid records normalized to
``records.RECORD_SCHEMA``, in memory or spilled to Parquet, beside the
rejected ones. The layouts live in ``standard`` and ``csv_profile``, the
field rules in ``fields`` and ``datetimes``, bounded reading in
``reading``, the record sink in ``sink``. Full collector numbers never
leave this package.
"""

from reconciliation.parsing.files import parse_file
from reconciliation.parsing.reading import open_input
from reconciliation.parsing.result import ParsedFile

__all__ = ["ParsedFile", "open_input", "parse_file"]
