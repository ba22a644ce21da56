"""Server-rendered pages for people: sign-in now, the advertiser, finance and admin pages
later. Pages call the same services as the API.

Every page lives in the ``web`` blueprint (later pages as blueprints nested in it), whose
``before_request`` checks the CSRF token of every unsafe request and loads the signed-in
user. The /v1 API is not covered: it takes bearer keys, never cookies, so there is nothing
for a forged cross-site form to ride on.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Blueprint, Flask, g, render_template, session
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from adsmanager.config import Settings
from adsmanager.services import users
from adsmanager.services.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PaymentDeclined,
    PermissionDenied,
    ServiceError,
    Unavailable,
)
from adsmanager.vocabulary import Role

SESSION_LIFETIME = timedelta(hours=12)
log = logging.getLogger(__name__)

csrf = CSRFProtect()
bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",  # the app itself answers /static (an empty folder)
)


@bp.before_request
def _check_csrf_and_load_user() -> None:
    csrf.protect()
    g.user = None
    user_id, version = session.get("user_id"), session.get("session_version")
    if user_id is None:
        return
    g.user = users.session_user(_db(), user_id, version)
    if g.user is None:  # disabled, or signed out everywhere: the cookie is worth nothing now
        session.clear()


@bp.after_request
def _page_headers(response):
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if g.get("user") is not None:
        response.headers.setdefault("Cache-Control", "no-store")
    return response


# Each role's pages, in the main navigation and on the home page.
PAGES = {
    Role.ADVERTISER: (
        ("/dashboard", "Dashboard"),
        ("/campaigns", "Campaigns"),
        ("/funding", "Funding"),
        ("/statements", "Statements"),
    ),
    Role.ADMIN: (
        ("/admin/review", "Ad review"),
        ("/admin/models", "CTR models"),
        ("/admin/fund-rules", "Fund rules"),
        ("/finance/payout-runs", "Payout runs"),
        ("/finance/ledger", "Ledger"),
        ("/finance/reconciliation", "Reconciliation"),
    ),
    Role.FINANCE: (
        ("/finance/payout-runs", "Payout runs"),
        ("/finance/ledger", "Ledger"),
        ("/finance/reconciliation", "Reconciliation"),
        ("/admin/fund-rules", "Fund rules"),
    ),
}


@bp.app_context_processor
def _navigation() -> dict:
    def pages_of(user) -> tuple[tuple[str, str], ...]:
        return PAGES.get(user.actor.role, ()) if user is not None else ()

    return {"pages_of": pages_of}


@bp.errorhandler(CSRFError)
def _csrf_failed(error: CSRFError):
    message = "The form expired or did not come from this site. Reload the page and try again."
    return render_template("error.html", status=400, message=message), 400


@bp.errorhandler(NotFound)
def _service_not_found(error: NotFound):
    return _not_found(error)


# A service's refusal that a page did not handle itself: a page with the API's status (a
# refused permission looks like a missing page, as the role checks do), never API JSON.
SERVICE_STATUS = (
    (InvalidInput, 400),
    (PermissionDenied, 404),
    (Conflict, 409),
    (PaymentDeclined, 402),
    (Unavailable, 503),
)


@bp.errorhandler(ServiceError)
def _service_refused(error: ServiceError):
    status = next((code for kind, code in SERVICE_STATUS if isinstance(error, kind)), 400)
    if status == 404:
        return _not_found(error)
    message = error.message
    if isinstance(error, InvalidInput):
        message += " " + " ".join(
            f"{path}: {' '.join(texts)}" for path, texts in error.fields.items()
        )
    return render_template("error.html", status=status, message=message), status


@bp.errorhandler(OperationalError)
def _database_down(error: OperationalError):
    log.error("database error: %s", error.orig)
    message = "The database is not reachable; try again in a moment."
    return render_template("error.html", status=503, message=message), 503


@bp.errorhandler(Exception)
def _unexpected(error: Exception):
    log.exception("unhandled error on a page")
    message = "Something went wrong on our side; the request id helps us find it."
    return render_template("error.html", status=500, message=message), 500


@bp.errorhandler(404)
def _not_found(error):
    return render_template("error.html", status=404, message="This page does not exist."), 404


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    status = error.code or 500
    return render_template("error.html", status=status, message=error.description), status


def _db():
    from flask import current_app

    return current_app.extensions["adsmanager.db"]


def init_app(app: Flask, settings: Settings) -> None:
    # Routes; each page module nests its blueprint in ``web`` on import.
    from adsmanager.web import account, admin, advertiser, auth, finance, ledger  # noqa: F401

    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        # Checked by the web blueprint only (see _check_csrf_and_load_user), not app-wide.
        WTF_CSRF_CHECK_DEFAULT=False,
        # A token lives as long as the session, so a form left open for an hour still posts.
        WTF_CSRF_TIME_LIMIT=None,
    )
    csrf.init_app(app)
    app.register_blueprint(bp)
