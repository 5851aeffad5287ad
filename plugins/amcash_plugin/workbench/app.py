"""The workbench's pages and actions: HTTP in, ``reconciliation.workbench`` calls, HTML out.

Every route depends on ``current_user`` (Airflow's login; 401 without it);
every POST also checks the form token and the origin (cross-site forgery,
403) before the workbench checks the user's role (403) and the break's state
(409). Pages are rendered on the server; the little JavaScript there is
(select all, confirmations) is inline under a per-response nonce, so the
pages work without it and load nothing from anywhere.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from amcash_plugin.workbench import airflow_api
from amcash_plugin.workbench.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    User,
    check_csrf,
    check_same_origin,
    csrf_token,
    current_user,
    login_url,
    notice_signature,
    request_token,
    server_secret,
)
from reconciliation.errors import ReconError
from reconciliation.reports.html import money, number, when
from reconciliation.warehouse.schema import BREAK_TYPES
from reconciliation.workbench import config as wconfig
from reconciliation.workbench import export, filters
from reconciliation.workbench.core import Workbench
from reconciliation.workbench.service import Conflict, Forbidden, NotFound
from reconciliation.workbench.store import WarehouseBusy

HERE = Path(__file__).parent
REPORT_CSS = Path(__file__).resolve().parents[3] / "reconciliation" / "reports" / "templates" / "report.css"
UserDep = Annotated[User, Depends(current_user)]
#: (field, label, whether a difference is the break) of the side-by-side table.
FIELDS = (
    ("units", "units", True),
    ("miles", "miles", True),
    ("dollars", "dollars", True),
    ("ts", "time", None),
    ("business_date", "business date", True),
    ("line", "file line", False),
)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=money, number=number, when=when, label=lambda s: str(s or "").replace("_", " ").lower()
    )
    return env


def _css() -> str:
    from importlib.resources import files

    try:
        base = files("reconciliation.reports").joinpath("templates/report.css").read_text()
    except (FileNotFoundError, ModuleNotFoundError):
        base = REPORT_CSS.read_text()
    return base + (HERE / "templates" / "workbench.css").read_text()


def create_app(
    workbench: Workbench | Callable[[], Workbench] | None = None,
    resolve_user: Callable[[str], Any] | None = None,
    airflow_base_url: str | None = None,
) -> FastAPI:
    """The workbench app.

    Args:
        workbench: The workbench (or a factory); by default built on first use from
            the configuration file named by ``$RECON_CONFIG``.
        resolve_user: Verifies a JWT and returns the user; Airflow's auth manager by default.
        airflow_base_url: Where Airflow's REST API is; by default the host the request came to.
    """
    app = FastAPI(title="AM Cash reconciliation workbench", docs_url=None, redoc_url=None, openapi_url=None)
    env = _env()
    css = _css()
    secret = server_secret()
    app.state.resolve_user = resolve_user
    built: dict[str, Workbench] = {}

    def bench() -> Workbench:
        if "wb" not in built:
            if isinstance(workbench, Workbench):
                built["wb"] = workbench
            elif workbench is not None:
                built["wb"] = workbench()
            else:
                settings, cfg = wconfig.load()
                built["wb"] = Workbench(settings, cfg)
        return built["wb"]

    def page(
        request: Request, template: str, user: User | None, code: int = 200, **context: Any
    ) -> HTMLResponse:
        nonce = secrets.token_urlsafe(12)
        wb = built.get("wb")
        html = env.get_template(template).render(
            css=css,
            nonce=nonce,
            user=user,
            role=wb.role(user.name) if (wb and user) else None,
            csrf=csrf_token(secret, user) if user else "",
            root=str(request.scope.get("root_path", "")),
            flash=signed_notice(request, "msg"),
            error=signed_notice(request, "err"),
            **context,
        )
        response = HTMLResponse(html, status_code=code)
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; "
            "img-src 'self' data:; form-action 'self'; frame-ancestors 'self'; base-uri 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        return response

    def signed_notice(request: Request, name: str) -> str | None:
        text = request.query_params.get(name)
        if not text:
            return None
        expected = notice_signature(secret, request_token(request), f"{name}:{text}")
        return text if hmac.compare_digest(request.query_params.get(f"{name}_sig", ""), expected) else None

    def back(request: Request, path: str, msg: str | None = None, err: str | None = None) -> RedirectResponse:
        token = request_token(request)
        notices = {k: v for k, v in (("msg", msg), ("err", err)) if v}
        signed = {f"{k}_sig": notice_signature(secret, token, f"{k}:{v}") for k, v in notices.items()}
        query = urlencode({**notices, **signed})
        root = str(request.scope.get("root_path", ""))
        return RedirectResponse(
            f"{root}{path}{'&' if '?' in path else '?'}{query}" if query else f"{root}{path}",
            status_code=status.HTTP_303_SEE_OTHER,
        )

    async def guard(request: Request, user: User) -> dict[str, Any]:
        """The POST checks: same origin, this session's form token. Returns the form."""
        check_same_origin(request)
        form = {k: v for k, v in (await request.form()).multi_items() if isinstance(v, str)}
        check_csrf(secret, user, request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD))
        return form

    async def ids_of(request: Request) -> list[int]:
        try:
            return [int(str(v)) for v in (await request.form()).getlist("ids")]
        except ValueError:
            raise ReconError("break ids must be numbers") from None

    # -- errors ------------------------------------------------------------------------------------
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 401:
            response = page(
                request,
                "error.html.j2",
                None,
                401,
                title="Sign in",
                message=str(exc.detail),
                login=login_url(request),
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return page(
            request,
            "error.html.j2",
            None,
            exc.status_code,
            title="Refused",
            message=str(exc.detail),
            login=None,
        )

    def mapped(request: Request, user: User | None, exc: ReconError) -> HTMLResponse:
        code = {Forbidden: 403, NotFound: 404, Conflict: 409, WarehouseBusy: 503}.get(type(exc), 400)
        titles = {
            403: "Not allowed",
            404: "Not found",
            409: "Cannot do that now",
            503: "Warehouse busy",
            400: "Cannot do that",
        }
        response = page(
            request, "error.html.j2", user, code, title=titles[code], message=str(exc), login=None
        )
        if code == 503:
            response.headers["Retry-After"] = "60"
        return response

    def run(request: Request, user: User, work: Callable[[], Response]) -> Response:
        try:
            return work()
        except ReconError as exc:
            return mapped(request, user, exc)

    # -- pages -------------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def home(request: Request, user: UserDep) -> Response:
        return back(request, "/breaks")

    def _query(request: Request, page_no: int = 1) -> Any:
        wb = bench()
        return filters.parse(request.query_params, page=page_no, page_size=wb.config.page_size)

    @app.get("/breaks", response_class=HTMLResponse)
    def breaks_page(
        request: Request, user: UserDep, page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1
    ) -> Response:
        def work() -> Response:
            q = _query(request, page_no)
            wb = bench()
            result = wb.breaks(user.name, q)
            choices = result.choices  # one connection per page: opening the file is the dear part
            rows = [export.row_values(r, q.as_of) for r in result.rows]
            return page(
                request,
                "breaks.html.j2",
                user,
                result=result,
                rows=rows,
                q=q,
                choices=choices,
                types=BREAK_TYPES,
                statuses=filters.STATUS_CHOICES,
                severities=filters.SEVERITIES,
                params=lambda **o: filters.to_params(q, **o),
                reasons=wb.config.reason_codes,
                threshold=wb.config.four_eyes_dollars,
                sorts=list(filters.SORTS),
            )

        return run(request, user, work)

    @app.get("/breaks/export.{fmt}")
    def export_view(request: Request, user: UserDep, fmt: str) -> Response:
        if fmt not in ("csv", "xlsx"):
            raise HTTPException(404, "exports are .csv or .xlsx")

        def work() -> Response:
            q = _query(request)
            rows = bench().export_rows(user.name, q)
            name = f"breaks_{q.as_of.isoformat()}.{fmt}"
            disposition = {
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            }
            if fmt == "csv":
                return Response(
                    export.to_csv(rows, q.as_of), media_type="text/csv; charset=utf-8", headers=disposition
                )
            title = f"AM Cash breaks, {filters.to_params(q) or 'unresolved'}, exported by {user.name}"
            return Response(
                export.to_xlsx(rows, q.as_of, title),
                headers=disposition,
                media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )

        return run(request, user, work)

    @app.get("/breaks/{break_id}", response_class=HTMLResponse)
    def break_page(request: Request, user: UserDep, break_id: int) -> Response:
        def work() -> Response:
            wb = bench()
            data = wb.detail(user.name, break_id)
            b = data["break"]
            drift = b["break_type"] == "TIMESTAMP_DRIFT"
            sides = [
                (
                    f,
                    label,
                    b.get(f"partner_{f}"),
                    b.get(f"platform_{f}"),
                    drift if compared is None else compared,
                )
                for f, label, compared in FIELDS
            ]
            return page(
                request,
                "break.html.j2",
                user,
                d=data,
                b=b,
                sides=sides,
                reasons=wb.config.reason_codes,
                threshold=wb.config.four_eyes_dollars,
                collector=f"****{b['collector_last4']}" if b.get("collector_last4") else None,
            )

        return run(request, user, work)

    @app.get("/approvals", response_class=HTMLResponse)
    def approvals_page(request: Request, user: UserDep) -> Response:
        return run(
            request,
            user,
            lambda: page(
                request,
                "approvals.html.j2",
                user,
                requests=bench().approvals(user.name),
                threshold=bench().config.four_eyes_dollars,
            ),
        )

    @app.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request, user: UserDep) -> Response:
        return run(request, user, lambda: page(request, "audit.html.j2", user, rows=bench().audit(user.name)))

    def _range(request: Request, default_days: int) -> tuple[date, date]:
        today = date.today()
        try:
            end = date.fromisoformat(
                request.query_params.get("to") or (today - timedelta(days=1)).isoformat()
            )
            start = date.fromisoformat(
                request.query_params.get("from") or (end - timedelta(days=default_days - 1)).isoformat()
            )
        except ValueError:
            raise ReconError("from and to must be dates YYYY-MM-DD") from None
        return start, end

    @app.get("/nights", response_class=HTMLResponse)
    def nights_page(request: Request, user: UserDep) -> Response:
        def work() -> Response:
            start, end = _range(request, 14)
            wb = bench()
            cal = wb.nights(user.name, start, end)
            return page(
                request,
                "nights.html.j2",
                user,
                cal=cal,
                start=start,
                end=end,
                reports=_reports_index(wb, cal),
            )

        return run(request, user, work)

    @app.get("/operations", response_class=HTMLResponse)
    def operations_page(request: Request, user: UserDep) -> Response:
        def work() -> Response:
            start, end = _range(request, 30)
            return page(
                request,
                "operations.html.j2",
                user,
                rows=bench().operations(user.name, start, end),
                start=start,
                end=end,
                dag_id=bench().config.dag_id,
            )

        return run(request, user, work)

    @app.get("/operations/rerun", response_class=HTMLResponse)
    def rerun_confirm(
        request: Request, user: UserDep, sponsor: str, day: str, cascade: str = "", force: str = "1"
    ) -> Response:
        def work() -> Response:
            wb = bench()
            wb.require(user.name, "resolver")
            conf = _rerun_conf(sponsor, day, force == "1", cascade == "1")
            return page(request, "rerun.html.j2", user, conf=conf, dag_id=wb.config.dag_id, started=None)

        return run(request, user, work)

    @app.post("/operations/rerun", response_class=HTMLResponse)
    async def rerun(request: Request, user: UserDep) -> Response:
        form = await guard(request, user)
        wb = bench()
        try:
            wb.require(user.name, "resolver")
            conf = _rerun_conf(
                form.get("sponsor", ""),
                form.get("day", ""),
                form.get("force") == "1",
                form.get("cascade") == "1",
            )
        except ReconError as exc:
            return mapped(request, user, exc)
        base = airflow_base_url or f"{request.url.scheme}://{request.url.netloc}"
        try:
            started = await airflow_api.trigger(base, user.token, wb.config.dag_id, conf)
        except airflow_api.TriggerFailed as exc:
            return page(
                request,
                "error.html.j2",
                user,
                502,
                title="Airflow did not start the run",
                message=str(exc),
                login=None,
            )
        try:
            wb.record_rerun(
                user.name,
                conf["sponsors"][0],
                date.fromisoformat(conf["business_date"]),
                str(started.get("dag_run_id")),
                conf,
            )
        except ReconError as exc:
            return mapped(request, user, exc)
        return page(request, "rerun.html.j2", user, conf=conf, dag_id=wb.config.dag_id, started=started)

    @app.get("/reports/{path:path}")
    def report_file(request: Request, user: UserDep, path: str) -> Response:
        def work() -> Response:
            wb = bench()
            wb.require(user.name, "viewer")
            root = wb.settings.reports_dir.resolve()
            target = (root / path).resolve()
            if not target.is_relative_to(root) or not target.is_file():
                raise NotFound(f"no report {path}")
            return FileResponse(target)

        return run(request, user, work)

    # -- actions -----------------------------------------------------------------------------------
    @app.post("/breaks/bulk")
    async def bulk(request: Request, user: UserDep) -> Response:
        form = await guard(request, user)
        wb, back_to = bench(), "/breaks?" + (form.get("back") or "")
        try:
            ids = await ids_of(request)
            action = form.get("action")
            if action == "resolve":
                outcome = wb.resolve(user.name, ids, form.get("reason", ""), form.get("note", ""))
                return back(request, back_to, outcome.sentence("resolved"))
            if action == "assign":
                outcome = wb.assign(user.name, ids, form.get("assignee"))
                return back(request, back_to, outcome.sentence("assigned"))
            raise ReconError("choose resolve or assign")
        except ReconError as exc:
            return mapped(request, user, exc)

    @app.post("/breaks/{break_id}/{action}")
    async def act(request: Request, user: UserDep, break_id: int, action: str) -> Response:
        form = await guard(request, user)
        wb = bench()
        try:
            if action == "resolve":
                msg = wb.resolve(
                    user.name, [break_id], form.get("reason", ""), form.get("note", "")
                ).sentence()
            elif action == "reopen":
                msg = wb.reopen(user.name, [break_id], form.get("reason", ""), form.get("note", "")).sentence(
                    "reopened"
                )
            elif action == "comment":
                wb.comment(user.name, break_id, form.get("note", ""))
                msg = "comment added"
            elif action == "assign":
                wb.assign(user.name, [break_id], form.get("assignee"))
                msg = f"assigned to {form.get('assignee') or 'nobody'}"
            else:
                raise NotFound(f"no action {action!r}")
        except ReconError as exc:
            return mapped(request, user, exc)
        return back(request, f"/breaks/{break_id}", msg)

    @app.post("/approvals/{request_id}/{decision}")
    async def decide(request: Request, user: UserDep, request_id: int, decision: str) -> Response:
        form = await guard(request, user)
        if decision not in ("approve", "refuse"):
            raise HTTPException(404, "approve or refuse")
        try:
            break_id = bench().decide(user.name, request_id, decision == "approve", form.get("note"))
        except ReconError as exc:
            return mapped(request, user, exc)
        verb = "approved: break resolved" if decision == "approve" else "refused: break stays open"
        target = form.get("back") or ""
        target = target if re.fullmatch(r"/breaks/\d+", target) else "/approvals"  # never off this site
        return back(request, target, f"request {request_id} {verb} (break {break_id})")

    return app


