"""The ``recon`` commands of the operations playbook, run as printed there (no services needed).

``recon db upgrade``/``recon db status`` are run by ``tests/integration/test_migrations.py`` and
``recon run ... --cascade`` by ``tests/integration/test_runs.py``; the playbook's ``airflow``
commands by the stack tests (``tests/stack/test_night.py``). This runs the rest.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

from reconciliation.keys import load_key

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "docs" / "operations.md"
RECON = Path(sys.executable).parent / "recon"


def playbook_recon_commands() -> list[str]:
    """Every ``recon ...`` the playbook shows in inline code, the ``.venv/bin/`` prefix dropped."""
    text = " ".join(PLAYBOOK.read_text().split())  # inline code may wrap across lines
    return [re.sub(r"^\.venv/bin/", "", c) for c in re.findall(r"`((?:\.venv/bin/)?recon [^`]+)`", text)]


def test_the_playbook_shows_only_recon_commands_that_tests_run() -> None:
    verbs = {tuple(c.split()[1:3]) if c.split()[1] in ("db", "key") else (c.split()[1],)
             for c in playbook_recon_commands()}
    assert verbs == {("run",), ("key", "generate"), ("db", "upgrade"), ("db", "status")}


def test_recon_key_generate_as_printed_makes_the_key_to_paste_into_the_environment(tmp_path: Path) -> None:
    [command] = [c for c in playbook_recon_commands() if c.startswith("recon key generate")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
    done = subprocess.run([str(RECON), *shlex.split(command)[1:]], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    path = tmp_path / "var" / "secrets" / "collector-hash.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "wrote a new collector hash key to var/secrets/collector-hash.key" in done.stdout
    pasted = path.read_text().strip()  # "paste the file's content as RECON_HASH_KEY"
    assert re.fullmatch(r"[0-9a-f]{64}", pasted)
    from_file = load_key(environ={"RECON_HASH_KEY_FILE": str(path)})
    assert load_key(environ={"RECON_HASH_KEY": pasted}) == from_file
