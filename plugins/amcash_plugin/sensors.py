"""Wait for a sponsor-day's two files on the SFTP server: a sensor that works inside a mapped group.

The provider's ``SFTPSensor`` watches one path or pattern; a sponsor-day
needs two files whose names depend on the sponsor's partner profile, and the
sensor runs once per mapped sponsor. So this small sensor does the same job
for a *job* (sponsor, date, deadline): in poke mode it lists the directory
through ``reconciliation.transfer`` (host key verified); in deferrable mode it
hands the wait to ``SponsorFilesTrigger`` in the triggerer, which lists with
the provider's ``SFTPHookAsync`` against the same known-hosts file, so no
worker slot is held while a partner is late.

At the deadline both modes finish *incomplete* instead of failing, so that
the reconcile step records ``MISSING_INPUT`` for the sponsor (spec §6) and the
other sponsors carry on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent


class SponsorFilesSensor(BaseSensorOperator):
    """Done when both files of ``job`` are on the server, or incomplete at ``job['wait_until']``.

    Args:
        job: The plan's job for one sponsor-day (templated, so it can be a mapped argument).
        deferrable: Wait in the triggerer instead of poking from a worker.
    """

    template_fields: Sequence[str] = ("job",)
    ui_color = "#dbe9f6"

    def __init__(self, *, job: Any, deferrable: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.deferrable = deferrable

    def execute(self, context: Any) -> Any:
        """Defer to the trigger when asked to and possible, else poke."""
        if self.deferrable:
            from amcash_plugin.tasks import trigger_kwargs

            kwargs = trigger_kwargs(self.job)
            if kwargs is not None:
                self.defer(trigger=SponsorFilesTrigger(**kwargs, poke_interval=float(self.poke_interval)),
                           method_name="execute_complete", timeout=timedelta(seconds=float(self.timeout)))
            self.log.info("the SFTP source is not an Airflow connection: waiting in poke mode")
        return super().execute(context)

    def poke(self, context: Any) -> Any:
        """Look once (see ``amcash_plugin.tasks.files_ready``)."""
        from amcash_plugin.tasks import files_ready

        return files_ready(self.job)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: an error event fails the task, otherwise report what was found."""
        if not event or event.get("status") == "error":
            from airflow.sdk.exceptions import AirflowException

            raise AirflowException((event or {}).get("message", "the file trigger sent no event"))
        self.log.info("%s", event.get("message"))
        return {"complete": event["status"] == "success", "missing": event.get("missing", [])}


class SponsorFilesTrigger(BaseTrigger):
    """Poll the SFTP directory from the triggerer until both sides are present or the wait is over."""

    def __init__(self, sftp_conn_id: str, known_hosts: str | None, remote_dir: str, sponsor: str,
                 business_date: str, patterns: dict[str, list[str]], wait_until: str,
                 poke_interval: float = 60.0) -> None:
        super().__init__()
        self.sftp_conn_id = sftp_conn_id
        self.known_hosts = known_hosts
        self.remote_dir = remote_dir
        self.sponsor = sponsor
        self.business_date = business_date
        self.patterns = patterns
        self.wait_until = wait_until
        self.poke_interval = poke_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and arguments, to be rebuilt in the triggerer."""
        return (f"{type(self).__module__}.{type(self).__name__}", {
            "sftp_conn_id": self.sftp_conn_id, "known_hosts": self.known_hosts,
            "remote_dir": self.remote_dir, "sponsor": self.sponsor, "business_date": self.business_date,
            "patterns": self.patterns, "wait_until": self.wait_until, "poke_interval": self.poke_interval})

    def missing(self, names: list[str]) -> list[str]:
        """Sides without a file among ``names`` (matched exactly, as the downloader matches)."""
        from reconciliation.inbox import match_name

        day = date.fromisoformat(self.business_date)
        have = set()
        for side, patterns in self.patterns.items():
            for name in names:
                found = next((m for m in (match_name(p, name) for p in patterns) if m), None)
                if found is not None and found[0] == self.sponsor and found[1] == day:
                    have.add(side)
        return [side for side in sorted(self.patterns) if side not in have]

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yield one event: success, incomplete at the deadline, or error (host key, login).

        Everything here awaits: the listing is asyncssh's (through the provider's
        ``SFTPHookAsync``), and the file-name rules of ``reconciliation.inbox``,
        whose first import (Polars) takes seconds, are imported in a thread, so
        the triggerer's event loop, shared with every other wait, never stalls.
        """
        import importlib

        from airflow.providers.sftp.hooks.sftp import SFTPHookAsync

        await asyncio.to_thread(importlib.import_module, "reconciliation.inbox")

        kwargs: dict[str, Any] = {"sftp_conn_id": self.sftp_conn_id, "no_host_key_check": False}
        if self.known_hosts:
            kwargs["known_hosts"] = self.known_hosts
        hook = SFTPHookAsync(**kwargs)
        deadline = datetime.fromisoformat(self.wait_until)
        what = f"{self.sponsor} {self.business_date}"
        while True:
            try:
                names = await hook.list_directory(self.remote_dir) or []
                missing = self.missing([n.rsplit("/", 1)[-1] for n in names])
            except (TimeoutError, OSError) as exc:  # unreachable or dropped: look again later
                self.log.warning("could not list %s yet: %s", self.remote_dir, exc)
                missing = ["unknown (server unreachable)"]
            except Exception as exc:  # host key, login: waiting will not fix it
                yield TriggerEvent({"status": "error", "message": f"SFTP wait for {what} failed: {exc}"})
                return
            if not missing:
                yield TriggerEvent({"status": "success", "message": f"both files of {what} are there"})
                return
            if datetime.now(UTC) >= deadline:
                yield TriggerEvent({"status": "incomplete", "missing": missing,
                                    "message": f"gave up waiting for {what}: missing {', '.join(missing)}"})
                return
            await asyncio.sleep(self.poke_interval)
