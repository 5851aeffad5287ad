"""One verified SFTP session: connect, list, download and upload atomically.

Partners' files are money: a man in the middle must not be able to feed us a
forged file, and a dropped connection must never leave half a file where the
reconciliation would read it. So the server's host key is checked against a
configured known-hosts file (an unknown or changed key is an error naming the
host and the key's fingerprint, never a prompt), every name is validated
before it touches the local disk, and transfers go to a temporary name that is
renamed only once the whole file has arrived and its size checks out.

This module does not import Airflow: the DAG's plugin builds an ``Endpoint``
from an Airflow connection, the ``recon`` command builds one from the
configuration, and both get the same behaviour.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import secrets
import socket
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import paramiko

from reconciliation.config import SftpSource
from reconciliation.errors import ConfigError, ReconError, SourceError

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
#: Cap on paramiko's read-ahead (requests of 32 KiB each), so memory stays
#: bounded on large files and a drop is noticed promptly.
MAX_PREFETCH_REQUESTS = 64
PART_SUFFIX = ".part-"
_UNSAFE = ("/", "\\", "\0", "\n", "\r")


class HostKeyError(ReconError):
    """The server's host key is unknown or changed: a security stop, never retried."""


class AuthError(ReconError):
    """The server refused our credentials: retrying will not help until someone fixes them."""


