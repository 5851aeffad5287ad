"""The collector hash key: where it comes from, how it is checked, how one is made.

The key decides every collector hash in the warehouse, and the daily limit
joins collectors across sponsors by that hash: two runs with two keys produce
hashes that never meet, and the limit is silently not applied. So the key is
never made implicitly (a key invented per working directory or per Airflow
worker was exactly that failure). It comes from one of two explicit places:

* the environment variable ``RECON_HASH_KEY`` (its name may be changed with
  the setting ``hash_key: {env: NAME}``), its value being the key; or
* a key file, named by the setting ``hash_key: {file: PATH}`` or by the
  environment variable ``RECON_HASH_KEY_FILE``, made by ``recon key generate``.

Naming both is an error rather than a precedence rule, since two sources that
can differ are the problem this module exists to prevent. A key file must be
private to its owner (no group or other permission bits) and hold at least
:data:`MIN_FILE_KEY_CHARS` characters; anything else fails in one sentence
naming the file.

``generate_key_file`` writes the key to a private temporary file in the
target's directory, flushes it to disk, and then hard-links it to the final
name: ``link`` fails if the name exists, so of any number of concurrent calls
exactly one succeeds, the rest are told the file already exists, and no
reader can ever see an empty or half-written key.
"""

from __future__ import annotations

import os
import secrets
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from reconciliation.errors import ConfigError

KEY_ENV = "RECON_HASH_KEY"
KEY_FILE_ENV = "RECON_HASH_KEY_FILE"
#: Where the documentation suggests a generated key goes (git-ignored ``var/``).
SUGGESTED_PATH = "var/secrets/collector-hash.key"
#: Characters a key file must hold at least; a generated key has 64 (32 random bytes, hex).
MIN_FILE_KEY_CHARS = 32
GENERATED_KEY_BYTES = 32


def how_to_configure(env_name: str = KEY_ENV) -> str:
    """The instruction every "no key" message ends with."""
    return (f"run 'recon key generate --out {SUGGESTED_PATH}' once and set {KEY_FILE_ENV} to that path "
            f"(or 'hash_key: {{file: ...}}' in the configuration), or set {env_name} to the key itself")


def key_file_from(setting: Path | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The key file in use: the configured one, else ``$RECON_HASH_KEY_FILE``, else None."""
    environ = os.environ if environ is None else environ
    if setting is not None:
        return setting
    named = environ.get(KEY_FILE_ENV, "").strip()
    return Path(named).expanduser() if named else None


def load_key(env_name: str = KEY_ENV, key_file: Path | None = None,
             environ: Mapping[str, str] | None = None) -> bytes:
    """The collector hash key from exactly one explicit source.

    Args:
        env_name: Environment variable holding the key itself.
        key_file: The configured key file, if any (``$RECON_HASH_KEY_FILE`` is used when None).
        environ: The environment to read (default ``os.environ``).

    Raises:
        ConfigError: no source, two sources, or a key file that is missing,
            unreadable, not private or too short; one sentence saying what to do.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(env_name, "")
    path = key_file_from(key_file, environ)
    if value and path is not None:
        raise ConfigError(f"the collector hash key is given twice, by ${env_name} and by key file {path}; "
                          f"keep only one so that every run uses the same key")
    if value:
        return value.encode()  # as given: a key that changed by a space would change every hash
    if path is not None:
        return read_key_file(path)
    raise ConfigError(f"no collector hash key is configured: {how_to_configure(env_name)}")


def read_key_file(path: Path) -> bytes:
    """Read and check a key file: a private regular file holding a long enough key.

    Raises:
        ConfigError: naming the file and what is wrong with it.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"collector hash key file {path} does not exist; create it with "
                          f"'recon key generate --out {path}'") from None
    except OSError as exc:
        raise ConfigError(f"collector hash key file {path} cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"collector hash key file {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigError(f"collector hash key file {path} is readable by others (mode {mode:04o}); "
                          f"make it private with 'chmod 600 {path}'")
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"collector hash key file {path} cannot be read ({exc.strerror})") from None
    if not key:
        raise ConfigError(f"collector hash key file {path} is empty; remove it and run "
                          f"'recon key generate --out {path}', or restore the key it held")
    if len(key) < MIN_FILE_KEY_CHARS:
        raise ConfigError(f"collector hash key file {path} holds {len(key)} characters, fewer than the "
                          f"{MIN_FILE_KEY_CHARS} a key needs; use a key made by 'recon key generate'")
    return key


def generate_key_file(path: Path) -> Path:
    """Create a new random key at ``path``, atomically, private (0600); never overwrite.

    The key is written and fsynced under a temporary name in the same
    directory, then hard-linked to ``path``. ``link`` refuses an existing
    name, so concurrent calls cannot both succeed and no one ever reads a
    partial key.

    Raises:
        ConfigError: ``path`` already exists, or its directory cannot be written.
    """
    path = Path(path)
    if os.path.lexists(path):
        raise _exists(path)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError(f"cannot create collector hash key file {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(secrets.token_hex(GENERATED_KEY_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            raise _exists(path) from None
        except OSError as exc:
            raise ConfigError(f"cannot create collector hash key file {path}: {exc.strerror}") from None
    finally:
        os.unlink(temp)
    _sync_directory(folder)
    return path


def _exists(path: Path) -> ConfigError:
    return ConfigError(f"collector hash key file {path} already exists; it is never overwritten, "
                       f"because hashes made with it could no longer be joined with new ones")


def _sync_directory(folder: Path) -> None:
    """Make the new directory entry durable (best effort: not every filesystem allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
