"""Tell a person when a reconciliation task fails: email (SMTP provider) or a webhook. Off by default.

A failed night is found by the finance team the next morning at the latest;
the callback is for operators who want to know at 3 AM. It is configured,
not coded: the ``notifications`` section of the reconciliation YAML, or the
``amcash_notify`` Airflow Variable (JSON, same shape, wins):

.. code-block:: yaml

    notifications:
      email: {to: [recon-ops@example.com], conn_id: smtp_default}
      webhook: {conn_id: amcash_webhook}     # URL in the connection's host or extra.url

Addresses and URLs with tokens belong in Airflow connections, never in the
YAML. A notification that cannot be sent is logged and never hides the
task's own failure.
"""

from __future__ import annotations

import html
import json
import logging
import urllib.request
from typing import Any

log = logging.getLogger(__name__)


def notification_config() -> dict[str, Any]:
    """The merged configuration; empty when nothing is configured (the default)."""
    from amcash_plugin.connections import variable

    raw = variable("amcash_notify")
    if raw:
        return dict(json.loads(raw))
    from amcash_plugin.tasks import settings

    return dict(settings().notifications or {})


def message(context: Any) -> dict[str, Any]:
    """What failed, where, and why, from the task's context."""
    ti = context.get("ti") or context.get("task_instance")
    exc = context.get("exception")
    from amcash_plugin.connections import masked

    reason = masked(str(exc)) if exc else "see the task log"
    map_index = getattr(ti, "map_index", -1)
    where = f"{getattr(ti, 'dag_id', '?')}.{getattr(ti, 'task_id', '?')}"
    if map_index is not None and map_index >= 0:
        where += f"[{map_index}]"
    return {"text": f"AM Cash reconciliation: {where} failed in run {context.get('run_id')}: {reason}",
            "dag_id": getattr(ti, "dag_id", None), "task_id": getattr(ti, "task_id", None),
            "map_index": map_index, "run_id": context.get("run_id"),
            "try_number": getattr(ti, "try_number", None), "reason": reason,
            "log_url": getattr(ti, "log_url", None)}


def send_webhook(url: str, payload: dict[str, Any], timeout: float = 10.0) -> int:
    """POST the payload as JSON; returns the HTTP status."""
    request = urllib.request.Request(url, data=json.dumps(payload, default=str).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return int(response.status)


def _webhook_url(config: dict[str, Any]) -> str | None:
    from amcash_plugin.connections import connection

    conn = connection(config.get("conn_id", "amcash_webhook"))
    if conn is None:
        return None
    url = conn.extra_dejson.get("url") or conn.host
    return str(url) if url else None


def send_email(config: dict[str, Any], payload: dict[str, Any]) -> None:
    """Send the failure by email through the SMTP provider's hook."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=config.get("conn_id", "smtp_default")) as hook:
        hook.send_email_smtp(to=config["to"], subject=payload["text"][:150],
                             html_content=html_body(payload),
                             from_email=config.get("from"))


def html_body(payload: dict[str, Any]) -> str:
    """The e-mail's HTML: the payload as escaped, preformatted JSON (exception text may hold ``<``)."""
    return f"<pre>{html.escape(json.dumps(payload, indent=2, default=str))}</pre>"


def on_failure(context: Any) -> None:
    """Task failure callback: notify by each configured channel; never raises."""
    try:
        config = notification_config()
    except Exception:
        log.exception("notification settings could not be read; no notification sent")
        return
    if not config.get("email") and not config.get("webhook"):
        return
    payload = message(context)
    if config.get("webhook"):
        try:
            url = _webhook_url(config["webhook"])
            if url is None:
                log.warning("webhook connection %s is not defined; no webhook sent",
                            config["webhook"].get("conn_id", "amcash_webhook"))
            else:
                send_webhook(url, payload)
        except Exception:
            log.exception("the failure webhook could not be sent")
    if config.get("email"):
        try:
            send_email(config["email"], payload)
        except Exception:
            log.exception("the failure email could not be sent")