@dataclass(frozen=True)
class Endpoint:
    """Where and how to log in over SFTP, with what host keys to trust.

    Attributes:
        host: Server name or address.
        port: TCP port.
        username: Login.
        password: Password, when the server uses password authentication.
        key_file: Path of a private key file.
        pkey: An already loaded ``paramiko.PKey`` (e.g. from an Airflow connection's ``private_key``).
        known_hosts: Path of an OpenSSH known_hosts file listing the server's key.
        host_keys: Extra trusted keys (``paramiko.PKey``) for this host, e.g. a connection's ``host_key``.
        timeout: Seconds for connecting, the banner and authentication.
    """

    host: str
    port: int = 22
    username: str = "amcash"
    password: str | None = field(default=None, repr=False)
    key_file: str | None = None
    pkey: Any = field(default=None, repr=False)
    known_hosts: str | None = None
    host_keys: tuple[Any, ...] = ()
    timeout: float = 30.0

    @property
    def where(self) -> str:
        """``user@host:port`` for messages."""
        return f"{self.username}@{self.host}:{self.port}"

    @property
    def lookup_name(self) -> str:
        """The name OpenSSH (and paramiko) use for this host in known_hosts."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


def endpoint_from_source(source: SftpSource) -> Endpoint:
    """An endpoint from the configuration's ``sftp`` section (the ``recon`` command's path).

    The password is read from the environment variable the configuration
    names, so no secret is ever written in the configuration file.
    """
    password = os.environ.get(source.password_env) if source.password_env else None
    if source.password_env and not password:
        raise ConfigError(f"environment variable {source.password_env} (the SFTP password) is not set")
    return Endpoint(host=source.host, port=source.port, username=source.username, password=password,
                    key_file=os.path.expanduser(source.key_file) if source.key_file else None,
                    known_hosts=os.path.expanduser(source.known_hosts) if source.known_hosts else None)


def fingerprint(key: Any) -> str:
    """The OpenSSH-style ``SHA256:...`` fingerprint of a public key, with its type."""
    return f"{key.get_name()} {key.fingerprint}"


class _RejectUnknown(paramiko.RejectPolicy):
    """RejectPolicy with a message an operator can act on (host, key type, fingerprint)."""

    def __init__(self, known_hosts: str | None) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> NoReturn:
        source = self.known_hosts or "the configured host keys"
        raise HostKeyError(
            f"SFTP host {hostname} presented an unknown host key ({fingerprint(key)}) that is not in "
            f"{source}: verify the fingerprint with the server's operator, then add the key there")


def _client(endpoint: Endpoint) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    if endpoint.known_hosts:
        path = Path(endpoint.known_hosts).expanduser()
        if not path.is_file() and not endpoint.host_keys:
            raise HostKeyError(f"known hosts file {path} for SFTP host {endpoint.host} does not exist: "
                               "host keys must be configured, they are never accepted blindly")
        if path.is_file():
            try:
                client.load_host_keys(str(path))
            except (OSError, paramiko.SSHException) as exc:
                raise ConfigError(f"known hosts file {path} cannot be read: {exc}") from None
    elif not endpoint.host_keys:
        raise HostKeyError(f"no known hosts configured for SFTP host {endpoint.host}: "
                           "host keys must be configured, they are never accepted blindly")
    for key in endpoint.host_keys:
        client.get_host_keys().add(endpoint.lookup_name, key.get_name(), key)
    client.set_missing_host_key_policy(_RejectUnknown(endpoint.known_hosts))
    return client


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, (OSError, EOFError, socket.timeout, paramiko.SSHException))


@contextmanager
def connect(endpoint: Endpoint) -> Iterator[Session]:
    """Open a verified SFTP session; it is closed on exit.

    Raises:
        HostKeyError: the host key is unknown or changed (not retryable).
        AuthError: the login was refused (not retryable).
        ConfigError: no credentials are configured.
        SourceError: the server could not be reached or dropped the connection (retryable).
    """
    if not (endpoint.password or endpoint.key_file or endpoint.pkey):
        raise ConfigError(f"no key or password configured for the SFTP login {endpoint.where}")
    client = _client(endpoint)
    try:
        client.connect(endpoint.host, port=endpoint.port, username=endpoint.username,
                       password=endpoint.password, pkey=endpoint.pkey, key_filename=endpoint.key_file,
                       timeout=endpoint.timeout, banner_timeout=endpoint.timeout,
                       auth_timeout=endpoint.timeout, look_for_keys=False, allow_agent=False)
        sftp = client.open_sftp()
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise HostKeyError(
            f"SFTP host {exc.hostname} presented host key {fingerprint(exc.key)} but "
            f"{endpoint.known_hosts or 'the configured host key'} expects {fingerprint(exc.expected_key)}: "
            "the key changed (a re-installed server or a man in the middle); confirm with the server's "
            "operator before replacing it") from None
    except paramiko.AuthenticationException as exc:
        client.close()
        raise AuthError(f"SFTP login {endpoint.where} was refused ({exc}): check the key or password "
                        "of the connection") from None
    except ReconError:
        client.close()
        raise
    except Exception as exc:
        client.close()
        if _transient(exc):
            raise SourceError(f"SFTP server {endpoint.host}:{endpoint.port} could not be reached: "
                              f"{type(exc).__name__}: {exc}") from exc
        raise
    session = Session(client, sftp, endpoint)
    try:
        yield session
    finally:
        session.close()


@dataclass(frozen=True)
class RemoteFile:
    """An entry of a remote directory, as listed.

    Attributes:
        name: Its name in the directory.
        size: Bytes.
        mtime: Modification time (seconds since the epoch).
        regular: Whether it is a regular file (not a link, directory or device).
    """

    name: str
    size: int
    mtime: int
    regular: bool = True


@dataclass(frozen=True)
class Downloaded:
    """A file that arrived whole in a temporary local name, not yet in place.

    Attributes:
        name: The remote (and final local) name.
        temp: Where it is now; the caller renames or deletes it.
        size: Bytes received (equal to the remote size).
        sha256: Hex digest of the bytes received.
    """

    name: str
    temp: Path
    size: int
    sha256: str


def safe_name(name: str) -> bool:
    """True for a plain file name: no directory part, no control characters, not hidden."""
    return (bool(name) and name not in (".", "..") and not name.startswith(".")
            and not any(c in name for c in _UNSAFE) and name.isprintable() and name.isascii())


class Session:
    """An open SFTP session (use ``connect``)."""

    def __init__(self, client: paramiko.SSHClient, sftp: paramiko.SFTPClient, endpoint: Endpoint) -> None:
        self.client = client
        self.sftp = sftp
        self.endpoint = endpoint

    def close(self) -> None:
        """Close the SFTP channel and the SSH connection."""
        with suppress(Exception):
            self.sftp.close()
        with suppress(Exception):
            self.client.close()

    def _fail(self, doing: str, exc: BaseException) -> SourceError:
        return SourceError(f"SFTP {doing} on {self.endpoint.host}:{self.endpoint.port} failed: "
                           f"{type(exc).__name__}: {exc}")

    def listdir(self, remote_dir: str) -> list[RemoteFile]:
        """Every entry of a remote directory, marked regular or not, sorted by name.

        Raises:
            SourceError: the directory cannot be listed.
        """
        try:
            entries = self.sftp.listdir_attr(remote_dir)
        except FileNotFoundError:
            raise SourceError(f"remote directory {remote_dir} does not exist on "
                              f"{self.endpoint.host}:{self.endpoint.port}") from None
        except Exception as exc:
            if _transient(exc):
                raise self._fail(f"listing {remote_dir}", exc) from exc
            raise
        files = [RemoteFile(e.filename, int(e.st_size or 0), int(e.st_mtime or 0),
                            stat.S_ISREG(e.st_mode or 0)) for e in entries]
        return sorted(files, key=lambda f: f.name)

    def download(self, remote_dir: str, name: str, dest_dir: Path,
                 progress: Callable[[str, int], None] | None = None) -> Downloaded:
        """Fetch one file into a temporary name in ``dest_dir``, hashing as it arrives.

        The temporary file is removed if anything goes wrong, so a failed
        transfer leaves nothing behind; the size is checked against the
        server's before and after the transfer, so a file still being written
        by the partner is not taken.

        Raises:
            ReconError: ``name`` is not a plain file name.
            SourceError: the transfer failed or the file changed while it was read (retryable).
        """
        if not safe_name(name):
            raise ReconError(f"remote file name {name!r} is not a plain file name; refused")
        remote = posixpath.join(remote_dir, name)
        dest_dir.mkdir(parents=True, exist_ok=True)
        temp = dest_dir / f".{name}{PART_SUFFIX}{secrets.token_hex(4)}"
        digest = hashlib.sha256()
        received = 0
        try:
            before = self.sftp.lstat(remote)
            if not stat.S_ISREG(before.st_mode or 0):
                raise ReconError(f"remote {remote} is not a regular file (a link or directory); refused")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            with os.fdopen(fd, "wb") as out, self.sftp.open(remote, "rb") as src:
                size = int(before.st_size or 0)
                if size:
                    src.prefetch(size, MAX_PREFETCH_REQUESTS)
                while True:
                    chunk = src.read(CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    if progress is not None:
                        progress(name, received)
                out.flush()
                os.fsync(out.fileno())
            after = self.sftp.lstat(remote)
            if received != size or after.st_size != before.st_size or after.st_mtime != before.st_mtime:
                raise SourceError(f"remote file {remote} changed while it was downloaded "
                                  f"({received} of {after.st_size} bytes): it is probably still being "
                                  "written")
        except BaseException as exc:
            with suppress(FileNotFoundError):
                temp.unlink()
            if isinstance(exc, FileNotFoundError):
                raise SourceError(f"remote file {remote} disappeared before it could be downloaded") from None
            if isinstance(exc, Exception) and not isinstance(exc, ReconError) and _transient(exc):
                raise self._fail(f"download of {remote}", exc) from exc
            raise
        return Downloaded(name, temp, received, digest.hexdigest())

    def upload(self, local: Path, remote_dir: str, name: str | None = None) -> str:
        """Upload to a temporary remote name, check the size, then rename into place.

        The partner never sees a half-written result file: it appears under
        its real name only once complete. An existing file of that name is
        replaced (the result of a re-run supersedes the earlier one).

        Returns:
            The remote path written.

        Raises:
            SourceError: the upload failed (retryable); the temporary file is removed.
        """
        name = name or local.name
        if not safe_name(name):
            raise ReconError(f"result file name {name!r} is not a plain file name; refused")
        final = posixpath.join(remote_dir, name)
        temp = posixpath.join(remote_dir, f".{name}{PART_SUFFIX}{secrets.token_hex(4)}")
        try:
            self.sftp.put(str(local), temp, confirm=True)
            try:
                self.sftp.posix_rename(temp, final)
            except OSError:  # server without the posix-rename extension
                with suppress(FileNotFoundError):
                    self.sftp.remove(final)
                self.sftp.rename(temp, final)
        except Exception as exc:
            with suppress(Exception):
                self.sftp.remove(temp)
            if _transient(exc):
                raise self._fail(f"upload of {name} to {remote_dir}", exc) from exc
            raise
        return final
