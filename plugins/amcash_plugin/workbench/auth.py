"""Who is asking: the user Airflow's UI signed in, and the cross-site forgery check.

Airflow protects its own API but not a plugin's app, so every route here
depends on ``current_user``: the JWT from ``Authorization: Bearer`` or, for
the browser, Airflow's ``_token`` cookie, verified by Airflow's auth manager
exactly as the core API does (``get_user_from_token``). No token, or an
invalid or expired one: 401.

Forms that change anything carry a token derived from the session's JWT
(an HMAC under a server secret), so a page of another site cannot forge one;
a request whose ``Origin`` is another host is refused as well.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request, status

TOKEN_COOKIE = "_token"  # airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class User:
    """A signed-in Airflow user and the token that proved it (forwarded to Airflow's API)."""

    name: str
    token: str


def request_token(request: Request) -> str | None:
    """The JWT of a request: an explicit bearer header wins over the session cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(TOKEN_COOKIE)


async def airflow_user(token: str) -> Any:
    """Verify a JWT with Airflow's auth manager; raises on an invalid or expired token."""
    from airflow.api_fastapi.app import get_auth_manager

    return await get_auth_manager().get_user_from_token(token)


async def current_user(request: Request) -> User:
    """FastAPI dependency: the signed-in user, or 401."""
    token = request_token(request)
    if not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "Sign in to Airflow first.", headers={"WWW-Authenticate": "Bearer"}
        )
    resolve = getattr(request.app.state, "resolve_user", None) or airflow_user
    try:
        user = await resolve(token)
    except Exception:  # the auth manager raises jwt errors of several kinds: all mean "not signed in"
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Your Airflow session is not valid (expired or signed out); sign in again.",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Sign in to Airflow first.")
    return User(name=str(user.get_name()), token=token)


def login_url(request: Request) -> str:
    """Airflow's sign-in page (of whichever auth manager is configured), coming back here afterwards."""
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return str(get_auth_manager().get_url_login(next_url=str(request.url)))
    except Exception:  # no auth manager initialised (the app alone, outside Airflow)
        return "/auth/login?next=" + quote(str(request.url), safe="")


def server_secret() -> bytes:
    """The key CSRF tokens are derived with: Airflow's JWT secret when set, else per process."""
    try:
        from airflow.configuration import conf

        secret = conf.get("api_auth", "jwt_secret", fallback="") or ""
    except Exception:  # outside Airflow (tests of the app alone): a process secret is enough
        secret = ""
    return hashlib.sha256(secret.encode()).digest() if secret else os.urandom(32)


def csrf_token(secret: bytes, user: User) -> str:
    """The form token of this session: tied to its JWT, useless to anyone without it."""
    return hmac.new(secret, f"csrf:{user.name}:{user.token}".encode(), hashlib.sha256).hexdigest()


def notice_signature(secret: bytes, token: str | None, notice: str) -> str:
    """A redirect's notice ("2 breaks resolved") signed for this session.

    The page shows a notice from its URL only with this signature, so a
    crafted link cannot make the workbench tell someone a thing it did not do.
    """
    return hmac.new(secret, f"notice:{token or ''}:{notice}".encode(), hashlib.sha256).hexdigest()[:32]


def check_same_origin(request: Request) -> None:
    """Refuse a state-changing request sent from a page of another origin (403)."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "request from another site refused (cross-site forgery)"
            )


def check_csrf(secret: bytes, user: User, submitted: str | None) -> None:
    """Refuse a state-changing request without this session's form token (403)."""
    if not submitted or not hmac.compare_digest(submitted, csrf_token(secret, user)):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "the form's security token is missing or out of date; reload the page and try again",
        )
