"""GX is imported in the background while a run parses, and one gate serves a run's files."""

from __future__ import annotations

import subprocess
import sys

PRELOAD = """
import sys, time
from reconciliation.quality.context import preload
assert 'great_expectations' not in sys.modules
thread = preload()
assert thread.daemon and thread.is_alive()        # returns at once: the caller goes on parsing
from tests.unit.quality.builders import parsed_file
from reconciliation.config import Settings
from reconciliation.quality.gate import QualityGate
from reconciliation.records import PARTNER, PLATFORM
files = [parsed_file(PLATFORM), parsed_file(PARTNER)]   # work done while GX imports
thread.join()
assert 'great_expectations.expectations' in sys.modules
preload().join()                                   # a second call is harmless
with QualityGate() as gate:
    reports = [gate.validate(f, Settings()) for f in files]
assert [r.error for r in reports] == [None, None], reports
print('ok')
"""


def test_preload_imports_gx_in_the_background_and_a_gate_then_validates() -> None:
    done = subprocess.run([sys.executable, "-c", PRELOAD], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")
    assert "importing Great Expectations in the background failed" not in done.stderr
