"""Bodies of the per-sponsor tasks of the AM Cash DAG: plan, wait, download, reconcile, upload.

Each function takes the *job* the plan made for one sponsor-day (a small
JSON-able dict, so it can travel as an XCom and be a mapped argument) and
returns JSON-able data: frames and files stay on disk, only their paths move.

Failure policy, which is what an operator sees in the grid:

- transient trouble (SFTP unreachable or dropped, warehouse down, a FAILED
  run) raises an ordinary exception: Airflow retries with backoff;
- data and trust problems (a rejected file, a missing file, an unknown host
  key, a refused login, bad parameters) raise ``AirflowFailException`` with
  the one-sentence reason: retrying would give the same answer.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from amcash_plugin.connections import load_settings, sftp_endpoint, variable

log = logging.getLogger(__name__)

DEFAULT_WAIT_MINUTES = 360
SPONSOR = re.compile(r"[A-Z0-9]{4}")
SIDES = ("PARTNER", "PLATFORM")


def fail(message: str) -> NoReturn:
    """Fail the task now, without retries, with ``message`` as the reason (passwords masked)."""
    from airflow.sdk.exceptions import AirflowFailException

    from amcash_plugin.connections import masked

    raise AirflowFailException(masked(message))


def settings() -> Any:
    """The reconciliation settings; a configuration error fails the task (no retry)."""
    from reconciliation.errors import ConfigError

    try:
        return load_settings()
    except ConfigError as exc:
        fail(str(exc))


def _endpoint(conf: Any) -> Any:
    from reconciliation.errors import ConfigError

    try:
        return sftp_endpoint(conf)
    except ConfigError as exc:
        fail(str(exc))


def _source(conf: Any) -> Any:
    from reconciliation.config import SftpSource

    return conf.sftp or SftpSource()


def _attempts() -> int:
    return int(variable("amcash_sftp_attempts") or 3)


# -- plan ---------------------------------------------------------------------------------------------------

def plan(context: Any) -> list[dict[str, Any]]:
    """One job per sponsor for the run's business date (params override the defaults).

    The business date defaults to the day before the run's date in the
    reconciliation time zone (the night after the cut-off); sponsors default
    to the configured ones, else those with files on the server.
    """
    params = context["params"]
    conf = settings()
    day = business_date(params.get("business_date"), context, conf)
    sponsors = _sponsor_list(params.get("sponsors"), conf, day)
    wait = params.get("wait_minutes")
    minutes = int(wait if wait not in (None, "") else variable("amcash_wait_minutes") or DEFAULT_WAIT_MINUTES)
    until = datetime.now(UTC) + timedelta(minutes=minutes)
    log.info("reconciling %s for %s; waiting for files until %s", ", ".join(sponsors), day, until)
    return [{"sponsor": s, "business_date": day.isoformat(), "force": bool(params.get("force")),
             "cascade": bool(params.get("cascade")), "wait_until": until.isoformat(),
             "run_id": str(context["run_id"]), "requested_at": datetime.now(UTC).isoformat()}
            for s in sponsors]


def business_date(value: Any, context: Any, conf: Any) -> date:
    """The business date from a param, or the day before the run's date in the reconciliation zone."""
    if value:
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            fail(f"param business_date {value!r} is not a date YYYY-MM-DD")
    run = context["dag_run"]
    ref = run.logical_date or run.run_after or datetime.now(UTC)
    return ref.astimezone(conf.timezone.tz).date() - timedelta(days=1)


def _sponsor_list(value: Any, conf: Any, day: date) -> list[str]:
    if isinstance(value, str):
        value = [part for part in re.split(r"[,\s]+", value) if part]
    codes = sorted({str(code).strip().upper() for code in value or []})
    bad = [code for code in codes if not SPONSOR.fullmatch(code)]
    if bad:
        fail(f"param sponsors has invalid code(s) {', '.join(bad)}: 4 characters A-Z or 0-9")
    if not codes:
        codes = sorted(conf.sponsors) or _sponsors_on_server(conf, day)
    if not codes:
        fail(f"no sponsors configured and no files for {day} on the server")
    return codes


def _sponsors_on_server(conf: Any, day: date) -> list[str]:
    from reconciliation.transfer import connect, remote_inputs

    with connect(_endpoint(conf)) as session:
        found, _ = remote_inputs(session, _source(conf).inbox_dir, conf, day)
    return sorted({c.sponsor for c in found})


