"""A real OpenSSH ``sshd`` on 127.0.0.1 for SFTP tests (import its fixtures into a conftest).

The server runs as the current user on a free port with a throwaway host key
and user key generated at test time (never committed), serves SFTP only
(``internal-sftp``) and keeps everything under a temporary directory: the
``inbox`` and ``outbox`` folders stand for a partner's drop boxes. Tests that
need to cut a transfer short kill the per-connection server processes
(``kill_sessions``), which is what a dropped network link looks like to the
client.

Use it from a conftest with ``from tests.integration.conftest_sshd import sftp_server, sshd  # noqa: F401``.
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SSHD = Path(os.environ.get("RECON_TEST_SSHD", "/usr/sbin/sshd"))


def generate_key(private_path: Path) -> str:
    """Write a new Ed25519 private key (OpenSSH format, mode 0600); return its public key line."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                            serialization.NoEncryption())
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    private_path.with_suffix(".pub").write_text(public + "\n")
    return public


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(entry.name))
    return kids


@dataclass
class Sshd:
    """A running test sshd."""

    host: str
    port: int
    user: str
    root: Path
    host_public_key: str
    user_key: Path
    known_hosts: Path
    process: subprocess.Popen[bytes]

    @property
    def inbox(self) -> Path:
        """The partners' drop box (remote path = local path: the server shares this machine)."""
        return self.root / "inbox"

    @property
    def outbox(self) -> Path:
        """Where result files for partners go."""
        return self.root / "outbox"

    @property
    def known_hosts_line(self) -> str:
        """This server's known_hosts entry."""
        return f"[{self.host}]:{self.port} {self.host_public_key}"

    def kill_sessions(self) -> int:
        """SIGKILL every per-connection server process (a dropped link); returns how many."""
        killed = 0
        stack = _children(self.process.pid)
        while stack:
            pid = stack.pop()
            stack.extend(_children(pid))
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        return killed

    def endpoint(self, **overrides: Any) -> Any:
        """A ``reconciliation.transfer.Endpoint`` for this server (key auth, verified host key)."""
        from reconciliation.transfer import Endpoint

        values: dict[str, Any] = {"host": self.host, "port": self.port, "username": self.user,
                                  "key_file": str(self.user_key), "known_hosts": str(self.known_hosts),
                                  "timeout": 10.0}
        values.update(overrides)
        return Endpoint(**values)

    def sftp_settings(self) -> dict[str, Any]:
        """The configuration's ``sftp`` section for this server."""
        return {"host": self.host, "port": self.port, "username": self.user,
                "key_file": str(self.user_key), "known_hosts": str(self.known_hosts),
                "inbox_dir": str(self.inbox), "outbox_dir": str(self.outbox)}


def _config(root: Path, port: int, user: str) -> Path:
    config = root / "sshd_config"
    config.write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {root / "host_ed25519_key"}
PidFile {root / "sshd.pid"}
AuthorizedKeysFile {root / "authorized_keys"}
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers {user}
AllowTcpForwarding no
X11Forwarding no
MaxStartups 64
MaxSessions 64
LogLevel VERBOSE
Subsystem sftp internal-sftp
ForceCommand internal-sftp -d {root}
""")
    return config


def start_sshd(root: Path) -> Sshd:
    """Start sshd under ``root``; fail with the server's log when it does not come up."""
    if not SSHD.exists():
        pytest.skip(f"OpenSSH sshd is not installed at {SSHD} (apt-get install openssh-server)")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
    user = getpass.getuser()
    host_public = generate_key(root / "host_ed25519_key")
    user_public = generate_key(root / "user_ed25519_key")
    (root / "authorized_keys").write_text(user_public + "\n")
    (root / "inbox").mkdir()
    (root / "outbox").mkdir()
    port = free_port()
    known_hosts = root / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_public}\n")
    log = (root / "sshd.log").open("wb")
    process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(_config(root, port, user))],
                               stdout=log, stderr=subprocess.STDOUT)
    server = Sshd("127.0.0.1", port, user, root, host_public, root / "user_ed25519_key", known_hosts,
                  process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited with {process.returncode}: {(root / 'sshd.log').read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-"):
                    return server
        except OSError:
            time.sleep(0.1)
    stop_sshd(server)
    raise RuntimeError(f"sshd did not start listening on {port}: {(root / 'sshd.log').read_text()}")


def stop_sshd(server: Sshd) -> None:
    """Stop the server and every session it still has."""
    server.kill_sessions()
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """A real OpenSSH sshd on a free 127.0.0.1 port, for the whole test session."""
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    try:
        yield server
    finally:
        stop_sshd(server)


@pytest.fixture
def sftp_server(sshd: Sshd) -> Iterator[Sshd]:
    """The session's sshd with empty drop boxes for one test."""
    for box in (sshd.inbox, sshd.outbox):
        for entry in box.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                import shutil

                shutil.rmtree(entry)
            else:
                entry.unlink()
    yield sshd
