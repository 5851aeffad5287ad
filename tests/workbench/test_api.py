"""The workbench's rules at the HTTP level: who may see and do what, forgery, four eyes, the audit trail.

Requests go through the app exactly as the plugin mounts it, signed in with
JWTs that Airflow's SimpleAuthManager issued; the warehouse is a real one
reconciled by ``recon run``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.workbench.conftest import THRESHOLD
from tests.workbench.helpers import csrf, open_break, query, sign_in

pytestmark = pytest.mark.airflow  # Airflow's auth manager and its metadata database sign the tokens

HIGH = Decimal(THRESHOLD)
GET_PAGES = [
    "/",
    "/breaks",
    "/breaks/1",
    "/breaks/export.csv",
    "/breaks/export.xlsx",
    "/approvals",
    "/nights",
    "/operations",
    "/audit",
    "/operations/rerun?sponsor=ABCD&day=2026-11-22",
    "/reports/x.html",
]
POSTS = [
    "/breaks/1/resolve",
    "/breaks/1/reopen",
    "/breaks/1/comment",
    "/breaks/1/assign",
    "/breaks/bulk",
    "/approvals/1/approve",
    "/approvals/1/refuse",
    "/operations/rerun",
]


def audit_rows(url: str) -> list[Any]:
    return query(
        url,
        "SELECT actor, action, break_id, request_id, reason_code, note, source FROM recon_audit "
        "ORDER BY audit_id",
    )


@pytest.mark.parametrize("path", GET_PAGES)
def test_every_page_refuses_a_request_without_an_airflow_login(client: Any, path: str) -> None:
    client.cookies.clear()
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 401
    assert "Sign in to Airflow" in response.text


@pytest.mark.parametrize("path", POSTS)
def test_every_action_refuses_a_request_without_an_airflow_login(
    client: Any, warehouse: str, path: str
) -> None:
    client.cookies.clear()
    response = client.post(path, data={"note": "x", "reason": "WRITTEN_OFF", "ids": "1"})
    assert response.status_code == 401
    assert audit_rows(warehouse) == []


def test_a_forged_or_expired_token_is_not_a_login(client: Any, auth_manager: Any) -> None:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    sign_in(client, "not-a-jwt")
    assert client.get("/breaks").status_code == 401
    expired = auth_manager.generate_jwt(
        SimpleAuthManagerUser(username="alice", role="op"), expiration_time_in_seconds=-60
    )
    sign_in(client, expired)
    assert client.get("/breaks").status_code == 401


def test_the_bearer_header_signs_in_like_the_cookie(client: Any, token: Any) -> None:
    client.cookies.clear()
    response = client.get("/breaks", headers={"Authorization": f"Bearer {token('vic')}"})
    assert response.status_code == 200
    assert "Signed in as <b>vic</b> · viewer" in response.text


def test_an_airflow_user_without_a_workbench_role_is_refused(client: Any, token: Any) -> None:
    sign_in(client, token("nora"))
    response = client.get("/breaks")
    assert response.status_code == 403
    assert "not given a workbench role" in response.text


def test_a_viewer_reads_but_every_action_is_forbidden(client: Any, token: Any, warehouse: str) -> None:
    sign_in(client, token("vic"))
    break_id = open_break(warehouse, below=HIGH)
    assert client.get(f"/breaks/{break_id}").status_code == 200
    form_token = csrf(client)
    for path, data in [
        (f"/breaks/{break_id}/resolve", {"reason": "WRITTEN_OFF", "note": "n"}),
        (f"/breaks/{break_id}/comment", {"note": "n"}),
        (f"/breaks/{break_id}/assign", {"assignee": "vic"}),
        ("/breaks/bulk", {"action": "resolve", "ids": str(break_id), "reason": "WRITTEN_OFF", "note": "n"}),
        ("/operations/rerun", {"sponsor": "ABCD", "day": "2026-11-22"}),
    ]:
        response = client.post(path, data={**data, "csrf": form_token})
        assert response.status_code == 403, path
        assert "needs the resolver role" in response.text
    assert client.get("/operations/rerun?sponsor=ABCD&day=2026-11-22").status_code == 403
    assert audit_rows(warehouse) == []


def test_a_resolver_cannot_approve(client: Any, token: Any, warehouse: str) -> None:
    break_id = open_break(warehouse, at_least=HIGH)
    sign_in(client, token("alice"))
    client.post(
        f"/breaks/{break_id}/resolve",
        data={"reason": "WRITTEN_OFF", "note": "partner agreed", "csrf": csrf(client)},
    )
    request_id = query(warehouse, "SELECT request_id FROM recon_approval")[0][0]
    sign_in(client, token("rita"))
    response = client.post(f"/approvals/{request_id}/approve", data={"csrf": csrf(client)})
    assert response.status_code == 403
    assert "needs the approver role" in response.text


def test_an_action_without_the_form_token_is_refused(client: Any, token: Any, warehouse: str) -> None:
    sign_in(client, token("rita"))
    break_id = open_break(warehouse, below=HIGH)
    response = client.post(f"/breaks/{break_id}/resolve", data={"reason": "WRITTEN_OFF", "note": "n"})
    assert response.status_code == 403
    assert "security token" in response.text
    assert query(warehouse, "SELECT status FROM recon_break WHERE break_id = :i", i=break_id)[0][0] == "OPEN"
    assert audit_rows(warehouse) == []


def test_another_sessions_form_token_is_refused(client: Any, token: Any, warehouse: str) -> None:
    sign_in(client, token("alice"))
    alices = csrf(client)
    sign_in(client, token("rita"))
    break_id = open_break(warehouse, below=HIGH)
    response = client.post(
        f"/breaks/{break_id}/resolve", data={"reason": "WRITTEN_OFF", "note": "n", "csrf": alices}
    )
    assert response.status_code == 403
    assert audit_rows(warehouse) == []


def test_a_request_from_another_site_is_refused(client: Any, token: Any, warehouse: str) -> None:
    sign_in(client, token("rita"))
    break_id = open_break(warehouse, below=HIGH)
    response = client.post(
        f"/breaks/{break_id}/resolve",
        headers={"Origin": "https://evil.example"},
        data={"reason": "WRITTEN_OFF", "note": "n", "csrf": csrf(client)},
    )
    assert response.status_code == 403
    assert "another site" in response.text
    assert audit_rows(warehouse) == []


def test_a_resolver_resolves_a_small_break_and_the_audit_trail_shows_it(
    client: Any, token: Any, warehouse: str
) -> None:
    sign_in(client, token("rita"))
    break_id = open_break(warehouse, below=HIGH)
    response = client.post(
        f"/breaks/{break_id}/resolve",
        data={"reason": "PARTNER_CORRECTED", "note": "partner re-sent the sale", "csrf": csrf(client)},
    )
    assert response.status_code == 200  # followed the redirect to the break's page
    assert f"resolved 1 break: {break_id}" in response.text
    assert 'data-k="status">RESOLVED' in response.text
    assert "partner re-sent the sale" in response.text
    status, resolution, by = query(
        warehouse, "SELECT status, resolution, resolved_by FROM recon_break WHERE break_id = :i", i=break_id
    )[0]
    assert (status, resolution, by) == ("RESOLVED", "PARTNER_CORRECTED", "rita")
    assert audit_rows(warehouse) == [
        ("rita", "RESOLVE", break_id, None, "PARTNER_CORRECTED", "partner re-sent the sale", "web")
    ]
    events = query(
        warehouse,
        "SELECT old_status, new_status, changed_by FROM recon_break_event WHERE break_id = :i",
        i=break_id,
    )
    assert events[-1] == ("OPEN", "RESOLVED", "rita")


def test_a_crafted_link_cannot_put_words_in_the_workbench_s_mouth(
    client: Any, token: Any, warehouse: str
) -> None:
    sign_in(client, token("rita"))
    break_id = open_break(warehouse, below=HIGH)
    crafted = client.get(f"/breaks/{break_id}", params={"msg": "approved by the controller, nothing to do"})
    assert crafted.status_code == 200
    assert "approved by the controller" not in crafted.text
    forged = client.get(f"/breaks/{break_id}", params={"err": "call 555-0100", "err_sig": "0" * 32})
    assert "555-0100" not in forged.text
    done = client.post(
        f"/breaks/{break_id}/comment", data={"note": "looked at it", "csrf": csrf(client)}
    )
    assert "comment added" in done.text  # the workbench's own notice, signed for this session


def test_a_resolution_needs_a_note_and_a_known_reason(client: Any, token: Any, warehouse: str) -> None:
    sign_in(client, token("rita"))
    break_id = open_break(warehouse, below=HIGH)
    form_token = csrf(client)
    assert (
        client.post(
            f"/breaks/{break_id}/resolve", data={"reason": "WRITTEN_OFF", "note": " ", "csrf": form_token}
        ).status_code
        == 400
    )
    assert (
        client.post(
            f"/breaks/{break_id}/resolve", data={"reason": "MATCHED_LATER", "note": "n", "csrf": form_token}
        ).status_code
        == 400
    )
    assert audit_rows(warehouse) == []


def test_four_eyes_a_large_resolution_waits_for_a_second_approver(
    client: Any, token: Any, warehouse: str
) -> None:
    break_id = open_break(warehouse, at_least=HIGH)
    sign_in(client, token("alice"))
    response = client.post(
        f"/breaks/{break_id}/resolve",
        data={"reason": "WRITTEN_OFF", "note": "small partner", "csrf": csrf(client)},
    )
    assert "need" in response.text and "approval" in response.text
    assert (
        query(warehouse, "SELECT status FROM recon_break WHERE break_id = :i", i=break_id)[0][0] != "RESOLVED"
    )
    request_id = query(warehouse, "SELECT request_id FROM recon_approval WHERE break_id = :i", i=break_id)[0][
        0
    ]

    own = client.post(f"/approvals/{request_id}/approve", data={"csrf": csrf(client)})
    assert own.status_code == 403
    assert "cannot approve" in own.text
    assert query(warehouse, "SELECT status FROM recon_approval")[0][0] == "PENDING"

    again = client.post(
        f"/breaks/{break_id}/resolve", data={"reason": "WRITTEN_OFF", "note": "again", "csrf": csrf(client)}
    )
    assert again.status_code == 409

    sign_in(client, token("bob"))
    approved = client.post(f"/approvals/{request_id}/approve", data={"csrf": csrf(client), "note": "checked"})
    assert approved.status_code == 200
    status, by = query(
        warehouse, "SELECT status, resolved_by FROM recon_break WHERE break_id = :i", i=break_id
    )[0]
    assert (status, by) == ("RESOLVED", "alice, approved by bob")
    assert [(a[0], a[1]) for a in audit_rows(warehouse)] == [
        ("alice", "REQUEST_APPROVAL"),
        ("bob", "APPROVE"),
    ]
    assert client.post(f"/approvals/{request_id}/approve", data={"csrf": csrf(client)}).status_code == 409


def test_a_refusal_needs_a_note_and_leaves_the_break_open(client: Any, token: Any, warehouse: str) -> None:
    break_id = open_break(warehouse, at_least=HIGH)
    sign_in(client, token("alice"))
    client.post(
        f"/breaks/{break_id}/resolve", data={"reason": "WRITTEN_OFF", "note": "n", "csrf": csrf(client)}
    )
    request_id = query(warehouse, "SELECT request_id FROM recon_approval")[0][0]
    sign_in(client, token("bob"))
    assert client.post(f"/approvals/{request_id}/refuse", data={"csrf": csrf(client)}).status_code == 400
    refused = client.post(
        f"/approvals/{request_id}/refuse", data={"csrf": csrf(client), "note": "no evidence"}
    )
    assert refused.status_code == 200
    assert query(warehouse, "SELECT status FROM recon_break WHERE break_id = :i", i=break_id)[0][0] == "OPEN"
    assert query(warehouse, "SELECT status, decided_by FROM recon_approval")[0] == ("REFUSED", "bob")


def test_reopen_comment_and_assign_are_audited(client: Any, token: Any, warehouse: str) -> None:
    sign_in(client, token("rita"))
    break_id = open_break(warehouse, below=HIGH)
    form_token = csrf(client)
    client.post(
        f"/breaks/{break_id}/resolve", data={"reason": "WRITTEN_OFF", "note": "n", "csrf": form_token}
    )
    reopened = client.post(
        f"/breaks/{break_id}/reopen", data={"reason": "NOT_A_BREAK", "note": "wrong one", "csrf": form_token}
    )
    assert 'data-k="status">OPEN' in reopened.text
    client.post(f"/breaks/{break_id}/comment", data={"note": "called the partner", "csrf": form_token})
    assigned = client.post(f"/breaks/{break_id}/assign", data={"assignee": "rita", "csrf": form_token})
    assert 'data-k="assignee">rita' in assigned.text
    assert [a[1] for a in audit_rows(warehouse)] == ["RESOLVE", "REOPEN", "COMMENT", "ASSIGN"]
    mine = client.get("/breaks?assignee=rita")
    assert f'data-id="{break_id}"' in mine.text and 'data-k="total">1<' in mine.text


def test_filters_totals_and_the_export_are_exactly_the_view(client: Any, token: Any, warehouse: str) -> None:
    sign_in(client, token("vic"))
    params = "sponsor=ABCD&type=DUPLICATE&status=ALL&min_amount=20"
    page = client.get(f"/breaks?{params}")
    expected = query(
        warehouse,
        "SELECT count(*), sum(abs(delta_dollars)) FROM recon_break b JOIN recon_run r "
        "ON r.run_id = b.run_id WHERE r.is_current AND b.sponsor_code = 'ABCD' AND "
        "break_type = 'DUPLICATE' AND abs(delta_dollars) >= 20",
    )[0]
    assert f'data-k="total">{expected[0]}<' in page.text
    assert f"${expected[1]:,.2f}" in page.text
    exported = client.get(f"/breaks/export.csv?{params}")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.strip().split("\r\n")
    assert len(lines) == expected[0] + 1
    ids_on_screen = [int(x) for x in __import__("re").findall(r'data-id="(\d+)"', page.text)]
    assert [int(line.split(",")[0]) for line in lines[1:]][: len(ids_on_screen)] == ids_on_screen
    xlsx = client.get(f"/breaks/export.xlsx?{params}")
    assert xlsx.content[:2] == b"PK"


def test_a_bad_filter_is_a_clear_error(client: Any, token: Any) -> None:
    sign_in(client, token("vic"))
    response = client.get("/breaks?from=yesterday")
    assert response.status_code == 400
    assert "from must be a date" in response.text


def test_nights_and_operations_show_the_missing_day(client: Any, token: Any) -> None:
    sign_in(client, token("vic"))
    nights = client.get("/nights?from=2026-11-20&to=2026-11-22")
    assert nights.status_code == 200
    assert 'data-cell="ABCD-2026-11-20" data-status="breaks"' in nights.text
    assert 'data-cell="ABCD-2026-11-22" data-status="missing"' in nights.text
    ops = client.get("/operations?from=2026-11-20&to=2026-11-22")
    assert 'data-op="ABCD-2026-11-22"' in ops.text
    assert "no partner file and platform file" in ops.text


def test_report_files_cannot_escape_the_reports_folder(client: Any, token: Any) -> None:
    sign_in(client, token("vic"))
    assert client.get("/reports/../../etc/passwd").status_code in (404, 400)
    assert client.get("/reports/%2e%2e/%2e%2e/etc/passwd").status_code == 404