# -- wait ---------------------------------------------------------------------------------------------------

def files_ready(job: dict[str, Any]) -> Any:
    """One poke: done when both sides are on the server, or (incomplete) once the wait is over.

    Giving up is not a failure here: the download and reconcile steps run
    anyway, so a file that never came is recorded as ``MISSING_INPUT`` in the
    warehouse and fails the reconcile task with that reason.
    """
    from airflow.sdk import PokeReturnValue

    from reconciliation.errors import ReconError, SourceError
    from reconciliation.transfer import connect, missing_sides

    conf = settings()
    day = date.fromisoformat(job["business_date"])
    try:
        with connect(_endpoint(conf)) as session:
            missing = missing_sides(session, _source(conf).inbox_dir, conf, job["sponsor"], day)
    except SourceError as exc:
        log.warning("could not look for the files yet: %s", exc)
        missing = ["unknown (server unreachable)"]
    except ReconError as exc:
        fail(str(exc))
    if not missing:
        return PokeReturnValue(is_done=True, xcom_value={"complete": True, "missing": []})
    if datetime.now(UTC) >= datetime.fromisoformat(job["wait_until"]):
        log.warning("gave up waiting for %s %s: no %s file by %s", job["sponsor"], day,
                    " or ".join(s.lower() for s in missing), job["wait_until"])
        return PokeReturnValue(is_done=True, xcom_value={"complete": False, "missing": missing})
    log.info("waiting for the %s file(s) of %s %s", ", ".join(s.lower() for s in missing), job["sponsor"],
             day)
    return False


def trigger_kwargs(job: dict[str, Any]) -> dict[str, Any] | None:
    """Arguments of the deferrable trigger, or None when the SFTP source is not an Airflow connection."""
    from amcash_plugin.connections import connection, known_hosts_for
    from reconciliation.inbox import PARTNER_PATTERN, PLATFORM_PATTERN

    conf = settings()
    source = _source(conf)
    if connection(source.conn_id) is None:
        return None
    sponsor = conf.sponsors.get(job["sponsor"])
    if sponsor is None:
        partner = [PARTNER_PATTERN, *(profile.file_pattern for profile in conf.profiles.values())]
    else:
        profile = conf.profiles.get(sponsor.partner_profile)
        partner = [profile.file_pattern if profile else PARTNER_PATTERN]
    return {"sftp_conn_id": source.conn_id, "known_hosts": known_hosts_for(conf),
            "remote_dir": source.inbox_dir, "sponsor": job["sponsor"], "business_date": job["business_date"],
            "patterns": {"PLATFORM": [PLATFORM_PATTERN], "PARTNER": partner},
            "wait_until": job["wait_until"]}


# -- download -----------------------------------------------------------------------------------------------

def download(job: dict[str, Any]) -> dict[str, Any]:
    """Fetch the sponsor-day's files into the date's local inbox; returns what was placed."""
    from reconciliation.errors import ReconError, SourceError
    from reconciliation.transfer import connect, fetch_sponsor_day, inbox_for

    conf = settings()
    endpoint = _endpoint(conf)
    day = date.fromisoformat(job["business_date"])
    try:
        result = fetch_sponsor_day(lambda: connect(endpoint), conf, job["sponsor"], day, inbox_for(conf, day),
                                   remote_dir=_source(conf).inbox_dir, attempts=_attempts())
    except SourceError:
        raise
    except ReconError as exc:
        fail(str(exc))
    fetched = result.as_dict()
    for item in fetched["files"]:
        log.info("%s file %s: %d bytes, sha256 %s", item["side"].lower(), item["name"], item["size"],
                 item["sha256"])
    return fetched


# -- validate -----------------------------------------------------------------------------------------------

