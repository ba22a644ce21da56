"""Signing in and out, the home page, and :func:`signed_in` for the pages to come."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import abort, flash, g, redirect, render_template, request, session, url_for

from adsmanager.services import users
from adsmanager.vocabulary import Role
from adsmanager.web import _db, bp

WRONG_CREDENTIALS = "That email and password do not match an account."


def signed_in(*roles: Role) -> Callable:
    """Only for a signed-in user (others go to the sign-in page), and, when ``roles`` are
    given, only for those roles: any other role gets 404, as if the page did not exist."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if g.get("user") is None:
                return redirect(url_for("web.sign_in", next=_here()))
            if roles and g.user.actor.role not in roles:
                abort(404)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _here() -> str:
    return request.full_path.rstrip("?")


def _safe_next(target: str | None) -> str:
    """Only paths of this site: ``next`` must not send people elsewhere after signing in.

    Browsers drop tabs and line breaks from URLs and read a backslash as ``/``, so a slash,
    a tab and ``/evil`` would become ``//evil``, another site: such characters refuse the
    target outright."""
    if (
        target
        and target.startswith("/")
        and target.isprintable()
        and not any(character.isspace() or character == "\\" for character in target)
        and not target.startswith("//")
    ):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("web.home")


@bp.get("/")
@signed_in()
def home():
    return render_template("home.html", user=g.user)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if request.method == "GET" and g.user is not None:
        return redirect(_safe_next(request.args.get("next")))
    email = request.form.get("email", "")
    error, status = None, 200
    if request.method == "POST":
        password = request.form.get("password", "")
        try:
            signed_in_user = users.sign_in(
                _db(), email, password, request.remote_addr or "", datetime.now(UTC)
            )
        except users.TooManyAttempts as refused:
            error, status = refused.message, 429
        else:
            if signed_in_user is not None:
                session.clear()  # a fresh session (and CSRF token) for the signed-in user
                session.permanent = True
                session["user_id"] = signed_in_user.actor.id
                session["session_version"] = signed_in_user.session_version
                return redirect(_safe_next(request.form.get("next")))
            error = WRONG_CREDENTIALS
    return (
        render_template(
            "sign_in.html", email=email, error=error, next=request.values.get("next", "")
        ),
        status,
    )


@bp.post("/sign-out")
def sign_out():
    users.end_sessions(_db(), session.get("user_id"), session.get("session_version"))
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("web.sign_in"))
