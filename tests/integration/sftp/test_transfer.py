"""SFTP transfers against a real OpenSSH server (issue 3): trust, completeness, no double processing.

Each test drops files into the server's inbox as a partner would, then
fetches them the way the DAG and ``recon run`` do.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciliation.errors import ReconError, SourceError
from reconciliation.transfer import (
    HostKeyError,
    connect,
    fetch_day,
    fetch_sponsor_day,
    ledger_for,
    upload_file,
)
from tests.integration.conftest_sshd import Sshd, generate_key
from tests.integration.sftp.conftest import NO_GATE, START

pytestmark = [
    pytest.mark.sftp,
    # paramiko's read-ahead thread reports the cut connection on its own; the transfer handles it.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning"),
]

DAY2 = START + timedelta(days=1)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def deliver(night: Path, server: Sshd, sponsor: str, day: Any = START,
            sides: tuple[str, ...] = ("POS", "RECON")) -> list[Path]:
    """Copy a sponsor-day's generated files into the server's inbox."""
    stamp = day.strftime("%Y%m%d")
    names = [p for p in night.iterdir() if f"_{sponsor}_{stamp}_" in p.name and (
        ("RECON" in sides and p.name.startswith("AMCASH_RECON_"))
        or ("POS" in sides and not p.name.startswith("AMCASH_RECON_")))]
    for path in names:
        shutil.copy(path, server.inbox / path.name)
    return sorted(names)


def connector(server: Sshd, **overrides: Any) -> Any:
    endpoint = server.endpoint(**overrides)
    return lambda: connect(endpoint)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".part-" in p.name) if folder.exists() else []


def test_fetch_places_whole_files_with_hashes_and_archives_them(sftp_server: Sshd, night: Path,
                                                                settings_for: Any, tmp_path: Path) -> None:
    settings = settings_for(sftp_server)
    sent = deliver(night, sftp_server, "WXYZ")
    inbox = tmp_path / "inbox"
    result = fetch_sponsor_day(connector(sftp_server), settings, "WXYZ", START, inbox,
                               remote_dir=str(sftp_server.inbox))
    assert result.missing == []
    assert sorted(f.name for f in result.files) == sorted(p.name for p in sent)
    for fetched in result.files:
        original = night / fetched.name
        assert fetched.sha256 == sha(original) == sha(Path(fetched.path))
        assert fetched.size == original.stat().st_size
        assert Path(fetched.archived) == settings.archive_dir / "WXYZ" / str(START) / fetched.name
        assert sha(Path(fetched.archived)) == fetched.sha256
    assert {f.side: f.profile for f in result.files} == {"PARTNER": "csv_cents", "PLATFORM": "standard"}
    assert leftovers(inbox) == []
    assert len(ledger_for(settings).deliveries()) == 2


def test_unknown_host_key_is_a_clear_failure(sftp_server: Sshd, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyError) as failure, connect(sftp_server.endpoint(known_hosts=str(empty))):
        pass
    message = str(failure.value)
    assert f"[127.0.0.1]:{sftp_server.port}" in message
    assert "unknown host key" in message
    assert _fingerprint(sftp_server.host_public_key) in message


def test_changed_host_key_is_a_clear_failure(sftp_server: Sshd, tmp_path: Path) -> None:
    other = generate_key(tmp_path / "impostor")
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sftp_server.port} {other}\n")
    with pytest.raises(HostKeyError) as failure, connect(sftp_server.endpoint(known_hosts=str(known))):
        pass
    message = str(failure.value)
    assert "127.0.0.1" in message and "changed" in message
    assert _fingerprint(sftp_server.host_public_key) in message and _fingerprint(other) in message


def test_missing_known_hosts_file_is_refused_not_trusted(sftp_server: Sshd, tmp_path: Path) -> None:
    with pytest.raises(HostKeyError, match="does not exist"), connect(
            sftp_server.endpoint(known_hosts=str(tmp_path / "nope"))):
        pass


def test_wrong_user_key_is_not_retried_as_transient(sftp_server: Sshd, tmp_path: Path) -> None:
    generate_key(tmp_path / "stranger")
    with pytest.raises(ReconError, match="refused") as failure, connect(
            sftp_server.endpoint(key_file=str(tmp_path / "stranger"))):
        pass
    assert not isinstance(failure.value, SourceError)


def test_missing_partner_file_is_missing_input(sftp_server: Sshd, night: Path, settings_for: Any,
                                               tmp_path: Path) -> None:
    from reconciliation.pipeline import run_day

    settings = settings_for(sftp_server)
    deliver(night, sftp_server, "ABCD", sides=("RECON",))
    inbox = tmp_path / "inbox"
    result = fetch_sponsor_day(connector(sftp_server), settings, "ABCD", START, inbox,
                               remote_dir=str(sftp_server.inbox))
    assert result.missing == ["PARTNER"]
    outcome = run_day(settings, "ABCD", START, inbox, triggered_by="test")
    assert outcome.status == "MISSING_INPUT"
    assert "partner file" in (outcome.error or "")


def test_dropped_connection_is_retried_and_leaves_nothing_half_done(sftp_server: Sshd, settings_for: Any,
                                                                    tmp_path: Path) -> None:
    settings = settings_for(sftp_server)
    big = sftp_server.inbox / "AMCASH_RECON_ABCD_20261120_001.txt"
    big.write_bytes(os.urandom(12 * 1024 * 1024))
    drops: list[int] = []

    def cut_once(name: str, received: int) -> None:
        if not drops:
            drops.append(sftp_server.kill_sessions())

    inbox = tmp_path / "inbox"
    result = fetch_sponsor_day(connector(sftp_server), settings, "ABCD", START, inbox,
                               remote_dir=str(sftp_server.inbox), backoff=0.1, progress=cut_once)
    assert drops and drops[0] > 0, "the connection was not cut"
    [fetched] = result.files
    assert fetched.sha256 == sha(big) == sha(inbox / big.name)
    assert leftovers(inbox) == []
    assert [d.name for d in ledger_for(settings).deliveries()] == [big.name]


def test_connection_that_keeps_dropping_fails_transiently_with_no_trace(sftp_server: Sshd, settings_for: Any,
                                                                        tmp_path: Path) -> None:
    settings = settings_for(sftp_server)
    (sftp_server.inbox / "AMCASH_RECON_ABCD_20261120_001.txt").write_bytes(os.urandom(12 * 1024 * 1024))
    inbox = tmp_path / "inbox"
    with pytest.raises(SourceError, match="download"):
        fetch_sponsor_day(connector(sftp_server), settings, "ABCD", START, inbox,
                          remote_dir=str(sftp_server.inbox), attempts=2, backoff=0.1,
                          progress=lambda name, received: sftp_server.kill_sessions())
    assert list(inbox.iterdir()) == []
    assert not settings.archive_dir.exists() or not any(settings.archive_dir.rglob("*.txt"))
    assert ledger_for(settings).deliveries() == []


def test_same_content_under_another_name_is_taken_once(sftp_server: Sshd, night: Path, settings_for: Any,
                                                       tmp_path: Path) -> None:
    settings = settings_for(sftp_server)
    deliver(night, sftp_server, "ABCD")
    inbox = tmp_path / "inbox"
    fetch = lambda day: fetch_sponsor_day(connector(sftp_server), settings, "ABCD", day, inbox,  # noqa: E731
                                          remote_dir=str(sftp_server.inbox))
    first = fetch(START)
    assert first.duplicates == [] and first.missing == []
    again = fetch(START)  # a re-run fetches the same names: not duplicates
    assert again.duplicates == [] and [f.sha256 for f in again.files] == [f.sha256 for f in first.files]

    original = sftp_server.inbox / "AMCASH_POS_ABCD_20261120_001.txt"
    shutil.copy(original, sftp_server.inbox / "AMCASH_POS_ABCD_20261120_002.txt")
    shutil.copy(original, sftp_server.inbox / "AMCASH_POS_ABCD_20261121_001.txt")
    resent = fetch(START)
    assert resent.duplicates == [{"name": "AMCASH_POS_ABCD_20261120_002.txt", "same_as": original.name}]
    assert {f.name for f in resent.files} == {original.name, "AMCASH_RECON_ABCD_20261120_001.txt"}
    assert not (inbox / "AMCASH_POS_ABCD_20261120_002.txt").exists()

    renamed = fetch(DAY2)  # yesterday's partner file renamed to today's
    assert renamed.duplicates == [{"name": "AMCASH_POS_ABCD_20261121_001.txt", "same_as": original.name}]
    assert renamed.missing == ["PARTNER", "PLATFORM"]
    accepted = [d for d in ledger_for(settings).deliveries() if d.duplicate_of is None]
    assert len(accepted) == 2


def test_names_with_path_tricks_are_refused(sftp_server: Sshd, night: Path, settings_for: Any,
                                            tmp_path: Path) -> None:
    settings = settings_for(sftp_server)
    deliver(night, sftp_server, "ABCD")
    box = sftp_server.inbox
    secret = tmp_path / "elsewhere" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("not for partners\n")
    os.symlink(secret, box / "AMCASH_RECON_ABCD_20261120_009.txt")
    (box / "AMCASH_POS_ABCD_20261120_009.txt").mkdir()
    tricks = ["AMCASH_RECON_ABCD_20261120_001.txt.bak", "amcash_pos_abcd_20261120_005.txt",
              "AMCASH_POS_ABCD_20261120_007.txt ", "AMCASH_POS_AB/CD_20261120_001.txt".replace("/", "\\"),
              "AMCASH_POS_ABCD_20261120_008.txt\n", "AMCASH_POS_ABCD_20261199_001.txt"]
    for name in tricks:
        (box / name).write_text("trick\n")
    inbox = tmp_path / "inbox"
    result = fetch_sponsor_day(connector(sftp_server), settings, "ABCD", START, inbox,
                               remote_dir=str(box))
    assert {f.name for f in result.files} == {"AMCASH_POS_ABCD_20261120_001.txt",
                                              "AMCASH_RECON_ABCD_20261120_001.txt"}
    assert set(result.refused) >= {"AMCASH_RECON_ABCD_20261120_009.txt", "AMCASH_POS_ABCD_20261120_009.txt",
                                   *tricks}
    assert sorted(p.name for p in inbox.iterdir()) == sorted(f.name for f in result.files)
    with connect(sftp_server.endpoint()) as session:
        for name in ("../secret.txt", "/etc/passwd", "..", ".hidden", "a\nb"):
            with pytest.raises(ReconError, match="refused"):
                session.download(str(box), name, inbox)
        with pytest.raises(ReconError, match="not a regular file"):
            session.download(str(box), "AMCASH_RECON_ABCD_20261120_009.txt", inbox)
    assert leftovers(inbox) == [] and not (tmp_path / "secret.txt").exists()


def test_upload_appears_only_whole_and_replaces_an_earlier_result(sftp_server: Sshd, tmp_path: Path) -> None:
    local = tmp_path / "AMCASH_RESULT_ABCD_20261120_001.txt"
    local.write_bytes(os.urandom(3 * 1024 * 1024))
    remote = upload_file(connector(sftp_server), local, str(sftp_server.outbox))
    assert remote == str(sftp_server.outbox / local.name)
    assert sha(sftp_server.outbox / local.name) == sha(local)
    local.write_text("second version\n")
    upload_file(connector(sftp_server), local, str(sftp_server.outbox))
    assert (sftp_server.outbox / local.name).read_text() == "second version\n"
    assert [p.name for p in sftp_server.outbox.iterdir()] == [local.name]


def test_recon_run_without_inbox_fetches_over_sftp(sftp_server: Sshd, night: Path, settings_for: Any,
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    from reconciliation.cli import main

    for sponsor in ("ABCD", "WXYZ"):
        deliver(night, sftp_server, sponsor)
    settings = settings_for(sftp_server)
    inbox = fetch_day(settings, START)
    assert len([p for p in inbox.iterdir() if not p.name.startswith(".")]) == 4
    config = tmp_path / "recon.yaml"
    config.write_text(yaml.safe_dump({"state_dir": str(tmp_path / "cli-state"), "sponsors": {
        "ABCD": {}, "WXYZ": {"partner_profile": "csv_cents"}}, "sftp": sftp_server.sftp_settings(),
        "validation": NO_GATE}))
    monkeypatch.chdir(tmp_path)
    status = main(["run", "--date", str(START), "--config", str(config),
                   "--warehouse", f"duckdb:///{tmp_path / 'cli.duckdb'}"])
    assert status == 0
    assert sorted(p.name for p in (tmp_path / "cli-state" / "archive").iterdir()) == ["ABCD", "WXYZ"]


def _fingerprint(public_line: str) -> str:
    import base64

    blob = base64.b64decode(public_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
