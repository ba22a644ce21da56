"""Finance's ledger and reconciliation views.

Each page calls the same services as its /v1 twin, with the same roles (finance and admin):
the ledger check, the accounts and the journal entries (filtered with the API's own query
schemas, so a value the API refuses is refused here too), and the reconciliations with
Stripe. "Reconcile now" compares the window the nightly job compares; Stripe not being set
up is shown on the page with its 503, never a 500.
"""

from __future__ import annotations

from datetime import timedelta

import marshmallow as ma
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from adsmanager.api.common import stripe_gateway
from adsmanager.api.ledger.schemas import AccountListArgs, EntryListArgs
from adsmanager.db.base import utcnow
from adsmanager.jobs.billing import SETTLING
from adsmanager.services import ledger, reconciliation
from adsmanager.services.errors import Conflict, InvalidInput, Unavailable
from adsmanager.services.funding import require_gateway
from adsmanager.services.pagination import DEFAULT_PAGE_SIZE
from adsmanager.vocabulary import Role
from adsmanager.web import _db
from adsmanager.web import bp as web
from adsmanager.web.auth import signed_in
from billing.ledger import AccountKind, EntryKind

bp = Blueprint("ledger", __name__, url_prefix="/finance")
FINANCE = (Role.FINANCE, Role.ADMIN)  # as in adsmanager.api.ledger
ACCOUNTS_PER_PAGE = DEFAULT_PAGE_SIZE
ENTRIES_PER_PAGE = DEFAULT_PAGE_SIZE
RECENT_RECONCILIATIONS = 20
DIFFERENCES = {
    reconciliation.MISSING_IN_LEDGER: "In Stripe, missing in the ledger",
    reconciliation.MISSING_IN_STRIPE: "In the ledger, missing in Stripe",
    reconciliation.AMOUNT_MISMATCH: "Amounts differ",
}
# The ledger page's query parameters and their labels: the accounts' filters and page token
# are named apart from the entries', as both lists share the page.
FILTERS = {
    "account_kind": "Account kind",
    "owner_id": "Owner",
    "accounts_page_token": "Next accounts link",
    "kind": "Entry kind",
    "advertiser_id": "Advertiser",
    "page_token": "Next entries link",
}


# --- the ledger -------------------------------------------------------------------------------


@bp.get("/ledger")
@signed_in(*FINANCE)
def entries():
    query = {name: request.args.get(name, "").strip() for name in FILTERS}
    account_args = _query(
        AccountListArgs(),
        ACCOUNTS_PER_PAGE,
        query,
        kind="account_kind",
        owner_id="owner_id",
        page_token="accounts_page_token",
    )
    entry_args = _query(
        EntryListArgs(),
        ENTRIES_PER_PAGE,
        query,
        kind="kind",
        advertiser_id="advertiser_id",
        page_token="page_token",
    )
    try:
        accounts = ledger.list_accounts(_db(), **account_args)
        journal = ledger.list_entries(_db(), g.user.actor, **entry_args)
    except InvalidInput:
        abort(400, "That page link is not valid any more; start from the first page.")
    return render_template(
        "ledger/entries.html",
        check=ledger.check(_db()),
        accounts=accounts,
        journal=journal,
        query=query,
        account_kinds=list(AccountKind),
        entry_kinds=list(EntryKind),
    )


def _query(schema: ma.Schema, page_size: int, query: dict[str, str], **names: str) -> dict:
    """The query parameters ``names`` maps the API's to, loaded with the API's query schema
    (blank means "any"); a value the API refuses is a 400 page naming its field."""
    try:
        loaded = schema.load({field: query[name] for field, name in names.items() if query[name]})
    except ma.ValidationError as error:
        problems = "; ".join(
            f"{FILTERS[names.get(field, field)]}: {' '.join(messages)}"
            for field, messages in error.normalized_messages().items()
        )
        abort(400, f"A filter is not valid. {problems}")
    return {**loaded, "page_size": page_size}


# --- reconciliation ---------------------------------------------------------------------------


@bp.get("/reconciliation", endpoint="reconciliation")
@signed_in(*FINANCE)
def runs():
    return _runs_page()


def _runs_page(error: str | None = None, status: int = 200):
    recent = reconciliation.recent(_db(), RECENT_RECONCILIATIONS)
    return (
        render_template(
            "ledger/reconciliation.html", runs=recent, error=error, differences=DIFFERENCES
        ),
        status,
    )


@bp.post("/reconciliation")
@signed_in(*FINANCE)
def reconcile():
    until = utcnow() - SETTLING  # the nightly job's window: the day up to an hour ago
    try:
        gateway = require_gateway(stripe_gateway())
        run = reconciliation.reconcile(_db(), gateway, until - timedelta(days=1), until)
    except Unavailable as unavailable:
        return _runs_page(unavailable.message, 503)
    except Conflict as conflict:
        return _runs_page(conflict.message, 409)
    found = len(run.differences)
    flash(
        f"Reconciliation {run.id}: {run.stripe_objects} Stripe object(s), "
        f"{run.ledger_entries} ledger entr{'y' if run.ledger_entries == 1 else 'ies'}, "
        + (f"{found} difference(s)." if found else "everything matched.")
    )
    return redirect(url_for(".reconciliation"))


# Nested in ``web`` so its before_request (CSRF, the signed-in user) and error pages apply.
# Done once, at import: a blueprint cannot take children after an app registered it.
web.register_blueprint(bp)
