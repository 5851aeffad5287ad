"""One reconciliation run end to end: locate, parse, validate, match, write.

This is the single entry point the ``recon run`` command and the Airflow DAG
both call, so a night reconciled by either is the same night. Parsing and
validation happen outside the warehouse lock; reading the context, matching
and writing happen inside one write transaction, so concurrent runs never
see each other half-done and a run that dies leaves nothing behind.

The data path streams: each file is parsed into Parquet in the run's scratch
directory (``run.workdir``), matching reads only the columns its rules
compare from there (gathering the rest for the records that need them), and
the warehouse loads ``recon_record`` from the same files with the
dispositions matching decided (DuckDB reads the Parquet itself, PostgreSQL
takes ``COPY`` slices, then ``ANALYZE``). The warehouse is one explicit ``Warehouse`` object, opened
by the run or handed to it; nothing is cached in the process.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection, Engine

from reconciliation.config import Settings
from reconciliation.errors import FileRejected, ReconError, WarehouseError
from reconciliation.matching.checks import Rates, named_by_reversals
from reconciliation.matching.engine import MatchParams, MatchResult, reconcile
from reconciliation.matching.limit import limit_breaks
from reconciliation.matching.sources import MATCH_COLUMNS
from reconciliation.parsing import ParsedFile, parse_file
from reconciliation.privacy import CollectorHasher
from reconciliation.quality.context import preload
from reconciliation.quality.gate import QualityGate
from reconciliation.records import PARTNER, PLATFORM, REVERSE, SIDES
from reconciliation.run import kept
from reconciliation.run.outcome import RunOutcome
from reconciliation.run.versions import already_current
from reconciliation.run.workdir import WorkDir
from reconciliation.runtime import failpoint, release_memory
from reconciliation.warehouse import runs
from reconciliation.warehouse import summary as summaries
from reconciliation.warehouse.attempts import record_attempt, record_failure, write_quality
from reconciliation.warehouse.bulk import Rows
from reconciliation.warehouse.context import load_context, stale_later_dates
from reconciliation.warehouse.db import Warehouse, write_transaction
from reconciliation.warehouse.failures import briefly, database_errors, one_line
from reconciliation.warehouse.meta import check_key, claim_key, key_fingerprint
from reconciliation.warehouse.writer import (
    apply_pending_updates,
    insert_breaks,
    insert_run,
    now_utc,
    restore_breaks,
    supersede,
)

log = logging.getLogger(__name__)

#: The columns of the run's breaks that its summary and outcome read once they are written.
BREAK_TOTALS = ("side", "break_type", "delta_dollars")


def warehouse(settings: Settings) -> Engine:
    """An engine on the settings' warehouse, its schema checked (created at head when empty).

    The engine pools nothing: each connection closes when returned, so a
    command that forgets the engine holds no DuckDB file lock. A run opens
    its own ``Warehouse`` instead.

    Raises:
        WarehouseOutdated: the warehouse needs ``recon db upgrade`` first.
        WarehouseError: it cannot be reached.
    """
    return Warehouse(settings.warehouse_url, pooled=False).engine


def forget_warehouse(url: str) -> None:
    """Nothing to forget: every ``Warehouse`` checks its schema when opened (kept for callers)."""
    del url


def sponsors_for(settings: Settings, business_date: date, inbox: Path | None) -> list[str]:
    """Sponsors to reconcile for a date: those whose files are present, plus configured ones."""
    from reconciliation.inbox import discover

    found = set(discover(inbox, business_date, settings)) if inbox else set()
    return sorted(found | set(settings.sponsors))


def run_day(settings: Settings, sponsor: str, business_date: date, inbox: Path,
            triggered_by: str = "cli", checked: Path | None = None, force: bool = True,
            requested_at: datetime | None = None, store: Warehouse | None = None) -> RunOutcome:
    """Reconcile one sponsor and business date from files in a local directory.

    Never raises for bad input or a missing file: the outcome says REJECTED
    or MISSING_INPUT and the ``recon_run`` row records why. Raises
    ``ReconError`` only when the warehouse itself cannot be used.

    The files are parsed into Parquet in a scratch directory under
    ``settings.state_dir`` (removed when the run ends, whatever the end),
    so a day is not held in memory beyond what matching reads.

    Args:
        settings: The reconciliation settings.
        sponsor: The sponsor code.
        business_date: The business date.
        inbox: Local directory holding the day's files.
        triggered_by: Who started the run (``cli``, ``airflow:<run id>``), kept in ``recon_run``.
        checked: The ``gate.json`` that ``gate_day`` kept for these files:
            when the files' sha256 are the ones kept, its parse and
            validation are used instead of parsing and validating again
            (the DAG's separate gate task), and what it kept is removed once
            the run has committed. Ignored when missing or when the files
            have changed since.
        force: Write a new version even when the current one was made from
            the same files. Without it such a day is left as it is. Either
            way a run never duplicates a version that was committed from the
            same files while it ran, or by an earlier attempt of the same
            trigger (a retry): ``outcome.skipped`` then says why, and the
            outcome describes the current version.
        requested_at: When the run was asked for (a DAG run's plan), if
            earlier than this call: a version committed since then counts
            as made "while this run was under way".
        store: The warehouse to use; by default one is opened on
            ``settings.warehouse_url`` for this run and closed after it.
    """
    own = store is None
    store = store if store is not None else Warehouse(settings.warehouse_url)
    try:
        with WorkDir(settings.state_dir) as work:
            return _run(store, settings, sponsor, business_date, inbox, triggered_by, checked, force,
                        requested_at, work)
    finally:
        if own:
            store.close()


def _run(store: Warehouse, settings: Settings, sponsor: str, business_date: date, inbox: Path,
         triggered_by: str, checked: Path | None, force: bool, requested_at: datetime | None,
         work: WorkDir) -> RunOutcome:
    engine = store.engine
    read = _read_inputs(store, settings, sponsor, business_date, inbox, triggered_by, checked, work)
    if isinstance(read, RunOutcome):
        return read
    row, outcome, parsed, quality = read
    doing = f"writing the run of {sponsor} {business_date}"
    try:
        with write_transaction(engine, doing) as conn:
            # Decided under the write lock: a retry after a committed attempt, or a concurrent run
            # of the same files, finds the version already there and writes nothing.
            outcome.skipped = already_current(conn, row, force, outcome, requested_at)
            if outcome.skipped:
                log.info("%s", outcome.skipped)
                kept.discard(checked)
                return outcome
            _write_success(conn, settings, row, parsed, quality, outcome)
        failpoint("after-commit")
    except WarehouseError as exc:  # the database failed, not the run: record it if it still can be
        return _record_failure(engine, row, outcome, str(exc))
    except ReconError:
        raise
    except Exception as exc:
        return _failed(engine, row, outcome, "the run of", exc)
    kept.discard(checked)  # handed over and now in the warehouse; a re-run parses afresh
    _analyze(engine, outcome)
    with database_errors(engine.url, f"reading the later dates of {sponsor}"), engine.connect() as conn:
        outcome.stale_dates = stale_later_dates(conn, sponsor, business_date)
    del parsed
    _data_docs(settings, outcome, quality)
    _reports(engine, settings, outcome)
    return outcome


def _analyze(engine: Engine, outcome: RunOutcome) -> None:
    """Fresh planner statistics for the reports (a failure is a warning: the run has committed)."""
    try:
        runs.analyze_loaded(engine)
    except WarehouseError as exc:
        log.warning("%s", exc)
        outcome.warnings.append(f"the loaded tables were not analyzed: {exc}")


def gate_day(settings: Settings, sponsor: str, business_date: date, inbox: Path,
             triggered_by: str = "cli", store: Warehouse | None = None) -> tuple[RunOutcome, Path | None]:
    """Parse and validate a sponsor-day without matching: the DAG's visible data-quality step.

    A file that fails (missing, rejected by the parser or by a critical
    expectation) is recorded exactly as ``run_day`` would record it, so the
    gate can fail fast with the reason. A passing day's parse and
    validation are kept (``run.kept``) for ``run_day(checked=...)``, which
    then neither parses nor validates the same files again.

    Returns:
        The outcome (status ``PASSED`` when the files may be reconciled) and
        the path of the kept ``gate.json``, or None when the gate stopped the day.
    """
    own = store is None
    store = store if store is not None else Warehouse(settings.warehouse_url)
    try:
        with WorkDir(settings.state_dir) as work:
            read = _read_inputs(store, settings, sponsor, business_date, inbox, triggered_by, None, work)
            if isinstance(read, RunOutcome):
                return read, None
            _, outcome, parsed, quality = read
            target = kept.keep(parsed, [q.to_json() for q in quality],
                               kept.kept_dir(settings.state_dir, sponsor, business_date))
    finally:
        if own:
            store.close()
    outcome.status = "PASSED"
    outcome.warnings = [w for q in quality for w in q.warnings]
    return outcome, target


def _read_inputs(store: Warehouse, settings: Settings, sponsor: str, business_date: date, inbox: Path,
                 triggered_by: str, checked: Path | None, work: WorkDir
                 ) -> RunOutcome | tuple[dict[str, Any], RunOutcome, dict[str, ParsedFile], list[Any]]:
    """Find, parse and validate the day's files; a day that cannot go on is recorded and returned."""
    from reconciliation.inbox import discover

    engine = store.engine
    fingerprint = key_fingerprint(settings.hash_key())
    with database_errors(engine.url, "checking the collector key"), engine.connect() as conn:
        check_key(conn, fingerprint)  # before anything is read or written with a wrong key
    row: dict[str, Any] = {
        "sponsor_code": sponsor, "business_date": business_date, "started_at": now_utc(),
        "triggered_by": triggered_by, "is_current": False, "key_fingerprint": fingerprint,
    }
    outcome = RunOutcome(sponsor, business_date, "FAILED")
    files = discover(inbox, business_date, settings).get(sponsor, {})
    for side in SIDES:
        if side in files:
            row[f"{side.lower()}_file"] = files[side].path.name
    missing = [s for s in SIDES if s not in files]
    if missing:
        what = " and ".join(f"{s.lower()} file" for s in missing)
        return _attempt(engine, row, outcome, "MISSING_INPUT",
                        f"no {what} for sponsor {sponsor} and {business_date} in {inbox}")
    row["partner_profile"] = files[PARTNER].profile
    try:
        gate = kept.load(checked)
        parsed = kept.parse_of(gate, {side: files[side].path for side in SIDES})
        if gate is None and _validation_on(settings):
            preload()  # GX's import (seconds) overlaps the parse instead of following it
        if parsed is None:
            parsed = {}
            key = settings.hash_key()
            hasher = CollectorHasher(key)  # one per run: the partner file's collectors are hashed once
            for side in (PLATFORM, PARTNER):
                found = files[side]
                profile = settings.profiles.get(found.profile) if side == PARTNER else None
                parsed[side] = parse_file(found.path, side, hash_key=key, profile=profile,
                                          sponsor_code=sponsor, business_date=business_date,
                                          spill_to=work.file(f"{side}.parquet"), hasher=hasher)
                _note(row, parsed[side])
        for side in (PLATFORM, PARTNER):
            _note(row, parsed[side])
        quality = kept.validation_of(gate, parsed)
        if quality is None:
            quality = _validate(settings, parsed)
            release_memory()
    except FileRejected as exc:
        return _attempt(engine, row, outcome, "REJECTED", str(exc))
    except ReconError:
        raise
    except Exception as exc:
        return _failed(engine, row, outcome, "reading the files of", exc)
    failed = [q.error for q in quality if q.error]
    if failed:
        outcome = _attempt(engine, row, outcome, "REJECTED", " ".join(failed), quality=quality)
        _data_docs(settings, outcome, quality)
        return outcome
    return row, outcome, parsed, quality


def _note(row: dict[str, Any], parsed: ParsedFile) -> None:
    """What ``recon_run`` records of a parsed file (also when the other file is then rejected)."""
    row[f"{parsed.side.lower()}_sha256"] = parsed.sha256
    row[f"{parsed.side.lower()}_records"] = parsed.detail_count


def _data_docs(settings: Settings, outcome: RunOutcome, quality: list[Any]) -> None:
    """Render the run's GX Data Docs beside its reports (a failure is a warning, never a failed run)."""
    if not quality or outcome.run_id is None or outcome.version is None:
        return
    from reconciliation.quality.docs import render_data_docs
    from reconciliation.quality.policy import policy_from
    from reconciliation.reports.night import report_dir

    if not policy_from(settings.validation).data_docs:
        return
    target = report_dir(settings.reports_dir, outcome.sponsor_code, outcome.business_date,
                        outcome.version) / "data_docs"
    try:
        for report in quality:
            report.run_name = f"run-{outcome.run_id}"
        outcome.report_paths["data_docs"] = render_data_docs(quality, target)
    except Exception as exc:
        log.exception("Data Docs for run %s failed", outcome.run_id)
        outcome.warnings.append(f"Data Docs for run {outcome.run_id} were not written: "
                                f"{briefly(exc, settings.warehouse_url, 'rendering Data Docs')}")


def _validation_on(settings: Settings) -> bool:
    return settings.validation.get("enabled", True) is not False


def _validate(settings: Settings, parsed: dict[str, Any]) -> list[Any]:
    """Both files through one GX gate (one session, suites built once)."""
    if not _validation_on(settings):
        return []
    with QualityGate() as gate:
        return [gate.validate(parsed[side], settings) for side in (PLATFORM, PARTNER)]


def _attempt(engine: Engine, row: dict[str, Any], outcome: RunOutcome, status: str, error: str,
             quality: list[Any] | None = None) -> RunOutcome:
    """Record a run that did not succeed: its row (and validation results) only."""
    outcome.run_id, outcome.version = record_attempt(engine, row, status, error, quality)
    outcome.status, outcome.error = status, error
    return outcome


def _failed(engine: Engine, row: dict[str, Any], outcome: RunOutcome, doing: str,
            exc: Exception) -> RunOutcome:
    """Record an unexpected error as a FAILED attempt.

    The traceback goes to the log; ``recon_run.error`` gets one sentence.
    """
    what = f"{doing} {row['sponsor_code']} {row['business_date']}"
    log.exception("%s failed", what)
    return _record_failure(engine, row, outcome, f"{what} failed: {type(exc).__name__}: "
                                                 f"{one_line(exc)}")


def _record_failure(engine: Engine, row: dict[str, Any], outcome: RunOutcome, error: str
                    ) -> RunOutcome:
    """Record a FAILED attempt, or raise one sentence saying it could not be recorded."""
    outcome.run_id, outcome.version = record_failure(engine, row, error)
    outcome.status, outcome.error = "FAILED", error
    return outcome


def _write_success(conn: Connection, settings: Settings, row: dict[str, Any],
                   parsed: dict[str, ParsedFile], quality: list[Any], outcome: RunOutcome) -> None:
    """Match the day and write everything it decided, inside the run's write transaction."""
    row = dict(row)
    claim_key(conn, row.pop("key_fingerprint"))
    sponsor, day = row["sponsor_code"], row["business_date"]
    zone = settings.zone_for(sponsor)
    # Only the history the day's reversals can look up: memory bounded by the matching keys.
    # Read filtered: the REVERSEs' numbers only, not a column of every record.
    keys = named_by_reversals(*(parsed[side].scan("txn_type", "original_confirmation_number").filter(
        pl.col("txn_type") == REVERSE).collect() for side in SIDES))
    ctx = load_context(conn, sponsor, day, settings.grace_days, settings.lookback_days, keys=keys)
    params = MatchParams(sponsor, day, zone, settings.match_tolerance, settings.grace_days,
                         Rates(settings.miles_per_unit, settings.dollars_per_unit))
    result = _match(parsed, ctx, params)
    has_pending = bool(result.cands.get_column("is_pending").any())  # else no copy of millions of rows
    records = result.cands.filter(~pl.col("is_pending")) if has_pending else result.cands
    unplaced = records.filter(pl.col("disposition") == "UNPLACED").height
    if unplaced:
        raise AssertionError(f"{unplaced} records ended in no place (conservation violated)")
    # Totalled now, the records' amounts leave memory before the write: only where each
    # record ended is written with it.
    totals = summaries.record_totals(records)
    del records
    result = replace(result, cands=result.cands.select("is_pending", "disposition"))

    now = now_utc()
    matched_pairs = result.matches.height
    rejected = pl.concat([parsed[s].rejected for s in SIDES])
    supersede(conn, sponsor, day)
    run_id = insert_run(conn, {**row, "status": "SUCCEEDED", "is_current": True,
                               "version": ctx.next_version, "rejected_records": rejected.height,
                               "matched_pairs": matched_pairs})
    restore_breaks(conn, ctx.restorable, run_id, now)
    apply_pending_updates(conn, result.pending_updates, run_id, day, now)
    breaks = insert_breaks(conn, result.breaks, run_id=run_id, sponsor=sponsor,
                           previous_runs=ctx.previous_runs, now=now)
    pending = breaks.filter(pl.col("status") == "PENDING", pl.col("record_rid").is_not_null()).select(
        "record_rid", "break_id")
    breaks = breaks.select(BREAK_TOTALS)  # written: only what the summary counts stays in memory
    runs.write_matches(conn, run_id, sponsor, day, result.matches)
    # Written: the match rows and the unnumbered breaks leave memory before the day's records load.
    result = replace(result, matches=result.matches.clear(), breaks=result.breaks.clear())
    runs.write_records(conn, run_id, rejected=rejected, records=_day_records(result),
                       pending=result.records(pending.get_column("record_rid")).with_columns(
                           break_id=pending.get_column("break_id")))
    limit = limit_breaks(conn, sponsor, day, settings.timezone, settings.daily_limit)
    limit_rows = insert_breaks(conn, limit, run_id=run_id, sponsor=sponsor, previous_runs=[],
                               now=now)
    all_breaks = pl.concat([breaks, limit_rows.select(BREAK_TOTALS)], how="vertical_relaxed") \
        if limit_rows.height else breaks
    summary = summaries.summary_rows(run_id, sponsor, day, parsed, totals, all_breaks)
    summaries.check_conservation(summary)
    runs.write_summary(conn, summary)
    write_quality(conn, run_id, quality)
    runs.finish_run(conn, run_id)
    failpoint("before-commit")
    outcome.status, outcome.run_id, outcome.version = "SUCCEEDED", run_id, ctx.next_version
    outcome.counts = summaries.outcome_counts(summary, all_breaks, matched_pairs)
    outcome.money_at_stake = summaries.money_at_stake(all_breaks)


def _match(parsed: dict[str, ParsedFile], ctx: Any, params: MatchParams) -> MatchResult:
    """Run the matching on the day's records, read from where the parse left them.

    Of spilled records only the columns matching reads come into memory
    (``MATCH_COLUMNS``); the rest are gathered from the Parquet files for the
    few records that need them. Only the candidates outlive this call.
    """
    spilled = {s: p.records_path for s, p in parsed.items() if p.records is None and p.records_path}
    partner, platform = (parsed[s].scan(*MATCH_COLUMNS) if s in spilled else parsed[s].frame()
                         for s in (PARTNER, PLATFORM))
    result = reconcile(partner, platform, ctx.pending, ctx.history, params, spilled)
    release_memory()
    return result


def _day_records(result: MatchResult) -> list[Rows]:
    """This day's records of each side with their disposition, from where matching found them.

    A side's records are one run of candidates (``rid`` order is its line
    order), so its dispositions are a slice of the column, never a join.
    """
    disposition = result.cands.get_column("disposition")
    return [Rows(seg.frame if seg.frame is not None else seg.path,  # type: ignore[arg-type]
                 disposition.slice(seg.start, seg.length).to_frame())
            for seg in result.source.segments if not seg.pending]


def _reports(engine: Engine, settings: Settings, outcome: RunOutcome) -> None:
    if outcome.run_id is None or settings.reports.get("enabled", True) is False:
        return
    from reconciliation.reports import write_run_reports

    try:
        outcome.report_paths.update(write_run_reports(engine, outcome.run_id, settings))
    except Exception as exc:
        log.exception("reports for run %s failed", outcome.run_id)
        outcome.warnings.append(f"reports for run {outcome.run_id} were not written: "
                                f"{briefly(exc, settings.warehouse_url, 'writing the reports')}")


__all__ = ["RunOutcome", "forget_warehouse", "gate_day", "run_day", "sponsors_for", "warehouse"]
