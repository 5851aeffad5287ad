"""The HTML reports in a real headless Chromium: they render, log nothing, and load nothing.

Reports carry a Content-Security-Policy that forbids every fetch, and no
script at all, so any console line means something is wrong (a blocked
resource, a script). A canary page proves the harness does see console
messages. Screenshots are kept under test-artifacts/ for people to look at.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciliation.config import Settings
from reconciliation.reports import write_run_reports
from reconciliation.reports.night import write_range
from reconciliation.warehouse.db import dispose_all, engine_for
from tests.unit.reports.seed import FIRST_DAY, LAST_DAY, seed
from tests.unit.reports.truth import current_run

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.browser  # tests/conftest.py skips (fails under CI) without chromium


def render(page: Path, png: Path, profile: Path, height: int = 3000) -> list[str]:
    """Screenshot a page in headless Chromium; returns the console lines it logged."""
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
           f"--window-size=1400,{height}", f"--screenshot={png}", page.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    assert png.exists() and png.stat().st_size > 10_000, done.stderr[-2000:]
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A seeded DuckDB warehouse and its run, night and range reports."""
    root = tmp_path_factory.mktemp("browser")
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    seed(url)
    engine = engine_for(url)
    run_id = current_run(url, "ABCD", LAST_DAY)["run_id"]
    run = write_run_reports(engine, run_id, Settings(), root / "reports")
    trend = write_range(engine, FIRST_DAY, LAST_DAY, root / "reports")
    yield {"run": run["html"], "night": run["night"], "range": trend["html"]}
    dispose_all()


@pytest.mark.parametrize(("kind", "height"), [("run", 4200), ("night", 1200), ("range", 2200)])
def test_report_renders_in_chromium_without_console_messages(pages: dict[str, Path], kind: str, height: int,
                                                             tmp_path: Path) -> None:
    png = ARTIFACTS / f"report-{kind}.png"
    console = render(pages[kind], png, tmp_path / "profile", height)
    assert console == []
    shutil.copy(pages[kind], ARTIFACTS / f"report-{kind}.html")


def test_the_harness_sees_console_errors(tmp_path: Path) -> None:
    page = tmp_path / "canary.html"
    page.write_text('<!doctype html><html><body style="height:2000px;background:#eee">'
                    + "<p>canary</p>" * 200 + '<script>console.error("canary-error")</script></body></html>')
    console = render(page, tmp_path / "canary.png", tmp_path / "profile", 800)
    assert any("canary-error" in line for line in console)