def _rerun_conf(sponsor: str, day: str, force: bool, cascade: bool) -> dict[str, Any]:
    code = sponsor.strip().upper()
    if len(code) != 4 or not code.isalnum():
        raise ReconError(f"sponsor must be four letters or digits, not {sponsor!r}")
    try:
        when_ = date.fromisoformat(day.strip())
    except ValueError:
        raise ReconError(f"day must be a date YYYY-MM-DD, not {day!r}") from None
    return airflow_api.rerun_conf(when_, [code], force, cascade)


def _reports_index(wb: Workbench, cal: dict[str, Any]) -> dict[Any, dict[str, str]]:
    """Report links that exist on disk, per (sponsor, day) and per night."""
    root = wb.settings.reports_dir
    out: dict[Any, dict[str, str]] = {}
    for day in cal["days"]:
        if (root / "night" / f"{day.isoformat()}.html").is_file():
            out[day] = {"night": f"reports/night/{day.isoformat()}.html"}
    for (sponsor, day), cell in cal["cells"].items():
        latest = cell.get("latest")
        if not latest:
            continue
        folder = f"{sponsor}/{day.isoformat()}/v{latest['version']}"
        links = {}
        if (root / folder / "report.html").is_file():
            links["run"] = f"reports/{folder}/report.html"
        if (root / folder / "data_docs" / "index.html").is_file():
            links["docs"] = f"reports/{folder}/data_docs/index.html"
        if links:
            out[(sponsor, day)] = links
    return out


def money_or_blank(value: Decimal | None) -> str:
    """Money for a cell, blank when absent."""
    return money(value) if value is not None else ""
