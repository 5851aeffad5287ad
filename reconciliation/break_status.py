"""The words of the break workflow: statuses, filters and resolution codes.

Kept apart from ``reconciliation.breaks`` (which reads and writes the
warehouse) so that a command's parser can offer them as choices without
importing a database library.
"""

from __future__ import annotations

import re

STATUSES = ("PENDING", "OPEN", "RESOLVED")
#: Statuses of a break that still needs work.
UNRESOLVED = ("PENDING", "OPEN")
#: ``--status`` values: a status, UNRESOLVED (PENDING or OPEN) or ALL.
STATUS_FILTERS = (*STATUSES, "UNRESOLVED", "ALL")
DEFAULT_RESOLUTION = "RESOLVED_BY_USER"
#: Resolutions only runs may write: a person cannot claim a break matched later.
RUN_RESOLUTIONS = ("MATCHED_LATER",)
RESOLUTION_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")
RUN_ACTOR = re.compile(r"^run:", re.IGNORECASE)
