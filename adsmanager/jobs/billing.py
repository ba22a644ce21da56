"""Moving charges into the ledger, and checking the ledger against Stripe."""

from __future__ import annotations

import logging
from datetime import timedelta

from adsmanager.config import Settings
from adsmanager.db.base import utcnow
from adsmanager.db.database import Database
from adsmanager.services import reconciliation, spend_posting
from adsmanager.services.funding import make_gateway

log = logging.getLogger(__name__)
# Stripe's webhooks arrive within seconds; an hour's margin keeps a payment whose webhook is
# still on its way from being reported as missing.
SETTLING = timedelta(hours=1)


def post_spend(db: Database, settings: Settings) -> str:
    posted = spend_posting.post_spend(db)
    return f"posted {posted.charges} charges in {posted.entries} entries, {posted.micros} micros"


def reconcile_stripe(db: Database, settings: Settings) -> str:
    gateway = make_gateway(settings)
    if gateway is None:
        return "skipped: Stripe is not configured"
    until = utcnow() - SETTLING
    run = reconciliation.reconcile(db, gateway, until - timedelta(days=1), until)
    if run.differences:
        log.error("reconciliation %s: %d differences", run.id, len(run.differences))
    return (
        f"reconciliation {run.id}: {run.stripe_objects} Stripe objects, "
        f"{run.ledger_entries} ledger entries, {len(run.differences)} differences"
    )
