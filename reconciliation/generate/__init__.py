"""Synthetic AM Cash input files with injected breaks and their ground truth.

Used by the tests, the demo and the benchmark: ``generate()`` writes, for any
number of sponsors and days, a platform and a partner file per sponsor and
day (standard ``%%`` layout, or a CSV profile on the partner side), and
``ground_truth.csv`` listing exactly the breaks a correct engine must find.
"""

from __future__ import annotations

from reconciliation.generate.core import (
    REJECTED_FILE,
    TRUTH_FILE,
    GenerationResult,
    case_count,
    generate,
    sponsor_codes,
)
from reconciliation.generate.scenarios import CASES
from reconciliation.generate.truth import REJECTED_TRUTH_SCHEMA, TRUTH_SCHEMA, read_truth

__all__ = [
    "CASES",
    "REJECTED_FILE",
    "REJECTED_TRUTH_SCHEMA",
    "TRUTH_FILE",
    "TRUTH_SCHEMA",
    "GenerationResult",
    "case_count",
    "generate",
    "read_truth",
    "sponsor_codes",
]
