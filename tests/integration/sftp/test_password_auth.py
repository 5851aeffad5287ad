"""Password login (some partners offer no key login), against an embedded asyncssh server.

The OpenSSH test server runs without PAM, so it cannot check passwords; an
asyncssh server on 127.0.0.1 with its own throwaway host key does, and the
client side is exactly the production code path.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from reconciliation.config import SftpSource
from reconciliation.errors import SourceError
from reconciliation.transfer import AuthError, Endpoint, connect, endpoint_from_source, upload_file
from tests.integration.conftest_sshd import free_port

pytestmark = pytest.mark.sftp


class PasswordOnly(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return (username, password) == ("partner", "correct horse")


@pytest.fixture
def password_server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    root = tmp_path / "root"
    (root / "outbox").mkdir(parents=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    port = free_port()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_key.export_public_key('openssh').decode().strip()}\n")
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    async def listen() -> Any:
        return await asyncssh.listen(
            "127.0.0.1", port, server_host_keys=[host_key], server_factory=PasswordOnly,
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(root).encode()))

    server = asyncio.run_coroutine_threadsafe(listen(), loop).result(10)
    yield {"port": port, "known_hosts": known, "root": root}
    server.close()
    loop.call_soon_threadsafe(loop.stop)


def test_password_login_from_the_environment(password_server: dict[str, Any], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTNER_SFTP_PASSWORD", "correct horse")
    source = SftpSource(host="127.0.0.1", port=password_server["port"], username="partner",
                        password_env="PARTNER_SFTP_PASSWORD", known_hosts=str(password_server["known_hosts"]))
    endpoint = endpoint_from_source(source)
    assert "correct horse" not in repr(endpoint)
    result = tmp_path / "AMCASH_RESULT_ABCD_20261120_001.txt"
    result.write_text("H1%%RESULT\n")
    upload_file(lambda: connect(endpoint), result, "/outbox")
    assert (password_server["root"] / "outbox" / result.name).read_text() == "H1%%RESULT\n"


def test_wrong_password_is_not_a_transient_error(password_server: dict[str, Any]) -> None:
    endpoint = Endpoint(host="127.0.0.1", port=password_server["port"], username="partner", password="nope",
                        known_hosts=str(password_server["known_hosts"]), timeout=5)
    with pytest.raises(AuthError) as failure, connect(endpoint):
        pass
    assert not isinstance(failure.value, SourceError)
    assert "partner@127.0.0.1" in str(failure.value)
