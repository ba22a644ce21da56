"""Finance's payout-run pages through the Flask client, signed in as a browser would be."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from adsmanager.services import payout_runs, users
from adsmanager.vocabulary import PayoutRunStatus, PeriodKind, Role
from tests.fund_data import FINANCE, YESTERDAY, add_creator, set_rules, trailing_views, views
from tests.web.test_sign_in import PASSWORD, csrf_token, sign_in

DAY = YESTERDAY - timedelta(days=1)
FINANCE_EMAIL = "finance@example.com"


def make_user(db, email: str, role: Role, advertiser_id: str | None = None):
    return users.create_user(db, email, PASSWORD, role, advertiser_id, datetime.now(UTC))


def draft_run(db, day=DAY):
    """Alice and Bob share a fixed pool of 100 USD for ``day``; Teen is too young."""
    set_rules(db, pool_mode="FIXED", fixed_pool_micros_per_day=100_000_000)
    for creator_id, qualified, extra in (
        ("alice", 3_000, {}),
        ("bob", 1_000, {}),
        ("teen", 2_000, {"verified_age": 16}),
    ):
        add_creator(db, creator_id, **extra)
        trailing_views(db, creator_id, day, 5_000)
        views(db, creator_id, day, qualified)
    return payout_runs.compute(
        db, payout_runs.Period(PeriodKind.DAY, day, day), FINANCE, datetime.now(UTC)
    )


@pytest.fixture
def finance_user(db):
    return make_user(db, FINANCE_EMAIL, Role.FINANCE)


@pytest.fixture
def as_finance(client, finance_user):
    sign_in(client, email=FINANCE_EMAIL)
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


def status_of(db, run_id) -> PayoutRunStatus:
    return payout_runs.get(db, run_id).status


def test_finance_sees_the_runs_and_a_run_with_its_lines_chart_and_export(db, as_finance):
    run = draft_run(db)
    listing = as_finance.get("/finance/payout-runs")
    assert listing.status_code == 200
    html = text(listing)
    assert f'href="/finance/payout-runs/{run.id}"' in html
    assert DAY.isoformat() in html and "DRAFT" in html and "100.00 USD" in html
    assert 'class="table-scroll"' in html and '<label for="period">' in html
    assert 'href="/finance/payout-runs"' in html  # the nav link

    detail = text(as_finance.get(f"/finance/payout-runs/{run.id}"))
    assert "75.00 USD" in detail and "25.00 USD" in detail  # alice's and bob's shares
    assert "under_minimum_age" in detail.lower()  # exclusions by reason
    assert f'href="/finance/payout-runs/{run.id}/lines/alice"' in detail
    assert f"/finance/payout-runs/{run.id}/distribution.png" in detail
    assert f"/finance/payout-runs/{run.id}/export.csv" in detail
    assert f'href="/finance/payout-runs/{run.id}/approve"' in detail

    payable = text(as_finance.get(f"/finance/payout-runs/{run.id}?status=EXCLUDED"))
    assert "/lines/teen" in payable and "/lines/alice" not in payable
    assert as_finance.get(f"/finance/payout-runs/{run.id}?status=NONSENSE").status_code == 400

    line = text(as_finance.get(f"/finance/payout-runs/{run.id}/lines/alice"))
    assert "Eligible under rules version" in line and "Weight 3,000" in line
    assert as_finance.get(f"/finance/payout-runs/{run.id}/lines/nobody").status_code == 404

    chart = as_finance.get(f"/finance/payout-runs/{run.id}/distribution.png")
    assert chart.status_code == 200 and chart.mimetype == "image/png"
    assert chart.data.startswith(b"\x89PNG")
    export = as_finance.get(f"/finance/payout-runs/{run.id}/export.csv")
    assert export.mimetype == "text/csv"
    assert text(export).splitlines()[0].startswith("run_id,period,currency,creator_id")
    assert as_finance.get("/finance/payout-runs/run_missing").status_code == 404


def test_strangers_go_to_sign_in_and_an_advertiser_user_gets_404(db, client, acme):
    run = draft_run(db)
    assert client.get("/finance/payout-runs").headers["Location"].startswith("/sign-in")
    make_user(db, "ann@example.com", Role.ADVERTISER, acme[0]["id"])
    sign_in(client, email="ann@example.com")
    for path in (
        "/finance/payout-runs",
        f"/finance/payout-runs/{run.id}",
        f"/finance/payout-runs/{run.id}/lines/alice",
        f"/finance/payout-runs/{run.id}/distribution.png",
        f"/finance/payout-runs/{run.id}/export.csv",
        f"/finance/payout-runs/{run.id}/approve",
    ):
        assert client.get(path).status_code == 404, path
    assert "Payout runs" not in text(client.get("/"))


def test_an_admin_reads_but_does_not_approve(db, client):
    run = draft_run(db)
    make_user(db, "admin@example.com", Role.ADMIN)
    sign_in(client, email="admin@example.com")
    assert client.get(f"/finance/payout-runs/{run.id}").status_code == 200
    assert "Approve…" not in text(client.get(f"/finance/payout-runs/{run.id}"))
    assert client.get(f"/finance/payout-runs/{run.id}/approve").status_code == 404
    token = csrf_token(client, "/finance/payout-runs")
    refused = client.post(f"/finance/payout-runs/{run.id}/approve", data={"csrf_token": token})
    assert refused.status_code == 404
    assert status_of(db, run.id) is PayoutRunStatus.DRAFT


def test_approving_without_a_csrf_token_is_rejected(db, as_finance):
    run = draft_run(db)
    response = as_finance.post(f"/finance/payout-runs/{run.id}/approve")
    assert response.status_code == 400
    assert "did not come from this site" in text(response)
    assert status_of(db, run.id) is PayoutRunStatus.DRAFT


def test_approving_through_the_confirmation_step_records_the_user(db, as_finance, finance_user):
    run = draft_run(db)
    confirm = as_finance.get(f"/finance/payout-runs/{run.id}/approve")
    html = text(confirm)
    assert confirm.status_code == 200
    assert f"Approve run {run.id}?" in html and "100.00 USD to 2 creator(s)" in html
    assert status_of(db, run.id) is PayoutRunStatus.DRAFT  # looking is not approving
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = as_finance.post(f"/finance/payout-runs/{run.id}/approve", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/finance/payout-runs/{run.id}"
    approved = payout_runs.get(db, run.id)
    assert approved.status is PayoutRunStatus.APPROVED
    assert approved.approved_by == finance_user.id
    detail = text(as_finance.get(f"/finance/payout-runs/{run.id}"))
    assert f"Run {run.id} is approved" in detail
    assert 'id="run-status">APPROVED' in detail and finance_user.id in detail

    again = as_finance.post(f"/finance/payout-runs/{run.id}/approve", data={"csrf_token": token})
    assert again.status_code == 409
    assert f"Run {run.id} is already APPROVED." in text(again)


def test_computing_a_period_from_the_form(db, as_finance, finance_user):
    draft_run(db)  # creators, engagement and rules; then compute the day before through the form
    earlier = DAY - timedelta(days=1)
    token = csrf_token(as_finance, "/finance/payout-runs")
    response = as_finance.post(
        "/finance/payout-runs", data={"csrf_token": token, "period": earlier.isoformat()}
    )
    assert response.status_code == 302
    run_id = response.headers["Location"].rsplit("/", 1)[1]
    run = payout_runs.get(db, run_id)
    assert run.status is PayoutRunStatus.DRAFT and run.period_start == earlier
    assert run.computed_by == finance_user.id
    assert f"Run {run_id} computed for {earlier.isoformat()}" in text(
        as_finance.get(f"/finance/payout-runs/{run_id}")
    )

    bad = as_finance.post("/finance/payout-runs", data={"csrf_token": token, "period": "soon"})
    assert bad.status_code == 422
    assert "Give a day (YYYY-MM-DD) or a month (YYYY-MM)." in text(bad)
    assert 'aria-invalid="true"' in text(bad) and 'value="soon"' in text(bad)


def test_a_conflict_from_the_service_is_shown_as_a_message(db, as_finance):
    run = draft_run(db)
    payout_runs.approve(db, run.id, FINANCE, datetime.now(UTC))
    token = csrf_token(as_finance, "/finance/payout-runs")
    response = as_finance.post(
        "/finance/payout-runs", data={"csrf_token": token, "period": DAY.isoformat()}
    )
    assert response.status_code == 409
    assert "it is never computed again" in text(response)
    assert 'role="alert"' in text(response)


def test_a_stale_draft_is_refused_with_the_reason(db, as_finance):
    first = draft_run(db)
    second = payout_runs.compute(
        db, payout_runs.Period(PeriodKind.DAY, YESTERDAY, YESTERDAY), FINANCE, datetime.now(UTC)
    )
    payout_runs.approve(db, first.id, FINANCE, datetime.now(UTC))
    token = csrf_token(as_finance, f"/finance/payout-runs/{second.id}/approve")
    response = as_finance.post(
        f"/finance/payout-runs/{second.id}/approve", data={"csrf_token": token}
    )
    assert response.status_code == 409
    assert "compute" in text(response) and "again before approving it" in text(response)
    assert status_of(db, second.id) is PayoutRunStatus.DRAFT


def test_paying_without_stripe_configured_is_a_message(db, app, as_finance, monkeypatch):
    run = draft_run(db)
    payout_runs.approve(db, run.id, FINANCE, datetime.now(UTC))
    monkeypatch.setitem(app.extensions, "adsmanager.stripe", None)
    token = csrf_token(as_finance, f"/finance/payout-runs/{run.id}/pay")
    response = as_finance.post(f"/finance/payout-runs/{run.id}/pay", data={"csrf_token": token})
    assert response.status_code == 503
    assert "STRIPE_API_KEY is not set" in text(response)
    assert status_of(db, run.id) is PayoutRunStatus.APPROVED


def test_paying_a_draft_is_refused(db, as_finance):
    run = draft_run(db)
    token = csrf_token(as_finance, f"/finance/payout-runs/{run.id}/pay")
    response = as_finance.post(f"/finance/payout-runs/{run.id}/pay", data={"csrf_token": token})
    assert response.status_code == 409
    assert "must be approved before paying" in text(response)
