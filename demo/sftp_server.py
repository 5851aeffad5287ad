"""A throwaway SFTP server on 127.0.0.1 for the demo (asyncssh, in a background thread).

The demo must work on a fresh machine without OpenSSH's server installed, so
it embeds one: a new host key and client key each time (never committed),
key authentication only, and SFTP chrooted to a folder with ``inbox`` and
``outbox``, the layout a partner's drop box has. The DAG talks to it exactly
as to a real server, host key verification included.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # asyncssh names DSA key types, which cryptography 51 deprecates when they are named; the demo
    # uses ed25519 keys only, and a user watching the demo should not read about DSA.
    warnings.filterwarnings("ignore", message="DSA is deprecated")
    import asyncssh


@dataclass
class DemoSftp:
    """A running demo server and the files a client needs to trust it and log in."""

    host: str
    port: int
    user: str
    root: Path
    client_key: Path
    known_hosts: Path
    _loop: asyncio.AbstractEventLoop
    _server: Any

    @property
    def inbox(self) -> Path:
        """The partners' drop box on disk (``/inbox`` on the server)."""
        return self.root / "inbox"

    @property
    def outbox(self) -> Path:
        """Result files for partners (``/outbox`` on the server)."""
        return self.root / "outbox"

    def stop(self) -> None:
        """Close the server and its event loop."""
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def start(base: Path, user: str = "amcash") -> DemoSftp:
    """Generate keys under ``base/keys``, serve ``base/root`` on a free 127.0.0.1 port."""
    keys = base / "keys"
    root = base / "root"
    for folder in (keys, root / "inbox", root / "outbox"):
        folder.mkdir(parents=True, exist_ok=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    _write_private(keys / "client_ed25519", client_key.export_private_key("openssh"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    known_hosts = keys / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key.export_public_key('openssh').decode().strip()}\n")
    authorized = asyncssh.import_authorized_keys(client_key.export_public_key("openssh").decode())

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="demo-sftp", daemon=True).start()

    async def listen() -> Any:
        return await asyncssh.listen(
            "127.0.0.1", port, server_host_keys=[host_key], authorized_client_keys=authorized,
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(root).encode()),
            allow_scp=False, password_auth=False, kbdint_auth=False)

    server = asyncio.run_coroutine_threadsafe(listen(), loop).result(timeout=10)
    return DemoSftp("127.0.0.1", port, user, root, keys / "client_ed25519", known_hosts, loop, server)