def validate(job: dict[str, Any], fetched: dict[str, Any]) -> dict[str, Any]:
    """The data-quality gate of the sponsor-day (``pipeline.gate_day``): its own task in the grid.

    Parses both files and runs the Great Expectations suites; a missing or
    rejected file is recorded in ``recon_run`` and fails the task with the
    reason (no retry). Without ``force``, a sponsor-day already reconciled
    from exactly these files is passed through untouched.
    """
    from reconciliation.pipeline import gate_day

    conf = settings()
    day = date.fromisoformat(job["business_date"])
    fetched = refetched(job, fetched)
    if not job.get("force"):
        current = _current_run_with(conf, job["sponsor"], day, fetched)
        if current is not None:
            log.info("%s %s was already reconciled from these files (version %s, run %s); trigger with "
                     "force=true to run it again", job["sponsor"], day, current["version"], current["run_id"])
            return {"skipped": True, "current": current, "fetched": fetched}
    gate, kept = gate_day(conf, job["sponsor"], day, Path(fetched["inbox"]),
                          triggered_by=f"airflow:{job['run_id']}")
    outcome = outcome_dict(gate)
    for warning in outcome["warnings"]:
        log.warning("%s", warning)
    _fail_unless_ok(job, day, outcome, fetched, ok="PASSED")
    log.info("%s %s passed the data-quality gate", job["sponsor"], day)
    return {"skipped": False, "checked": str(kept), "fetched": fetched}


def refetched(job: dict[str, Any], fetched: dict[str, Any]) -> dict[str, Any]:
    """The download's result, fetched again when it lacks a side (the file came late).

    Clearing only the failed tasks of a sponsor-day whose file was late (the
    natural click) re-runs ``validate`` but not ``download``: this makes the
    chain fetch what it lacks, so "clear failed" recovers the day.
    """
    have = {item["side"] for item in fetched.get("files", [])}
    if have >= set(SIDES):
        return fetched
    log.info("the earlier download lacked the %s file(s): fetching again",
             " and ".join(side.lower() for side in SIDES if side not in have))
    return download(job)


# -- reconcile ----------------------------------------------------------------------------------------------

def reconcile(job: dict[str, Any], fetched: dict[str, Any], gate: dict[str, Any]) -> dict[str, Any]:
    """Run the reconciliation of the sponsor-day from the downloaded files (``pipeline.run_day``).

    Uses the gate's validation of the same files. A sponsor-day the gate
    passed through (already reconciled from these files) is not run again:
    a scheduler retry or a backfill over reconciled days changes nothing.
    With ``cascade``, later dates made stale by this run are re-run in date order.
    """
    from reconciliation.pipeline import run_day

    if gate.get("skipped"):
        return dict(gate["current"])
    fetched = gate.get("fetched") or fetched
    conf = settings()
    day = date.fromisoformat(job["business_date"])
    result = run_day(conf, job["sponsor"], day, Path(fetched["inbox"]),
                     triggered_by=f"airflow:{job['run_id']}", checked=Path(gate["checked"]),
                     force=bool(job.get("force")), requested_at=_requested_at(job))
    outcome = outcome_dict(result)
    if outcome["skipped"]:  # a retry after a committed attempt, or a concurrent run, got there first
        return outcome  # (run_day logged the one sentence that says so)
    log_outcome(outcome)
    _fail_unless_ok(job, day, outcome, fetched, ok="SUCCEEDED")
    if outcome["stale_dates"] and job.get("cascade"):
        outcome["cascade"] = _cascade(conf, job, outcome["stale_dates"])
    elif outcome["stale_dates"]:
        log.warning("results of %s for %s are now stale; re-run them by triggering this DAG with "
                    "business_date=%s, sponsors=%s, force=true, cascade=true", job["sponsor"],
                    ", ".join(outcome["stale_dates"]), day, job["sponsor"])
    return outcome


def _requested_at(job: dict[str, Any]) -> datetime | None:
    """When the DAG run planned this job: a version committed since then was made by a run beside it."""
    value = job.get("requested_at")
    return datetime.fromisoformat(value) if value else None


def _fail_unless_ok(job: dict[str, Any], day: date, outcome: dict[str, Any], fetched: dict[str, Any],
                    ok: str) -> None:
    """Data problems fail the task for good; anything else is retried."""
    if outcome["status"] in ("REJECTED", "MISSING_INPUT"):
        fail(f"{job['sponsor']} {day} {outcome['status']}: {outcome['error']}{_duplicates(fetched)}")
    if outcome["status"] != ok:
        from amcash_plugin.connections import masked

        raise RuntimeError(masked(f"{job['sponsor']} {day} {outcome['status']}: {outcome['error']}"))


def outcome_dict(outcome: Any) -> dict[str, Any]:
    """A ``RunOutcome`` as JSON-able data."""
    return {"sponsor": outcome.sponsor_code, "business_date": outcome.business_date.isoformat(),
            "status": outcome.status, "run_id": outcome.run_id, "version": outcome.version,
            "error": outcome.error, "stale_dates": [d.isoformat() for d in outcome.stale_dates],
            "counts": dict(outcome.counts), "money_at_stake": str(outcome.money_at_stake),
            "report_paths": {k: str(v) for k, v in outcome.report_paths.items()},
            "warnings": list(outcome.warnings), "skipped": getattr(outcome, "skipped", None) or False}


