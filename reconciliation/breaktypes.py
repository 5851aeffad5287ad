"""The break types of spec §5, with their severities and the status each is raised with.

These are facts of the domain, not of storage: the matching rules, the
reports, the command line and the warehouse's summary columns all read them
from here.
"""

from __future__ import annotations

from typing import Final

MISSING_ON_PLATFORM: Final = "MISSING_ON_PLATFORM"
MISSING_AT_PARTNER: Final = "MISSING_AT_PARTNER"
AMOUNT_MISMATCH: Final = "AMOUNT_MISMATCH"
TIMESTAMP_DRIFT: Final = "TIMESTAMP_DRIFT"
DUPLICATE: Final = "DUPLICATE"
ORPHAN_REVERSAL: Final = "ORPHAN_REVERSAL"
LATE_REVERSAL: Final = "LATE_REVERSAL"
DOUBLE_REVERSAL: Final = "DOUBLE_REVERSAL"
REVERSAL_MISMATCH: Final = "REVERSAL_MISMATCH"
CONVERSION_ERROR: Final = "CONVERSION_ERROR"
DAILY_LIMIT_EXCEEDED: Final = "DAILY_LIMIT_EXCEEDED"

#: Every break type, in the order reports and the summary table list them.
BREAK_TYPES: Final = (
    MISSING_ON_PLATFORM,
    MISSING_AT_PARTNER,
    AMOUNT_MISMATCH,
    TIMESTAMP_DRIFT,
    DUPLICATE,
    ORPHAN_REVERSAL,
    LATE_REVERSAL,
    DOUBLE_REVERSAL,
    REVERSAL_MISMATCH,
    CONVERSION_ERROR,
    DAILY_LIMIT_EXCEEDED,
)

#: Severity of each break type (spec §5).
SEVERITY: Final = {
    MISSING_ON_PLATFORM: "HIGH",
    MISSING_AT_PARTNER: "HIGH",
    AMOUNT_MISMATCH: "HIGH",
    DOUBLE_REVERSAL: "HIGH",
    REVERSAL_MISMATCH: "HIGH",
    ORPHAN_REVERSAL: "MEDIUM",
    LATE_REVERSAL: "MEDIUM",
    DUPLICATE: "MEDIUM",
    CONVERSION_ERROR: "MEDIUM",
    DAILY_LIMIT_EXCEEDED: "MEDIUM",
    TIMESTAMP_DRIFT: "LOW",
}

#: Status a break is raised with (spec §5): an unmatched record may still be
#: in the other side's next file, so the two MISSING types wait as PENDING.
INITIAL_STATUS: Final = {t: ("PENDING" if t in (MISSING_ON_PLATFORM, MISSING_AT_PARTNER) else "OPEN")
                         for t in BREAK_TYPES}
