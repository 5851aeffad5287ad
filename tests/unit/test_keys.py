"""The collector hash key: explicit, checked, and generated atomically by ``recon key generate`` only."""

from __future__ import annotations

import stat
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from reconciliation.cli import main
from reconciliation.config import load_settings
from reconciliation.errors import ConfigError
from reconciliation.keys import MIN_FILE_KEY_CHARS, generate_key_file, load_key, read_key_file

CALLS = 64


@pytest.fixture(autouse=True)
def _no_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECON_HASH_KEY", raising=False)
    monkeypatch.delenv("RECON_HASH_KEY_FILE", raising=False)


def _generate(path: str) -> str:
    """One generate call; its outcome as text (a process pool needs a top-level function)."""
    try:
        generate_key_file(Path(path))
    except ConfigError as exc:
        return str(exc)
    return "created"


def _assert_one_complete_private_key(path: Path, outcomes: list[str]) -> None:
    assert outcomes.count("created") == 1
    refused = [o for o in outcomes if o != "created"]
    assert len(refused) == CALLS - 1
    assert set(refused) == {refused[0]}
    assert refused[0].startswith(f"collector hash key file {path} already exists")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text()
    assert len(key) == 65 and key.endswith("\n") and int(key, 16) >= 0
    assert read_key_file(path) == key.strip().encode()
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary file left behind


def test_concurrent_generate_calls_in_threads_make_exactly_one_complete_key(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "collector-hash.key"
    start = threading.Barrier(CALLS)

    def call() -> str:
        start.wait()
        return _generate(str(path))

    with ThreadPoolExecutor(CALLS) as pool:
        outcomes = list(pool.map(lambda _: call(), range(CALLS)))
    _assert_one_complete_private_key(path, outcomes)


def test_concurrent_generate_calls_in_processes_make_exactly_one_complete_key(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "collector-hash.key"
    with ProcessPoolExecutor(8, mp_context=get_context("fork")) as pool:
        outcomes = list(pool.map(_generate, [str(path)] * CALLS))
    _assert_one_complete_private_key(path, outcomes)


def test_recon_key_generate_writes_once_then_refuses_in_one_sentence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_LOG", str(tmp_path / "recon.log"))
    path = tmp_path / "collector-hash.key"
    assert main(["key", "generate", "--out", str(path)]) == 0
    first = capsys.readouterr()
    assert f"RECON_HASH_KEY_FILE={path.resolve()}" in first.out and first.err == ""
    key = path.read_bytes()
    assert main(["key", "generate", "--out", str(path)]) == 1
    second = capsys.readouterr()
    assert second.err.count("\n") == 1
    assert second.err.startswith(f"recon: collector hash key file {path} already exists")
    assert path.read_bytes() == key


def test_an_empty_key_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "collector-hash.key"
    path.write_text("")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=f"collector hash key file {path} is empty"):
        load_key(key_file=path)


def test_a_short_key_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "collector-hash.key"
    path.write_text("x" * (MIN_FILE_KEY_CHARS - 1) + "\n")
    path.chmod(0o600)
    short = MIN_FILE_KEY_CHARS - 1
    with pytest.raises(ConfigError, match=f"collector hash key file {path} holds {short} characters"):
        load_key(key_file=path)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = generate_key_file(tmp_path / "collector-hash.key")
    path.chmod(mode)
    with pytest.raises(ConfigError) as exc:
        load_key(key_file=path)
    assert str(exc.value) == (f"collector hash key file {path} is readable by others (mode {mode:04o}); "
                              f"make it private with 'chmod 600 {path}'")


def test_a_missing_key_file_is_named_with_the_command_that_makes_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.key"
    with pytest.raises(ConfigError, match=f"collector hash key file {path} does not exist; create it with "
                                          f"'recon key generate --out {path}'"):
        load_key(key_file=path)


def test_without_a_key_the_sentence_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_key()
    message = str(exc.value)
    assert message.startswith("no collector hash key is configured: run 'recon key generate --out ")
    assert "RECON_HASH_KEY_FILE" in message and "RECON_HASH_KEY " in message


def test_the_key_comes_from_the_configured_file_or_the_environment(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = generate_key_file(tmp_path / "secrets" / "collector-hash.key")
    config = tmp_path / "recon.yaml"
    config.write_text("hash_key: {file: secrets/collector-hash.key}\n")
    key = path.read_text().strip().encode()
    assert load_settings(config).hash_key() == key
    monkeypatch.setenv("RECON_HASH_KEY_FILE", str(path))
    assert load_settings(None).hash_key() == key
    monkeypatch.setenv("RECON_HASH_KEY", "another-key")
    with pytest.raises(ConfigError, match="given twice"):
        load_settings(None).hash_key()
    monkeypatch.delenv("RECON_HASH_KEY_FILE")
    assert load_settings(None).hash_key() == b"another-key"