def log_outcome(outcome: dict[str, Any]) -> None:
    """One line per run, and its warnings."""
    counts = outcome["counts"]
    log.info("%s %s v%s %s: %s partner / %s platform records, %s matched, %s breaks, $%s at stake",
             outcome["sponsor"], outcome["business_date"], outcome["version"], outcome["status"],
             counts.get("partner_records", "-"), counts.get("platform_records", "-"),
             counts.get("matched_pairs", "-"), counts.get("breaks", "-"), outcome["money_at_stake"])
    for warning in outcome["warnings"]:
        log.warning("%s", warning)


def _duplicates(fetched: dict[str, Any]) -> str:
    dups = fetched.get("duplicates") or []
    if not dups:
        return ""
    return " (" + "; ".join(f"{d['name']} was not used: same content as {d['same_as']}, already received"
                            for d in dups) + ")"


def _current_run_with(conf: Any, sponsor: str, day: date, fetched: dict[str, Any]) -> dict[str, Any] | None:
    from reconciliation.pipeline import warehouse
    from reconciliation.warehouse.runs import current_run

    hashes = {f["side"]: f["sha256"] for f in fetched.get("files", [])}
    if set(hashes) != set(SIDES):
        return None
    with warehouse(conf).connect() as conn:
        row = current_run(conn, sponsor, day)
    if row is None or (row["partner_sha256"], row["platform_sha256"]) != (hashes["PARTNER"],
                                                                           hashes["PLATFORM"]):
        return None
    return {"sponsor": sponsor, "business_date": day.isoformat(), "status": "SUCCEEDED",
            "run_id": row["run_id"], "version": row["version"], "error": None, "stale_dates": [],
            "counts": {}, "money_at_stake": None, "report_paths": {}, "warnings": [], "skipped": True}


def _cascade(conf: Any, job: dict[str, Any], stale: list[str]) -> list[dict[str, Any]]:
    """Re-run later dates of the sponsor in order, fetching each date's files again."""
    from reconciliation.pipeline import run_day

    results = []
    for later in stale:
        fetched = download({**job, "business_date": later})
        day = date.fromisoformat(later)
        outcome = outcome_dict(run_day(conf, job["sponsor"], day, Path(fetched["inbox"]),
                                       triggered_by=f"airflow:{job['run_id']}:cascade"))
        log_outcome(outcome)
        results.append({k: outcome[k] for k in ("business_date", "status", "run_id", "version", "error")})
    return results


# -- upload -------------------------------------------------------------------------------------------------

def upload(job: dict[str, Any], outcome: dict[str, Any]) -> dict[str, Any]:
    """Send the partner its result file (temporary name, then rename) when the reports module writes one."""
    from reconciliation.transfer import connect, upload_file

    if (variable("amcash_upload_results") or "true").lower() in ("false", "0", "no"):
        return {"uploaded": None, "reason": "disabled by the amcash_upload_results variable"}
    conf = settings()
    local = outcome.get("report_paths", {}).get("result") or _write_result_file(conf, outcome)
    if not local:
        log.info("no partner result file writer is installed; nothing to upload")
        return {"uploaded": None, "reason": "no result file writer"}
    endpoint = _endpoint(conf)
    remote = upload_file(lambda: connect(endpoint), Path(local), _source(conf).outbox_dir,
                         attempts=_attempts())
    log.info("uploaded %s to %s", local, remote)
    return {"uploaded": remote}


def _write_result_file(conf: Any, outcome: dict[str, Any]) -> str | None:
    import importlib

    try:
        module = importlib.import_module("reconciliation.reports.partner_file")
    except ModuleNotFoundError:
        return None
    writer = getattr(module, "write_result_file", None)
    if writer is None or outcome.get("run_id") is None:
        return None
    from reconciliation.pipeline import warehouse

    out = conf.reports_dir / outcome["sponsor"] / outcome["business_date"] / f"v{outcome['version']}"
    environment = str((conf.reports or {}).get("environment", "PROD"))  # the configured one, not PROD
    return str(writer(warehouse(conf), outcome["run_id"], out, conf, environment=environment))
